package agenthub

import (
	"fmt"
	"net"
	"testing"

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
