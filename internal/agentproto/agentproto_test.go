package agentproto

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestFrameRoundTrip(t *testing.T) {
	msgs := []*Message{
		{Type: TypeHello, Version: "1.0", Hostname: "pc"},
		{Type: TypeSnapshot, Readers: []Reader{{Name: "r0", Present: true, ATR: []byte{0x3B, 0x00}, Serial: "123"}, {Name: "r1"}}},
		{Type: TypeOpen, ID: 1, Reader: "r0"},
		{Type: TypeTransmit, ID: 2, Session: 7, APDU: []byte{0, 0xA4, 4, 0}},
		{Type: TypeReply, ID: 2, APDU: []byte{0x90, 0}},
		{Type: TypeReply, ID: 3, Error: &Error{Code: ErrCodeCardRemoved, Message: "gone"}},
		{Type: TypeEnded, Session: 7, Error: &Error{Code: ErrCodeCardRemoved}},
		{Type: TypeClose, ID: 4, Session: 7},
		{Type: TypePing},
		{Type: TypeHello, Version: "1.1", Hostname: "pc", TPM: &TPMStatus{Usable: true, Manufacturer: "IBM", Kind: "simulator"}, VirtualSlots: 2},
		{Type: TypeCreate, ID: 5, Kind: KindTPMVirtualCard},
		{Type: TypeReply, ID: 5, Reader: "Virtual PCD 00 01", Serial: "123456"},
		{Type: TypeDestroy, ID: 6, Serial: "123456"},
		{Type: TypeHello, Version: "1.2", Hostname: "pc", Features: []string{FeatureDestroy}},
		{Type: TypeAirCards, AirCards: []AirCard{{Serial: "42", Name: "Air"}}, ServiceOnline: true},
		{Type: TypeAirCards, AirCards: []AirCard{}},
		{Type: TypeAirOpen, ID: 9, Serial: "42"},
		{Type: TypeAirTransmit, ID: 10, Session: 3, APDU: []byte{0, 0xA4, 4, 0}},
		{Type: TypeAirClose, ID: 11, Session: 3},
		{Type: TypeAirReply, ID: 10, APDU: []byte{0x90, 0}},
		{Type: TypeReaders, Readers: []Reader{{Name: "air 7", Present: true, ATR: []byte{0x3B, 0x00}, Serial: "7"}}, Gone: []string{"air 6"}},
		{Type: TypeReaders, Gone: []string{"air 5"}},
	}
	var buf bytes.Buffer
	for _, m := range msgs {
		if err := WriteFrame(&buf, m); err != nil {
			t.Fatalf("WriteFrame(%+v): %v", m, err)
		}
	}
	for _, want := range msgs {
		got, err := ReadFrame(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if got.Type != want.Type || got.ID != want.ID || !bytes.Equal(got.APDU, want.APDU) || len(got.Readers) != len(want.Readers) {
			t.Errorf("got %+v, want %+v", got, want)
		}
	}
	if _, err := ReadFrame(&buf); err != io.EOF {
		t.Errorf("after the last frame: %v, want EOF", err)
	}
}

// A reader's PIN status (issue 16 item 10) is an optional, additive
// field: a reader without it reads as before, one with it round-trips,
// and a blocked PIN is Left 0; so does a cardstate message (item 7).
func TestReaderPINStatus(t *testing.T) {
	for _, body := range []string{
		`{"type":"snapshot","readers":[{"name":"r","present":true,"atr":"Ow==","serial":"12"}]}`,
		`{"type":"snapshot","readers":[{"name":"r","present":true,"atr":"Ow==","serial":"12","pin":{"left":0,"total":3,"puk_left":3}}]}`,
		`{"type":"readers","readers":[{"name":"r","present":true,"serial":"12","pin":{"left":-1,"puk_left":-1}}]}`,
		`{"type":"cardstate","card_state":{"serial":"12","state":"revoked","reason":"lost"}}`,
	} {
		raw := append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
		m, err := ReadFrame(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		var out bytes.Buffer
		if err := WriteFrame(&out, m); err != nil {
			t.Fatal(err)
		}
		if got := out.String()[4:]; got != body {
			t.Errorf("round trip: %s, want %s", got, body)
		}
	}
}

func TestFrameRefused(t *testing.T) {
	frame := func(body string) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
	}
	for name, raw := range map[string][]byte{
		"too large":           binary.BigEndian.AppendUint32(nil, MaxFrame+1),
		"truncated":           frame(`{"type":"ping"}`)[:8],
		"unknown type":        frame(`{"type":"launch"}`),
		"unknown field":       frame(`{"type":"ping","x":1}`),
		"foreign field":       frame(`{"type":"ping","reader":"r"}`),
		"open without id":     frame(`{"type":"open","reader":"r"}`),
		"short apdu":          frame(`{"type":"transmit","id":1,"session":1,"apdu":"AAE="}`),
		"trailing data":       frame(`{"type":"ping"} {}`),
		"not json":            frame(`ping`),
		"absent with atr":     frame(`{"type":"snapshot","readers":[{"name":"r","atr":"Ow=="}]}`),
		"ended without err":   frame(`{"type":"ended","session":1}`),
		"create of a kind":    frame(`{"type":"create","id":1,"kind":"yubikey"}`),
		"create without id":   frame(`{"type":"create","kind":"tpm_virtual_card"}`),
		"kind in open":        frame(`{"type":"open","id":1,"reader":"r","kind":"tpm_virtual_card"}`),
		"tpm in snapshot":     frame(`{"type":"snapshot","readers":[],"tpm":{"usable":true}}`),
		"gone in snapshot":    frame(`{"type":"snapshot","readers":[],"gone":["r"]}`),
		"empty change":        frame(`{"type":"readers"}`),
		"unnamed gone":        frame(`{"type":"readers","gone":[""]}`),
		"serial in create":    frame(`{"type":"create","id":1,"kind":"tpm_virtual_card","serial":"1"}`),
		"aircards no list":    frame(`{"type":"aircards","service_online":true}`),
		"aircards in hello":   frame(`{"type":"hello","aircards":[]}`),
		"airopen no serial":   frame(`{"type":"airopen","id":1}`),
		"airopen no id":       frame(`{"type":"airopen","serial":"1"}`),
		"destroy no serial":   frame(`{"type":"destroy","id":1}`),
		"destroy no id":       frame(`{"type":"destroy","serial":"1"}`),
		"kind in destroy":     frame(`{"type":"destroy","id":1,"serial":"1","kind":"aircard"}`),
		"features in ping":    frame(`{"type":"ping","features":["destroy"]}`),
		"empty feature":       frame(`{"type":"hello","features":[""]}`),
		"many features":       frame(`{"type":"hello","features":["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]}`),
		"airtransmit short":   frame(`{"type":"airtransmit","id":1,"session":1,"apdu":"AAE="}`),
		"aircard no serial":   frame(`{"type":"aircards","aircards":[{"name":"x"}]}`),
		"pin without serial":  frame(`{"type":"snapshot","readers":[{"name":"r","present":true,"pin":{"left":3,"puk_left":3}}]}`),
		"pin of no card":      frame(`{"type":"snapshot","readers":[{"name":"r","pin":{"left":3,"puk_left":3}}]}`),
		"pin left > total":    frame(`{"type":"readers","readers":[{"name":"r","present":true,"serial":"1","pin":{"left":4,"total":3,"puk_left":3}}]}`),
		"pin left < -1":       frame(`{"type":"readers","readers":[{"name":"r","present":true,"serial":"1","pin":{"left":-2,"puk_left":3}}]}`),
		"pin left > 255":      frame(`{"type":"readers","readers":[{"name":"r","present":true,"serial":"1","pin":{"left":256,"puk_left":3}}]}`),
		"puk left < -1":       frame(`{"type":"readers","readers":[{"name":"r","present":true,"serial":"1","pin":{"left":1,"puk_left":-5}}]}`),
		"cardstate no state":  frame(`{"type":"cardstate"}`),
		"cardstate no serial": frame(`{"type":"cardstate","card_state":{"state":"disabled"}}`),
		"cardstate in ping":   frame(`{"type":"ping","card_state":{"serial":"1","state":"disabled"}}`),
		"pin unknown field":   frame(`{"type":"readers","readers":[{"name":"r","present":true,"serial":"1","pin":{"left":1,"puk_left":1,"x":1}}]}`),
	} {
		if _, err := ReadFrame(bytes.NewReader(raw)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	big := &Message{Type: TypeTransmit, ID: 1, Session: 1, APDU: make([]byte, MaxAPDU+1)}
	if err := WriteFrame(io.Discard, big); err == nil {
		t.Error("WriteFrame of an overlong APDU succeeded")
	}
	// The largest APDU fits a frame.
	big.APDU = big.APDU[:MaxAPDU]
	if err := WriteFrame(io.Discard, big); err != nil {
		t.Errorf("WriteFrame of a maximal APDU: %v", err)
	}
}

func TestConnHeartbeat(t *testing.T) {
	// Heartbeats of 100 ms: short for a test, long enough for the race
	// detector's slowdown (20 ms failed now and then).
	const beat = 100 * time.Millisecond
	a, b := net.Pipe()
	ca := NewConn(a, nil, beat)
	defer ca.Close()
	// b answers nothing: a notices within three heartbeats.
	go io.Copy(io.Discard, b)
	start := time.Now()
	_, err := ca.Recv()
	if !errors.Is(err, ErrPeerSilent) {
		t.Fatalf("Recv from a silent peer: %v", err)
	}
	if d := time.Since(start); d > 10*beat {
		t.Errorf("silence noticed after %v", d)
	}

	// Two live Conns keep each other alive with pings alone.
	x, y := net.Pipe()
	cx, cy := NewConn(x, nil, beat), NewConn(y, nil, beat)
	defer cx.Close()
	defer cy.Close()
	type result struct {
		m   *Message
		err error
	}
	got := make(chan result, 1)
	go func() {
		m, err := cy.Recv()
		got <- result{m, err}
	}()
	go cx.Recv()         // reads cy's pings
	time.Sleep(6 * beat) // twice the silence that would end them
	if err := cx.Send(&Message{Type: TypeHello, Version: "v"}); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.err != nil {
		t.Fatal(r.err)
	}
	if m := r.m; m.Type != TypeHello {
		t.Errorf("got %+v", m)
	}
}

func TestPairingCode(t *testing.T) {
	key := func() []byte {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		return der
	}
	agent, mitm := key(), key()
	root, otherRoot := []byte("root CA DER"), []byte("the attacker's root DER")
	code := PairingCode(agent, root)
	if len(code) != 11 || code[5] != '-' {
		t.Fatalf("code %q is not XXXXX-XXXXX", code)
	}
	if n, ok := NormalizePairingCode(strings.ToLower(strings.ReplaceAll(code, "-", " "))); !ok || n != code {
		t.Errorf("NormalizePairingCode = %q, %v", n, ok)
	}
	if PairingCode(agent, root) != code {
		t.Error("the code is not deterministic")
	}
	// A man in the middle substituting either the agent's key or the root
	// gets another code, so the two sides' codes differ.
	if PairingCode(mitm, root) == code {
		t.Error("substituted agent key: same code")
	}
	if PairingCode(agent, otherRoot) == code {
		t.Error("substituted root: same code")
	}
	for _, bad := range []string{"", "ABCDE-FGHI", "ABCDE-FGHI1", "ABCDE-FGHIJK"} {
		if _, ok := NormalizePairingCode(bad); ok {
			t.Errorf("NormalizePairingCode(%q) accepted", bad)
		}
	}
	if HashPairingCode(code) == HashPairingCode(PairingCode(mitm, root)) || len(HashPairingCode(code)) != 64 {
		t.Error("HashPairingCode")
	}
}

func TestSoftStoreMessages(t *testing.T) {
	frame := func(body string) []byte {
		return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
	}
	ok := []string{
		`{"type":"hello","version":"1","soft_stores":["machine","user"]}`,
		`{"type":"keygen","id":1,"keygen":{"algorithm":"rsa2048"}}`,
		`{"type":"reply","id":1,"key":{"handle":"00ff","public_key":"AQ=="}}`,
		`{"type":"store","id":2,"store":{"handle":"00ff","chain":["AQ=="],"password":"p","scope":"user","account":"tia","name":"Work-1"}}`,
		`{"type":"store","id":2,"store":{"handle":"00ff","chain":["AQ=="],"scope":"machine","name":"host.tls"}}`,
		`{"type":"reply","id":2,"stored":{"path":"/var/lib/lanyard/store/x.p12","nss":true}}`,
	}
	for _, body := range ok {
		if _, err := ReadFrame(bytes.NewReader(frame(body))); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
	long := strings.Repeat("x", MaxPassword+1)
	for name, body := range map[string]string{
		"keygen without request":  `{"type":"keygen","id":1}`,
		"keygen of ed25519":       `{"type":"keygen","id":1,"keygen":{"algorithm":"ed25519"}}`,
		"keygen without id":       `{"type":"keygen","keygen":{"algorithm":"rsa2048"}}`,
		"key in keygen":           `{"type":"keygen","id":1,"keygen":{"algorithm":"rsa2048"},"key":{"handle":"00","public_key":"AQ=="}}`,
		"store in reply":          `{"type":"reply","id":1,"store":{"handle":"00","chain":["AQ=="],"scope":"machine","name":"x"}}`,
		"handle not hex":          `{"type":"reply","id":1,"key":{"handle":"../x","public_key":"AQ=="}}`,
		"empty public key":        `{"type":"reply","id":1,"key":{"handle":"00"}}`,
		"store without chain":     `{"type":"store","id":2,"store":{"handle":"00","chain":[],"scope":"machine","name":"x"}}`,
		"store of an empty cert":  `{"type":"store","id":2,"store":{"handle":"00","chain":[""],"scope":"machine","name":"x"}}`,
		"store to a path":         `{"type":"store","id":2,"store":{"handle":"00","chain":["AQ=="],"scope":"machine","name":"../../etc/passwd"}}`,
		"store to a dot file":     `{"type":"store","id":2,"store":{"handle":"00","chain":["AQ=="],"scope":"machine","name":".bashrc"}}`,
		"user store without user": `{"type":"store","id":2,"store":{"handle":"00","chain":["AQ=="],"scope":"user","name":"x"}}`,
		"machine store with user": `{"type":"store","id":2,"store":{"handle":"00","chain":["AQ=="],"scope":"machine","account":"tia","name":"x"}}`,
		"unknown scope":           `{"type":"store","id":2,"store":{"handle":"00","chain":["AQ=="],"scope":"domain","name":"x"}}`,
		"overlong password":       `{"type":"store","id":2,"store":{"handle":"00","chain":["AQ=="],"password":"` + long + `","scope":"machine","name":"x"}}`,
		"scope twice":             `{"type":"hello","soft_stores":["user","user"]}`,
		"soft stores in snapshot": `{"type":"snapshot","readers":[],"soft_stores":["user"]}`,
		"stored without path":     `{"type":"reply","id":2,"stored":{"nss":true}}`,
	} {
		if _, err := ReadFrame(bytes.NewReader(frame(body))); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// The largest store request fits in a frame.
	cert := bytes.Repeat([]byte{0x30}, MaxCert)
	m := &Message{Type: TypeStore, ID: 1, Store: &Store{Handle: strings.Repeat("a", MaxHandle), Chain: [][]byte{cert, cert, cert, cert},
		Password: strings.Repeat("p", MaxPassword), Scope: StoreUser, Account: strings.Repeat("u", MaxNameLength), Name: strings.Repeat("n", MaxStoreName)}}
	if err := WriteFrame(io.Discard, m); err != nil {
		t.Errorf("the largest store request: %v", err)
	}
}

// A peer that keeps pinging but stops reading fails a write after the
// watchdog's timeout instead of holding the sender (and every other
// sender on the connection) for ever.
func TestConnSendToPeerThatDoesNotRead(t *testing.T) {
	const beat = 100 * time.Millisecond
	x, y := net.Pipe()
	cx := NewConn(x, nil, beat)
	defer cx.Close()
	defer y.Close()
	go func() { // pings, never reads
		for {
			if WriteFrame(y, &Message{Type: TypePing}) != nil {
				return
			}
			time.Sleep(beat / 2)
		}
	}()
	go cx.Recv()
	done := make(chan error, 1)
	go func() { done <- cx.Send(&Message{Type: TypeHello, Version: "v"}) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("the write to a peer that does not read succeeded")
		}
	case <-time.After(20 * beat):
		t.Fatal("Send still blocked after twenty heartbeats")
	}
}
