package service

import (
	"context"
	"slices"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// normalizeTemplate fills defaults and validates t.
func (s *Service) normalizeTemplate(t *lanyard.Template) error {
	if t.CA == "" {
		t.CA = s.caOrder[0]
	}
	if _, ok := s.cas[t.CA]; !ok {
		return lanyard.Errorf(lanyard.EInvalid, "template %q: unknown CA %q", t.Name, t.CA)
	}
	if t.DisplayName == "" {
		t.DisplayName = t.Name
	}
	if t.ExtKeyUsage == nil {
		t.ExtKeyUsage = []string{}
	}
	t.NormalizeCardKeysOnly()
	return t.Validate()
}

// CreateTemplate adds a certificate template.
func (s *Service) CreateTemplate(ctx context.Context, p *Principal, t lanyard.Template) (*lanyard.Template, error) {
	t.ID = 0
	if err := s.normalizeTemplate(&t); err != nil {
		return nil, err
	}
	t.CreatedAt, t.UpdatedAt = s.clock(), s.clock()
	err := s.update(ctx, func() *lanyard.AuditEvent {
		return s.event(p, "template.create", "template", t.Name, map[string]any{"ca": t.CA, "key_algorithms": t.KeyAlgs,
			"requires_ca_approval": t.RequiresCAApproval, "requires_form_approval": t.RequiresFormApproval, "card_keys_only": t.CardKeysOnly})
	}, func(tx lanyard.Tx) error { return tx.CreateTemplate(&t) })
	s.templateCache.Purge() // after commit, so no reader re-caches the old value
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// UpdateTemplate replaces a template's settings.
func (s *Service) UpdateTemplate(ctx context.Context, p *Principal, name string, t lanyard.Template) (*lanyard.Template, error) {
	if t.Name == "" {
		t.Name = name
	}
	if t.Name != name {
		return nil, lanyard.Errorf(lanyard.EInvalid, "a template cannot be renamed (body names %q, URL %q)", t.Name, name)
	}
	if err := s.normalizeTemplate(&t); err != nil {
		return nil, err
	}
	err := s.store.Update(ctx, func(tx lanyard.Tx) error {
		old, err := tx.TemplateByName(name)
		if err != nil {
			return err
		}
		t.ID, t.CreatedAt, t.UpdatedAt = old.ID, old.CreatedAt, s.clock()
		if err := tx.UpdateTemplate(&t); err != nil {
			return err
		}
		return tx.AppendAudit(s.event(p, "template.update", "template", name, map[string]any{"ca": t.CA, "key_algorithms": t.KeyAlgs,
			"requires_ca_approval": t.RequiresCAApproval, "requires_form_approval": t.RequiresFormApproval, "card_keys_only": t.CardKeysOnly}))
	})
	s.templateCache.Purge()
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// GetTemplate returns one template.
func (s *Service) GetTemplate(ctx context.Context, name string) (*lanyard.Template, error) {
	var t *lanyard.Template
	err := s.view(ctx, func(tx lanyard.Tx) (err error) { t, err = tx.TemplateByName(name); return })
	return t, err
}

// ListTemplates lists templates.
func (s *Service) ListTemplates(ctx context.Context) ([]*lanyard.Template, error) {
	var out []*lanyard.Template
	err := s.view(ctx, func(tx lanyard.Tx) (err error) { out, err = tx.ListTemplates(); return })
	return out, err
}

// DeleteTemplate removes a template no policy uses.
func (s *Service) DeleteTemplate(ctx context.Context, p *Principal, name string) error {
	defer s.templateCache.Purge()
	return s.update(ctx, func() *lanyard.AuditEvent {
		return s.event(p, "template.delete", "template", name, nil)
	}, func(tx lanyard.Tx) error {
		pols, err := tx.ListPolicies()
		if err != nil {
			return err
		}
		for _, pol := range pols {
			if slices.Contains(pol.Settings.Certificates.Required, name) || slices.Contains(pol.Settings.Certificates.Optional, name) {
				return lanyard.Errorf(lanyard.EConflict, "template %q is used by policy %q; remove it there first", name, pol.Name)
			}
		}
		return tx.DeleteTemplate(name)
	})
}

// template returns a template through the read cache.
func (s *Service) template(tx lanyard.Tx, name string) (*lanyard.Template, error) {
	if t, ok := s.templateCache.Get(name); ok {
		return t, nil
	}
	t, err := tx.TemplateByName(name)
	if err != nil {
		return nil, err
	}
	s.templateCache.Put(name, t)
	return t, nil
}
