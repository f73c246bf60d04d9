//go:build integration

package pcsc

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/vpcd"
	"github.com/lanyard-cms/lanyard/internal/card/vpcd/vpcdtest"
)

// echoCard is a minimal virtual card: it answers every APDU with its
// command's INS byte followed by 9000, and records what it got.
type echoCard struct {
	mu   sync.Mutex
	seen [][]byte
}

// echoATR is a T=1 ATR (TD1 announces T=1 in TD2) with historical bytes
// "pcsctest" and its check byte.
var echoATR = func() []byte {
	atr := append([]byte{0x3B, 0x88, 0x80, 0x01}, "pcsctest"...)
	var x byte
	for _, b := range atr[1:] {
		x ^= b
	}
	return append(atr, x)
}()

func (c *echoCard) ATR() []byte { return echoATR }
func (c *echoCard) PowerOff()   {}
func (c *echoCard) PowerOn()    {}
func (c *echoCard) Reset()      {}
func (c *echoCard) Transmit(apdu []byte) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seen = append(c.seen, bytes.Clone(apdu))
	if len(apdu) < 4 {
		return []byte{0x67, 0x00}
	}
	return []byte{apdu[1], 0x90, 0x00}
}

// TestRealPCSCD attaches a virtual card to the real pcscd (started by
// scripts/pcscd-test.sh) and checks, through this package only, that the
// watcher sees it arrive with its ATR and leave, that APDUs reach it, and
// that exclusive access keeps a second connection out.
func TestRealPCSCD(t *testing.T) {
	addr := vpcdtest.Addr(t)
	vpcdtest.Lock(t, addr)
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)

	pc, err := Establish()
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Release()
	names, err := pc.Readers()
	if err != nil {
		t.Fatal(err)
	}
	reader, ok := vpcdtest.Reader(names, port)
	if !ok {
		t.Fatalf("no vpcd reader for port %d among %q", port, names)
	}

	events := make(chan Event, 100)
	watchCtx, stopWatch := context.WithCancel(context.Background())
	watchDone := make(chan error, 1)
	go func() { watchDone <- pc.Watch(watchCtx, func(ev Event) { events <- ev }) }()
	defer func() {
		stopWatch()
		if err := <-watchDone; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Watch: %v", err)
		}
	}()
	// The initial state: the slot is empty.
	waitEvent(t, events, reader, false, 5*time.Second)

	card := &echoCard{}
	cardCtx, removeCard := context.WithCancel(context.Background())
	sess, err := vpcd.Start(cardCtx, addr, card)
	if err != nil {
		t.Fatal(err)
	}
	inserted := time.Now()
	ev := waitEvent(t, events, reader, true, 5*time.Second)
	t.Logf("insert seen after %v", time.Since(inserted))
	if !bytes.Equal(ev.ATR, echoATR) {
		t.Fatalf("ATR %X, want %X", ev.ATR, echoATR)
	}

	k, err := pc.Connect(reader, false)
	if err != nil {
		t.Fatal(err)
	}
	atr, err := k.ATR()
	if err != nil || !bytes.Equal(atr, echoATR) {
		t.Fatalf("Card.ATR = %X, %v", atr, err)
	}
	ctx := context.Background()
	resp, err := k.Transmit(ctx, []byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08})
	if err != nil || !bytes.Equal(resp, []byte{0xA4, 0x90, 0x00}) {
		t.Fatalf("Transmit = %X, %v", resp, err)
	}
	// While a shared connection is open, nobody gets the card exclusively.
	if _, err := pc.Connect(reader, true); !errors.Is(err, ErrSharing) {
		t.Errorf("exclusive connect beside a shared one: %v, want ErrSharing", err)
	}
	// A transaction runs its commands (pcsc-lite makes other clients wait
	// for its end rather than fail, so there is nothing to refuse here).
	err = k.Transaction(ctx, func(ctx context.Context) error {
		_, err := k.Transmit(ctx, []byte{0x00, 0xCA, 0x00, 0x00})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	k.Close()
	// An exclusive connection keeps shared ones out until it closes.
	ex, err := pc.Connect(reader, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.Connect(reader, false); !errors.Is(err, ErrSharing) {
		t.Errorf("shared connect while held exclusively: %v, want ErrSharing", err)
	}
	ex.Close()

	card.mu.Lock()
	if len(card.seen) < 2 || card.seen[0][1] != 0xA4 {
		t.Errorf("card saw %X", card.seen)
	}
	card.mu.Unlock()

	removed := time.Now()
	removeCard()
	<-sess.Done()
	waitEvent(t, events, reader, false, 5*time.Second)
	t.Logf("removal seen after %v", time.Since(removed))
	if _, err := pc.Connect(reader, false); !errors.Is(err, ErrNoCard) {
		t.Errorf("connect to the empty reader: %v, want ErrNoCard", err)
	}
}

func waitEvent(t *testing.T, events <-chan Event, reader string, present bool, within time.Duration) Event {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev := <-events:
			if ev.Reader == reader && ev.Present == present && !ev.Gone {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event for %q within %v", map[bool]string{true: "insert", false: "remove"}[present], reader, within)
		}
	}
}
