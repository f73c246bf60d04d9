package aircard

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// TestCardFileHoldsNoSecretsInClear generates keys on a hosted card, sets
// a PIN, PUK and management key, and looks for each of them, for the
// PKCS#8 of every key in the state and for the data key, in the file.
func TestCardFileHoldsNoSecretsInClear(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	kek, err := OpenFileKEK(filepath.Join(t.TempDir(), "kek"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := Open(dir, kek, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	serial, err := h.Create()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := h.Connect(ReaderName(serial), false)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := piv.New(apdu.TransportFunc(conn.Transmit), piv.Config{Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(ctx); err != nil {
		t.Fatal(err)
	}
	admin, err := c.Authenticate(ctx, pivspec.Alg3DES, pivspec.DefaultManagementKey())
	if err != nil {
		t.Fatal(err)
	}
	for _, slot := range []piv.Slot{pivspec.SlotAuthentication, pivspec.SlotSignature} {
		if _, err := admin.GenerateKey(ctx, slot, pivspec.AlgRSA2048, piv.KeyPolicy{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admin.GenerateKey(ctx, pivspec.SlotKeyManagement, pivspec.AlgECCP256, piv.KeyPolicy{}); err != nil {
		t.Fatal(err)
	}
	const pin, puk = "73915264", "84026375"
	if err := c.ChangePIN(ctx, pivspec.DefaultPIN, pin); err != nil {
		t.Fatal(err)
	}
	if err := c.ChangePUK(ctx, pivspec.DefaultPUK, puk); err != nil {
		t.Fatal(err)
	}
	mgm := make([]byte, 32)
	rand.Read(mgm)
	if err := admin.SetManagementKey(ctx, pivspec.AlgAES256, mgm); err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(dir, serial+fileExt)
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("card file mode %v", st.Mode().Perm())
	}
	// What the file holds, opened with the KEK: the state.
	st, err := newCardFile(path, kek).Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Keys) != 4 { // 9A, 9C, 9D and the attestation key
		t.Fatalf("%d keys in the state", len(st.Keys))
	}
	secrets := map[string][]byte{
		"PIN":            []byte(pin),
		"PUK":            []byte(puk),
		"management key": mgm,
		"JSON of state":  []byte(`"keys"`),
	}
	for ref, k := range st.Keys {
		secrets["PKCS#8 of key "+hex.EncodeToString([]byte{ref})] = k.Blob
		// Any 32-byte window of the key is enough to find it.
		secrets["part of key "+hex.EncodeToString([]byte{ref})] = k.Blob[len(k.Blob)/2 : len(k.Blob)/2+32]
	}
	h2, _, _, err := parseCardFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dataKey, err := kek.Unwrap(h2.wrapped)
	if err != nil {
		t.Fatal(err)
	}
	secrets["data key"] = dataKey
	if !bytes.Equal(st.ManagementKey.Key, mgm) || len(st.PIN) != 8 {
		t.Fatal("the state does not hold what was set")
	}
	for what, s := range secrets {
		if bytes.Contains(file, s) {
			t.Errorf("the card file contains the %s in clear", what)
		}
		if bytes.Contains(file, []byte(hex.EncodeToString(s))) {
			t.Errorf("the card file contains the %s in hex", what)
		}
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries", len(entries))
	}
}

func TestParseCardFile(t *testing.T) {
	h := cardHeader{serial: 12345678, wrapped: bytes.Repeat([]byte{7}, 61)}
	b := append(h.marshal(), 1, 2, 3)
	got, header, sealed, err := parseCardFile(b)
	if err != nil || got.serial != h.serial || !bytes.Equal(got.wrapped, h.wrapped) || !bytes.Equal(sealed, []byte{1, 2, 3}) || !bytes.Equal(header, h.marshal()) {
		t.Fatalf("parse: %+v %X %v", got, sealed, err)
	}
	for _, bad := range [][]byte{nil, b[:10], b[:len(header)], append([]byte("LANYARD-CARD\x00"), b[13:]...)} {
		if _, _, _, err := parseCardFile(bad); err == nil {
			t.Errorf("parsed %X", bad)
		}
	}
}

// FuzzParseCardFile: parsing never panics, and what parses splits the
// input exactly.
func FuzzParseCardFile(f *testing.F) {
	h := cardHeader{serial: 12345678, wrapped: bytes.Repeat([]byte{7}, 61)}
	f.Add(append(h.marshal(), 1, 2, 3))
	f.Add([]byte("LANYARD-AIRCARD\x00\x01\x00\x00\x00\x01\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, header, sealed, err := parseCardFile(b)
		if err != nil {
			return
		}
		if len(header)+len(sealed) != len(b) || len(sealed) == 0 || !bytes.Equal(h.marshal(), header) {
			t.Fatalf("%X: header %X sealed %X", b, header, sealed)
		}
	})
}
