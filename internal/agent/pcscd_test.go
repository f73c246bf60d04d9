//go:build integration

package agent_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/agenthub"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/vpcd"
	"github.com/lanyard-cms/lanyard/internal/card/vpcd/vpcdtest"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestAgentThroughPCSCD is the agent as it runs on a workstation: PC/SC
// through the machine's pcscd, an emulated card attached to vpcd. The
// server sees the card arrive with its ATR and serial and leave, each
// within about a second, and relays PIV commands to it; a card pulled
// mid-session fails the session with ErrCardRemoved.
func TestAgentThroughPCSCD(t *testing.T) {
	addr := vpcdtest.Addr(t)
	vpcdtest.Lock(t, addr)
	_, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)

	s := startServer(t)
	readers, err := agent.NewPCSCReaders()
	if err != nil {
		t.Fatal(err)
	}
	defer readers.Close()
	_, id := pairAgent(t, s, s.admin, t.TempDir(), readers)
	st := waitState(t, s.Hub, id, "listing the vpcd readers", func(st lanyard.WorkstationState) bool {
		names := make([]string, len(st.Readers))
		for i, r := range st.Readers {
			names[i] = r.Name
		}
		_, ok := vpcdtest.Reader(names, port)
		return ok
	})
	names := make([]string, len(st.Readers))
	for i, r := range st.Readers {
		names[i] = r.Name
	}
	name, _ := vpcdtest.Reader(names, port)

	card := newCard(t)
	cardCtx, pull := context.WithCancel(context.Background())
	defer pull()
	inserted := time.Now()
	sess, err := vpcd.Start(cardCtx, addr, card)
	if err != nil {
		t.Fatal(err)
	}
	st = waitState(t, s.Hub, id, "showing the card", func(st lanyard.WorkstationState) bool { return reader(st, name).Present })
	t.Logf("insert reached the server after %v", time.Since(inserted))
	if d := time.Since(inserted); d > 3*time.Second { // pcscd polls vpcd about every 0.45 s
		t.Errorf("insert took %v to reach the server", d)
	}
	if r := reader(st, name); !bytes.Equal(r.ATR, card.ATR()) {
		t.Errorf("ATR %X, want %X", r.ATR, card.ATR())
	}
	waitState(t, s.Hub, id, "showing the serial", func(st lanyard.WorkstationState) bool { return reader(st, name).Serial == serialOf(card) })

	ctx := context.Background()
	relay, err := s.Hub.Open(ctx, id, name)
	if err != nil {
		t.Fatal(err)
	}
	pc, _ := piv.New(relay, piv.Config{Rand: rand.Reader})
	if _, err := pc.Select(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := pc.Serial(ctx); err != nil || n != card.Serial() {
		t.Fatalf("Serial through pcscd and the relay = %d, %v; want %d", n, err, card.Serial())
	}
	_, err = s.Hub.Open(ctx, id, name)
	wantErr(t, "a second session", err, agenthub.ErrCardBusy)

	removed := time.Now()
	pull()
	<-sess.Done()
	waitState(t, s.Hub, id, "seeing the removal", func(st lanyard.WorkstationState) bool { return !reader(st, name).Present })
	t.Logf("removal reached the server after %v", time.Since(removed))
	if d := time.Since(removed); d > 3*time.Second {
		t.Errorf("removal took %v to reach the server", d)
	}
	_, err = relay.Transmit(ctx, []byte{0, 0xA4, 4, 0})
	wantErr(t, "transmit after the card was pulled", err, agenthub.ErrCardRemoved)
	relay.Close()
}
