package emu_test

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// tcard is a card under test with an apdu.Client in front of it.
type tcard struct {
	tb     testing.TB
	card   *emu.Card
	client *apdu.Client
}

// newCard returns a factory-fresh card with PIV selected.
func newCard(tb testing.TB, opts ...emu.Option) *tcard {
	tb.Helper()
	c := openCard(tb, opts...)
	c.selectPIV()
	return c
}

// openCard returns a card as New returns it: nothing selected.
func openCard(tb testing.TB, opts ...emu.Option) *tcard {
	tb.Helper()
	card, err := emu.New(opts...)
	if err != nil {
		tb.Fatalf("emu.New: %v", err)
	}
	return &tcard{tb: tb, card: card, client: &apdu.Client{Transport: card.Transport()}}
}

// with returns c reporting to tb, for subtests sharing one card.
func (c *tcard) with(tb testing.TB) *tcard {
	d := *c
	d.tb = tb
	return &d
}

// send sends one command and returns the complete response.
func (c *tcard) send(ins, p1, p2 byte, data []byte) apdu.Response {
	c.tb.Helper()
	r, err := c.client.Send(context.Background(), apdu.Command{INS: ins, P1: p1, P2: p2, Data: data, Le: 256})
	if err != nil {
		c.tb.Fatalf("INS %02X %02X %02X: %v", ins, p1, p2, err)
	}
	return r
}

// must sends a command that must succeed and returns its data.
func (c *tcard) must(ins, p1, p2 byte, data []byte) []byte {
	c.tb.Helper()
	r := c.send(ins, p1, p2, data)
	if r.SW != apdu.SWOK {
		c.tb.Fatalf("INS %02X %02X %02X: %v, want 9000", ins, p1, p2, r.SW)
	}
	return r.Data
}

// expect sends a command and checks its status word.
func (c *tcard) expect(want apdu.SW, ins, p1, p2 byte, data []byte) []byte {
	c.tb.Helper()
	r := c.send(ins, p1, p2, data)
	if r.SW != want {
		c.tb.Fatalf("INS %02X %02X %02X: %v, want %v", ins, p1, p2, r.SW, want)
	}
	return r.Data
}

// raw transmits bytes as they are and returns the parsed response.
func (c *tcard) raw(b []byte) apdu.Response {
	c.tb.Helper()
	r, err := apdu.ParseResponse(c.card.Transmit(b))
	if err != nil {
		c.tb.Fatal(err)
	}
	return r
}

func (c *tcard) selectPIV() []byte {
	c.tb.Helper()
	return c.must(0xA4, 0x04, 0x00, []byte{0xA0, 0x00, 0x00, 0x03, 0x08})
}

func (c *tcard) verifyPIN(pin string) {
	c.tb.Helper()
	c.must(0x20, 0x00, 0x80, pad(pin))
}

// getData reads an object and returns the whole response.
func (c *tcard) getData(tag []byte) apdu.Response {
	c.tb.Helper()
	return c.send(0xCB, 0x3F, 0xFF, tlv(0x5C, tag))
}

// putData writes an object's value.
func (c *tcard) putData(tag, value []byte) apdu.SW {
	c.tb.Helper()
	return c.send(0xDB, 0x3F, 0xFF, append(tlv(0x5C, tag), tlv(0x53, value)...)).SW
}

// authenticate runs the mutual authentication with the management key
// as piv-go does and fails the test unless it succeeds.
func (c *tcard) authenticate(alg emu.Algorithm, key []byte) {
	c.tb.Helper()
	if sw := c.tryAuthenticate(alg, key); sw != apdu.SWOK {
		c.tb.Fatalf("management key authentication (%v): %v", alg, sw)
	}
}

func (c *tcard) authDefault() {
	c.tb.Helper()
	c.authenticate(pivspec.Alg3DES, pivspec.DefaultManagementKey())
}

// tryAuthenticate runs the mutual authentication and returns the status
// word of its second step (or of the first, when that failed).
func (c *tcard) tryAuthenticate(alg emu.Algorithm, key []byte) apdu.SW {
	c.tb.Helper()
	block := blockCipher(c.tb, alg, key)
	n := block.BlockSize()
	r := c.send(0x87, byte(alg), 0x9B, tlv(0x7C, tlv(0x80, nil)))
	if r.SW != apdu.SWOK {
		return r.SW
	}
	enc := field(c.tb, r.Data, 0x80)
	if len(enc) != n {
		c.tb.Fatalf("witness of %d bytes, want %d", len(enc), n)
	}
	witness := make([]byte, n)
	block.Decrypt(witness, enc)
	chal := randBytes(c.tb, n)
	r = c.send(0x87, byte(alg), 0x9B, tlv(0x7C, append(tlv(0x80, witness), tlv(0x81, chal)...)))
	if r.SW != apdu.SWOK {
		return r.SW
	}
	want := make([]byte, n)
	block.Encrypt(want, chal)
	if got := field(c.tb, r.Data, 0x82); string(got) != string(want) {
		c.tb.Fatalf("card's response to our challenge is %X, want %X", got, want)
	}
	return apdu.SWOK
}

// generate generates a key in slot and returns its public key.
func (c *tcard) generate(slot byte, alg emu.Algorithm, extra ...byte) crypto.PublicKey {
	c.tb.Helper()
	data := tlv(0xAC, append(tlv(0x80, []byte{byte(alg)}), extra...))
	return parsePublic(c.tb, alg, c.must(0x47, 0x00, slot, data))
}

// sign runs GENERAL AUTHENTICATE with 81 input in slot.
func (c *tcard) sign(alg emu.Algorithm, slot byte, input []byte) apdu.Response {
	c.tb.Helper()
	return c.send(0x87, byte(alg), slot, tlv(0x7C, append(tlv(0x82, nil), tlv(0x81, input)...)))
}

func blockCipher(tb testing.TB, alg emu.Algorithm, key []byte) cipher.Block {
	tb.Helper()
	var b cipher.Block
	var err error
	if alg == pivspec.Alg3DES {
		b, err = des.NewTripleDESCipher(key)
	} else {
		b, err = aes.NewCipher(key)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// parsePublic decodes a 7F49 template.
func parsePublic(tb testing.TB, alg emu.Algorithm, b []byte) crypto.PublicKey {
	tb.Helper()
	inner, err := apdu.Unwrap(b, 0x7F49)
	if err != nil {
		tb.Fatalf("public key template %X: %v", b, err)
	}
	pub, err := decodePublicObjects(alg, inner)
	if err != nil {
		tb.Fatal(err)
	}
	return pub
}

func decodePublicObjects(alg emu.Algorithm, inner []byte) (crypto.PublicKey, error) {
	tlvs, err := apdu.ParseTLVs(inner)
	if err != nil {
		return nil, err
	}
	if alg.IsRSA() {
		n, ok1 := apdu.Find(tlvs, 0x81)
		e, ok2 := apdu.Find(tlvs, 0x82)
		if !ok1 || !ok2 {
			return nil, errors.New("RSA public key without 81 and 82")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n.Value), E: int(new(big.Int).SetBytes(e.Value).Int64())}, nil
	}
	p, ok := apdu.Find(tlvs, 0x86)
	if !ok {
		return nil, errors.New("EC public key without 86")
	}
	curve := ecdsaCurve(alg)
	return ecdsa.ParseUncompressedPublicKey(curve, p.Value)
}

// tlv encodes one data object.
func tlv(tag uint32, value []byte) []byte { return apdu.AppendTLV(nil, tag, value) }

// field returns the value of tag inside the single object of b (a 7C or 53
// wrapper).
func field(tb testing.TB, b []byte, tag uint32) []byte {
	tb.Helper()
	outer, err := apdu.ParseTLVs(b)
	if err != nil || len(outer) != 1 {
		tb.Fatalf("response %X is not one data object: %v", b, err)
	}
	inner, err := outer[0].Children()
	if err != nil {
		tb.Fatalf("response %X: %v", b, err)
	}
	t, ok := apdu.Find(inner, tag)
	if !ok {
		tb.Fatalf("response %X has no tag %X", b, tag)
	}
	return t.Value
}

// pad pads a PIN or PUK with FF to 8 bytes.
func pad(s string) []byte {
	b := []byte(s)
	for len(b) < 8 {
		b = append(b, 0xFF)
	}
	return b
}

func randBytes(tb testing.TB, n int) []byte {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		tb.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// pooledKeys is a KeyStore for tests that generates each RSA size once per
// process and hands out the same key again: RSA 4096 generation takes
// seconds. EC keys are generated afresh. Tests of key generation itself use
// emu.SoftKeyStore.
type pooledKeys struct{ emu.SoftKeyStore }

var (
	rsaPoolMu sync.Mutex
	rsaPool   = map[int]*rsa.PrivateKey{}
)

func pooledRSA(tb testing.TB, bits int) *rsa.PrivateKey {
	rsaPoolMu.Lock()
	defer rsaPoolMu.Unlock()
	if k, ok := rsaPool[bits]; ok {
		return k
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		tb.Fatal(err)
	}
	rsaPool[bits] = k
	return k
}

func (p pooledKeys) Generate(alg emu.Algorithm) (emu.Key, error) {
	if !alg.IsRSA() {
		return p.SoftKeyStore.Generate(alg)
	}
	rsaPoolMu.Lock()
	k, ok := rsaPool[alg.RSABits()]
	rsaPoolMu.Unlock()
	if !ok {
		var err error
		if k, err = rsa.GenerateKey(rand.Reader, alg.RSABits()); err != nil {
			return nil, err
		}
		rsaPoolMu.Lock()
		rsaPool[alg.RSABits()] = k
		rsaPoolMu.Unlock()
	}
	return p.SoftKeyStore.Import(alg, k)
}

func sha256Of(b []byte) []byte { s := sha256.Sum256(b); return s[:] }
