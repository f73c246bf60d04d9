package catalog

import (
	"context"
	"encoding/json"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// storedFeatures are the switches as the settings table keeps them
// (storage format: never rename a tag).
type storedFeatures struct {
	TPMVirtualCard     bool `json:"tpm_virtual_card"`
	PlatformCredential bool `json:"platform_credential"`
}

const settingFeatures = "features"

// Features returns the feature switches.
func (s *Catalog) Features(ctx context.Context) (lanyard.Features, error) {
	var f lanyard.Features
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		var err error
		f, err = s.ReadFeatures(tx)
		return err
	})
	return f, err
}

// ReadFeatures reads the feature switches in tx (virtual card creation
// checks them in the transaction that creates the card).
func (s *Catalog) ReadFeatures(tx lanyard.SettingStore) (lanyard.Features, error) {
	var f storedFeatures
	b, err := tx.Setting(settingFeatures)
	switch {
	case lanyard.IsCode(err, lanyard.ENotFound):
		return lanyard.Features(f), nil
	case err != nil:
		return lanyard.Features(f), err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return lanyard.Features(f), lanyard.Wrap(lanyard.EInternal, err, "stored feature switches")
	}
	return lanyard.Features(f), nil
}

// PutFeatures sets the feature switches (administrators).
func (s *Catalog) PutFeatures(ctx context.Context, p *lanyard.Principal, f lanyard.Features) (lanyard.Features, error) {
	if !p.Has(lanyard.RoleAdministrator) {
		return lanyard.Features{}, lanyard.Errorf(lanyard.EForbidden, "only administrators change feature switches")
	}
	b, err := json.Marshal(storedFeatures(f))
	if err != nil {
		return lanyard.Features{}, err
	}
	err = s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "features.update", "settings", settingFeatures, map[string]any{
			"tpm_virtual_card": f.TPMVirtualCard, "platform_credential": f.PlatformCredential})
	}, func(tx lanyard.Tx) error { return tx.PutSetting(settingFeatures, b) })
	return f, err
}
