package catalog

import (
	"context"
	"encoding/hex"
	"encoding/json"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// CardTypeInput is a card type as the API accepts it: the public fields
// plus optional secrets, which are sealed before they reach the store.
type CardTypeInput struct {
	lanyard.CardType
	DefaultAdminKeyHex *string // hex; "" clears
	DefaultUserPIN     *string // "" clears
	DefaultPUK         *string // "" clears
}

func cardTypeAAD(name string) []byte { return []byte("card-type-secrets:" + name) }

// CardTypeSecrets opens c's sealed secrets: the factory administration
// key, PIN and PUK that issuance and clearing use on cards of the type.
func (s *Catalog) CardTypeSecrets(c *lanyard.CardType) (*lanyard.CardTypeSecrets, error) {
	sec := &lanyard.CardTypeSecrets{}
	if len(c.SealedSecrets) == 0 {
		return sec, nil
	}
	pt, err := s.sealer.Open(c.SealedSecrets, cardTypeAAD(c.Name))
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "card type secrets cannot be opened")
	}
	if err := json.Unmarshal(pt, sec); err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "card type secrets are corrupt")
	}
	return sec, nil
}

// mergeSecrets applies the input's secret fields onto sec and reseals them
// into c.
func (s *Catalog) mergeSecrets(c *lanyard.CardType, sec *lanyard.CardTypeSecrets, in *CardTypeInput) error {
	if in.DefaultAdminKeyHex != nil {
		k, err := hex.DecodeString(*in.DefaultAdminKeyHex)
		if err != nil {
			return lanyard.Errorf(lanyard.EInvalid, "default_admin_key must be hex")
		}
		sec.AdminKey = k
	}
	if in.DefaultUserPIN != nil {
		sec.UserPIN = *in.DefaultUserPIN
	}
	if in.DefaultPUK != nil {
		sec.PUK = *in.DefaultPUK
	}
	if err := sec.Validate(c); err != nil {
		return err
	}
	c.HasDefaultAdminKey, c.HasDefaultUserPIN, c.HasDefaultPUK = len(sec.AdminKey) > 0, sec.UserPIN != "", sec.PUK != ""
	c.SealedSecrets = nil
	if c.HasDefaultAdminKey || c.HasDefaultUserPIN || c.HasDefaultPUK {
		pt, _ := json.Marshal(sec)
		sealed, err := s.sealer.Seal(pt, cardTypeAAD(c.Name))
		if err != nil {
			return lanyard.Wrap(lanyard.EInternal, err, "sealing card type secrets failed")
		}
		c.SealedSecrets = sealed
	}
	return nil
}

// CreateCardType adds a card type.
func (s *Catalog) CreateCardType(ctx context.Context, p *lanyard.Principal, in CardTypeInput) (*lanyard.CardType, error) {
	c := in.CardType
	c.ID = 0
	if c.ATRPatterns == nil {
		c.ATRPatterns = []string{}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := s.mergeSecrets(&c, &lanyard.CardTypeSecrets{}, &in); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = s.rec.Clock(), s.rec.Clock()
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "card_type.create", "card_type", c.Name, map[string]any{"kind": c.Kind, "admin_key_mode": c.AdminMode})
	}, func(tx lanyard.Tx) error { return tx.CreateCardType(&c) })
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// UpdateCardType replaces a card type's settings; secrets not given stay.
func (s *Catalog) UpdateCardType(ctx context.Context, p *lanyard.Principal, name string, in CardTypeInput) (*lanyard.CardType, error) {
	c := in.CardType
	if c.Name == "" {
		c.Name = name
	}
	if c.Name != name {
		return nil, lanyard.Errorf(lanyard.EInvalid, "a card type cannot be renamed (body names %q, URL %q)", c.Name, name)
	}
	if c.ATRPatterns == nil {
		c.ATRPatterns = []string{}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	err := s.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		old, err := tx.CardTypeByName(name)
		if err != nil {
			return err
		}
		sec, err := s.CardTypeSecrets(old)
		if err != nil {
			return err
		}
		if err := s.mergeSecrets(&c, sec, &in); err != nil {
			return err
		}
		c.ID, c.CreatedAt, c.UpdatedAt = old.ID, old.CreatedAt, s.rec.Clock()
		if err := tx.UpdateCardType(&c); err != nil {
			return err
		}
		return tx.AppendAudit(s.rec.Event(p, "card_type.update", "card_type", name, map[string]any{"kind": c.Kind, "admin_key_mode": c.AdminMode}))
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// GetCardType returns one card type.
func (s *Catalog) GetCardType(ctx context.Context, name string) (*lanyard.CardType, error) {
	var c *lanyard.CardType
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { c, err = tx.CardTypeByName(name); return })
	return c, err
}

// ListCardTypes lists card types.
func (s *Catalog) ListCardTypes(ctx context.Context) ([]*lanyard.CardType, error) {
	var out []*lanyard.CardType
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { out, err = tx.ListCardTypes(); return })
	return out, err
}

// DeleteCardType removes a card type that no policy allows.
func (s *Catalog) DeleteCardType(ctx context.Context, p *lanyard.Principal, name string) error {
	return s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "card_type.delete", "card_type", name, nil)
	}, func(tx lanyard.Tx) error {
		pols, err := tx.ListPolicies()
		if err != nil {
			return err
		}
		for _, pol := range pols {
			for _, n := range pol.Settings.AllowedCards {
				if n == name {
					return lanyard.Errorf(lanyard.EConflict, "card type %q is allowed by policy %q; remove it there first", name, pol.Name)
				}
			}
		}
		return tx.DeleteCardType(name)
	})
}
