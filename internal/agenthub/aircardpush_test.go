package agenthub

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// airLists gives each workstation one AirCard of its own (the
// Workstations capability's AirCardsFor); the other methods are not used.
type airLists struct{ Workstations }

func (airLists) AirCardsFor(_ context.Context, id int64) ([]*lanyard.Card, error) {
	return []*lanyard.Card{{Serial: fmt.Sprintf("air-%d", id), Name: "Air"}}, nil
}

// remoteAir is the cluster as the hub sees it: AirCard services on
// another replica hosting every AirCard asked of it, asked how often.
type remoteAir struct {
	Cluster
	mu    sync.Mutex
	calls [][]string
}

func (r *remoteAir) AirCardsElsewhere(_ context.Context, serials []string) (map[string]bool, int) {
	r.mu.Lock()
	r.calls = append(r.calls, slices.Clone(serials))
	r.mu.Unlock()
	hosted := map[string]bool{}
	for _, s := range serials {
		hosted[s] = true
	}
	return hosted, 1
}

// TestPushAllAirCardsAsksOtherReplicasOnce: an AirCard service joining
// another replica makes this one send every workstation its list again;
// what that replica's services host is asked once for all of them, and
// each workstation still gets its own AirCard.
func TestPushAllAirCardsAsksOtherReplicasOnce(t *testing.T) {
	h := New(Config{Workstations: airLists{}})
	cl := &remoteAir{}
	h.SetCluster(cl)
	const n = 20
	got := make(chan *agentproto.Message, n)
	for id := int64(1); id <= n; id++ {
		a, b := net.Pipe()
		pc := agentproto.NewConn(a, nil, 0)
		peer := agentproto.NewConn(b, nil, 0)
		t.Cleanup(func() { pc.Close(); peer.Close() })
		go func() {
			m, err := peer.Recv()
			if err == nil {
				got <- m
			}
			io.Copy(io.Discard, b)
		}()
		c := newAgentConn(h, &lanyard.Workstation{ID: id, Name: fmt.Sprintf("pc-%d", id), Role: lanyard.RoleWorkstation}, pc)
		h.mu.Lock()
		h.conns[id] = c
		h.mu.Unlock()
	}
	h.pushAllAirCards()
	seen := map[string]bool{}
	for range n {
		select {
		case m := <-got:
			if m.Type != agentproto.TypeAirCards || len(m.AirCards) != 1 || !m.ServiceOnline {
				t.Fatalf("a workstation got %+v", m)
			}
			seen[m.AirCards[0].Serial] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("%d of %d workstations got their list", len(seen), n)
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct AirCards sent, want %d", len(seen), n)
	}
	if len(cl.calls) != 1 || len(cl.calls[0]) != n {
		t.Errorf("the other replicas were asked %d times (%v), want once for all %d AirCards", len(cl.calls), cl.calls, n)
	}
}
