package emu_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

func TestVerify(t *testing.T) {
	c := newCard(t)
	steps := []struct {
		name       string
		p1, p2     byte
		data       []byte
		want       apdu.SW
		verifiedAt bool // PIN status afterwards
	}{
		{"status before", 0x00, 0x80, nil, apdu.VerifyFailed(3), false},
		{"wrong PIN", 0x00, 0x80, pad("654321"), apdu.VerifyFailed(2), false},
		{"status after a wrong PIN", 0x00, 0x80, nil, apdu.VerifyFailed(2), false},
		{"right PIN", 0x00, 0x80, pad(pivspec.DefaultPIN), apdu.SWOK, true},
		{"status when verified", 0x00, 0x80, nil, apdu.SWOK, true},
		{"reset the status", 0xFF, 0x80, nil, apdu.SWOK, false},
		{"status after reset", 0x00, 0x80, nil, apdu.VerifyFailed(3), false},
		{"reset with data", 0xFF, 0x80, pad(pivspec.DefaultPIN), apdu.SWWrongLength, false},
		{"unpadded", 0x00, 0x80, []byte(pivspec.DefaultPIN), apdu.SWIncorrectData, false},
		{"nine bytes", 0x00, 0x80, []byte("123456789"), apdu.SWIncorrectData, false},
		{"PUK reference", 0x00, 0x81, pad(pivspec.DefaultPUK), apdu.SWReferenceNotFound, false},
		{"global PIN", 0x00, 0x00, pad(pivspec.DefaultPIN), apdu.SWReferenceNotFound, false},
		{"bad P1", 0x01, 0x80, pad(pivspec.DefaultPIN), apdu.SWIncorrectP1P2, false},
		{"malformed attempts cost no try", 0x00, 0x80, nil, apdu.VerifyFailed(3), false},
		{"a value no PIN can have is a wrong PIN", 0x00, 0x80, pad("0"), apdu.VerifyFailed(2), false},
		{"so is bad padding", 0x00, 0x80, mustHex(t, "313233FF34353637"), apdu.VerifyFailed(1), false},
		{"right PIN again", 0x00, 0x80, pad(pivspec.DefaultPIN), apdu.SWOK, true},
		{"wrong PIN clears the status", 0x00, 0x80, pad("000000"), apdu.VerifyFailed(2), false},
	}
	for _, s := range steps {
		if got := c.send(0x20, s.p1, s.p2, s.data).SW; got != s.want {
			t.Fatalf("%s: %v, want %v", s.name, got, s.want)
		}
		verified := c.send(0x20, 0x00, 0x80, nil).SW == apdu.SWOK
		if verified != s.verifiedAt {
			t.Fatalf("%s: verified=%v afterwards, want %v", s.name, verified, s.verifiedAt)
		}
	}
}

func TestPINBlocksAndUnblocks(t *testing.T) {
	c := newCard(t)
	for want := 2; want >= 0; want-- {
		c.expect(apdu.VerifyFailed(want), 0x20, 0x00, 0x80, pad("999999"))
	}
	c.expect(apdu.SWAuthBlocked, 0x20, 0x00, 0x80, pad(pivspec.DefaultPIN))
	c.expect(apdu.SWAuthBlocked, 0x20, 0x00, 0x80, nil)
	c.expect(apdu.SWAuthBlocked, 0x24, 0x00, 0x80, append(pad(pivspec.DefaultPIN), pad("222222")...))

	// A wrong PUK costs a PUK try; the right one sets a new PIN.
	c.expect(apdu.VerifyFailed(2), 0x2C, 0x00, 0x80, append(pad("87654321"), pad("111111")...))
	c.expect(apdu.SWIncorrectData, 0x2C, 0x00, 0x80, append(pad(pivspec.DefaultPUK), pad("1111")...))
	c.expect(apdu.SWIncorrectData, 0x2C, 0x00, 0x80, pad(pivspec.DefaultPUK))
	c.expect(apdu.SWReferenceNotFound, 0x2C, 0x00, 0x81, append(pad(pivspec.DefaultPUK), pad("111111")...))
	c.expect(apdu.SWIncorrectP1P2, 0x2C, 0x01, 0x80, append(pad(pivspec.DefaultPUK), pad("111111")...))
	c.must(0x2C, 0x00, 0x80, append(pad(pivspec.DefaultPUK), pad("111111")...))
	c.expect(apdu.VerifyFailed(3), 0x20, 0x00, 0x80, nil)
	c.verifyPIN("111111")

	// The PUK's counter was reset too: three more wrong PUKs block it.
	for want := 2; want >= 0; want-- {
		c.expect(apdu.VerifyFailed(want), 0x2C, 0x00, 0x80, append(pad("00000000"), pad("333333")...))
	}
	c.expect(apdu.SWAuthBlocked, 0x2C, 0x00, 0x80, append(pad(pivspec.DefaultPUK), pad("333333")...))
	c.expect(apdu.SWAuthBlocked, 0x24, 0x00, 0x81, append(pad(pivspec.DefaultPUK), pad("33333333")...))
}

func TestChangeReference(t *testing.T) {
	c := newCard(t)
	change := func(ref byte, old, next string) apdu.SW {
		return c.send(0x24, 0x00, ref, append(pad(old), pad(next)...)).SW
	}
	if sw := change(0x80, "654321", "654321"); sw != apdu.VerifyFailed(2) {
		t.Fatalf("wrong old PIN: %v", sw)
	}
	if sw := change(0x80, pivspec.DefaultPIN, "12345"); sw != apdu.SWIncorrectData {
		t.Fatalf("short new PIN: %v", sw)
	}
	c.expect(apdu.VerifyFailed(2), 0x20, 0x00, 0x80, nil) // the malformed attempt cost nothing
	// A wrong current PUK costs a try whatever the new value, as on a
	// YubiKey (piv-go's Reset changes a random PUK, maybe of 5 digits,
	// to itself until the PUK is blocked).
	if sw := change(0x81, "1234", "1234"); sw != apdu.VerifyFailed(2) {
		t.Fatalf("wrong short PUK: %v", sw)
	}
	if sw := change(0x80, pivspec.DefaultPIN, "abcdefgh"); sw != apdu.SWOK {
		t.Fatalf("change PIN: %v", sw)
	}
	c.must(0x20, 0x00, 0x80, nil) // changing the PIN verifies it
	c.expect(apdu.VerifyFailed(2), 0x20, 0x00, 0x80, pad(pivspec.DefaultPIN))
	c.verifyPIN("abcdefgh")

	if sw := change(0x81, pivspec.DefaultPUK, "87654321"); sw != apdu.SWOK {
		t.Fatalf("change PUK: %v", sw)
	}
	if sw := change(0x81, pivspec.DefaultPUK, "87654321"); sw != apdu.VerifyFailed(2) {
		t.Fatalf("old PUK still accepted: %v", sw)
	}
	if sw := change(0x81, "87654321", "11223344"); sw != apdu.SWOK {
		t.Fatalf("change PUK with the new one: %v", sw)
	}

	c.expect(apdu.SWIncorrectData, 0x24, 0x00, 0x80, pad(pivspec.DefaultPIN))
	c.expect(apdu.SWReferenceNotFound, 0x24, 0x00, 0x9B, append(pad(pivspec.DefaultPIN), pad("123456")...))
	c.expect(apdu.SWIncorrectP1P2, 0x24, 0x01, 0x80, append(pad(pivspec.DefaultPIN), pad("123456")...))
}

// failingStore is a MemoryStore whose Save fails while failing is set.
type failingStore struct {
	emu.MemoryStore
	mu      sync.Mutex
	failing bool
}

func (f *failingStore) fail(b bool) { f.mu.Lock(); f.failing = b; f.mu.Unlock() }

func (f *failingStore) Save(s *emu.State) error {
	f.mu.Lock()
	failing := f.failing
	f.mu.Unlock()
	if failing {
		return errors.New("disk full")
	}
	return f.MemoryStore.Save(s)
}

// The retry counter is saved before the PIN is compared: when the store
// fails, the card answers 6581 and no comparison happens.
func TestVerifyCounterSavedFirst(t *testing.T) {
	store := &failingStore{}
	c := newCard(t, emu.WithStateStore(store))
	store.fail(true)
	c.expect(apdu.SWMemoryFailure, 0x20, 0x00, 0x80, pad(pivspec.DefaultPIN))
	c.expect(apdu.SWMemoryFailure, 0x20, 0x00, 0x80, pad("000000"))
	store.fail(false)
	c.expect(apdu.VerifyFailed(3), 0x20, 0x00, 0x80, nil)

	before := store.Saves()
	c.expect(apdu.VerifyFailed(2), 0x20, 0x00, 0x80, pad("000000"))
	if store.Saves() != before+1 {
		t.Fatalf("a wrong PIN was saved %d times, want once", store.Saves()-before)
	}
	c.verifyPIN(pivspec.DefaultPIN)
	if store.Saves() != before+3 {
		t.Fatalf("a right PIN was saved %d times, want twice (decrement, reset)", store.Saves()-before-1)
	}
	// A restored card has the counters the store has.
	r := openCard(t, emu.WithStateStore(store))
	r.selectPIV()
	r.expect(apdu.VerifyFailed(3), 0x20, 0x00, 0x80, nil)
}
