package tpmkeys_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/tpm/tpmtest"
)

// BenchmarkSignRSA2048 times one RSA 2048 PKCS#1 v1.5 signature through
// the PIV client and the card in process (SELECT, PIN verified once): in
// the TPM (the in-process reference simulator: load the PIN object, policy
// session, PolicySecret, load the key, TPM2_RSA_Decrypt, flush) next to
// the software key store, for docs/performance.md.
func BenchmarkSignRSA2048(b *testing.B) {
	ctx := context.Background()
	digest := sha256.Sum256([]byte("benchmark"))
	run := func(b *testing.B, c *piv.Card, pub *rsa.PublicKey) {
		if err := c.VerifyPIN(ctx, pivspec.DefaultPIN); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for b.Loop() {
			if _, err := c.Sign(ctx, pivspec.SlotAuthentication, pub, digest[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("tpm-simulator", func(b *testing.B) {
		tp, _ := simulator(b)
		tc := newTPMCard(b, tp, nil)
		run(b, tc.c, tc.generate(pivspec.SlotAuthentication, pivspec.AlgRSA2048))
	})
	b.Run("swtpm", func(b *testing.B) {
		tc := newTPMCard(b, tpmtest.OpenSwtpm(b), nil)
		run(b, tc.c, tc.generate(pivspec.SlotAuthentication, pivspec.AlgRSA2048))
	})
	b.Run("software", func(b *testing.B) {
		card, err := emu.New()
		if err != nil {
			b.Fatal(err)
		}
		tc := &tpmCard{t: b, card: card, c: client(b, card)}
		run(b, tc.c, tc.generate(pivspec.SlotAuthentication, pivspec.AlgRSA2048))
	})
}
