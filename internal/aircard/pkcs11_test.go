package aircard_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/lanyard-cms/lanyard/internal/aircard"
)

func TestPKCS11KEK(t *testing.T) {
	spec := hsmSpec(t, "aircard-kek")
	a := openKEK(t, spec)
	if s := a.String(); strings.Contains(s, "1234") || !strings.HasPrefix(s, "pkcs11:token=") {
		t.Fatalf("String: %s", s)
	}
	// Another key in the same token, and a key file, are other KEKs.
	other := openKEK(t, strings.Replace(spec, "key=aircard-kek", "key=other", 1))
	roundTrip(t, a, other)
	roundTrip(t, a, fileKEK(t))

	// Reopened (after the first KEK is closed), the token gives the same
	// key, found rather than generated again.
	w, err := a.Wrap([]byte("data key"))
	if err != nil {
		t.Fatal(err)
	}
	closeKEK(a)
	if _, err := a.Wrap([]byte("x")); err == nil {
		t.Fatal("a closed KEK wraps")
	}
	pinFile := filepath.Join(t.TempDir(), "pin")
	os.WriteFile(pinFile, []byte("1234\n"), 0o600)
	again := openKEK(t, strings.Replace(spec, "pin-env=AIRCARD_TEST_PIN", "pin-file="+pinFile, 1))
	if p, err := again.Unwrap(w); err != nil || string(p) != "data key" {
		t.Fatalf("reopened KEK: %q %v", p, err)
	}
	token := tokenOf(spec)
	if n := countKeys(t, token, "aircard-kek"); n != 1 {
		t.Fatalf("%d keys labelled aircard-kek, want 1", n)
	}

	t.Run("key is not extractable", func(t *testing.T) {
		checkNotExtractable(t, token, "aircard-kek")
	})
	t.Run("unknown token", func(t *testing.T) {
		_, err := aircard.OpenKEK(strings.Replace(spec, "token="+token, "token=nosuchtoken", 1))
		if err == nil || !strings.Contains(err.Error(), "no token") {
			t.Fatalf("OpenKEK of an unknown token: %v", err)
		}
	})
}

// TestPKCS11KEKWrongPIN uses a token no other KEK is logged in to: PKCS#11
// logins are per application and token, so while one KEK of this process
// is open on a token, another opens whatever PIN it is given.
func TestPKCS11KEKWrongPIN(t *testing.T) {
	spec := hsmSpec(t, "aircard-kek")
	t.Setenv("AIRCARD_WRONG_PIN", "9999")
	k, err := aircard.OpenKEK(strings.Replace(spec, "pin-env=AIRCARD_TEST_PIN", "pin-env=AIRCARD_WRONG_PIN", 1))
	if err == nil {
		closeKEK(k)
		t.Fatal("OpenKEK with a wrong PIN succeeded")
	}
	if !strings.Contains(err.Error(), "login") || !strings.Contains(err.Error(), "CKR_PIN_INCORRECT") {
		t.Fatalf("OpenKEK with a wrong PIN: %v", err)
	}
}

func tokenOf(spec string) string {
	for f := range strings.SplitSeq(strings.TrimPrefix(spec, "pkcs11:"), ";") {
		if v, ok := strings.CutPrefix(f, "token="); ok {
			return v
		}
	}
	return ""
}

// withToken runs fn in a logged-in session of token, through its own
// PKCS#11 context (as another application of the HSM would).
func withToken(t *testing.T, token string, fn func(p *pkcs11.Ctx, s pkcs11.SessionHandle)) {
	t.Helper()
	p := pkcs11.New(softhsmModule(t))
	if err := p.Initialize(); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		t.Fatal(err)
	}
	slots, err := p.GetSlotList(true)
	if err != nil {
		t.Fatal(err)
	}
	for _, slot := range slots {
		ti, err := p.GetTokenInfo(slot)
		if err != nil || strings.TrimSpace(ti.Label) != token {
			continue
		}
		s, err := p.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION)
		if err != nil {
			t.Fatal(err)
		}
		defer p.CloseSession(s)
		if err := p.Login(s, pkcs11.CKU_USER, "1234"); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN)) {
			t.Fatal(err)
		}
		fn(p, s)
		return
	}
	t.Fatalf("token %s not found", token)
}

func findKeys(t *testing.T, p *pkcs11.Ctx, s pkcs11.SessionHandle, label string) []pkcs11.ObjectHandle {
	t.Helper()
	if err := p.FindObjectsInit(s, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, label)}); err != nil {
		t.Fatal(err)
	}
	objs, _, err := p.FindObjects(s, 10)
	p.FindObjectsFinal(s)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func countKeys(t *testing.T, token, label string) (n int) {
	withToken(t, token, func(p *pkcs11.Ctx, s pkcs11.SessionHandle) { n = len(findKeys(t, p, s, label)) })
	return n
}

// checkNotExtractable asks the token for the key's value, which it must
// refuse, and checks CKA_SENSITIVE, CKA_EXTRACTABLE and that C_WrapKey
// cannot take the key out under a key the caller knows.
func checkNotExtractable(t *testing.T, token, label string) {
	withToken(t, token, func(p *pkcs11.Ctx, s pkcs11.SessionHandle) {
		keys := findKeys(t, p, s, label)
		if len(keys) != 1 {
			t.Fatalf("%d keys", len(keys))
		}
		k := keys[0]
		if v, err := p.GetAttributeValue(s, k, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)}); err == nil {
			t.Fatalf("CKA_VALUE read: %d bytes", len(v[0].Value))
		} else if !errors.Is(err, pkcs11.Error(pkcs11.CKR_ATTRIBUTE_SENSITIVE)) {
			t.Logf("reading CKA_VALUE: %v", err)
		}
		attrs, err := p.GetAttributeValue(s, k, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_NEVER_EXTRACTABLE, nil),
			pkcs11.NewAttribute(pkcs11.CKA_ALWAYS_SENSITIVE, nil),
		})
		if err != nil {
			t.Fatal(err)
		}
		want := []byte{0, 1, 1, 1}
		for i, a := range attrs {
			if len(a.Value) != 1 || a.Value[0] != want[i] {
				t.Errorf("attribute %#x = %v, want %d", a.Type, a.Value, want[i])
			}
		}
		// A wrapping key the attacker knows: C_WrapKey must refuse.
		wk, err := p.GenerateKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, false),
			pkcs11.NewAttribute(pkcs11.CKA_WRAP, true),
			pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true),
			pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false),
		})
		if err != nil {
			t.Fatal(err)
		}
		if w, err := p.WrapKey(s, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_WRAP_PAD, nil)}, wk, k); err == nil {
			t.Fatalf("C_WrapKey exported the KEK (%d bytes)", len(w))
		} else {
			t.Logf("C_WrapKey refused: %v", err)
		}
	})
}
