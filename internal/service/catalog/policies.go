package catalog

import (
	"context"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/directory"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/policy"
)

// PolicyInput is a policy as the API accepts it. Settings left out of the
// JSON keep their defaults (policy.Defaults), because the web layer decodes
// onto a Defaults-filled value.
type PolicyInput = lanyard.Policy

// NewPolicyInput returns a policy input pre-filled with defaults, for
// decoding request bodies onto.
func NewPolicyInput() *PolicyInput {
	return &lanyard.Policy{Priority: 100, Settings: policy.Defaults(), Assignments: []lanyard.Assignment{}}
}

// validatePolicy checks p against the known templates and card types.
func validatePolicy(tx interface {
	lanyard.TemplateStore
	lanyard.CardTypeStore
}, p *lanyard.Policy) error {
	tpls, err := tx.ListTemplates()
	if err != nil {
		return err
	}
	cts, err := tx.ListCardTypes()
	if err != nil {
		return err
	}
	tn := make([]string, len(tpls))
	for i, t := range tpls {
		tn[i] = t.Name
	}
	cn := make([]string, len(cts))
	for i, c := range cts {
		cn[i] = c.Name
	}
	if p.Assignments == nil {
		p.Assignments = []lanyard.Assignment{}
	}
	if err := normalizeDNs(p.Assignments); err != nil {
		return err
	}
	return policy.Validate(p, tn, cn)
}

// normalizeDNs writes the distinguished names of directory groups and
// containers in as the directory sync writes users' DNs and groups
// (directory.NormalizeDN), so that policy.Effective compares them exactly:
// "OU=Staff, DC=Example,DC=com" and "ou=staff,dc=example,dc=com" are one
// container. A group name holding '=' is taken for a DN; local and SCIM
// group names are kept as written.
func normalizeDNs(as []lanyard.Assignment) error {
	for i, a := range as {
		isDN := a.Kind == lanyard.AssignContainer || (a.Kind == lanyard.AssignGroup && strings.Contains(a.Name, "="))
		if !isDN || a.Name == "" {
			continue
		}
		dn, err := directory.NormalizeDN(a.Name)
		if err != nil {
			return lanyard.Errorf(lanyard.EInvalid, "Assignments: %s %q is not a distinguished name (e.g. CN=Staff,OU=Groups,DC=example,DC=com): %v", a.Kind, a.Name, err)
		}
		as[i].Name = dn
	}
	return nil
}

// CreatePolicy adds a policy.
func (s *Catalog) CreatePolicy(ctx context.Context, pr *lanyard.Principal, p *PolicyInput) (*lanyard.Policy, error) {
	p.ID = 0
	p.CreatedAt, p.UpdatedAt = s.rec.Clock(), s.rec.Clock()
	err := s.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		if err := validatePolicy(tx, p); err != nil {
			return err
		}
		if err := tx.CreatePolicy(p); err != nil {
			return err
		}
		if err := notifyPolicies(tx); err != nil {
			return err
		}
		return tx.AppendAudit(s.rec.Event(pr, "policy.create", "policy", p.Name, map[string]any{"priority": p.Priority, "assignments": p.Assignments}))
	})
	s.policies.Purge() // after commit, so no reader re-caches the old list
	if err != nil {
		return nil, err
	}
	return p, nil
}

// UpdatePolicy replaces a policy.
func (s *Catalog) UpdatePolicy(ctx context.Context, pr *lanyard.Principal, name string, p *PolicyInput) (*lanyard.Policy, error) {
	if p.Name == "" {
		p.Name = name
	}
	if p.Name != name {
		return nil, lanyard.Errorf(lanyard.EInvalid, "a policy cannot be renamed (body names %q, URL %q)", p.Name, name)
	}
	err := s.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		old, err := tx.PolicyByName(name)
		if err != nil {
			return err
		}
		if err := validatePolicy(tx, p); err != nil {
			return err
		}
		p.ID, p.CreatedAt, p.UpdatedAt = old.ID, old.CreatedAt, s.rec.Clock()
		if err := tx.UpdatePolicy(p); err != nil {
			return err
		}
		if err := notifyPolicies(tx); err != nil {
			return err
		}
		return tx.AppendAudit(s.rec.Event(pr, "policy.update", "policy", name, map[string]any{"priority": p.Priority, "assignments": p.Assignments}))
	})
	s.policies.Purge()
	if err != nil {
		return nil, err
	}
	return p, nil
}

// GetPolicy returns one policy.
func (s *Catalog) GetPolicy(ctx context.Context, name string) (*lanyard.Policy, error) {
	var p *lanyard.Policy
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { p, err = tx.PolicyByName(name); return })
	return p, err
}

// ListPolicies lists policies.
func (s *Catalog) ListPolicies(ctx context.Context) ([]*lanyard.Policy, error) {
	var out []*lanyard.Policy
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { out, err = tx.ListPolicies(); return })
	return out, err
}

// DeletePolicy removes a policy.
func (s *Catalog) DeletePolicy(ctx context.Context, pr *lanyard.Principal, name string) error {
	defer s.policies.Purge()
	return s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(pr, "policy.delete", "policy", name, nil)
	}, func(tx lanyard.Tx) error {
		if err := tx.DeletePolicy(name); err != nil {
			return err
		}
		return notifyPolicies(tx)
	})
}

// EffectivePolicy returns the policy that applies to the user login.
// Users may ask only about themselves.
func (s *Catalog) EffectivePolicy(ctx context.Context, pr *lanyard.Principal, login string) (*lanyard.Policy, error) {
	if login != pr.User.Login && !pr.Has(lanyard.RoleOperator, lanyard.RoleAdministrator, lanyard.RoleAuditor) {
		return nil, lanyard.Errorf(lanyard.ENotFound, "user %q not found", login)
	}
	var out *lanyard.Policy
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		u, err := tx.UserByLogin(login)
		if err != nil {
			return err
		}
		out, err = s.PolicyFor(tx, u)
		return err
	})
	return out, err
}

// PolicyFor returns the policy that applies to u, reading the policies
// through the read cache (every issuance asks). ENotFound: none applies.
func (s *Catalog) PolicyFor(tx lanyard.PolicyStore, u *lanyard.User) (*lanyard.Policy, error) {
	pols, ok := s.policies.Get(struct{}{})
	if !ok {
		gen := s.policies.Gen()
		var err error
		if pols, err = tx.ListPolicies(); err != nil {
			return nil, err
		}
		s.policies.PutSince(gen, struct{}{}, pols)
	}
	p, ok := policy.Effective(u, pols)
	if !ok {
		return nil, lanyard.Errorf(lanyard.ENotFound, "no policy applies to user %q", u.Login)
	}
	return p, nil
}
