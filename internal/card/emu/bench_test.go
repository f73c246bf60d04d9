package emu_test

import (
	"bytes"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// BenchmarkGetData is one APDU round trip in process: GET DATA of the
// CHUID through apdu.Client, CardFramer and the card.
func BenchmarkGetData(b *testing.B) {
	c := newCard(b)
	tag := mustHex(b, "5FC102")
	for b.Loop() {
		if r := c.getData(tag); r.SW != apdu.SWOK {
			b.Fatal(r.SW)
		}
	}
}

// BenchmarkPersonalize is a full personalisation in process, as issuance
// will run it: take over the card (management key authentication, new AES
// management key), set PIN and PUK, generate two P-256 keys on the card and
// write two certificates.
func BenchmarkPersonalize(b *testing.B) {
	cert := append(tlv(0x70, bytes.Repeat([]byte{0x30}, 700)), mustHex(b, "710100FE00")...)
	aes := bytes.Repeat([]byte{0x42}, 32)
	for b.Loop() {
		c := newCard(b)
		c.authDefault()
		if sw := c.setManagementKey(pivspec.AlgAES256, aes); sw != apdu.SWOK {
			b.Fatal(sw)
		}
		c.selectPIV()
		c.authenticate(pivspec.AlgAES256, aes)
		c.must(0x24, 0x00, 0x80, append(pad(pivspec.DefaultPIN), pad("24682468")...))
		c.must(0x24, 0x00, 0x81, append(pad(pivspec.DefaultPUK), pad("86428642")...))
		c.generate(0x9A, pivspec.AlgECCP256)
		c.generate(0x9C, pivspec.AlgECCP256)
		for _, tag := range []string{"5FC105", "5FC10A"} {
			if sw := c.putData(mustHex(b, tag), cert); sw != apdu.SWOK {
				b.Fatal(sw)
			}
		}
	}
}
