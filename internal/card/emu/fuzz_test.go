package emu

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/binary"
	mrand "math/rand/v2"
	"reflect"
	"sync"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// FuzzTransmit feeds the card sequences of raw APDUs (each prefixed with
// its 2-byte length; length 0 is a card reset) and checks after every
// command that the card did not panic (Transmit's recovery is bypassed),
// answered one well-formed response APDU, kept a valid state and saved
// every change it made. The seed corpus is real sessions recorded from the
// clients' point of view: reading objects, PIN handling, management key
// authentication, key generation, signing, ECDH, attestation, import,
// reset.
func FuzzTransmit(f *testing.F) {
	base := fuzzBaseState(f)
	for _, script := range fuzzScripts {
		f.Add(recordSeed(f, base, script))
	}
	f.Add([]byte{0, 4, 0x00, 0xA4, 0x04, 0x00, 0, 0, 0, 3, 0x10, 0xDB, 0x3F})
	f.Fuzz(func(t *testing.T, in []byte) {
		c, store := fuzzCard(t, base)
		for n := 0; len(in) >= 2 && n < 64; n++ {
			l := int(binary.BigEndian.Uint16(in))
			in = in[2:]
			if l == 0 {
				c.Reset()
				continue
			}
			l = min(l, len(in))
			cmd := bytes.Clone(in[:l])
			in = in[l:]
			c.mu.Lock()
			resp := c.def.framer.Process(cmd, c.handle)
			c.mu.Unlock()
			checkResponse(t, cmd, resp)
			checkSaved(t, c, store)
		}
	})
}

// checkResponse checks one response APDU.
func checkResponse(t *testing.T, cmd, resp []byte) {
	t.Helper()
	r, err := apdu.ParseResponse(resp)
	if err != nil {
		t.Fatalf("% X: response % X: %v", cmd, resp, err)
	}
	_, more := r.SW.Available()
	switch sw1 := r.SW.SW1(); {
	case r.SW == apdu.SWNoPreciseDiagnosis:
		t.Fatalf("% X: 6F00, an internal error", cmd)
	case r.SW == apdu.SWOK || more:
	case sw1 >= 0x62 && sw1 <= 0x6F:
		if len(r.Data) > 0 {
			t.Fatalf("% X: %d data bytes with %v", cmd, len(r.Data), r.SW)
		}
	default:
		t.Fatalf("% X: status word %v is not an ISO/IEC 7816-4 one", cmd, r.SW)
	}
	if len(r.Data) > apdu.MaxShortLe {
		t.Fatalf("% X: %d data bytes in one short response", cmd, len(r.Data))
	}
}

// checkSaved checks that the card's state is valid and is what its store
// holds: every change was saved.
func checkSaved(t *testing.T, c *Card, store *MemoryStore) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.st.Validate(); err != nil {
		t.Fatal(err)
	}
	saved, err := store.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(saved, c.st) {
		t.Fatal("the card's state differs from the saved one: a change was not saved")
	}
}

// fuzzCard returns a card restored from base, with a deterministic random
// source so that recorded management key responses stay valid.
func fuzzCard(tb testing.TB, base *State) (*Card, *MemoryStore) {
	tb.Helper()
	store := &MemoryStore{}
	if err := store.Save(base); err != nil {
		tb.Fatal(err)
	}
	c, err := New(WithStateStore(store), WithKeyStore(fuzzKeys{}), WithRand(mrand.NewChaCha8([32]byte{1})))
	if err != nil {
		tb.Fatal(err)
	}
	return c, store
}

// fuzzBaseState is one factory-fresh card's state, shared by all inputs.
func fuzzBaseState(tb testing.TB) *State {
	tb.Helper()
	store := &MemoryStore{}
	if _, err := New(WithStateStore(store), WithRand(mrand.NewChaCha8([32]byte{2}))); err != nil {
		tb.Fatal(err)
	}
	st, err := store.Load()
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// fuzzKeys generates EC keys afresh and hands out one RSA key per size, so
// that inputs that generate RSA 4096 keys do not take seconds each.
type fuzzKeys struct{ SoftKeyStore }

var (
	fuzzRSAMu sync.Mutex
	fuzzRSA   = map[int]*rsa.PrivateKey{}
)

func (k fuzzKeys) Generate(alg Algorithm) (Key, error) {
	if !alg.IsRSA() {
		return k.SoftKeyStore.Generate(alg)
	}
	fuzzRSAMu.Lock()
	defer fuzzRSAMu.Unlock()
	priv, ok := fuzzRSA[alg.RSABits()]
	if !ok {
		var err error
		if priv, err = rsa.GenerateKey(rand.Reader, alg.RSABits()); err != nil {
			return nil, err
		}
		fuzzRSA[alg.RSABits()] = priv
	}
	return k.Import(alg, priv)
}

// recorder is a client recording the raw APDUs it sends and the status
// words it gets.
type recorder struct {
	tb     testing.TB
	client *apdu.Client
	seed   []byte
	sws    []apdu.SW
}

func recordSeed(tb testing.TB, base *State, script func(*recorder)) []byte {
	tb.Helper()
	return record(tb, base, script).seed
}

func record(tb testing.TB, base *State, script func(*recorder)) *recorder {
	tb.Helper()
	c, _ := fuzzCard(tb, base)
	r := &recorder{tb: tb}
	r.client = &apdu.Client{Transport: apdu.TransportFunc(func(_ context.Context, cmd []byte) ([]byte, error) {
		if len(cmd) == 5 && cmd[1] == apdu.InsGetResponse {
			// ECDSA signatures vary in length: ask for up to 256 bytes
			// so that a replay fetches whatever is left.
			cmd = append(cmd[:4:4], 0x00)
		}
		r.seed = binary.BigEndian.AppendUint16(r.seed, uint16(len(cmd)))
		r.seed = append(r.seed, cmd...)
		resp := c.Transmit(cmd)
		r.sws = append(r.sws, apdu.SW(binary.BigEndian.Uint16(resp[len(resp)-2:])))
		return resp, nil
	})}
	script(r)
	return r
}

// TestFuzzSeedsReplay checks that the seeds replay as recorded (the
// deterministic random source keeps the management key responses valid),
// so that the fuzzer starts from sessions that reach deep into the card.
func TestFuzzSeedsReplay(t *testing.T) {
	base := fuzzBaseState(t)
	oks := 0
	for i, script := range fuzzScripts {
		r := record(t, base, script)
		c, _ := fuzzCard(t, base)
		in := r.seed
		var got []apdu.SW
		for len(in) >= 2 {
			l := int(binary.BigEndian.Uint16(in))
			resp := c.Transmit(in[2 : 2+l])
			in = in[2+l:]
			got = append(got, apdu.SW(binary.BigEndian.Uint16(resp[len(resp)-2:])))
		}
		// ECDSA signatures vary in length, and so does a 61XX.
		for _, sws := range [][]apdu.SW{got, r.sws} {
			for j, sw := range sws {
				if _, ok := sw.Available(); ok {
					sws[j] = apdu.SWMoreData
				}
			}
		}
		if !reflect.DeepEqual(got, r.sws) {
			t.Fatalf("script %d replays as %v, recorded %v", i, got, r.sws)
		}
		for _, sw := range got {
			if sw == apdu.SWOK || sw == apdu.SWMoreData {
				oks++
			}
		}
	}
	if oks < 50 {
		t.Fatalf("only %d commands of the seeds succeed", oks)
	}
}

// do sends a command and returns its response; the status is not checked,
// as seeds include failures on purpose.
func (r *recorder) do(ins, p1, p2 byte, data []byte, le int) apdu.Response {
	resp, err := r.client.Send(context.Background(), apdu.Command{INS: ins, P1: p1, P2: p2, Data: data, Le: le})
	if err != nil {
		r.tb.Fatal(err)
	}
	return resp
}

func (r *recorder) raw(b []byte) {
	if _, err := r.client.Transport.Transmit(context.Background(), b); err != nil {
		r.tb.Fatal(err)
	}
}

func (r *recorder) selectPIV() { r.do(pivspec.InsSelect, 0x04, 0x00, pivspec.RID(), 256) }

func (r *recorder) verify(pin string) { r.do(pivspec.InsVerify, 0x00, RefPIN, padReference(pin), 0) }

// authenticate runs the mutual authentication with key.
func (r *recorder) authenticate(alg Algorithm, key []byte) {
	block, err := managementCipher(ManagementKey{Algorithm: alg, Key: key})
	if err != nil {
		r.tb.Fatal(err)
	}
	n := block.BlockSize()
	resp := r.do(pivspec.InsGeneralAuth, byte(alg), SlotManagement, dynamicAuth(apdu.TLV{Tag: pivspec.TagWitness}), 256)
	t, ok := parseTemplate(resp.Data)
	if !ok || len(t.witness) != n {
		r.tb.Fatalf("witness: %X %v", resp.Data, resp.SW)
	}
	w := make([]byte, n)
	block.Decrypt(w, t.witness)
	resp = r.do(pivspec.InsGeneralAuth, byte(alg), SlotManagement, dynamicAuth(apdu.TLV{Tag: pivspec.TagWitness, Value: w}, apdu.TLV{Tag: pivspec.TagChallenge, Value: bytes.Repeat([]byte{7}, n)}), 256)
	if resp.SW != apdu.SWOK {
		r.tb.Fatalf("mutual authentication: %v", resp.SW)
	}
}

func (r *recorder) generate(slot byte, alg Algorithm) {
	r.do(pivspec.InsGenerateKey, 0, slot, apdu.AppendTLV(nil, pivspec.TagKeyControl, apdu.AppendTLV(nil, pivspec.TagAlgorithm, []byte{byte(alg)})), 256)
}

func (r *recorder) sign(alg Algorithm, slot byte, in []byte, tag uint32) {
	r.do(pivspec.InsGeneralAuth, byte(alg), slot, dynamicAuth(apdu.TLV{Tag: pivspec.TagResponse}, apdu.TLV{Tag: tag, Value: in}), 256)
}

func (r *recorder) putData(tag, value []byte) {
	r.do(pivspec.InsPutData, 0x3F, 0xFF, append(apdu.AppendTLV(nil, pivspec.TagObjectID, tag), apdu.AppendTLV(nil, pivspec.TagData, value)...), 0)
}

var fuzzScripts = []func(*recorder){
	// A client looking around, as OpenSC and yubico-piv-tool do.
	func(r *recorder) {
		r.raw([]byte{0x00, 0xCB, 0x3F, 0xFF, 0x03, 0x5C, 0x01, 0x7E, 0x00})
		r.selectPIV()
		r.raw([]byte{0x00, 0xCB, 0x3F, 0xFF, 0x05, 0x5C, 0x03, 0x5F, 0xC1, 0x02, 0x08})
		r.raw([]byte{0x00, 0xC0, 0x00, 0x00, 0x00})
		for _, tag := range [][]byte{{0x7E}, {0x5F, 0xC1, 0x07}, {0x5F, 0xC1, 0x05}, {0x5F, 0xFF, 0x01}, {0x5F, 0xC1, 0x09}} {
			r.do(pivspec.InsGetData, 0x3F, 0xFF, apdu.AppendTLV(nil, pivspec.TagObjectID, tag), 256)
		}
		r.do(pivspec.InsGetVersion, 0, 0, nil, 256)
		r.do(pivspec.InsGetSerial, 0, 0, nil, 256)
		for _, ref := range []byte{SlotManagement, RefPIN, RefPUK, SlotAttestation, SlotAuthentication} {
			r.do(pivspec.InsGetMetadata, 0, ref, nil, 256)
		}
		r.do(pivspec.InsVerify, 0, RefPIN, nil, 0)
		r.verify("000000")
		r.verify(pivspec.DefaultPIN)
		r.do(pivspec.InsVerify, 0, RefPIN, nil, 0)
		r.do(pivspec.InsGetData, 0x3F, 0xFF, apdu.AppendTLV(nil, pivspec.TagObjectID, []byte{0x5F, 0xC1, 0x09}), 256)
		r.do(pivspec.InsVerify, 0xFF, RefPIN, nil, 0)
		r.do(pivspec.InsSelect, 0x04, 0x00, []byte{0xA0, 0x00, 0x00, 0x05, 0x27, 0x47, 0x11, 0x17}, 256)
	},
	// Personalisation, signing, ECDH and attestation, as piv-go does it.
	func(r *recorder) {
		r.selectPIV()
		r.authenticate(pivspec.Alg3DES, pivspec.DefaultManagementKey())
		r.generate(SlotAuthentication, pivspec.AlgECCP256)
		r.generate(SlotKeyManagement, pivspec.AlgECCP384)
		r.putData([]byte{0x5F, 0xC1, 0x05}, certContainer(bytes.Repeat([]byte{0x30}, 600)))
		r.verify(pivspec.DefaultPIN)
		r.sign(pivspec.AlgECCP256, SlotAuthentication, bytes.Repeat([]byte{1}, 32), pivspec.TagChallenge)
		peer, _ := ecdh.P384().GenerateKey(rand.Reader)
		r.sign(pivspec.AlgECCP384, SlotKeyManagement, peer.PublicKey().Bytes(), pivspec.TagExponent)
		r.do(pivspec.InsAttest, SlotAuthentication, 0, nil, 256)
		r.do(pivspec.InsSetManagementKey, 0xFF, 0xFF, append([]byte{byte(pivspec.AlgAES128), SlotManagement, 16}, bytes.Repeat([]byte{9}, 16)...), 0)
		r.selectPIV()
		r.authenticate(pivspec.AlgAES128, bytes.Repeat([]byte{9}, 16))
		r.generate(SlotSignature, pivspec.AlgRSA2048)
		r.verify(pivspec.DefaultPIN)
		r.sign(pivspec.AlgRSA2048, SlotSignature, append([]byte{0, 1}, bytes.Repeat([]byte{0xFF}, 254)...), pivspec.TagChallenge)
		priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		d, _ := priv.Bytes()
		r.do(pivspec.InsImportKey, byte(pivspec.AlgECCP256), 0x82, append(apdu.AppendTLV(nil, 0x06, d), 0xAA, 0x01, 0x01), 0)
		r.sign(pivspec.AlgECCP256, 0x82, bytes.Repeat([]byte{2}, 32), pivspec.TagChallenge)
		r.do(pivspec.InsAttest, 0x82, 0, nil, 256)
	},
	// An update of the card's contents: a new key staged in 95 beside the
	// old one in 9A, moved over it (MOVE KEY), the probe of MOVE KEY, a
	// move from an empty slot, DELETE KEY.
	func(r *recorder) {
		r.selectPIV()
		r.do(pivspec.InsMoveKey, SlotManagement, SlotManagement, nil, 0)
		r.do(pivspec.InsMoveKey, SlotAuthentication, 0x95, nil, 0)
		r.authenticate(pivspec.Alg3DES, pivspec.DefaultManagementKey())
		r.generate(SlotAuthentication, pivspec.AlgECCP256)
		r.generate(0x95, pivspec.AlgECCP256)
		r.putData([]byte{0x5F, 0xC1, 0x20}, certContainer(bytes.Repeat([]byte{0x30}, 300)))
		r.do(pivspec.InsMoveKey, SlotAuthentication, 0x95, nil, 0)
		r.do(pivspec.InsGetMetadata, 0, 0x95, nil, 256)
		r.do(pivspec.InsGetMetadata, 0, SlotAuthentication, nil, 256)
		r.do(pivspec.InsMoveKey, SlotAuthentication, 0x95, nil, 0)
		r.do(pivspec.InsMoveKey, SlotAttestation, SlotAuthentication, nil, 0)
		r.verify(pivspec.DefaultPIN)
		r.sign(pivspec.AlgECCP256, SlotAuthentication, bytes.Repeat([]byte{3}, 32), pivspec.TagChallenge)
		r.do(pivspec.InsMoveKey, pivspec.MoveKeyDelete, SlotAuthentication, nil, 0)
		r.do(pivspec.InsMoveKey, pivspec.MoveKeyDelete, SlotAuthentication, nil, 0)
		r.sign(pivspec.AlgECCP256, SlotAuthentication, bytes.Repeat([]byte{3}, 32), pivspec.TagChallenge)
	},
	// PIN and PUK life cycle, down to RESET and SET PIN RETRIES.
	func(r *recorder) {
		r.selectPIV()
		r.do(pivspec.InsChangeReference, 0, RefPIN, append(padReference(pivspec.DefaultPIN), padReference("24682468")...), 0)
		r.do(pivspec.InsChangeReference, 0, RefPUK, append(padReference(pivspec.DefaultPUK), padReference("11223344")...), 0)
		for i := 0; i < 4; i++ {
			r.verify("000000")
		}
		r.do(pivspec.InsResetRetry, 0, RefPIN, append(padReference("11223344"), padReference("13571357")...), 0)
		r.verify("13571357")
		r.authenticate(pivspec.Alg3DES, pivspec.DefaultManagementKey())
		r.do(pivspec.InsSetRetries, 5, 4, nil, 0)
		for i := 0; i < 5; i++ {
			r.verify("000000")
		}
		for i := 0; i < 4; i++ {
			r.do(pivspec.InsChangeReference, 0, RefPUK, append(padReference("00000000"), padReference("00000000")...), 0)
		}
		r.do(pivspec.InsReset, 0, 0, nil, 0)
		r.verify(pivspec.DefaultPIN)
	},
	// External authentication, OpenSC's GET CHALLENGE, and malformed
	// commands.
	func(r *recorder) {
		r.selectPIV()
		resp := r.do(pivspec.InsGeneralAuth, byte(pivspec.Alg3DES), SlotManagement, dynamicAuth(apdu.TLV{Tag: pivspec.TagChallenge}), 256)
		if t, ok := parseTemplate(resp.Data); ok {
			block, _ := managementCipher(ManagementKey{Algorithm: pivspec.Alg3DES, Key: pivspec.DefaultManagementKey()})
			enc := make([]byte, 8)
			block.Encrypt(enc, t.challenge)
			r.do(pivspec.InsGeneralAuth, byte(pivspec.Alg3DES), SlotManagement, dynamicAuth(apdu.TLV{Tag: pivspec.TagResponse, Value: enc}), 0)
		}
		r.do(pivspec.InsGeneralAuth, 0x00, SlotManagement, dynamicAuth(apdu.TLV{Tag: pivspec.TagChallenge}), 256)
		r.do(pivspec.InsPutData, 0x3F, 0xFF, newDiscovery(), 0)
		r.raw([]byte{0x10, 0xDB, 0x3F, 0xFF, 0x03, 0x5C, 0x03, 0x5F})
		r.raw([]byte{0x00, 0xDB, 0x3F, 0xFF, 0x04, 0xC1, 0x05, 0x53, 0x00})
		r.raw([]byte{0x00, 0x47, 0x00, 0x9A, 0x05, 0xAC, 0x03, 0x80, 0x01, 0x16})
		r.raw([]byte{0x00, 0x87, 0x07, 0x9A, 0x04, 0x7C, 0x82, 0x01})
		r.raw([]byte{0x80, 0xFD, 0x00, 0x00})
		r.raw([]byte{0x00, 0x20, 0x00, 0x80, 0x08, 0x31})
	},
}
