package agenthub

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
)

// closedSession is an AirCard session that notes its Close.
type closedSession struct{ closed atomic.Bool }

func (s *closedSession) Transmit(context.Context, []byte) ([]byte, error) { return nil, nil }
func (s *closedSession) Close() error                                     { s.closed.Store(true); return nil }

// The recheck ends an open AirCard session whose computer was removed
// from the AirCard, or whose AirCard was disabled, without a notice
// reaching this replica (the notice lost); the session on an AirCard
// still allowed stays open.
func TestRecheckEndsAirCardSessionsNoLongerAllowed(t *testing.T) {
	s := servicetest.New(t, servicetest.Options{})
	ctx := t.Context()
	now := time.Now()
	ws := &lanyard.Workstation{Name: "laptop", Status: lanyard.WorkstationActive, Role: lanyard.RoleWorkstation, OwnerID: s.Admin.User.ID, CreatedAt: now}
	cards := map[string]*lanyard.Card{}
	if err := s.Store.Update(ctx, func(tx lanyard.Tx) error {
		if err := tx.CreateWorkstation(ws); err != nil {
			return err
		}
		for _, serial := range []string{"KEPT", "REMOVED", "DISABLED"} {
			c := &lanyard.Card{Serial: serial, CardType: "aircard", OwnerID: s.Admin.User.ID, State: lanyard.CardIssued, CreatedAt: now, UpdatedAt: now}
			if err := tx.CreateCard(c); err != nil {
				return err
			}
			if err := tx.AddAirCardComputer(&lanyard.AirCardComputer{CardID: c.ID, WorkstationID: ws.ID, AddedBy: "test", AddedAt: now}); err != nil {
				return err
			}
			cards[serial] = c
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	h := New(Config{Workstations: s.Service.Workstations})
	defer h.Close()
	a, b := net.Pipe()
	defer b.Close()
	pc := agentproto.NewConn(a, nil, 0)
	defer pc.Close()
	c := newAgentConn(h, ws, pc)
	sessions := map[string]*closedSession{}
	for i, serial := range []string{"KEPT", "REMOVED", "DISABLED"} {
		sessions[serial] = &closedSession{}
		c.air[uint64(i+1)] = &airSession{serial: serial, sess: sessions[serial]}
	}
	h.mu.Lock()
	h.conns[ws.ID] = c
	h.mu.Unlock()

	// Changed in the store only: no notice, as if it were lost.
	if err := s.Store.Update(ctx, func(tx lanyard.Tx) error {
		if err := tx.RemoveAirCardComputer(cards["REMOVED"].ID, ws.ID); err != nil {
			return err
		}
		d := cards["DISABLED"]
		d.State = lanyard.CardDisabled
		return tx.UpdateCard(d)
	}); err != nil {
		t.Fatal(err)
	}
	h.recheck(ctx)
	for serial, want := range map[string]bool{"KEPT": false, "REMOVED": true, "DISABLED": true} {
		if got := sessions[serial].closed.Load(); got != want {
			t.Errorf("session on %s closed: %v, want %v", serial, got, want)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.air) != 1 || c.air[1] == nil || c.air[1].serial != "KEPT" {
		t.Errorf("sessions left: %v", c.air)
	}
}
