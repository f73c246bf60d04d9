package directory

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// inChain is LDAP_MATCHING_RULE_IN_CHAIN (MS-ADTS 3.1.1.3.4.4.1): a
// filter on a DN-valued attribute matching through nested links.
const inChain = "1.2.840.113556.1.4.1941"

// Authenticate checks login and password against the directory: a bind as
// the service account, a search for the one user whose login attribute
// (or, for a login with "@", UPN attribute) equals login (the value escaped per RFC 4515 3, so "*" or ")(" in a login
// match nothing but themselves), then a simple bind (RFC 4513 5.1.3) as
// that user's DN on a second connection, so the service connection never
// takes the user's identity. An empty password is refused before any bind:
// RFC 4513 5.1.2 makes a simple bind with a DN and no password an
// unauthenticated bind, which succeeds on many servers.
//
// Errors: ErrBadCredentials (wrong or empty password, or a bind AD refuses
// for a disabled, locked or expired account), ErrNoSuchUser,
// ErrAmbiguousUser, ErrDisabled (password right, account disabled in the
// directory), and ErrUnreachable, ErrTLS, ErrServiceBind for the service
// side. On success the Entry is whole: groups (AD: one IN_CHAIN search;
// OpenLDAP: one read per group level) and the manager's mail.
func Authenticate(ctx context.Context, cfg Config, login, password string) (*Entry, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if password == "" {
		return nil, fmt.Errorf("%w: empty password", ErrBadCredentials)
	}
	if login == "" {
		return nil, fmt.Errorf("%w: empty login", ErrNoSuchUser)
	}
	c, err := connect(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	r := &reader{cfg: &cfg, m: &cfg.Mapping, c: c, managerMail: map[string]manager{}}
	match := fmt.Sprintf("(%s=%s)", cfg.Mapping.Login, ldap.EscapeFilter(login))
	if cfg.Mapping.UPN != "" && strings.Contains(login, "@") {
		// Windows users also sign in as user@domain (their UPN).
		match = fmt.Sprintf("(|%s(%s=%s))", match, cfg.Mapping.UPN, ldap.EscapeFilter(login))
	}
	filter := fmt.Sprintf("(&%s%s)", cfg.UserFilter, match)
	var found []*ldap.Entry
	err = c.search(ctx, cfg.BaseDN, ldap.ScopeWholeSubtree, filter, r.userAttrs(), 0, nil, func(e *ldap.Entry) error {
		found = append(found, e)
		if len(found) > 1 {
			return ErrAmbiguousUser
		}
		return nil
	})
	switch {
	case err == ErrAmbiguousUser:
		return nil, fmt.Errorf("%w: %q", ErrAmbiguousUser, login)
	case err != nil:
		return nil, err
	case len(found) == 0:
		return nil, fmt.Errorf("%w: %q", ErrNoSuchUser, login)
	}
	u, p := r.user(found[0])
	if u == nil {
		return nil, fmt.Errorf("directory entry %s: %s", p.DN, p.Message)
	}

	uc, err := dial(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	err = uc.l.Bind(u.e.DN, password)
	uc.Close()
	if err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return nil, fmt.Errorf("%w: %q", ErrBadCredentials, login)
		}
		return nil, uc.opErr(ctx, "user bind", err)
	}
	if u.e.Disabled {
		return nil, fmt.Errorf("%w: %q", ErrDisabled, login)
	}
	if err := r.groupsOf(ctx, u); err != nil {
		return nil, err
	}
	if _, err := r.resolveManager(ctx, u, nil); err != nil {
		return nil, err
	}
	return &u.e, nil
}

// groupsOf fills one user's transitive groups without reading the whole
// graph: on AD one search of the groups whose member attribute reaches
// the user in chain; elsewhere a walk up memberOf, one read per group.
func (r *reader) groupsOf(ctx context.Context, u *user) error {
	if r.cfg.Kind == KindAD {
		f := fmt.Sprintf("(&%s(%s:%s:=%s))", r.cfg.GroupFilter, r.m.Member, inChain, ldap.EscapeFilter(u.e.DN))
		var gs []string
		err := r.c.search(ctx, r.cfg.BaseDN, ldap.ScopeWholeSubtree, f, []string{"1.1"}, r.cfg.PageSize, nil, func(e *ldap.Entry) error {
			if n, err := NormalizeDN(e.DN); err == nil {
				gs = append(gs, n)
			}
			return nil
		})
		if err != nil {
			return err
		}
		// Groups outside the base DN come from memberOf directly.
		u.e.Groups = sortedSet(append(gs, u.direct...))
		return nil
	}
	g := graph{}
	frontier := u.direct
	for len(frontier) > 0 {
		var next []string
		for _, d := range frontier {
			if g[d] != nil {
				continue
			}
			gs := &groupState{}
			g[d] = gs
			e, err := r.c.one(ctx, d, "(objectClass=*)", []string{r.m.MemberOf})
			if err != nil {
				return err
			}
			if e == nil {
				continue
			}
			for _, p := range e.GetEqualFoldAttributeValues(r.m.MemberOf) {
				if pn, err := NormalizeDN(p); err == nil {
					gs.Parents = append(gs.Parents, pn)
					next = append(next, pn)
				}
			}
		}
		frontier = next
	}
	u.e.Groups = g.closure(u.direct)
	return nil
}
