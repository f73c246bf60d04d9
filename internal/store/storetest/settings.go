package storetest

import (
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func testSettings(t *testing.T, s lanyard.Store) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	err := s.View(t.Context(), func(tx lanyard.Tx) error { _, err := tx.Setting("master"); return err })
	wantCode(t, "Setting unset", err, lanyard.ENotFound)
	wantMessage(t, "Setting unset", err, `setting "master" not found`)

	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.PutSetting("master", []byte("v1")); err != nil {
			return err
		}
		if err := tx.PutSetting("bytes", all); err != nil {
			return err
		}
		return tx.PutSetting("empty", nil)
	})
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.PutSetting("master", []byte("version two")) })
	MustView(t, s, func(tx lanyard.Tx) error {
		for key, want := range map[string][]byte{"master": []byte("version two"), "bytes": all, "empty": nil} {
			got, err := tx.Setting(key)
			if err != nil {
				t.Errorf("Setting(%q): %v", key, err)
				continue
			}
			equal(t, "Setting "+key, got, want)
		}
		return nil
	})
}
