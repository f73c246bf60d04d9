package policy

import (
	"slices"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Match strength of an assignment, strongest first. A policy meant for one
// person is more specific than one meant for a group, which is more
// specific than one meant for everybody.
const (
	matchNone = iota
	matchEveryone
	matchContainer
	matchGroup
	matchUser
)

// Effective returns the policy that governs u, and false when none does.
//
// A policy applies when one of its assignments names u's login, one of
// u's groups, a directory container u's entry lies below, or everyone.
// Among the policies that apply, the lowest Priority number wins; on
// equal priority the more specific assignment wins (user, then group,
// then container, then everyone); then the policy name, then the ID, so
// that the answer never depends on the order of policies.
//
// Names are compared exactly: logins, group names and distinguished names
// are normalized where they enter Lanyard (a directory sync writes a
// user's DN and the DNs of every group the user is in, nested groups
// included, in the RFC 4514 form internal/directory.NormalizeDN gives;
// the catalog normalizes the DNs of assignments alike), not here. Group
// nesting is thus resolved by the sync, once per change, rather than at
// every evaluation.
//
// Disabled users get no policy, so every permission check that goes
// through a policy fails closed for them.
func Effective(u *lanyard.User, policies []*lanyard.Policy) (*lanyard.Policy, bool) {
	if u == nil || u.Disabled {
		return nil, false
	}
	var best *lanyard.Policy
	bestMatch := matchNone
	for _, p := range policies {
		if p == nil {
			continue
		}
		m := match(u, p.Assignments)
		if m == matchNone {
			continue
		}
		if best == nil || better(p, m, best, bestMatch) {
			best, bestMatch = p, m
		}
	}
	return best, best != nil
}

// match returns the strongest assignment of as that covers u.
func match(u *lanyard.User, as []lanyard.Assignment) int {
	m := matchNone
	for _, a := range as {
		switch {
		case a.Kind == lanyard.AssignUser && a.Name == u.Login:
			return matchUser
		case a.Kind == lanyard.AssignGroup && slices.Contains(u.Groups, a.Name):
			m = max(m, matchGroup)
		case a.Kind == lanyard.AssignContainer && under(u.DN, a.Name):
			m = max(m, matchContainer)
		case a.Kind == lanyard.AssignEveryone:
			m = max(m, matchEveryone)
		}
	}
	return m
}

// under reports whether the entry dn lies below the container (both
// normalized RFC 4514 strings): its last RDNs are the container's. An
// entry is not below itself; "ou=x,dc=a" is not below "x,dc=a" (the
// separating comma is part of the test); and an escaped comma inside an
// attribute value ("cn=a\,ou=x,dc=a", RFC 4514 2.4) separates no RDNs,
// so that entry is below "dc=a" only.
func under(dn, container string) bool {
	cut := len(dn) - len(container) - 1 // the separating comma
	if container == "" || cut < 1 || dn[cut] != ',' || dn[cut+1:] != container {
		return false
	}
	backslashes := 0
	for i := cut - 1; i >= 0 && dn[i] == '\\'; i-- {
		backslashes++
	}
	return backslashes%2 == 0
}

// better reports whether policy p matched with strength m beats q matched
// with strength n.
func better(p *lanyard.Policy, m int, q *lanyard.Policy, n int) bool {
	switch {
	case p.Priority != q.Priority:
		return p.Priority < q.Priority
	case m != n:
		return m > n
	case p.Name != q.Name:
		return p.Name < q.Name
	}
	return p.ID < q.ID
}
