package agent_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
)

// A connection to an attached virtual card outlives its reader: once the
// card is detached (an AirCard whose service went away) the connection
// answers "card removed" and closes cleanly. It used to dereference the
// vanished reader and crash the agent.
func TestMemReadersDetachedUnderConnection(t *testing.T) {
	m := agent.NewMemReaders()
	card, err := emu.New()
	if err != nil {
		t.Fatal(err)
	}
	ctx, detach := context.WithCancel(context.Background())
	if err := m.Attach(ctx, card); err != nil {
		t.Fatal(err)
	}
	c, err := m.Connect("Lanyard virtual 0", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Transmit(context.Background(), []byte{0, 0xA4, 4, 0}); err != nil {
		t.Fatalf("before the detach: %v", err)
	}
	detach()
	for m.Free() != 16 { // the detach runs after the context ends
		time.Sleep(time.Millisecond)
	}
	if _, err := c.Transmit(context.Background(), []byte{0, 0xA4, 4, 0}); !errors.Is(err, agent.ErrCardRemoved) {
		t.Errorf("after the detach: %v, want ErrCardRemoved", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close after the detach: %v", err)
	}
	if _, err := m.Connect("Lanyard virtual 0", false); !errors.Is(err, agent.ErrNoReader) {
		t.Errorf("the detached reader still connects: %v", err)
	}
}
