package agenthub

import (
	"net"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
)

// A workstation revoked while its agent connects — admitted
// (AgentConnected) before the revocation committed, its connection
// registered only after the notice arrived — loses the connection at
// once, not at the next recheck.
func TestRevokedWhileConnecting(t *testing.T) {
	s := servicetest.New(t, servicetest.Options{})
	ctx := t.Context()
	ws := &lanyard.Workstation{Name: "pc", Status: lanyard.WorkstationActive, OwnerID: s.Admin.User.ID, CreatedAt: time.Now()}
	if err := s.Store.Update(ctx, func(tx lanyard.Tx) error { return tx.CreateWorkstation(ws) }); err != nil {
		t.Fatal(err)
	}
	h := New(Config{Workstations: s.Service.Workstations})
	defer h.Close()
	defer h.Follow(s.Store.Notices())()

	admitted := *ws // as AgentConnected read it, before the revocation
	if _, err := s.Service.Workstations.RevokeWorkstation(ctx, s.Admin, ws.ID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.mu.Lock()
		_, heard := h.revoked[ws.ID]
		h.mu.Unlock()
		if heard {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the revocation notice did not arrive")
		}
		time.Sleep(5 * time.Millisecond)
	}

	a, b := net.Pipe()
	defer b.Close()
	go func() { // the agent's side: read whatever comes
		buf := make([]byte, 4096)
		for {
			if _, err := b.Read(buf); err != nil {
				return
			}
		}
	}()
	pc := agentproto.NewConn(a, nil, 0)
	go newAgentConn(h, &admitted, pc).serve(ctx)
	select {
	case <-pc.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the revoked workstation's connection stayed open")
	}
}
