package piv_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/adminkey"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// BenchmarkPersonalization is a full personalization of a factory-fresh
// emulated card in process (issue 3's target: under 50 ms): select, read
// the serial, take the card over with its diversified management key, set
// PIN and PUK, generate two P-256 keys on the card and write two
// certificates. Creating the emulated card is outside the timing.
func BenchmarkPersonalization(b *testing.B) {
	ctx := context.Background()
	master := bytes.Repeat([]byte{0x42}, adminkey.MinMasterLen)
	certs := []piv.SlotCertificate{
		{Slot: piv.SlotAuthentication, Certificate: mustCertificate(b, "auth", nil)},
		{Slot: piv.SlotSignature, Certificate: mustCertificate(b, "sign", nil)},
	}
	for b.Loop() {
		b.StopTimer()
		card, err := emu.New()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()

		c, err := piv.New(emuTransport{card}, piv.Config{Rand: rand.Reader})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Select(ctx); err != nil {
			b.Fatal(err)
		}
		serial, err := c.Serial(ctx)
		if err != nil {
			b.Fatal(err)
		}
		key, err := adminkey.Derive(master, 1, lanyard.AdminKeyAES192, binary.BigEndian.AppendUint32(nil, serial))
		if err != nil {
			b.Fatal(err)
		}
		a, err := c.Authenticate(ctx, lanyard.AdminKey3DES, piv.DefaultManagementKey())
		if err != nil {
			b.Fatal(err)
		}
		if err := a.SetManagementKey(ctx, lanyard.AdminKeyAES192, key); err != nil {
			b.Fatal(err)
		}
		if a, err = c.Authenticate(ctx, lanyard.AdminKeyAES192, key); err != nil {
			b.Fatal(err)
		}
		if err := c.ChangePIN(ctx, piv.DefaultPIN, "24681357"); err != nil {
			b.Fatal(err)
		}
		if err := c.ChangePUK(ctx, piv.DefaultPUK, "97531864"); err != nil {
			b.Fatal(err)
		}
		for _, sc := range certs {
			if _, err := a.GenerateKey(ctx, sc.Slot, lanyard.ECP256, piv.KeyPolicy{}); err != nil {
				b.Fatal(err)
			}
			if err := a.PutCertificate(ctx, sc.Slot, sc.Certificate); err != nil {
				b.Fatal(err)
			}
		}
	}
}
