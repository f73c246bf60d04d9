package agent_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// gatedReaders are MemReaders whose card in reader slow, once armed,
// holds every APDU until the gate opens: a card busy for a long time, as
// a real one generating an RSA key.
type gatedReaders struct {
	*agent.MemReaders
	slow  string
	armed atomic.Bool
	gate  chan struct{}
}

func (g *gatedReaders) Connect(reader string, exclusive bool) (agent.Card, error) {
	c, err := g.MemReaders.Connect(reader, exclusive)
	if err != nil || reader != g.slow {
		return c, err
	}
	return gatedCard{c, g}, nil
}

type gatedCard struct {
	agent.Card
	g *gatedReaders
}

func (c gatedCard) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if c.g.armed.Load() {
		select {
		case <-c.g.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return c.Card.Transmit(ctx, cmd)
}

// TestRelaySlowCardDoesNotBlockOthers: while one card takes its time over
// an APDU, the agent relays APDUs for its other cards.
func TestRelaySlowCardDoesNotBlockOthers(t *testing.T) {
	s := startServer(t)
	mem := agent.NewMemReaders("Fast", "Slow")
	fastCard, slowCard := newCard(t), newCard(t)
	if err := mem.Insert("Fast", fastCard); err != nil {
		t.Fatal(err)
	}
	if err := mem.Insert("Slow", slowCard); err != nil {
		t.Fatal(err)
	}
	g := &gatedReaders{MemReaders: mem, slow: "Slow", gate: make(chan struct{})}
	_, id := pairAgent(t, s, s.admin, t.TempDir(), g)
	waitState(t, s.Hub, id, "showing both serials", func(st lanyard.WorkstationState) bool {
		return reader(st, "Fast").Serial == serialOf(fastCard) && reader(st, "Slow").Serial == serialOf(slowCard)
	})
	ctx := context.Background()
	fast, err := s.Hub.Open(ctx, id, "Fast")
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	slow, err := s.Hub.Open(ctx, id, "Slow")
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()

	g.armed.Store(true)
	slowDone := make(chan error, 1)
	go func() {
		_, err := slow.Transmit(ctx, getVersion)
		slowDone <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the slow APDU reach the agent
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for range 3 {
		if r, err := fast.Transmit(tctx, getVersion); err != nil || len(r) < 2 {
			t.Fatalf("APDU to the other card while one card is busy: % X, %v", r, err)
		}
	}
	select {
	case err := <-slowDone:
		t.Fatalf("the slow card answered before its gate opened: %v", err)
	default:
	}
	close(g.gate)
	if err := <-slowDone; err != nil {
		t.Fatalf("the slow card's APDU: %v", err)
	}
}

// getVersion is the Yubico GET VERSION command, which the emulator answers
// without a selected application.
var getVersion = []byte{0x00, 0xFD, 0x00, 0x00}
