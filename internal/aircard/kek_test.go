package aircard_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/aircard"
)

func randKey(tb testing.TB) []byte {
	tb.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return b
}

// roundTrip wraps a key with a and checks that a unwraps it and that b
// (another KEK) reports ErrWrongKEK.
func roundTrip(t *testing.T, a, b aircard.KEK) {
	t.Helper()
	key := randKey(t)
	w, err := a.Wrap(key)
	if err != nil {
		t.Fatalf("Wrap: %v", err)
	}
	if bytes.Contains(w, key) {
		t.Fatal("the wrapped key contains the key")
	}
	w2, _ := a.Wrap(key)
	if bytes.Equal(w, w2) {
		t.Fatal("two wraps of one key are equal: no fresh nonce")
	}
	got, err := a.Unwrap(w)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("Unwrap: %X, %v", got, err)
	}
	if _, err := b.Unwrap(w); !errors.Is(err, aircard.ErrWrongKEK) {
		t.Fatalf("Unwrap under %s: %v, want ErrWrongKEK", b, err)
	}
	bad := bytes.Clone(w)
	bad[len(bad)-1] ^= 1
	if _, err := a.Unwrap(bad); !errors.Is(err, aircard.ErrCorrupt) {
		t.Fatalf("Unwrap of a damaged key: %v, want ErrCorrupt", err)
	}
	if _, err := a.Unwrap(w[:5]); !errors.Is(err, aircard.ErrCorrupt) {
		t.Fatalf("Unwrap of a truncated key: %v, want ErrCorrupt", err)
	}
}

func TestFileKEK(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "kek")
	a := openKEK(t, "file:"+path)
	st, err := os.Stat(path)
	if err != nil || st.Size() != 32 || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	if a.String() != "file:"+path {
		t.Fatalf("String: %s", a)
	}
	roundTrip(t, a, fileKEK(t))

	// The same file opens the same key.
	w, _ := a.Wrap([]byte("data key"))
	again := openKEK(t, "file:"+path)
	if p, err := again.Unwrap(w); err != nil || string(p) != "data key" {
		t.Fatalf("reopened KEK: %q %v", p, err)
	}

	t.Run("group-readable file refused", func(t *testing.T) {
		os.Chmod(path, 0o640)
		defer os.Chmod(path, 0o600)
		if _, err := aircard.OpenKEK("file:" + path); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("OpenKEK: %v", err)
		}
	})
	t.Run("wrong size refused", func(t *testing.T) {
		p := filepath.Join(dir, "short")
		os.WriteFile(p, []byte("short"), 0o600)
		if _, err := aircard.OpenKEK("file:" + p); err == nil {
			t.Fatal("a 5-byte key file opened")
		}
	})
}

func TestOpenKEKSpecs(t *testing.T) {
	t.Setenv("AIRCARD_EMPTY", "")
	for _, spec := range []string{
		"",
		"file:",
		"kms:whatever",
		"pkcs11:",
		"pkcs11:module=/nonexistent.so;token=t;key=k",
		"pkcs11:module=/nonexistent.so;token=t;key=k;pin-env=AIRCARD_EMPTY",
		"pkcs11:module=/nonexistent.so;token=t;key=k;pin-env=X;pin-file=/y",
		"pkcs11:module=/nonexistent.so;token=t;pin-env=X",
		"pkcs11:module=/nonexistent.so;token=t;key=k;colour=red",
		"pkcs11:module=/nonexistent.so;token=t;key=k;pin-file=/nonexistent",
	} {
		if k, err := aircard.OpenKEK(spec); err == nil {
			closeKEK(k)
			t.Errorf("OpenKEK(%q) succeeded", spec)
		}
	}
}
