package piv_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"errors"
	"slices"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// These tests run the client against the PIV card emulator in process:
// every exchange goes through emu.Card.Transmit as raw APDUs, exactly as
// through vpcd and pcscd.

// emuTransport is an apdu.Transport over the emulator's Transmit.
type emuTransport struct{ card *emu.Card }

func (t emuTransport) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return t.card.Transmit(cmd), nil
}

// newEmu returns a factory-fresh emulated card and a selected client.
func newEmu(t *testing.T) (*emu.Card, *piv.Card) {
	t.Helper()
	card, err := emu.New()
	if err != nil {
		t.Fatal(err)
	}
	c, err := piv.New(emuTransport{card}, piv.Config{Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(context.Background()); err != nil {
		t.Fatal(err)
	}
	return card, c
}

// factoryAdmin authenticates with the factory 3DES key.
func factoryAdmin(t *testing.T, c *piv.Card) *piv.Admin {
	t.Helper()
	a, err := c.Authenticate(context.Background(), pivspec.Alg3DES, pivspec.DefaultManagementKey())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestEmuIdentity(t *testing.T) {
	ctx := context.Background()
	card, c := newEmu(t)
	app, err := c.Select(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(app.Authority) < 5 || !bytes.HasPrefix(pivspec.AID(), app.Authority) || len(app.AID) == 0 {
		t.Fatalf("application property template %+v", app)
	}
	for _, alg := range []piv.Algorithm{pivspec.AlgRSA2048, pivspec.AlgRSA3072, pivspec.AlgRSA4096, pivspec.AlgECCP256, pivspec.AlgECCP384} {
		if !slices.Contains(app.Algorithms, alg) {
			t.Errorf("the template does not list %s: %v", alg, app.Algorithms)
		}
	}
	v, err := c.Version(ctx)
	if err != nil || !v.AtLeast(5, 4, 0) {
		t.Fatalf("Version = %v, %v", v, err)
	}
	serial, err := c.Serial(ctx)
	if err != nil || serial != card.Serial() {
		t.Fatalf("Serial = %d, %v; the card says %d", serial, err, card.Serial())
	}
	ch, err := c.CHUID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	guid, ok := card.GUID()
	if !ok || !bytes.Equal(ch.GUID, guid[:]) {
		t.Fatalf("CHUID GUID %X, the card's %X", ch.GUID, guid)
	}
	if ch.FASCN != nil {
		if _, err := piv.ParseFASCN(ch.FASCN); err != nil {
			t.Fatalf("the emulator's FASC-N: %v", err)
		}
	}
	for _, ref := range []piv.KeyRef{pivspec.KeyPIN, pivspec.KeyPUK, pivspec.KeyAdmin} {
		m, err := c.Metadata(ctx, ref)
		if err != nil || !m.Default {
			t.Fatalf("Metadata(%v) = %+v, %v; want a factory default", ref, m, err)
		}
	}
	if _, err := c.Metadata(ctx, pivspec.SlotSignature.Ref()); !errors.Is(err, piv.ErrNotFound) {
		t.Fatalf("Metadata of an empty slot: %v", err)
	}
}

func TestEmuManagementKey(t *testing.T) {
	ctx := context.Background()
	master := bytes.Repeat([]byte{0x42}, personalize.MinMasterLen)
	kinds := map[piv.Algorithm]lanyard.AdminKeyKind{
		pivspec.Alg3DES:   lanyard.AdminKey3DES,
		pivspec.AlgAES128: lanyard.AdminKeyAES128,
		pivspec.AlgAES192: lanyard.AdminKeyAES192,
		pivspec.AlgAES256: lanyard.AdminKeyAES256,
	}
	for kind, domainKind := range kinds {
		t.Run(kind.String(), func(t *testing.T) {
			card, c := newEmu(t)
			a := factoryAdmin(t, c)
			// Take the card over: its diversified key from the master secret.
			serial := binary.BigEndian.AppendUint32(nil, card.Serial())
			key, err := personalize.Derive(master, 1, domainKind, serial)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.SetManagementKey(ctx, kind, key); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Authenticate(ctx, pivspec.Alg3DES, pivspec.DefaultManagementKey()); !errors.Is(err, piv.ErrManagementKey) {
				t.Fatalf("factory key after takeover: %v, want ErrManagementKey", err)
			}
			wrong := bytes.Clone(key)
			wrong[0] ^= 0x02
			if _, err := c.Authenticate(ctx, kind, wrong); !errors.Is(err, piv.ErrManagementKey) {
				t.Fatalf("wrong key: %v, want ErrManagementKey", err)
			}
			if _, err := c.Authenticate(ctx, kind, key); err != nil {
				t.Fatalf("diversified key: %v", err)
			}
			m, err := c.Metadata(ctx, pivspec.KeyAdmin)
			if err != nil || m.Algorithm != kind || m.Default {
				t.Fatalf("Metadata(9B) = %+v, %v", m, err)
			}
		})
	}
}

func TestEmuSecurityStatus(t *testing.T) {
	ctx := context.Background()
	card, c := newEmu(t)
	a := factoryAdmin(t, c)
	pub, err := a.GenerateKey(ctx, pivspec.SlotAuthentication, pivspec.AlgECCP256, piv.KeyPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("x"))
	if _, err := c.Sign(ctx, pivspec.SlotAuthentication, pub, digest[:], crypto.SHA256); !errors.Is(err, piv.ErrSecurityStatus) {
		t.Fatalf("Sign without the PIN: %v, want ErrSecurityStatus", err)
	}
	// A reset of the card ends the management key session.
	card.Reset()
	if _, err := c.Select(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GenerateKey(ctx, pivspec.SlotAuthentication, pivspec.AlgECCP256, piv.KeyPolicy{}); !errors.Is(err, piv.ErrSecurityStatus) {
		t.Fatalf("GenerateKey after a card reset: %v, want ErrSecurityStatus", err)
	}
	if err := a.PutCertificate(ctx, pivspec.SlotAuthentication, mustCertificate(t, "x", pub)); !errors.Is(err, piv.ErrSecurityStatus) {
		t.Fatalf("PutCertificate after a card reset: %v, want ErrSecurityStatus", err)
	}
}

func TestEmuPIN(t *testing.T) {
	ctx := context.Background()
	_, c := newEmu(t)
	var ae *piv.AuthError
	steps := []struct {
		name string
		do   func() error
		want func(error) bool
	}{
		{"right PIN", func() error { return c.VerifyPIN(ctx, pivspec.DefaultPIN) }, isNil},
		{"wrong PIN", func() error { return c.VerifyPIN(ctx, "000000") }, authError(&ae, pivspec.KeyPIN, 2)},
		{"tries left", retries(ctx, c, 2), isNil},
		{"right PIN resets the counter", func() error { return c.VerifyPIN(ctx, pivspec.DefaultPIN) }, isNil},
		{"PIN too long, nothing sent", func() error { return c.VerifyPIN(ctx, "123456789") }, is(piv.ErrPINFormat)},
		{"wrong 1", func() error { return c.VerifyPIN(ctx, "000000") }, authError(&ae, pivspec.KeyPIN, 2)},
		{"wrong 2", func() error { return c.VerifyPIN(ctx, "000000") }, authError(&ae, pivspec.KeyPIN, 1)},
		{"wrong 3 blocks", func() error { return c.VerifyPIN(ctx, "000000") }, is(piv.ErrBlocked)},
		{"blocked", func() error { return c.VerifyPIN(ctx, pivspec.DefaultPIN) }, is(piv.ErrBlocked)},
		{"no tries left", retries(ctx, c, 0), isNil},
		{"unblock with a wrong PUK", func() error { return c.UnblockPIN(ctx, "87654321", "654321") }, authError(&ae, pivspec.KeyPUK, 2)},
		{"unblock", func() error { return c.UnblockPIN(ctx, pivspec.DefaultPUK, "654321") }, isNil},
		{"new PIN", func() error { return c.VerifyPIN(ctx, "654321") }, isNil},
		{"change PIN, wrong old", func() error { return c.ChangePIN(ctx, pivspec.DefaultPIN, "13572468") }, authError(&ae, pivspec.KeyPIN, 2)},
		{"change PIN", func() error { return c.ChangePIN(ctx, "654321", "13572468") }, isNil},
		{"changed PIN", func() error { return c.VerifyPIN(ctx, "13572468") }, isNil},
		{"change PUK", func() error { return c.ChangePUK(ctx, pivspec.DefaultPUK, "abcdefgh") }, isNil},
		{"old PUK refused", func() error { return c.UnblockPIN(ctx, pivspec.DefaultPUK, "123456") }, authError(&ae, pivspec.KeyPUK, 2)},
		{"new PUK", func() error { return c.UnblockPIN(ctx, "abcdefgh", "123456") }, isNil},
		{"PIN after unblock", func() error { return c.VerifyPIN(ctx, pivspec.DefaultPIN) }, isNil},
	}
	for _, s := range steps {
		if err := s.do(); !s.want(err) {
			t.Fatalf("%s: unexpected result %v", s.name, err)
		}
	}
}

func isNil(err error) bool { return err == nil }

func is(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

func authError(ae **piv.AuthError, ref piv.KeyRef, left int) func(error) bool {
	return func(err error) bool {
		return errors.As(err, ae) && (*ae).Ref == ref && (*ae).Retries == left
	}
}

func retries(ctx context.Context, c *piv.Card, want int) func() error {
	return func() error {
		n, err := c.PINRetries(ctx)
		if err != nil {
			return err
		}
		if n != want {
			return errors.New("wrong count of tries")
		}
		return nil
	}
}

func TestEmuPINRetriesWhenVerified(t *testing.T) {
	ctx := context.Background()
	_, c := newEmu(t)
	if err := c.VerifyPIN(ctx, pivspec.DefaultPIN); err != nil {
		t.Fatal(err)
	}
	// The card answers the empty VERIFY with 9000 now; the count comes
	// from GET METADATA.
	if n, err := c.PINRetries(ctx); err != nil || n != 3 {
		t.Fatalf("PINRetries = %d, %v", n, err)
	}
}

func TestEmuKeys(t *testing.T) {
	ctx := context.Background()
	card, c := newEmu(t)
	a := factoryAdmin(t, c)
	if err := c.VerifyPIN(ctx, pivspec.DefaultPIN); err != nil {
		t.Fatal(err)
	}
	attestCA, err := c.AttestationCertificate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if emuCA, err := card.AttestationCA(); err != nil || !emuCA.Equal(attestCA) {
		t.Fatalf("attestation CA %v, %v", emuCA, err)
	}
	retired1, _ := pivspec.RetiredSlot(1)
	tests := []struct {
		alg  piv.Algorithm
		slot piv.Slot
	}{
		{pivspec.AlgECCP256, pivspec.SlotAuthentication},
		{pivspec.AlgECCP384, pivspec.SlotKeyManagement},
		{pivspec.AlgRSA2048, pivspec.SlotCardAuthentication},
		{pivspec.AlgRSA3072, retired1},
		{pivspec.AlgRSA4096, pivspec.SlotKeyManagement},
	}
	msg := []byte("signed on the emulated card")
	for _, tt := range tests {
		t.Run(string(tt.alg), func(t *testing.T) {
			pub, err := a.GenerateKey(ctx, tt.slot, tt.alg, piv.KeyPolicy{PIN: pivspec.PINPolicyOnce, Touch: pivspec.TouchPolicyNever})
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := pivspec.AlgorithmOf(pub); got != tt.alg {
				t.Fatalf("generated a %s key", got)
			}
			m, err := c.Metadata(ctx, tt.slot.Ref())
			if err != nil || m.Origin != pivspec.OriginGenerated || m.PINPolicy != pivspec.PINPolicyOnce ||
				!pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(m.PublicKey) {
				t.Fatalf("Metadata = %+v, %v", m, err)
			}

			for _, opts := range []crypto.SignerOpts{crypto.SHA256, crypto.SHA384, &rsa.PSSOptions{Hash: crypto.SHA256}} {
				if _, isEC := pub.(*ecdsa.PublicKey); isEC && opts != crypto.SHA256 && opts != crypto.SHA384 {
					continue
				}
				h := opts.HashFunc().New()
				h.Write(msg)
				digest := h.Sum(nil)
				sig, err := c.Sign(ctx, tt.slot, pub, digest, opts)
				if err != nil {
					t.Fatalf("Sign %v: %v", opts, err)
				}
				verify(t, pub, digest, sig, opts)
			}

			if ecPub, ok := pub.(*ecdsa.PublicKey); ok {
				onCard, err := ecPub.ECDH()
				if err != nil {
					t.Fatal(err)
				}
				peer, err := onCard.Curve().GenerateKey(rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				got, err := c.ECDH(ctx, tt.slot, peer.PublicKey())
				if err != nil {
					t.Fatal(err)
				}
				want, err := peer.ECDH(onCard)
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("ECDH = %X, want %X (%v)", got, want, err)
				}
			}

			att, err := c.Attest(ctx, tt.slot)
			if err != nil {
				t.Fatal(err)
			}
			if err := att.CheckSignatureFrom(attestCA); err != nil {
				t.Fatalf("attestation does not chain to the card's attestation certificate: %v", err)
			}
			if !pub.(interface{ Equal(crypto.PublicKey) bool }).Equal(att.PublicKey) {
				t.Fatal("attestation is for another key")
			}
		})
	}
	if _, err := c.Attest(ctx, pivspec.SlotSignature); !errors.Is(err, piv.ErrNotFound) {
		t.Fatalf("Attest of an empty slot: %v", err)
	}
}

func TestEmuSignatureSlotNeedsThePINEachTime(t *testing.T) {
	ctx := context.Background()
	_, c := newEmu(t)
	a := factoryAdmin(t, c)
	pub, err := a.GenerateKey(ctx, pivspec.SlotSignature, pivspec.AlgECCP256, piv.KeyPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	digest := sha256.Sum256([]byte("x"))
	if err := c.VerifyPIN(ctx, pivspec.DefaultPIN); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sign(ctx, pivspec.SlotSignature, pub, digest[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	// 9C defaults to PIN policy "always" (SP 800-73-4 Part 1 3.2.2).
	if _, err := c.Sign(ctx, pivspec.SlotSignature, pub, digest[:], crypto.SHA256); !errors.Is(err, piv.ErrSecurityStatus) {
		t.Fatalf("second signature without the PIN: %v", err)
	}
	// 9E needs no PIN at all.
	pub9e, err := a.GenerateKey(ctx, pivspec.SlotCardAuthentication, pivspec.AlgECCP256, piv.KeyPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Sign(ctx, pivspec.SlotCardAuthentication, pub9e, digest[:], crypto.SHA256); err != nil {
		t.Fatalf("card authentication key: %v", err)
	}
	// A public key that is not the slot's is caught.
	if _, err := c.Sign(ctx, pivspec.SlotCardAuthentication, pub, digest[:], crypto.SHA256); !errors.Is(err, piv.ErrKeyMismatch) {
		t.Fatalf("wrong public key: %v", err)
	}
}

func TestEmuImportKey(t *testing.T) {
	ctx := context.Background()
	_, c := newEmu(t)
	a := factoryAdmin(t, c)
	if err := c.VerifyPIN(ctx, pivspec.DefaultPIN); err != nil {
		t.Fatal(err)
	}
	for _, key := range []crypto.Signer{ecKey(t, elliptic.P256()), ecKey(t, elliptic.P384()), rsaKey(t, 2048)} {
		if err := a.ImportKey(ctx, pivspec.SlotKeyManagement, key, piv.KeyPolicy{}); err != nil {
			t.Fatalf("ImportKey %T: %v", key, err)
		}
		m, err := c.Metadata(ctx, pivspec.SlotKeyManagement.Ref())
		if err != nil || m.Origin != pivspec.OriginImported {
			t.Fatalf("Metadata = %+v, %v", m, err)
		}
		digest := sha512.Sum384([]byte("imported"))
		sig, err := c.Sign(ctx, pivspec.SlotKeyManagement, key.Public(), digest[:], crypto.SHA384)
		if err != nil {
			t.Fatal(err)
		}
		verify(t, key.Public(), digest[:], sig, crypto.SHA384)
		if ec, ok := key.(*ecdsa.PrivateKey); ok {
			peer, err := ecdhCurve(ec).GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			priv, _ := ec.ECDH()
			got, err := c.ECDH(ctx, pivspec.SlotKeyManagement, peer.PublicKey())
			want, _ := priv.ECDH(peer.PublicKey())
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("ECDH with an imported key = %X, %v", got, err)
			}
		}
	}
}

func ecdhCurve(k *ecdsa.PrivateKey) ecdh.Curve {
	if k.Curve == elliptic.P384() {
		return ecdh.P384()
	}
	return ecdh.P256()
}

func TestEmuCertificates(t *testing.T) {
	ctx := context.Background()
	_, c := newEmu(t)
	a := factoryAdmin(t, c)
	if got, err := c.Certificates(ctx); err != nil || len(got) != 0 {
		t.Fatalf("a fresh card holds %d certificates, %v", len(got), err)
	}
	if err := c.VerifyPIN(ctx, pivspec.DefaultPIN); err != nil {
		t.Fatal(err)
	}
	retired20, _ := pivspec.RetiredSlot(20)
	slots := []piv.Slot{pivspec.SlotAuthentication, pivspec.SlotSignature, retired20}
	want := map[piv.Slot]*x509.Certificate{}
	for _, s := range slots {
		pub, err := a.GenerateKey(ctx, s, pivspec.AlgECCP256, piv.KeyPolicy{})
		if err != nil {
			t.Fatal(err)
		}
		// A certificate request signed on the card through the Signer.
		signer, err := c.Signer(ctx, s, pub)
		if err != nil {
			t.Fatal(err)
		}
		if s == pivspec.SlotSignature {
			if err := c.VerifyPIN(ctx, pivspec.DefaultPIN); err != nil {
				t.Fatal(err)
			}
		}
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: s.String()}}, signer)
		if err != nil {
			t.Fatal(err)
		}
		csr, err := x509.ParseCertificateRequest(der)
		if err != nil || csr.CheckSignature() != nil {
			t.Fatalf("CSR from the card: %v", err)
		}
		want[s] = mustCertificate(t, s.String(), pub)
		if err := a.PutCertificate(ctx, s, want[s]); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.Certificates(ctx)
	if err != nil || len(got) != len(slots) {
		t.Fatalf("Certificates = %d, %v", len(got), err)
	}
	for i, sc := range got {
		if sc.Slot != slots[i] || !sc.Certificate.Equal(want[sc.Slot]) {
			t.Fatalf("certificate %d in %v: %s", i, sc.Slot, sc.Certificate.Subject)
		}
	}
	if err := a.DeleteCertificate(ctx, pivspec.SlotSignature); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Certificate(ctx, pivspec.SlotSignature); !errors.Is(err, piv.ErrNotFound) {
		t.Fatalf("deleted certificate: %v", err)
	}
	if got, err := c.Certificates(ctx); err != nil || len(got) != 2 {
		t.Fatalf("after deleting one: %d, %v", len(got), err)
	}
}

func TestEmuSetRetries(t *testing.T) {
	ctx := context.Background()
	_, c := newEmu(t)
	a := factoryAdmin(t, c)
	if err := a.SetRetries(ctx, pivspec.DefaultPIN, 5, 7); err != nil {
		t.Fatal(err)
	}
	if n, err := c.PINRetries(ctx); err != nil || n != 5 {
		t.Fatalf("PINRetries = %d, %v", n, err)
	}
	m, err := c.Metadata(ctx, pivspec.KeyPUK)
	if err != nil || m.Retries != 7 || m.RetriesLeft != 7 {
		t.Fatalf("PUK metadata %+v, %v", m, err)
	}
	var ae *piv.AuthError
	if err := a.SetRetries(ctx, "000000", 5, 7); !errors.As(err, &ae) || ae.Retries != 4 {
		t.Fatalf("SetRetries with a wrong PIN: %v", err)
	}
}

func TestEmuReset(t *testing.T) {
	ctx := context.Background()
	card, c := newEmu(t)
	a := factoryAdmin(t, c)
	guid, _ := card.GUID()
	pub, err := a.GenerateKey(ctx, pivspec.SlotAuthentication, pivspec.AlgECCP256, piv.KeyPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.PutCertificate(ctx, pivspec.SlotAuthentication, mustCertificate(t, "before reset", pub)); err != nil {
		t.Fatal(err)
	}
	if err := a.SetManagementKey(ctx, pivspec.AlgAES256, bytes.Repeat([]byte{7}, 32)); err != nil {
		t.Fatal(err)
	}
	if err := c.ChangePIN(ctx, pivspec.DefaultPIN, "24682468"); err != nil {
		t.Fatal(err)
	}

	if err := c.Reset(ctx); err != nil {
		t.Fatal(err)
	}

	if got, err := c.Certificates(ctx); err != nil || len(got) != 0 {
		t.Fatalf("after reset: %d certificates, %v", len(got), err)
	}
	if _, err := c.Metadata(ctx, pivspec.SlotAuthentication.Ref()); !errors.Is(err, piv.ErrNotFound) {
		t.Fatalf("after reset the key is still there: %v", err)
	}
	if err := c.VerifyPIN(ctx, pivspec.DefaultPIN); err != nil {
		t.Fatalf("factory PIN after reset: %v", err)
	}
	if err := c.UnblockPIN(ctx, pivspec.DefaultPUK, pivspec.DefaultPIN); err != nil {
		t.Fatalf("factory PUK after reset: %v", err)
	}
	if _, err := c.Authenticate(ctx, pivspec.Alg3DES, pivspec.DefaultManagementKey()); err != nil {
		t.Fatalf("factory management key after reset: %v", err)
	}
	if newGUID, _ := card.GUID(); newGUID == guid {
		t.Fatal("the card kept its GUID across a reset")
	}
}
