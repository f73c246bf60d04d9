package tpmkeys_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/tpm"
)

// TestSimulator runs the suite on the in-process reference TPM.
func TestSimulator(t *testing.T) {
	runSuite(t, func(t *testing.T) *tpm.TPM {
		tp, _ := simulator(t)
		return tp
	})
}

// runSuite runs the TPM virtual smart card's tests, each on a fresh card
// in a TPM that open returns with a zero dictionary-attack counter.
func runSuite(t *testing.T, open func(t *testing.T) *tpm.TPM) {
	ctx := context.Background()
	digest := sha256.Sum256([]byte("signed in the TPM"))

	t.Run("factory state", func(t *testing.T) {
		tc := newTPMCard(t, open(t), nil)
		if !bytes.Equal(tc.card.ATR(), pivspec.ATRWithIssuerData("LanyardTPM")) {
			t.Fatalf("ATR % X", tc.card.ATR())
		}
		for _, ref := range []piv.KeyRef{pivspec.KeyPIN, pivspec.KeyPUK} {
			m, err := tc.c.Metadata(ctx, ref)
			if err != nil || !m.Default || m.Retries != emu.DefaultRetries || m.RetriesLeft != emu.DefaultRetries {
				t.Fatalf("metadata %v: %+v, %v", ref, m, err)
			}
		}
		tc.verifyPIN(pivspec.DefaultPIN)
	})

	t.Run("sign PKCS#1 v1.5 and PSS, decrypt, attest", func(t *testing.T) {
		tc := newTPMCard(t, open(t), nil)
		pub := tc.generate(pivspec.SlotAuthentication, pivspec.AlgRSA2048)
		if pub.N.BitLen() != 2048 {
			t.Fatalf("%d-bit key", pub.N.BitLen())
		}
		if _, err := tc.c.Sign(ctx, pivspec.SlotAuthentication, pub, digest[:], crypto.SHA256); !errors.Is(err, piv.ErrSecurityStatus) {
			t.Fatalf("signing without the PIN: %v", err)
		}
		tc.verifyPIN(pivspec.DefaultPIN)
		sig, err := tc.c.Sign(ctx, pivspec.SlotAuthentication, pub, digest[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig); err != nil {
			t.Fatalf("PKCS#1 v1.5: %v", err)
		}
		pss := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
		sig, err = tc.c.Sign(ctx, pivspec.SlotAuthentication, pub, digest[:], pss)
		if err != nil {
			t.Fatal(err)
		}
		if err := rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, pss); err != nil {
			t.Fatalf("PSS: %v", err)
		}

		// Decryption: GENERAL AUTHENTICATE with 7C { 82 00, 81 ciphertext }
		// is the raw RSA operation (the client removes the padding): the
		// card must return m for c = m^e mod n.
		m := make([]byte, pub.Size())
		if _, err := rand.Read(m[1:]); err != nil {
			t.Fatal(err)
		}
		c := new(big.Int).Exp(new(big.Int).SetBytes(m), big.NewInt(int64(pub.E)), pub.N)
		ct := c.FillBytes(make([]byte, pub.Size()))
		data := apdu.AppendTLV(nil, 0x7C, apdu.AppendTLVs(nil, apdu.TLV{Tag: 0x82}, apdu.TLV{Tag: 0x81, Value: ct}))
		r := tc.send(apdu.Command{INS: 0x87, P1: byte(pivspec.AlgRSA2048), P2: 0x9A, Data: data, Le: 256})
		if r.SW != apdu.SWOK {
			t.Fatalf("decrypt: %v", r.SW)
		}
		inner, err := apdu.Unwrap(r.Data, 0x7C)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := apdu.Unwrap(inner, 0x82); err != nil || !bytes.Equal(got, m) {
			t.Fatalf("decrypted % X, want % X (%v)", got, m, err)
		}

		// 9C: PIN always, still through the TPM.
		pub9c := tc.generate(pivspec.SlotSignature, pivspec.AlgRSA2048)
		tc.verifyPIN(pivspec.DefaultPIN)
		sig, err = tc.c.Sign(ctx, pivspec.SlotSignature, pub9c, digest[:], crypto.SHA256)
		if err != nil || rsa.VerifyPKCS1v15(pub9c, crypto.SHA256, digest[:], sig) != nil {
			t.Fatalf("9C: %v", err)
		}

		// Attestation: by the card's RSA attestation key, without PIN.
		att, err := tc.c.Attest(ctx, pivspec.SlotAuthentication)
		if err != nil {
			t.Fatal(err)
		}
		ca, err := tc.card.AttestationCA()
		if err != nil {
			t.Fatal(err)
		}
		if err := att.CheckSignatureFrom(ca); err != nil || !att.PublicKey.(*rsa.PublicKey).Equal(pub) {
			t.Fatalf("attestation: %v", err)
		}
	})

	t.Run("RSA 3072 where the TPM has it", func(t *testing.T) {
		tc := newTPMCard(t, open(t), nil)
		info := tc.info()
		pub, err := tc.admin().GenerateKey(ctx, pivspec.SlotKeyManagement, pivspec.AlgRSA3072, piv.KeyPolicy{})
		if !info.RSA3072 {
			if swOf(err) != apdu.SWFunctionNotSupported {
				t.Fatalf("RSA 3072 on a TPM without it: %v", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		tc.verifyPIN(pivspec.DefaultPIN)
		sig, err := tc.c.Sign(ctx, pivspec.SlotKeyManagement, pub, digest[:], crypto.SHA256)
		if err != nil || rsa.VerifyPKCS1v15(pub.(*rsa.PublicKey), crypto.SHA256, digest[:], sig) != nil {
			t.Fatalf("RSA 3072 signature: %v", err)
		}
	})

	t.Run("EC refused, and importing the attestation key", func(t *testing.T) {
		tc := newTPMCard(t, open(t), nil)
		a := tc.admin()
		for _, alg := range []piv.Algorithm{pivspec.AlgECCP256, pivspec.AlgECCP384} {
			_, err := a.GenerateKey(ctx, pivspec.SlotAuthentication, alg, piv.KeyPolicy{})
			if !errors.Is(err, piv.ErrUnsupported) || swOf(err) != apdu.SWFunctionNotSupported {
				t.Fatalf("GENERATE %s: %v", alg, err)
			}
		}
		if _, err := tc.store.Generate(pivspec.AlgECCP256); err == nil || !strings.Contains(err.Error(), "a TPM virtual smart card holds RSA keys only") || !errors.Is(err, emu.ErrNotSupported) {
			t.Fatalf("Store.Generate(P-256): %v", err)
		}
		ecPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.ImportKey(ctx, pivspec.SlotAuthentication, ecPriv, piv.KeyPolicy{}); swOf(err) != apdu.SWFunctionNotSupported {
			t.Fatalf("IMPORT KEY of a P-256 key: %v", err)
		}
		// The attestation key stays one the TPM made.
		priv, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.ImportKey(ctx, pivspec.SlotAttestation, priv, piv.KeyPolicy{}); swOf(err) != apdu.SWFunctionNotSupported {
			t.Fatalf("IMPORT KEY into F9: %v", err)
		}
		// PIN policy never does not exist on a TPM card; the default of
		// 9E becomes once.
		if _, err := a.GenerateKey(ctx, pivspec.SlotCardAuthentication, pivspec.AlgRSA2048, piv.KeyPolicy{PIN: pivspec.PINPolicyNever}); swOf(err) != apdu.SWIncorrectData {
			t.Fatalf("GENERATE with PIN policy never: %v", err)
		}
		tc.generate(pivspec.SlotCardAuthentication, pivspec.AlgRSA2048)
		if m, err := tc.c.Metadata(ctx, pivspec.SlotCardAuthentication.Ref()); err != nil || m.PINPolicy != pivspec.PINPolicyOnce {
			t.Fatalf("9E metadata: %+v, %v", m, err)
		}
		// SET PIN RETRIES would make a new PIN object, to which the 9E
		// key is not bound: refused while keys exist.
		if err := tc.c.VerifyPIN(ctx, pivspec.DefaultPIN); err != nil {
			t.Fatal(err)
		}
		if err := tc.admin().SetRetries(ctx, pivspec.DefaultPIN, 5, 5); swOf(err) != apdu.SWConditionsNotSatisfied {
			t.Fatalf("SET PIN RETRIES with keys: %v", err)
		}
	})

	t.Run("IMPORT KEY: an archived RSA key, bound to the PIN", func(t *testing.T) {
		// Key archival recovers a key onto the card with IMPORT KEY: on a
		// TPM card it is TPM2_Import'ed and needs the PIN like a
		// generated key, survives a restart and a PIN change, its blob
		// holds no secret, and the TPM will not let it out again.
		tc := newTPMCard(t, open(t), nil)
		priv, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		if err := tc.admin().ImportKey(ctx, pivspec.SlotRetiredFirst, priv, piv.KeyPolicy{}); err != nil {
			t.Fatalf("IMPORT KEY: %v", err)
		}
		m, err := tc.c.Metadata(ctx, pivspec.SlotRetiredFirst.Ref())
		if err != nil || !priv.PublicKey.Equal(m.PublicKey) || m.Origin != pivspec.OriginImported || m.PINPolicy != pivspec.PINPolicyOnce {
			t.Fatalf("metadata of the imported key: %+v, %v", m, err)
		}
		if _, err := tc.c.Sign(ctx, pivspec.SlotRetiredFirst, &priv.PublicKey, digest[:], crypto.SHA256); !errors.Is(err, piv.ErrSecurityStatus) {
			t.Fatalf("signing with the imported key without the PIN: %v", err)
		}
		sign := func(tc *tpmCard, pin string) {
			t.Helper()
			tc.verifyPIN(pin)
			sig, err := tc.c.Sign(ctx, pivspec.SlotRetiredFirst, &priv.PublicKey, digest[:], crypto.SHA256)
			if err != nil || rsa.VerifyPKCS1v15(&priv.PublicKey, crypto.SHA256, digest[:], sig) != nil {
				t.Fatalf("signing with the imported key: %v", err)
			}
			// Decryption, the archived key's purpose: the card's raw RSA
			// operation undoes m^e mod n.
			m := new(big.Int).SetBytes([]byte("an archived key decrypts"))
			ct := new(big.Int).Exp(m, big.NewInt(int64(priv.E)), priv.N).FillBytes(make([]byte, priv.Size()))
			resp := tc.send(apdu.Command{INS: pivspec.InsGeneralAuth, P1: byte(pivspec.AlgRSA2048), P2: byte(pivspec.SlotRetiredFirst),
				Data: apdu.AppendTLV(nil, pivspec.TagDynamicAuth, append([]byte{pivspec.TagResponse, 0x00}, apdu.AppendTLV(nil, pivspec.TagChallenge, ct)...)), Le: apdu.MaxShortLe})
			if resp.SW != apdu.SWOK {
				t.Fatalf("decrypting with the imported key: %v", resp.SW)
			}
			inner, err := apdu.Unwrap(resp.Data, pivspec.TagDynamicAuth)
			if err != nil {
				t.Fatal(err)
			}
			block, err := apdu.Unwrap(inner, pivspec.TagResponse)
			if err != nil || !bytes.Equal(block, m.FillBytes(make([]byte, priv.Size()))) {
				t.Fatalf("decrypted block % X, %v", block, err)
			}
		}
		sign(tc, pivspec.DefaultPIN)
		if err := tc.c.ChangePIN(ctx, pivspec.DefaultPIN, "27182818"); err != nil {
			t.Fatal(err)
		}
		sign(tc, "27182818")

		st := tc.state()
		blob := st.Keys[byte(pivspec.SlotRetiredFirst)].Blob
		for _, secret := range [][]byte{priv.Primes[0].Bytes(), priv.Primes[1].Bytes(), priv.D.Bytes()} {
			if bytes.Contains(blob, secret) {
				t.Fatal("the imported key's blob holds its private key")
			}
		}
		for _, withCC := range []bool{false, true} {
			if err := tc.store.TryDuplicate(blob, st.Guard.Data, []byte("27182818"), withCC); !errors.Is(err, tpm2.TPMRCPolicyFail) {
				t.Fatalf("TPM2_Duplicate of the imported key (PolicyCommandCode(Duplicate): %v): %v, want TPM_RC_POLICY_FAIL", withCC, err)
			}
		}

		tc.store.Close()
		tc = newTPMCard(t, tc.tpm, tc.st)
		sign(tc, "27182818")
	})

	t.Run("MOVE KEY and DELETE KEY", func(t *testing.T) {
		// Key blobs are not bound to a slot: a move is a map move, the
		// key still needs the PIN in the TPM, and a restarted card has it
		// in its new slot.
		tc := newTPMCard(t, open(t), nil)
		if ok, err := tc.c.HasMoveKey(ctx); !ok || err != nil {
			t.Fatalf("HasMoveKey = %v, %v", ok, err)
		}
		pub := tc.generate(pivspec.SlotRetiredLast, pivspec.AlgRSA2048)
		tc.generate(pivspec.SlotAuthentication, pivspec.AlgRSA2048)
		if err := tc.admin().MoveKey(ctx, pivspec.SlotRetiredLast, pivspec.SlotAuthentication); err != nil {
			t.Fatal(err)
		}
		if _, err := tc.c.Metadata(ctx, pivspec.SlotRetiredLast.Ref()); !errors.Is(err, piv.ErrNotFound) {
			t.Fatalf("95 after the move: %v", err)
		}
		if m, err := tc.c.Metadata(ctx, pivspec.SlotAuthentication.Ref()); err != nil || !pub.Equal(m.PublicKey) {
			t.Fatalf("9A after the move: %v", err)
		}
		if _, err := tc.c.Sign(ctx, pivspec.SlotAuthentication, pub, digest[:], crypto.SHA256); !errors.Is(err, piv.ErrSecurityStatus) {
			t.Fatalf("signing with the moved key without the PIN: %v", err)
		}
		tc.verifyPIN(pivspec.DefaultPIN)
		sig, err := tc.c.Sign(ctx, pivspec.SlotAuthentication, pub, digest[:], crypto.SHA256)
		if err != nil || rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
			t.Fatalf("signing with the moved key: %v", err)
		}
		tc.store.Close()
		tc = newTPMCard(t, tc.tpm, tc.st)
		tc.verifyPIN(pivspec.DefaultPIN)
		sig, err = tc.c.Sign(ctx, pivspec.SlotAuthentication, pub, digest[:], crypto.SHA256)
		if err != nil || rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
			t.Fatalf("signing with the moved key after a restart: %v", err)
		}
		if err := tc.admin().DeleteKey(ctx, pivspec.SlotAuthentication); err != nil {
			t.Fatal(err)
		}
		if _, err := tc.c.Metadata(ctx, pivspec.SlotAuthentication.Ref()); !errors.Is(err, piv.ErrNotFound) {
			t.Fatalf("9A after DELETE KEY: %v", err)
		}
		if _, ok := tc.state().Keys[emu.SlotAuthentication]; ok {
			t.Fatal("the saved state still holds the deleted key")
		}
	})

	t.Run("SET PIN RETRIES on an empty card", func(t *testing.T) {
		tc := newTPMCard(t, open(t), nil)
		if err := tc.admin().SetRetries(ctx, pivspec.DefaultPIN, 5, 4); err != nil {
			t.Fatal(err)
		}
		if m, err := tc.c.Metadata(ctx, pivspec.KeyPIN); err != nil || m.Retries != 5 || !m.Default {
			t.Fatalf("PIN metadata: %+v, %v", m, err)
		}
		tc.verifyPIN(pivspec.DefaultPIN)
		pub := tc.generate(pivspec.SlotAuthentication, pivspec.AlgRSA2048)
		tc.verifyPIN(pivspec.DefaultPIN)
		if _, err := tc.c.Sign(ctx, pivspec.SlotAuthentication, pub, digest[:], crypto.SHA256); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("wrong PIN counts on the card and in the TPM", func(t *testing.T) {
		tc := newTPMCard(t, open(t), nil)
		before := tc.info().LockoutCounter
		err := tc.c.VerifyPIN(ctx, "999999")
		var auth *piv.AuthError
		if !errors.As(err, &auth) || auth.Retries != 2 || swOf(err) != 0x63C2 {
			t.Fatalf("wrong PIN: %v", err)
		}
		if after := tc.info().LockoutCounter; after != before+1 {
			t.Fatalf("TPM lockout counter %d, then %d", before, after)
		}
		tc.verifyPIN(pivspec.DefaultPIN)
		if m, _ := tc.c.Metadata(ctx, pivspec.KeyPIN); m.RetriesLeft != 3 {
			t.Fatalf("PIN tries left after a match: %d", m.RetriesLeft)
		}
	})

	t.Run("TPM lockout holds when the card's counter is reset by editing the state", func(t *testing.T) {
		tc := newTPMCard(t, open(t), nil)
		pub := tc.generate(pivspec.SlotAuthentication, pivspec.AlgRSA2048)
		const maxTries = 4
		if err := tc.tpm.SetDictionaryAttackParameters(maxTries, time.Hour, time.Hour); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := tc.c.VerifyPIN(ctx, "000000"); err == nil {
				t.Fatal("wrong PIN accepted")
			}
		}
		if err := tc.c.VerifyPIN(ctx, pivspec.DefaultPIN); !errors.Is(err, piv.ErrBlocked) {
			t.Fatalf("the card is not blocked: %v", err)
		}
		if i := tc.info(); i.LockoutCounter != 3 || i.InLockout {
			t.Fatalf("TPM after 3 wrong PINs: %+v", i)
		}

		// Tampering: the card's counter back to 3 in the saved state.
		st := tc.state()
		st.PINTriesLeft = st.PINRetries
		tampered := &emu.MemoryStore{}
		if err := tampered.Save(st); err != nil {
			t.Fatal(err)
		}
		tc2 := newTPMCard(t, tc.tpm, tampered)
		if err := tc2.c.VerifyPIN(ctx, "000001"); swOf(err) != 0x63C2 {
			t.Fatalf("4th wrong PIN: %v", err)
		}
		if i := tc2.info(); !i.InLockout || i.LockoutCounter != maxTries {
			t.Fatalf("TPM after %d failures: %+v", maxTries, i)
		}
		// Locked out: even the right PIN is refused, with 6983, and the
		// card counts no try for a guess the TPM did not check.
		err := tc2.c.VerifyPIN(ctx, pivspec.DefaultPIN)
		if swOf(err) != apdu.SWAuthBlocked {
			t.Fatalf("right PIN in TPM lockout: %v", err)
		}
		if m, _ := tc2.c.Metadata(ctx, pivspec.KeyPIN); m.RetriesLeft != 2 {
			t.Fatalf("PIN tries left after a lockout refusal: %d", m.RetriesLeft)
		}
		if err := tc2.c.UnblockPIN(ctx, pivspec.DefaultPUK, "11223344"); swOf(err) != apdu.SWAuthBlocked {
			t.Fatalf("PUK in TPM lockout: %v", err)
		}
		// Once the TPM recovers (here: the lockout hierarchy resets
		// it), the right PIN works and the key signs.
		if err := tc2.tpm.ResetDictionaryAttackLockout(); err != nil {
			t.Fatal(err)
		}
		tc2.verifyPIN(pivspec.DefaultPIN)
		if _, err := tc2.c.Sign(ctx, pivspec.SlotAuthentication, pub, digest[:], crypto.SHA256); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("PIN change", func(t *testing.T) {
		tc := newTPMCard(t, open(t), nil)
		pub := tc.generate(pivspec.SlotAuthentication, pivspec.AlgRSA2048)
		if err := tc.c.ChangePIN(ctx, "000000", "24682468"); swOf(err) != 0x63C2 {
			t.Fatalf("change with a wrong PIN: %v", err)
		}
		if err := tc.c.ChangePIN(ctx, pivspec.DefaultPIN, "24682468"); err != nil {
			t.Fatal(err)
		}
		// CHANGE REFERENCE DATA verifies: the key signs at once.
		if _, err := tc.c.Sign(ctx, pivspec.SlotAuthentication, pub, digest[:], crypto.SHA256); err != nil {
			t.Fatal(err)
		}
		c := client(t, tc.card)
		if err := c.VerifyPIN(ctx, pivspec.DefaultPIN); swOf(err) != 0x63C2 {
			t.Fatalf("old PIN: %v", err)
		}
		if err := c.VerifyPIN(ctx, "24682468"); err != nil {
			t.Fatal(err)
		}
		sig, err := c.Sign(ctx, pivspec.SlotAuthentication, pub, digest[:], crypto.SHA256)
		if err != nil || rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
			t.Fatalf("sign with the new PIN: %v", err)
		}
		if m, _ := tc.c.Metadata(ctx, pivspec.KeyPIN); m.Default {
			t.Fatal("metadata: PIN still default")
		}
	})

	t.Run("PUK change and unblock", func(t *testing.T) {
		tc := newTPMCard(t, open(t), nil)
		pub := tc.generate(pivspec.SlotAuthentication, pivspec.AlgRSA2048)
		if err := tc.c.ChangePUK(ctx, pivspec.DefaultPUK, "87654321"); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			tc.c.VerifyPIN(ctx, "000000")
		}
		if err := tc.c.UnblockPIN(ctx, pivspec.DefaultPUK, "13571357"); swOf(err) != 0x63C2 {
			t.Fatalf("unblock with the old PUK: %v", err)
		}
		if err := tc.c.UnblockPIN(ctx, "87654321", "13571357"); err != nil {
			t.Fatal(err)
		}
		if err := tc.c.VerifyPIN(ctx, pivspec.DefaultPIN); swOf(err) != 0x63C2 {
			t.Fatalf("old PIN after unblock: %v", err)
		}
		tc.verifyPIN("13571357")
		sig, err := tc.c.Sign(ctx, pivspec.SlotAuthentication, pub, digest[:], crypto.SHA256)
		if err != nil || rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
			t.Fatalf("sign after unblock: %v", err)
		}
		if m, _ := tc.c.Metadata(ctx, pivspec.KeyPUK); m.Default || m.RetriesLeft != 3 {
			t.Fatalf("PUK metadata: %+v", m)
		}
	})

	t.Run("RESET with PIN and PUK blocked", func(t *testing.T) {
		tc := newTPMCard(t, open(t), nil)
		tc.generate(pivspec.SlotAuthentication, pivspec.AlgRSA2048)
		if err := tc.c.ChangePIN(ctx, pivspec.DefaultPIN, "77778888"); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			tc.c.VerifyPIN(ctx, "000000")
			tc.c.UnblockPIN(ctx, "00000000", "11112222")
		}
		if err := tc.c.Reset(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := tc.c.Metadata(ctx, pivspec.SlotAuthentication.Ref()); !errors.Is(err, piv.ErrNotFound) {
			t.Fatalf("9A after RESET: %v", err)
		}
		tc.verifyPIN(pivspec.DefaultPIN)
		pub := tc.generate(pivspec.SlotAuthentication, pivspec.AlgRSA2048)
		tc.verifyPIN(pivspec.DefaultPIN)
		if _, err := tc.c.Sign(ctx, pivspec.SlotAuthentication, pub, digest[:], crypto.SHA256); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("the state holds no PIN, PUK or private key", func(t *testing.T) {
		tc := newTPMCard(t, open(t), nil)
		tc.generate(pivspec.SlotAuthentication, pivspec.AlgRSA2048)
		tc.generate(pivspec.SlotSignature, pivspec.AlgRSA2048)
		if err := tc.c.ChangePIN(ctx, pivspec.DefaultPIN, "58295829"); err != nil {
			t.Fatal(err)
		}
		if err := tc.c.ChangePUK(ctx, pivspec.DefaultPUK, "93749374"); err != nil {
			t.Fatal(err)
		}
		st := tc.state()
		js, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(js, &fields); err != nil {
			t.Fatal(err)
		}
		if _, ok := fields["pin"]; ok {
			t.Fatalf("state JSON has a PIN: %s", js)
		}
		if _, ok := fields["puk"]; ok {
			t.Fatalf("state JSON has a PUK: %s", js)
		}
		// Every secret the card ever had, as it went over the wire and
		// as text, is nowhere in the state's bytes.
		blobs := [][]byte{js, st.Guard.Data}
		for _, k := range st.Keys {
			blobs = append(blobs, k.Blob)
			if _, err := x509.ParsePKCS8PrivateKey(k.Blob); err == nil {
				t.Fatal("a key blob is a PKCS#8 private key")
			}
		}
		for _, secret := range []string{pivspec.DefaultPIN, pivspec.DefaultPUK, "58295829", "93749374"} {
			for _, b := range blobs {
				if bytes.Contains(b, []byte(secret)) {
					t.Fatalf("the state contains %q", secret)
				}
			}
		}
	})
}
