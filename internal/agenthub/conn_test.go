package agenthub

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// An agent's reader list is bounded in total, not only per message: a
// change that would take it past MaxReaders is refused (the connection
// then ends), one to readers already known is not.
func TestReaderDeltasAreBounded(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	pc := agentproto.NewConn(a, nil, 0)
	defer pc.Close()
	c := newAgentConn(New(Config{}), &lanyard.Workstation{ID: 1, Name: "pc"}, pc)
	batch := func(from, n int) []agentproto.Reader {
		rs := make([]agentproto.Reader, n)
		for i := range rs {
			rs[i] = agentproto.Reader{Name: fmt.Sprintf("r%d", from+i)}
		}
		return rs
	}
	if err := c.update(batch(0, agentproto.MaxReaders), nil, true); err != nil {
		t.Fatalf("a full snapshot: %v", err)
	}
	if err := c.update(batch(0, 10), nil, false); err != nil {
		t.Fatalf("changing known readers: %v", err)
	}
	if err := c.update(batch(agentproto.MaxReaders, 1), nil, false); err == nil {
		t.Fatal("a reader past MaxReaders was accepted")
	}
	if len(c.readers) != agentproto.MaxReaders {
		t.Fatalf("%d readers kept, want %d", len(c.readers), agentproto.MaxReaders)
	}
}

// DestroyVirtual goes only to agents whose hello offers the destroy
// feature (an older agent would drop the connection on a message type it
// does not know), and an agent's refusal keeps its own words.
func TestDestroyVirtualNeedsTheFeature(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	pc := agentproto.NewConn(a, nil, 0)
	defer pc.Close()
	h := New(Config{})
	c := newAgentConn(h, &lanyard.Workstation{ID: 1, Name: "old-pc"}, pc)
	h.mu.Lock()
	h.conns[1] = c
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if err := c.handle(&agentproto.Message{Type: agentproto.TypeHello, Version: "0.1", Hostname: "old-pc"}); err != nil {
		t.Fatal(err)
	}
	err := h.DestroyVirtual(ctx, 1, "7")
	if !lanyard.IsCode(err, lanyard.EUnavailable) || !strings.Contains(err.Error(), "too old to remove virtual cards") {
		t.Fatalf("destroy at an agent without the feature: %v", err)
	}

	if err := c.handle(&agentproto.Message{Type: agentproto.TypeHello, Version: "0.2", Hostname: "old-pc", Features: []string{agentproto.FeatureDestroy}}); err != nil {
		t.Fatal(err)
	}
	sent := make(chan *agentproto.Message, 1)
	go func() {
		m, err := agentproto.ReadFrame(b)
		if err != nil {
			close(sent)
			return
		}
		sent <- m
		c.handle(&agentproto.Message{Type: agentproto.TypeReply, ID: m.ID, Error: &agentproto.Error{Code: agentproto.ErrCodeNoReader, Message: "agent: no virtual card 7"}})
	}()
	err = h.DestroyVirtual(ctx, 1, "7")
	if m := <-sent; m == nil || m.Type != agentproto.TypeDestroy || m.Serial != "7" {
		t.Fatalf("the agent got %+v, want destroy of 7", m)
	}
	if !errors.Is(err, ErrNoReader) || !strings.Contains(err.Error(), "no virtual card 7") {
		t.Fatalf("an agent's refusal: %v", err)
	}
}

// Cards that arrive are queued for the card workflows (Arrivals) without
// ever blocking the connection that reports them: past the queue's bound
// they are dropped, to be handled at their next arrival.
func TestArrivalsNeverBlock(t *testing.T) {
	h := New(Config{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range arrivalQueue + 10 {
			h.cardSeen(1, lanyard.Reader{Name: "r", Present: true, Serial: fmt.Sprint(i)}, false)
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("queuing an arrival blocked")
	}
	if n := len(h.Arrivals()); n != arrivalQueue {
		t.Fatalf("%d arrivals queued, want %d", n, arrivalQueue)
	}
	if a := <-h.Arrivals(); a.WorkstationID != 1 || a.Reader.Serial != "0" {
		t.Fatalf("first arrival %+v, want workstation 1, serial 0", a)
	}
}
