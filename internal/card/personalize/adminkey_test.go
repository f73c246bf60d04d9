package personalize

import (
	"bytes"
	"crypto/aes"
	"crypto/des"
	"math/bits"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

var master = bytes.Repeat([]byte{0x5a}, 32)

func TestDeriveProperties(t *testing.T) {
	serial := []byte{0x01, 0x02, 0x03, 0x04}
	for _, kind := range []lanyard.AdminKeyKind{lanyard.AdminKey3DES, lanyard.AdminKeyAES128, lanyard.AdminKeyAES192, lanyard.AdminKeyAES256} {
		k1, err := Derive(master, 1, kind, serial)
		if err != nil {
			t.Fatal(err)
		}
		if len(k1) != kind.KeyLen() {
			t.Fatalf("%s: %d bytes", kind, len(k1))
		}
		again, _ := Derive(master, 1, kind, serial)
		if !bytes.Equal(k1, again) {
			t.Fatalf("%s: not deterministic", kind)
		}
		for name, other := range map[string][]byte{
			"other serial":  mustDerive(t, master, 1, kind, []byte{0x01, 0x02, 0x03, 0x05}),
			"other version": mustDerive(t, master, 2, kind, serial),
			"other master":  mustDerive(t, bytes.Repeat([]byte{0xa5}, 32), 1, kind, serial),
		} {
			if bytes.Equal(k1, other[:len(k1)]) {
				t.Errorf("%s: %s gives the same key", kind, name)
			}
		}
		// The key works with the cipher the card will use.
		if kind == lanyard.AdminKey3DES {
			if _, err := des.NewTripleDESCipher(k1); err != nil {
				t.Fatal(err)
			}
			for i, b := range k1 {
				if bits.OnesCount8(b)%2 != 1 {
					t.Fatalf("byte %d (%02x) has even parity", i, b)
				}
			}
			if bytes.Equal(k1[:8], k1[8:16]) || bytes.Equal(k1[8:16], k1[16:]) || bytes.Equal(k1[:8], k1[16:]) {
				t.Fatal("Triple DES subkeys repeat")
			}
		} else if _, err := aes.NewCipher(k1); err != nil {
			t.Fatal(err)
		}
	}
	// Keys of different kinds for one card are unrelated.
	a := mustDerive(t, master, 1, lanyard.AdminKeyAES192, serial)
	d := mustDerive(t, master, 1, lanyard.AdminKey3DES, serial)
	if bytes.Equal(a, d) {
		t.Fatal("AES-192 and 3DES keys are equal")
	}
}

func mustDerive(t *testing.T, m []byte, v int, k lanyard.AdminKeyKind, id []byte) []byte {
	t.Helper()
	key, err := Derive(m, v, k, id)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestDeriveRefuses(t *testing.T) {
	id := []byte{1}
	for name, fn := range map[string]func() error{
		"short master":  func() error { _, err := Derive(master[:16], 1, lanyard.AdminKeyAES128, id); return err },
		"version 0":     func() error { _, err := Derive(master, 0, lanyard.AdminKeyAES128, id); return err },
		"unknown kind":  func() error { _, err := Derive(master, 1, "rot13", id); return err },
		"empty card id": func() error { _, err := Derive(master, 1, lanyard.AdminKeyAES128, nil); return err },
		"huge card id":  func() error { _, err := Derive(master, 1, lanyard.AdminKeyAES128, make([]byte, 65)); return err },
	} {
		if fn() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestOddParity(t *testing.T) {
	k := []byte{0x00, 0x01, 0xfe, 0xff, 0x80}
	setOddParity(k)
	want := []byte{0x01, 0x01, 0xfe, 0xfe, 0x80}
	if !bytes.Equal(k, want) {
		t.Fatalf("got %x, want %x", k, want)
	}
}
