package emu_test

import (
	"bytes"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// setManagementKey sets a new management key (the session must be
// authenticated).
func (c *tcard) setManagementKey(alg emu.Algorithm, key []byte) apdu.SW {
	c.tb.Helper()
	return c.send(0xFF, 0xFF, 0xFF, append([]byte{byte(alg), 0x9B, byte(len(key))}, key...)).SW
}

func TestManagementKeyAlgorithms(t *testing.T) {
	for _, tt := range []struct {
		alg emu.Algorithm
		len int
	}{{pivspec.Alg3DES, 24}, {pivspec.AlgAES128, 16}, {pivspec.AlgAES192, 24}, {pivspec.AlgAES256, 32}} {
		t.Run(tt.alg.String(), func(t *testing.T) {
			c := newCard(t)
			c.authDefault()
			key := randBytes(t, tt.len)
			if sw := c.setManagementKey(tt.alg, key); sw != apdu.SWOK {
				t.Fatalf("SET MANAGEMENT KEY: %v", sw)
			}
			meta := c.must(0xF7, 0x00, 0x9B, nil)
			if !bytes.HasPrefix(meta, []byte{0x01, 0x01, byte(tt.alg)}) {
				t.Fatalf("metadata %X does not start with the algorithm", meta)
			}
			c.selectPIV() // drop the authentication

			c.authenticate(tt.alg, key)
			c.must(0xDB, 0x3F, 0xFF, append(tlv(0x5C, mustHex(t, "5FC109")), tlv(0x53, []byte{1})...))

			// External authentication: challenge in clear, answer encrypted.
			c.selectPIV()
			block := blockCipher(t, tt.alg, key)
			ch := field(t, c.must(0x87, byte(tt.alg), 0x9B, tlv(0x7C, tlv(0x81, nil))), 0x81)
			if len(ch) != block.BlockSize() {
				t.Fatalf("challenge of %d bytes", len(ch))
			}
			resp := make([]byte, len(ch))
			block.Encrypt(resp, ch)
			c.must(0x87, byte(tt.alg), 0x9B, tlv(0x7C, tlv(0x82, resp)))
			c.must(0xDB, 0x3F, 0xFF, append(tlv(0x5C, mustHex(t, "5FC109")), tlv(0x53, []byte{2})...))

			// The old key no longer works.
			c.selectPIV()
			if sw := c.tryAuthenticate(pivspec.Alg3DES, pivspec.DefaultManagementKey()); sw == apdu.SWOK {
				t.Fatal("the default key still authenticates")
			}
		})
	}
}

func TestManagementKeyErrors(t *testing.T) {
	key := pivspec.DefaultManagementKey()
	t.Run("wrong key", func(t *testing.T) {
		c := newCard(t)
		wrong := bytes.Repeat([]byte{0x11}, 24)
		if sw := c.tryAuthenticate(pivspec.Alg3DES, wrong); sw != apdu.SWSecurityStatusNotSatisfied {
			t.Fatalf("%v, want 6982", sw)
		}
		c.expect(apdu.SWSecurityStatusNotSatisfied, 0x47, 0x00, 0x9A, mustHex(t, "AC03800111"))
	})
	t.Run("wrong external response", func(t *testing.T) {
		c := newCard(t)
		c.must(0x87, 0x03, 0x9B, tlv(0x7C, tlv(0x81, nil)))
		c.expect(apdu.SWSecurityStatusNotSatisfied, 0x87, 0x03, 0x9B, tlv(0x7C, tlv(0x82, make([]byte, 8))))
		// The challenge is used up.
		c.expect(apdu.SWConditionsNotSatisfied, 0x87, 0x03, 0x9B, tlv(0x7C, tlv(0x82, make([]byte, 8))))
	})
	t.Run("second step without the first", func(t *testing.T) {
		c := newCard(t)
		c.expect(apdu.SWConditionsNotSatisfied, 0x87, 0x03, 0x9B, tlv(0x7C, append(tlv(0x80, make([]byte, 8)), tlv(0x81, make([]byte, 8))...)))
		c.expect(apdu.SWConditionsNotSatisfied, 0x87, 0x03, 0x9B, tlv(0x7C, tlv(0x82, make([]byte, 8))))
	})
	t.Run("another command in between", func(t *testing.T) {
		c := newCard(t)
		enc := field(t, c.must(0x87, 0x03, 0x9B, tlv(0x7C, tlv(0x80, nil))), 0x80)
		witness := make([]byte, 8)
		blockCipher(t, pivspec.Alg3DES, key).Decrypt(witness, enc)
		c.must(0xFD, 0, 0, nil)
		c.expect(apdu.SWConditionsNotSatisfied, 0x87, 0x03, 0x9B, tlv(0x7C, append(tlv(0x80, witness), tlv(0x81, make([]byte, 8))...)))
	})
	t.Run("P1 00 stands for the current algorithm", func(t *testing.T) {
		c := newCard(t)
		ch := field(t, c.must(0x87, 0x00, 0x9B, tlv(0x7C, tlv(0x81, nil))), 0x81)
		if len(ch) != 8 {
			t.Fatalf("OpenSC GET CHALLENGE: %d bytes", len(ch))
		}
	})
	tests := []struct {
		name string
		p1   byte
		data []byte
		want apdu.SW
	}{
		{"algorithm not the key's", 0x0C, tlv(0x7C, tlv(0x80, nil)), apdu.SWIncorrectP1P2},
		{"not a template", 0x03, tlv(0x7D, tlv(0x80, nil)), apdu.SWIncorrectData},
		{"empty template", 0x03, tlv(0x7C, nil), apdu.SWIncorrectData},
		{"unknown tag", 0x03, tlv(0x7C, tlv(0x83, nil)), apdu.SWIncorrectData},
		{"repeated tag", 0x03, tlv(0x7C, append(tlv(0x80, nil), tlv(0x80, nil)...)), apdu.SWIncorrectData},
		{"witness and challenge requests", 0x03, tlv(0x7C, append(tlv(0x80, nil), tlv(0x81, nil)...)), apdu.SWIncorrectData},
		{"trailing bytes", 0x03, append(tlv(0x7C, tlv(0x80, nil)), 0), apdu.SWIncorrectData},
		{"response of the wrong length", 0x03, tlv(0x7C, tlv(0x82, make([]byte, 7))), apdu.SWIncorrectData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCard(t)
			c.expect(tt.want, 0x87, tt.p1, 0x9B, tt.data)
		})
	}
	t.Run("witness of the wrong length", func(t *testing.T) {
		c := newCard(t)
		c.must(0x87, 0x03, 0x9B, tlv(0x7C, tlv(0x80, nil)))
		c.expect(apdu.SWIncorrectData, 0x87, 0x03, 0x9B, tlv(0x7C, append(tlv(0x80, make([]byte, 16)), tlv(0x81, make([]byte, 8))...)))
	})
}

func TestSetManagementKeyErrors(t *testing.T) {
	c := newCard(t)
	aes := randBytes(t, 16)
	if sw := c.setManagementKey(pivspec.AlgAES128, aes); sw != apdu.SWSecurityStatusNotSatisfied {
		t.Fatalf("without authentication: %v", sw)
	}
	c.authDefault()
	tests := []struct {
		name   string
		p1, p2 byte
		data   []byte
		want   apdu.SW
	}{
		{"length does not fit AES-128", 0xFF, 0xFF, append([]byte{0x08, 0x9B, 24}, make([]byte, 24)...), apdu.SWIncorrectData},
		{"length byte disagrees", 0xFF, 0xFF, append([]byte{0x08, 0x9B, 17}, make([]byte, 16)...), apdu.SWIncorrectData},
		{"asymmetric algorithm", 0xFF, 0xFF, append([]byte{0x11, 0x9B, 16}, make([]byte, 16)...), apdu.SWIncorrectData},
		{"not 9B", 0xFF, 0xFF, append([]byte{0x08, 0x9A, 16}, make([]byte, 16)...), apdu.SWIncorrectData},
		{"too short", 0xFF, 0xFF, []byte{0x08, 0x9B}, apdu.SWIncorrectData},
		{"bad P1", 0x00, 0xFF, append([]byte{0x08, 0x9B, 16}, aes...), apdu.SWIncorrectP1P2},
		{"bad P2", 0xFF, 0x00, append([]byte{0x08, 0x9B, 16}, aes...), apdu.SWIncorrectP1P2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.with(t).expect(tt.want, 0xFF, tt.p1, tt.p2, tt.data)
		})
	}
	// P2 FE: touch required, which metadata reports.
	c.must(0xFF, 0xFF, 0xFE, append([]byte{0x08, 0x9B, 16}, aes...))
	meta := c.must(0xF7, 0x00, 0x9B, nil)
	if want := mustHex(t, "010108 02020002 050100"); !bytes.Equal(meta, want) {
		t.Fatalf("metadata %X, want %X", meta, want)
	}
}
