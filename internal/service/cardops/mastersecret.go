package cardops

import (
	"context"
	"io"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Card admin keys in mode "random" are diversified per card from a master
// secret and the card's identifier (personalize.Derive; docs/architecture.md,
// "Principles"). The secrets
// are versioned so that they can be rotated: each card records the version
// its key came from. Versions are stored sealed, one setting each.
const (
	settingAdminMasterCurrent = "card-admin-master/current"
	adminMasterSize           = 32
)

func adminMasterSetting(version int) string {
	return "card-admin-master/v" + strconv.Itoa(version)
}

func adminMasterAAD(version int) []byte {
	return []byte("card-admin-master:" + strconv.Itoa(version))
}

// EnsureAdminMaster creates version 1 of the card admin key master secret
// when none exists. Racing replicas are harmless: the setting write of the
// loser simply happens inside a transaction that finds it present.
func (s *Cards) EnsureAdminMaster(ctx context.Context) error {
	secret := make([]byte, adminMasterSize)
	if _, err := io.ReadFull(s.rand, secret); err != nil {
		return lanyard.Wrap(lanyard.EInternal, err, "no randomness for the card admin key master secret")
	}
	defer clear(secret)
	sealed, err := s.sealer.Seal(secret, adminMasterAAD(1))
	if err != nil {
		return lanyard.Wrap(lanyard.EInternal, err, "sealing the card admin key master secret failed")
	}
	return s.store.Update(ctx, func(tx lanyard.Tx) error {
		_, err := tx.Setting(settingAdminMasterCurrent)
		if err == nil || !lanyard.IsCode(err, lanyard.ENotFound) {
			return err
		}
		if err := tx.PutSetting(adminMasterSetting(1), sealed); err != nil {
			return err
		}
		if err := tx.PutSetting(settingAdminMasterCurrent, []byte("1")); err != nil {
			return err
		}
		return tx.AppendAudit(s.rec.Event(lanyard.SystemPrincipal, "card_admin_master.create", "setting", adminMasterSetting(1), map[string]any{"version": 1}))
	})
}

// AdminMaster returns the current version of the card admin key master
// secret and the secret itself. Only server-side card drivers call it; the
// secret never leaves the server process.
func (s *Cards) AdminMaster(ctx context.Context) (version int, secret []byte, err error) {
	var cur, sealed []byte
	err = s.rec.View(ctx, func(tx lanyard.Tx) error {
		var err error
		if cur, err = tx.Setting(settingAdminMasterCurrent); err != nil {
			return err
		}
		if version, err = strconv.Atoi(string(cur)); err != nil || version < 1 {
			return lanyard.Errorf(lanyard.EInternal, "card admin key master version %q is not a positive number", cur)
		}
		sealed, err = tx.Setting(adminMasterSetting(version))
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	secret, err = s.sealer.Open(sealed, adminMasterAAD(version))
	if err != nil {
		return 0, nil, lanyard.Wrap(lanyard.EInternal, err, "the card admin key master secret does not open")
	}
	return version, secret, nil
}

// adminMaster returns version v of the card admin key master secret, or
// the current version when v is 0: a card's key is derived again from the
// version recorded with the card, even after the secret rotated.
func (s *Cards) adminMaster(ctx context.Context, v int) (personalize.Master, error) {
	if v == 0 {
		cur, secret, err := s.AdminMaster(ctx)
		return personalize.Master{Version: cur, Secret: secret}, err
	}
	var sealed []byte
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { sealed, err = tx.Setting(adminMasterSetting(v)); return }); err != nil {
		return personalize.Master{}, err
	}
	secret, err := s.sealer.Open(sealed, adminMasterAAD(v))
	if err != nil {
		return personalize.Master{}, lanyard.Wrap(lanyard.EInternal, err, "the card admin key master secret does not open")
	}
	return personalize.Master{Version: v, Secret: secret}, nil
}
