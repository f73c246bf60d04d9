package emu_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/unblockcode"
)

// offlineCard is a card whose management key is no longer the factory one,
// on a clock the test moves.
type offlineCard struct {
	*tcard
	mgm []byte
	mu  sync.Mutex
	now time.Time
}

func newOfflineCard(t *testing.T) *offlineCard {
	t.Helper()
	o := &offlineCard{mgm: bytes.Repeat([]byte{9}, 16), now: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)}
	o.tcard = newCard(t, emu.WithKeyStore(pooledKeys{}), emu.WithClock(func() time.Time { o.mu.Lock(); defer o.mu.Unlock(); return o.now }))
	o.authDefault()
	o.must(pivspec.InsSetManagementKey, 0xFF, 0xFF, append([]byte{byte(pivspec.AlgAES128), 0x9B, 16}, o.mgm...))
	// As the server does at issue: the offline key, derived from the
	// card's own management key, set in the management session.
	o.authenticate(pivspec.AlgAES128, o.mgm)
	if r := o.vendor(pivspec.InsSetOfflineKey, o.offlineKey()); r.SW != apdu.SWOK {
		t.Fatalf("SET OFFLINE KEY: %v", r.SW)
	}
	return o
}

func (o *offlineCard) offlineKey() []byte {
	o.tb.Helper()
	key, err := unblockcode.MACKey(o.mgm, strconv.FormatUint(uint64(o.card.Serial()), 10))
	if err != nil {
		o.tb.Fatal(err)
	}
	return key
}

func (o *offlineCard) advance(d time.Duration) { o.mu.Lock(); o.now = o.now.Add(d); o.mu.Unlock() }

func (o *offlineCard) vendor(ins byte, data []byte) apdu.Response {
	o.tb.Helper()
	r, err := o.client.Send(context.Background(), apdu.Command{CLA: pivspec.ClaLanyard, INS: ins, P1: 0x00, P2: 0x80, Data: data, Le: 256})
	if err != nil {
		o.tb.Fatal(err)
	}
	return r
}

// challenge reads the pending challenge's payload and seconds left.
func (o *offlineCard) challenge() (unblockcode.Payload, uint32) {
	o.tb.Helper()
	r := o.vendor(pivspec.InsGetUnblockChallenge, nil)
	if r.SW != apdu.SWOK {
		o.tb.Fatalf("GET UNBLOCK CHALLENGE: %v", r.SW)
	}
	tlvs, err := apdu.ParseTLVs(r.Data)
	ch, ok1 := apdu.Find(tlvs, pivspec.TagUnblockChallenge)
	left, ok2 := apdu.Find(tlvs, pivspec.TagUnblockSecondsLeft)
	if err != nil || !ok1 || !ok2 || len(ch.Value) != 9 || len(left.Value) != 4 {
		o.tb.Fatalf("GET UNBLOCK CHALLENGE answered % X", r.Data)
	}
	var p unblockcode.Payload
	copy(p[:], ch.Value)
	return p, binary.BigEndian.Uint32(left.Value)
}

// response is what the server computes, from the management key it
// derived and the serial it recorded.
func (o *offlineCard) response(ch unblockcode.Payload) unblockcode.Payload {
	serial := strconv.FormatUint(uint64(o.card.Serial()), 10)
	key, err := unblockcode.MACKey(o.mgm, serial)
	if err != nil {
		o.tb.Fatal(err)
	}
	return unblockcode.ResponseMAC(key, serial, ch)
}

func unblockData(counter uint16, r unblockcode.Payload, pin string) []byte {
	d := binary.BigEndian.AppendUint16(nil, counter)
	d = append(d, r[:]...)
	return append(d, pad(pin)...)
}

func (o *offlineCard) blockPIN() {
	o.tb.Helper()
	for range 3 {
		o.send(pivspec.InsVerify, 0x00, 0x80, pad("000000"))
	}
	o.expect(apdu.SWAuthBlocked, pivspec.InsVerify, 0x00, 0x80, nil)
}

func TestOfflineUnblock(t *testing.T) {
	o := newOfflineCard(t)
	o.blockPIN()
	ch, left := o.challenge()
	f := unblockcode.UnpackChallenge(ch)
	if f.Scheme != unblockcode.SchemeLanyardMAC || f.Counter != 1 || f.CardTag != unblockcode.CardTag(strconv.FormatUint(uint64(o.card.Serial()), 10)) {
		t.Fatalf("challenge fields %+v", f)
	}
	if left != uint32(emu.OfflineChallengeLifetime/time.Second) {
		t.Errorf("seconds left %d", left)
	}
	// Asked again (the tool run twice), the same challenge, a little older.
	o.advance(time.Minute)
	if again, left2 := o.challenge(); again != ch || left2 != left-60 {
		t.Fatalf("second read: %x (%d s), want %x", again, left2, ch)
	}
	if r := o.vendor(pivspec.InsUnblockWithResponse, unblockData(f.Counter, o.response(ch), "24681357")); r.SW != apdu.SWOK {
		t.Fatalf("unblock: %v", r.SW)
	}
	// The new PIN works, with every try back; the old one does not.
	o.expect(apdu.VerifyFailed(2), pivspec.InsVerify, 0x00, 0x80, pad(pivspec.DefaultPIN))
	o.must(pivspec.InsVerify, 0x00, 0x80, pad("24681357"))
	o.expect(apdu.SWOK, pivspec.InsVerify, 0x00, 0x80, nil)
	// The response was for one challenge: sending it again finds none.
	if r := o.vendor(pivspec.InsUnblockWithResponse, unblockData(f.Counter, o.response(ch), "11112222")); r.SW != apdu.SWConditionsNotSatisfied {
		t.Fatalf("replayed response: %v, want 6985", r.SW)
	}
	// The next challenge has the next counter.
	if next, _ := o.challenge(); unblockcode.UnpackChallenge(next).Counter != 2 || next == ch {
		t.Fatalf("next challenge %+v", unblockcode.UnpackChallenge(next))
	}
}

// Any attempt consumes the challenge: a wrong response leaves no second
// try, and a response for another challenge does not fit this one.
func TestOfflineUnblockWrongResponse(t *testing.T) {
	o := newOfflineCard(t)
	o.blockPIN()
	ch, _ := o.challenge()
	f := unblockcode.UnpackChallenge(ch)
	wrong := o.response(ch)
	wrong[8] ^= 1
	if r := o.vendor(pivspec.InsUnblockWithResponse, unblockData(f.Counter, wrong, "24681357")); r.SW != apdu.SWSecurityStatusNotSatisfied {
		t.Fatalf("wrong response: %v, want 6982", r.SW)
	}
	if r := o.vendor(pivspec.InsUnblockWithResponse, unblockData(f.Counter, o.response(ch), "24681357")); r.SW != apdu.SWConditionsNotSatisfied {
		t.Fatalf("right response after a wrong one: %v, want 6985 (challenge consumed)", r.SW)
	}
	o.expect(apdu.SWAuthBlocked, pivspec.InsVerify, 0x00, 0x80, nil)
	// A new challenge; the old challenge's response does not fit it.
	ch2, _ := o.challenge()
	f2 := unblockcode.UnpackChallenge(ch2)
	if r := o.vendor(pivspec.InsUnblockWithResponse, unblockData(f2.Counter, o.response(ch), "24681357")); r.SW != apdu.SWSecurityStatusNotSatisfied {
		t.Fatalf("another challenge's response: %v, want 6982", r.SW)
	}
	o.expect(apdu.SWAuthBlocked, pivspec.InsVerify, 0x00, 0x80, nil)
}

func TestOfflineUnblockRefusals(t *testing.T) {
	t.Run("own management key but no offline key", func(t *testing.T) {
		// A card whose management key someone else may know (a card
		// type's default, or the factory bytes under another algorithm)
		// is never unblocked offline: only the server's key enables it.
		c := newCard(t, emu.WithKeyStore(pooledKeys{}))
		c.authDefault()
		c.must(pivspec.InsSetManagementKey, 0xFF, 0xFF, append([]byte{byte(pivspec.AlgAES192), 0x9B, 24}, pivspec.DefaultManagementKey()...))
		r, err := c.client.Send(context.Background(), apdu.Command{CLA: pivspec.ClaLanyard, INS: pivspec.InsGetUnblockChallenge, P2: 0x80, Le: 256})
		if err != nil || r.SW != apdu.SWConditionsNotSatisfied {
			t.Fatalf("challenge from a card without an offline key: %v %v, want 6985", r.SW, err)
		}
		// Setting the key needs the management key authenticated.
		c.selectPIV()
		r, err = c.client.Send(context.Background(), apdu.Command{CLA: pivspec.ClaLanyard, INS: pivspec.InsSetOfflineKey, P2: 0x80, Data: make([]byte, 32)})
		if err != nil || r.SW != apdu.SWSecurityStatusNotSatisfied {
			t.Fatalf("SET OFFLINE KEY unauthenticated: %v %v, want 6982", r.SW, err)
		}
	})
	t.Run("factory management key", func(t *testing.T) {
		c := newCard(t, emu.WithKeyStore(pooledKeys{}))
		r, err := c.client.Send(context.Background(), apdu.Command{CLA: pivspec.ClaLanyard, INS: pivspec.InsGetUnblockChallenge, P2: 0x80, Le: 256})
		if err != nil || r.SW != apdu.SWConditionsNotSatisfied {
			t.Fatalf("challenge from a card on the factory key: %v %v, want 6985", r.SW, err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		o := newOfflineCard(t)
		o.blockPIN()
		ch, _ := o.challenge()
		o.advance(emu.OfflineChallengeLifetime)
		f := unblockcode.UnpackChallenge(ch)
		if r := o.vendor(pivspec.InsUnblockWithResponse, unblockData(f.Counter, o.response(ch), "24681357")); r.SW != apdu.SWConditionsNotSatisfied {
			t.Fatalf("expired challenge: %v, want 6985", r.SW)
		}
		if next, _ := o.challenge(); next == ch {
			t.Fatal("an expired challenge is shown again")
		}
	})
	t.Run("bad data consumes nothing", func(t *testing.T) {
		o := newOfflineCard(t)
		o.blockPIN()
		ch, _ := o.challenge()
		f := unblockcode.UnpackChallenge(ch)
		for name, d := range map[string][]byte{
			"short":         unblockData(f.Counter, o.response(ch), "24681357")[:18],
			"PIN too short": unblockData(f.Counter, o.response(ch), "123"),
			"wide payload":  func() []byte { d := unblockData(f.Counter, o.response(ch), "24681357"); d[2] |= 0x80; return d }(),
		} {
			if r := o.vendor(pivspec.InsUnblockWithResponse, d); r.SW != apdu.SWWrongLength && r.SW != apdu.SWIncorrectData {
				t.Errorf("%s: %v", name, r.SW)
			}
		}
		if r := o.vendor(pivspec.InsUnblockWithResponse, unblockData(f.Counter+1, o.response(ch), "24681357")); r.SW != apdu.SWConditionsNotSatisfied {
			t.Errorf("wrong counter: %v, want 6985", r.SW)
		}
		// Still pending: the right response works.
		if r := o.vendor(pivspec.InsUnblockWithResponse, unblockData(f.Counter, o.response(ch), "24681357")); r.SW != apdu.SWOK {
			t.Fatalf("right response after refused bad data: %v", r.SW)
		}
	})
	t.Run("other instructions and classes", func(t *testing.T) {
		o := newOfflineCard(t)
		if r := o.vendor(0x99, nil); r.SW != apdu.SWInstructionNotSupported {
			t.Errorf("unknown vendor INS: %v, want 6D00", r.SW)
		}
		r, _ := o.client.Send(context.Background(), apdu.Command{CLA: 0xA0, INS: pivspec.InsGetUnblockChallenge, P2: 0x80, Le: 256})
		if r.SW != apdu.SWClassNotSupported {
			t.Errorf("class A0: %v, want 6E00", r.SW)
		}
	})
}

// A card made WithoutLanyardExtensions answers every class-80 command as
// a YubiKey does (6E00), so the tool and the server take it for a standard
// PIV card; the standard instructions still work (RESET RETRY COUNTER).
func TestWithoutLanyardExtensions(t *testing.T) {
	c := newCard(t, emu.WithKeyStore(pooledKeys{}), emu.WithoutLanyardExtensions())
	c.authDefault()
	for _, ins := range []byte{pivspec.InsGetUnblockChallenge, pivspec.InsUnblockWithResponse, pivspec.InsSetOfflineKey, 0x00} {
		r, err := c.client.Send(context.Background(), apdu.Command{CLA: pivspec.ClaLanyard, INS: ins, P2: 0x80, Data: make([]byte, 32), Le: 256})
		if err != nil {
			t.Fatal(err)
		}
		if r.SW != apdu.SWClassNotSupported {
			t.Errorf("80 %02X: %v, want 6E00", ins, r.SW)
		}
	}
	for range 3 {
		c.send(pivspec.InsVerify, 0x00, 0x80, pad("999999"))
	}
	c.must(pivspec.InsResetRetry, 0x00, 0x80, append(pad(pivspec.DefaultPUK), pad("24681357")...))
	c.verifyPIN("24681357")
}
