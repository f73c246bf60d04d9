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
	matchGroup
	matchUser
)

// Effective returns the policy that governs u, and false when none does.
//
// A policy applies when one of its assignments names u's login, one of
// u's groups, or everyone. Among the policies that apply, the lowest
// Priority number wins; on equal priority the more specific assignment
// wins (user, then group, then everyone); then the policy name, then the
// ID, so that the answer never depends on the order of policies.
// Names are compared exactly: logins and group names are normalized where
// they enter Lanyard, not here.
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
		case a.Kind == lanyard.AssignEveryone:
			m = max(m, matchEveryone)
		}
	}
	return m
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
