package seal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func mustNew(tb testing.TB, b byte) *AESGCM {
	tb.Helper()
	s, err := New(bytes.Repeat([]byte{b}, KeySize))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestSealOpen(t *testing.T) {
	s := mustNew(t, 1)
	ct, err := s.Seal([]byte("secret"), []byte("ca-key:builtin"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, []byte("secret")) {
		t.Fatal("plaintext visible in sealed value")
	}
	pt, err := s.Open(ct, []byte("ca-key:builtin"))
	if err != nil || string(pt) != "secret" {
		t.Fatalf("Open = %q, %v", pt, err)
	}
	if _, err := s.Open(ct, []byte("ca-key:other")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("other aad: err = %v, want ErrCorrupt", err)
	}
	if _, err := mustNew(t, 2).Open(ct, []byte("ca-key:builtin")); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("other key: err = %v, want ErrWrongKey", err)
	}
	bad := bytes.Clone(ct)
	bad[len(bad)-1] ^= 1
	if _, err := s.Open(bad, []byte("ca-key:builtin")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("flipped bit: err = %v, want ErrCorrupt", err)
	}
	if _, err := s.Open([]byte{1, 2}, nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short: err = %v", err)
	}
	if _, err := New([]byte("short")); err == nil {
		t.Fatal("New accepted a short key")
	}
}

func TestLoadMasterKey(t *testing.T) {
	t.Setenv(EnvMasterKey, "")
	file := filepath.Join(t.TempDir(), "sub", "master.key")
	if _, _, err := LoadMasterKey(file, false); err == nil {
		t.Fatal("missing file without create: want error")
	}
	k1, created, err := LoadMasterKey(file, true)
	if err != nil || !created || len(k1) != KeySize {
		t.Fatalf("create: %v created=%v len=%d", err, created, len(k1))
	}
	st, _ := os.Stat(file)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	k2, created, err := LoadMasterKey(file, true)
	if err != nil || created || !bytes.Equal(k1, k2) {
		t.Fatalf("reload: %v created=%v same=%v", err, created, bytes.Equal(k1, k2))
	}
	os.Chmod(file, 0o644)
	if _, _, err := LoadMasterKey(file, true); err == nil {
		t.Fatal("world-readable key file accepted")
	}
	t.Setenv(EnvMasterKey, "AAAA")
	if _, _, err := LoadMasterKey(file, true); err == nil {
		t.Fatal("short env key accepted")
	}
}

// TestDeriveKey: the same master key and purpose give the same key (two
// replicas agree), another purpose or master key another one, and no
// derived key is the master key.
func TestDeriveKey(t *testing.T) {
	a1, a2, b := mustNew(t, 1), mustNew(t, 1), mustNew(t, 2)
	k := func(s *AESGCM, purpose string) []byte {
		t.Helper()
		out, err := s.DeriveKey(purpose)
		if err != nil || len(out) != 32 {
			t.Fatalf("DeriveKey(%q) = %x, %v", purpose, out, err)
		}
		return out
	}
	if !bytes.Equal(k(a1, "throttles"), k(a2, "throttles")) {
		t.Error("one master key derived two keys for one purpose")
	}
	if bytes.Equal(k(a1, "throttles"), k(a1, "other")) || bytes.Equal(k(a1, "throttles"), k(b, "throttles")) {
		t.Error("different purposes or master keys derived the same key")
	}
	if bytes.Equal(k(a1, "throttles"), bytes.Repeat([]byte{1}, KeySize)) {
		t.Error("the derived key is the master key")
	}
}
