//go:build integration

package emu_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/go-piv/piv-go/v2/piv"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/interoptest"
)

// TestInteropPivGo drives a fresh emulated card with piv-go v2 (the Go
// client library of many YubiKey tools) through the real pcscd that
// scripts/pcscd-test.sh started: piv.Cards and piv.Open find it; keys are
// generated (P-256, RSA 2048) with the factory management key, certificates
// stored and read back, signatures made with the PIN and verified with
// crypto/ecdsa and crypto/rsa; a wrong PIN costs a retry and the PUK
// unblocks; the management key becomes AES-192 and authenticates; Reset
// returns the card to factory state.
func TestInteropPivGo(t *testing.T) {
	addr, reader := interoptest.TakeSlot(t)

	card, err := emu.New(emu.WithKeyStore(pooledKeys{}))
	if err != nil {
		t.Fatalf("emu.New: %v", err)
	}
	interoptest.Insert(t, addr, reader, card)

	cards, err := piv.Cards()
	if err != nil {
		t.Fatalf("piv.Cards: %v", err)
	}
	found := false
	for _, c := range cards {
		found = found || c == reader
	}
	if !found {
		t.Fatalf("piv.Cards() = %q lacks %q", cards, reader)
	}
	yk, err := piv.Open(reader)
	if err != nil {
		t.Fatalf("piv.Open(%q): %v", reader, err)
	}
	t.Cleanup(func() {
		if err := yk.Close(); err != nil {
			t.Errorf("closing: %v", err)
		}
	})

	if v := yk.Version(); v.Major != 5 || v.Minor < 4 {
		t.Fatalf("version %d.%d.%d: the AES management key below needs 5.4 or later", v.Major, v.Minor, v.Patch)
	}
	if serial, err := yk.Serial(); err != nil || serial != card.Serial() {
		t.Fatalf("Serial() = %d, %v; the card's serial is %d", serial, err, card.Serial())
	}

	msg := []byte("signed by piv-go through pcscd and vpcd")
	digest := sha256.Sum256(msg)
	mgm := piv.DefaultManagementKey

	// sign generates a key in slot, stores a certificate for it, reads the
	// certificate back and signs digest with the PIN; it returns the
	// public key and the signature.
	sign := func(t *testing.T, slot piv.Slot, alg piv.Algorithm) (crypto.PublicKey, []byte) {
		t.Helper()
		pub, err := yk.GenerateKey(mgm, slot, piv.Key{Algorithm: alg, PINPolicy: piv.PINPolicyAlways, TouchPolicy: piv.TouchPolicyNever})
		if err != nil {
			t.Fatalf("GenerateKey: %v", err)
		}
		cert, err := x509.ParseCertificate(interoptest.SelfIssued(t, pub, "Lanyard piv-go "+slot.String()))
		if err != nil {
			t.Fatal(err)
		}
		if err := yk.SetCertificate(mgm, slot, cert); err != nil {
			t.Fatalf("SetCertificate: %v", err)
		}
		got, err := yk.Certificate(slot)
		if err != nil {
			t.Fatalf("Certificate: %v", err)
		}
		if !bytes.Equal(got.Raw, cert.Raw) {
			t.Fatalf("Certificate() returned another certificate than SetCertificate stored")
		}
		priv, err := yk.PrivateKey(slot, got.PublicKey, piv.KeyAuth{PIN: piv.DefaultPIN})
		if err != nil {
			t.Fatalf("PrivateKey: %v", err)
		}
		signer, ok := priv.(crypto.Signer)
		if !ok {
			t.Fatalf("PrivateKey returned %T, not a crypto.Signer", priv)
		}
		sig, err := signer.Sign(rand.Reader, digest[:], crypto.SHA256)
		if err != nil {
			t.Fatalf("Sign: %v", err)
		}
		return pub, sig
	}
	t.Run("ECDSA P-256 in 9A", func(t *testing.T) {
		pub, sig := sign(t, piv.SlotAuthentication, piv.AlgorithmEC256)
		ec, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			t.Fatalf("GenerateKey returned %T", pub)
		}
		if !ecdsa.VerifyASN1(ec, digest[:], sig) {
			t.Fatalf("ECDSA signature %X does not verify", sig)
		}
	})
	t.Run("RSA 2048 in 9C", func(t *testing.T) {
		pub, sig := sign(t, piv.SlotSignature, piv.AlgorithmRSA2048)
		r, ok := pub.(*rsa.PublicKey)
		if !ok || r.N.BitLen() != 2048 {
			t.Fatalf("GenerateKey returned %T", pub)
		}
		if err := rsa.VerifyPKCS1v15(r, crypto.SHA256, digest[:], sig); err != nil {
			t.Fatalf("RSA signature: %v", err)
		}
	})

	t.Run("wrong PIN, then unblock with the PUK", func(t *testing.T) {
		err := yk.VerifyPIN("999999")
		var authErr piv.AuthErr
		if !errors.As(err, &authErr) || authErr.Retries != 2 {
			t.Fatalf("VerifyPIN with a wrong PIN: %v, want an AuthErr with 2 retries left", err)
		}
		if n, err := yk.Retries(); err != nil || n != 2 {
			t.Fatalf("Retries() = %d, %v; want 2", n, err)
		}
		const newPIN = "24682468"
		if err := yk.Unblock(piv.DefaultPUK, newPIN); err != nil {
			t.Fatalf("Unblock: %v", err)
		}
		// Retries before VerifyPIN: an empty VERIFY on a verified PIN
		// answers 9000, not a count (SP 800-73-4 3.2.1).
		if n, err := yk.Retries(); err != nil || n != 3 {
			t.Fatalf("Retries() after unblocking = %d, %v; want 3", n, err)
		}
		if err := yk.VerifyPIN(newPIN); err != nil {
			t.Fatalf("VerifyPIN with the PIN Unblock set: %v", err)
		}
	})

	t.Run("AES-192 management key", func(t *testing.T) {
		aes192 := make([]byte, 24)
		if _, err := rand.Read(aes192); err != nil {
			t.Fatal(err)
		}
		if err := yk.SetManagementKey(mgm, aes192); err != nil {
			t.Fatalf("SetManagementKey: %v", err)
		}
		// Re-authenticate: SetManagementKey authenticates with its first
		// argument (the algorithm read from GET METADATA), so setting the
		// key to itself proves the new key works, and the old one fails.
		if err := yk.SetManagementKey(aes192, aes192); err != nil {
			t.Fatalf("authenticating with the new AES-192 key: %v", err)
		}
		if err := yk.SetManagementKey(mgm, mgm); err == nil {
			t.Fatal("the factory 3DES key still authenticates")
		}
		if _, err := yk.GenerateKey(aes192, piv.SlotKeyManagement, piv.Key{Algorithm: piv.AlgorithmEC256, PINPolicy: piv.PINPolicyNever, TouchPolicy: piv.TouchPolicyNever}); err != nil {
			t.Fatalf("GenerateKey with the AES-192 key: %v", err)
		}
	})

	t.Run("Reset", func(t *testing.T) {
		if err := yk.Reset(); err != nil {
			t.Fatalf("Reset: %v", err)
		}
		if err := yk.VerifyPIN(piv.DefaultPIN); err != nil {
			t.Fatalf("the factory PIN after Reset: %v", err)
		}
		if _, err := yk.Certificate(piv.SlotAuthentication); !errors.Is(err, piv.ErrNotFound) {
			t.Fatalf("Certificate(9A) after Reset: %v, want ErrNotFound", err)
		}
		// The factory 3DES management key works again.
		if err := yk.SetManagementKey(mgm, mgm); err != nil {
			t.Fatalf("the factory management key after Reset: %v", err)
		}
	})
}
