package directory

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// reader reads entries of one directory on one service connection.
type reader struct {
	cfg *Config
	m   *Mapping
	c   *conn
	// managerMail caches manager DN (normalized) → the manager within
	// one read.
	managerMail map[string]manager
	// clock is how changes are found: clockUSN, clockCSN or clockTime.
	clock string
	// maxSeen is the latest changed stamp seen (clockTime marks).
	maxSeen time.Time
}

// How an incremental read finds changed entries.
const (
	// clockUSN: AD's uSNChanged against highestCommittedUSN (MS-ADTS
	// 3.1.1.1.9), exact.
	clockUSN = "usn"
	// clockCSN: OpenLDAP's entryCSN against the naming context's
	// contextCSN, which the syncprov overlay keeps (RFC 4533 and
	// slapo-syncprov(5)); microsecond stamps, exact.
	clockCSN = "csn"
	// clockTime: modifyTimestamp (RFC 4512 3.4), whole seconds, with the
	// window openLDAPMark describes.
	clockTime = "time"
)

// changedAttr is the attribute the clock compares.
func (r *reader) changedAttr() string {
	if r.clock == clockCSN {
		return "entryCSN"
	}
	return r.m.Changed
}

// contextCSN reads the smallest contextCSN of the naming context holding
// the base DN ("" without syncprov). With several providers there is one
// value per server ID; the smallest is a safe mark (entries between it and
// the others are read again).
func (r *reader) contextCSN(ctx context.Context) (string, error) {
	nc, err := r.namingContext(ctx)
	if err != nil {
		return "", err
	}
	e, err := r.c.one(ctx, nc, "(objectClass=*)", []string{"contextCSN"})
	if err != nil || e == nil {
		return "", err
	}
	vals := e.GetEqualFoldAttributeValues("contextCSN")
	if len(vals) == 0 {
		return "", nil
	}
	return slices.Min(vals), nil
}

// user is one user entry as read, before its groups are closed.
type user struct {
	e       Entry
	direct  []string // normalized memberOf
	manager string   // the manager's DN as written, "" for none
	// managerID is the manager's ExternalID once resolved.
	managerID string
	// reports are the DNs of the direct reports (AD directReports).
	reports []string
}

// manager is what a user's manager attribute leads to.
type manager struct{ id, mail string }

// userAttrs are the attributes a user read asks for.
func (r *reader) userAttrs() []string {
	m := r.m
	var a []string
	for _, s := range []string{m.Login, m.UPN, m.DisplayName, m.Email, m.Manager, m.Reports, m.MemberOf, m.ExternalID, m.AccountControl, m.LockFlag, m.LockTime, r.changedAttr()} {
		if s != "" {
			a = append(a, s)
		}
	}
	return a
}

// groupAttrs: what the group graph needs (no member lists).
func (r *reader) groupAttrs() []string {
	return []string{r.m.ExternalID, r.m.MemberOf, r.changedAttr()}
}

func (r *reader) externalID(e *ldap.Entry) (string, error) {
	if r.m.BinaryGUID {
		raw := e.GetEqualFoldRawAttributeValue(r.m.ExternalID)
		if raw == nil {
			return "", fmt.Errorf("no %s", r.m.ExternalID)
		}
		return ParseObjectGUID(raw)
	}
	v := strings.ToLower(strings.TrimSpace(e.GetEqualFoldAttributeValue(r.m.ExternalID)))
	if v == "" {
		return "", fmt.Errorf("no %s", r.m.ExternalID)
	}
	return v, nil
}

// seen records an entry's changed stamp (OpenLDAP: modifyTimestamp).
func (r *reader) seen(e *ldap.Entry) {
	if r.clock != clockTime {
		return
	}
	if t, err := ParseGeneralizedTime(e.GetEqualFoldAttributeValue(r.m.Changed)); err == nil && t.After(r.maxSeen) {
		r.maxSeen = t
	}
}

// changedSince reports whether e's changed stamp is at or after mark.
func (r *reader) changedSince(e *ldap.Entry, mark string) bool {
	v := e.GetEqualFoldAttributeValue(r.changedAttr())
	switch r.clock {
	case clockUSN:
		n, err1 := strconv.ParseInt(v, 10, 64)
		k, err2 := strconv.ParseInt(mark, 10, 64)
		return err1 != nil || err2 != nil || n > k
	case clockCSN:
		// CSNs (YYYYmmddHHMMSS.uuuuuuZ#count#sid#mod) are fixed-width:
		// their order is the strings' order.
		return v == "" || v > mark
	}
	t, err1 := ParseGeneralizedTime(v)
	k, err2 := ParseGeneralizedTime(mark)
	return err1 != nil || err2 != nil || !t.Before(k)
}

// changedFilter is the filter of entries changed since mark: uSNChanged
// strictly above the USN the mark recorded (MS-ADTS 3.1.1.1.9), entryCSN
// strictly after the recorded contextCSN, or modifyTimestamp at or after
// the mark (one-second resolution).
func (r *reader) changedFilter(mark string) string {
	switch r.clock {
	case clockUSN:
		n, _ := strconv.ParseInt(mark, 10, 64)
		return fmt.Sprintf("(%s>=%d)", r.m.Changed, n+1)
	case clockCSN:
		m := ldap.EscapeFilter(mark)
		return fmt.Sprintf("(&(entryCSN>=%s)(!(entryCSN=%s)))", m, m)
	}
	return fmt.Sprintf("(%s>=%s)", r.m.Changed, ldap.EscapeFilter(mark))
}

// user turns a search result into a user; a nil user comes with a Problem.
func (r *reader) user(e *ldap.Entry) (*user, *Problem) {
	r.seen(e)
	m := r.m
	id, err := r.externalID(e)
	if err != nil {
		return nil, &Problem{DN: e.DN, Message: fmt.Sprintf("skipped: %v", err)}
	}
	u := &user{e: Entry{
		DN:         e.DN,
		ExternalID: id,
		Login:      e.GetEqualFoldAttributeValue(m.Login),
		Email:      e.GetEqualFoldAttributeValue(m.Email),
	}}
	if m.UPN != "" {
		u.e.UPN = e.GetEqualFoldAttributeValue(m.UPN)
	}
	if m.DisplayName != "" {
		u.e.DisplayName = e.GetEqualFoldAttributeValue(m.DisplayName)
	}
	if m.Manager != "" {
		u.manager = e.GetEqualFoldAttributeValue(m.Manager)
	}
	if m.Reports != "" {
		u.reports = e.GetEqualFoldAttributeValues(m.Reports)
	}
	var prob *Problem
	if m.AccountControl != "" {
		if v := e.GetEqualFoldAttributeValue(m.AccountControl); v != "" {
			d, err := ParseAccountControl(v)
			if err != nil {
				prob = &Problem{DN: e.DN, ExternalID: id, Message: err.Error() + "; read as disabled"}
				d = true
			}
			u.e.Disabled = d
		}
	}
	if m.LockFlag != "" && strings.EqualFold(strings.TrimSpace(e.GetEqualFoldAttributeValue(m.LockFlag)), "true") {
		u.e.Disabled = true
	}
	if m.LockTime != "" && e.GetEqualFoldAttributeValue(m.LockTime) == permanentLock {
		u.e.Disabled = true
	}
	for _, g := range e.GetEqualFoldAttributeValues(m.MemberOf) {
		n, err := NormalizeDN(g)
		if err != nil {
			prob = &Problem{DN: e.DN, ExternalID: id, Message: fmt.Sprintf("memberOf: %v", err)}
			continue
		}
		u.direct = append(u.direct, n)
	}
	if u.e.Login == "" {
		prob = &Problem{DN: e.DN, ExternalID: id, Message: fmt.Sprintf("no %s (login)", m.Login)}
	}
	return u, prob
}

// resolveManager sets ManagerEmail (and managerID) from the manager's DN:
// from known (the users of this read by normalized DN) or by reading the
// entry.
func (r *reader) resolveManager(ctx context.Context, u *user, known map[string]*user) (*Problem, error) {
	if u.manager == "" {
		return nil, nil
	}
	n, err := NormalizeDN(u.manager)
	if err != nil {
		return &Problem{DN: u.e.DN, ExternalID: u.e.ExternalID, Message: fmt.Sprintf("manager: %v", err)}, nil
	}
	if k, ok := known[n]; ok {
		u.e.ManagerEmail, u.managerID = k.e.Email, k.e.ExternalID
		return nil, nil
	}
	if mg, ok := r.managerMail[n]; ok {
		u.e.ManagerEmail, u.managerID = mg.mail, mg.id
		return nil, nil
	}
	e, err := r.c.one(ctx, u.manager, "(objectClass=*)", []string{r.m.Email, r.m.ExternalID})
	if err != nil {
		return nil, err
	}
	if e == nil {
		r.managerMail[n] = manager{}
		return &Problem{DN: u.e.DN, ExternalID: u.e.ExternalID, Message: fmt.Sprintf("manager %s not found", u.manager)}, nil
	}
	id, _ := r.externalID(e)
	mg := manager{id: id, mail: e.GetEqualFoldAttributeValue(r.m.Email)}
	r.managerMail[n] = mg
	u.e.ManagerEmail, u.managerID = mg.mail, mg.id
	return nil, nil
}

// dedupe clears the UPN (and login) that two or more entries share and
// reports each of them: one directory user must never be matched to
// another's Lanyard account. The entries stay listed.
func dedupe(entries []Entry) []Problem {
	var probs []Problem
	for _, f := range []struct {
		name string
		get  func(*Entry) *string
	}{
		{"UPN", func(e *Entry) *string { return &e.UPN }},
		{"login", func(e *Entry) *string { return &e.Login }},
	} {
		count := map[string]int{}
		for i := range entries {
			if v := strings.ToLower(*f.get(&entries[i])); v != "" {
				count[v]++
			}
		}
		for i := range entries {
			p := f.get(&entries[i])
			if v := strings.ToLower(*p); v != "" && count[v] > 1 {
				probs = append(probs, Problem{DN: entries[i].DN, ExternalID: entries[i].ExternalID,
					Message: fmt.Sprintf("%s %q is shared by %d entries; left empty", f.name, *p, count[v])})
				*p = ""
			}
		}
	}
	return probs
}

func sortEntries(es []Entry) {
	sort.Slice(es, func(i, j int) bool { return es[i].ExternalID < es[j].ExternalID })
}

// namingContext returns the naming context holding the base DN (AD:
// defaultNamingContext; else the root DSE's namingContexts entry that is
// the base DN or an ancestor of it, RFC 4512 5.1.2).
func (r *reader) namingContext(ctx context.Context) (string, error) {
	e, err := r.c.rootDSE(ctx, "defaultNamingContext", "namingContexts")
	if err != nil {
		return "", err
	}
	if r.cfg.Kind == KindAD {
		if nc := e.GetAttributeValue("defaultNamingContext"); nc != "" {
			return nc, nil
		}
	}
	base, err := ldap.ParseDN(r.cfg.BaseDN)
	if err != nil {
		return "", err
	}
	for _, nc := range e.GetAttributeValues("namingContexts") {
		d, err := ldap.ParseDN(nc)
		if err == nil && (d.EqualFold(base) || d.AncestorOfFold(base)) {
			return nc, nil
		}
	}
	return r.cfg.BaseDN, nil
}
