package pukescrow

import (
	"errors"
	"testing"
)

func TestSealOpen(t *testing.T) {
	priv, pub, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ch := [9]byte{0x20, 1, 2, 3, 4, 5, 6, 7, 8}
	blob, err := Seal(pub, "12345678", ch, "k3Jq9xWm")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Open(priv, "12345678", ch, blob); err != nil || got != "k3Jq9xWm" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	other := ch
	other[8] ^= 1
	for name, open := range map[string]func() (string, error){
		"another card":      func() (string, error) { return Open(priv, "12345679", ch, blob) },
		"another challenge": func() (string, error) { return Open(priv, "12345678", other, blob) },
		"a changed blob": func() (string, error) {
			b := append([]byte(nil), blob...)
			b[len(b)-1] ^= 1
			return Open(priv, "12345678", ch, b)
		},
	} {
		if _, err := open(); !errors.Is(err, ErrOpen) {
			t.Errorf("%s: %v", name, err)
		}
	}
	priv2, _, _ := GenerateKey()
	if _, err := Open(priv2, "12345678", ch, blob); !errors.Is(err, ErrOpen) {
		t.Errorf("another key: %v", err)
	}
}
