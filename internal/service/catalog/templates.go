package catalog

import (
	"context"
	"slices"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// normalizeTemplate fills defaults and validates t.
func (s *Catalog) normalizeTemplate(t *lanyard.Template) error {
	if t.CA == "" {
		t.CA = s.cas[0]
	}
	if !slices.Contains(s.cas, t.CA) {
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

// templateDetails are the settings a template.create or template.update
// event records: those that decide what a certificate may do and what
// happens to its key, archive key and the key usages among them (an
// auditor must see when a template started archiving keys, and for what).
func templateDetails(t *lanyard.Template) map[string]any {
	return map[string]any{"ca": t.CA, "key_algorithms": t.KeyAlgs,
		"requires_ca_approval": t.RequiresCAApproval, "requires_form_approval": t.RequiresFormApproval, "card_keys_only": t.CardKeysOnly,
		"revoke_on_disable": t.RevokeOnDisable, "renewal_key": t.RenewalKey,
		"key_archival": t.KeyArchival, "key_usage": t.KeyUsage, "ext_key_usage": t.ExtKeyUsage}
}

// CreateTemplate adds a certificate template.
func (s *Catalog) CreateTemplate(ctx context.Context, p *lanyard.Principal, t lanyard.Template) (*lanyard.Template, error) {
	t.ID = 0
	if err := s.normalizeTemplate(&t); err != nil {
		return nil, err
	}
	t.CreatedAt, t.UpdatedAt = s.rec.Clock(), s.rec.Clock()
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "template.create", "template", t.Name, templateDetails(&t))
	}, func(tx lanyard.Tx) error {
		if err := tx.CreateTemplate(&t); err != nil {
			return err
		}
		return notifyTemplates(tx)
	})
	s.templates.Purge() // after commit, so no reader re-caches the old value
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// UpdateTemplate replaces a template's settings.
func (s *Catalog) UpdateTemplate(ctx context.Context, p *lanyard.Principal, name string, t lanyard.Template) (*lanyard.Template, error) {
	if t.Name == "" {
		t.Name = name
	}
	if t.Name != name {
		return nil, lanyard.Errorf(lanyard.EInvalid, "a template cannot be renamed (body names %q, URL %q)", t.Name, name)
	}
	if err := s.normalizeTemplate(&t); err != nil {
		return nil, err
	}
	err := s.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		old, err := tx.TemplateByName(name)
		if err != nil {
			return err
		}
		t.ID, t.CreatedAt, t.UpdatedAt = old.ID, old.CreatedAt, s.rec.Clock()
		if err := tx.UpdateTemplate(&t); err != nil {
			return err
		}
		if err := notifyTemplates(tx); err != nil {
			return err
		}
		return tx.AppendAudit(s.rec.Event(p, "template.update", "template", name, templateDetails(&t)))
	})
	s.templates.Purge()
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// GetTemplate returns one template.
func (s *Catalog) GetTemplate(ctx context.Context, name string) (*lanyard.Template, error) {
	var t *lanyard.Template
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { t, err = tx.TemplateByName(name); return })
	return t, err
}

// ListTemplates lists templates.
func (s *Catalog) ListTemplates(ctx context.Context) ([]*lanyard.Template, error) {
	var out []*lanyard.Template
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { out, err = tx.ListTemplates(); return })
	return out, err
}

// DeleteTemplate removes a template no policy uses.
func (s *Catalog) DeleteTemplate(ctx context.Context, p *lanyard.Principal, name string) error {
	defer s.templates.Purge()
	return s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "template.delete", "template", name, nil)
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
		if err := tx.DeleteTemplate(name); err != nil {
			return err
		}
		return notifyTemplates(tx)
	})
}

// Template returns a template through the read cache (certificate
// issuance, card views and documents read templates on every request).
func (s *Catalog) Template(tx lanyard.TemplateStore, name string) (*lanyard.Template, error) {
	if t, ok := s.templates.Get(name); ok {
		return t, nil
	}
	gen := s.templates.Gen()
	t, err := tx.TemplateByName(name)
	if err != nil {
		return nil, err
	}
	s.templates.PutSince(gen, name, t)
	return t, nil
}

// CachedTemplate returns the template named name if the read cache holds
// it, without a transaction: the hot path of bulk issuance by a service
// account needs nothing from the database.
func (s *Catalog) CachedTemplate(name string) (*lanyard.Template, bool) {
	return s.templates.Get(name)
}
