package agenthub

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Cluster is what the hub asks of the other replicas of a cluster
// (internal/cluster implements it; docs/architecture.md, "Cluster"). The
// hub stays per process: it holds the connections made to this replica,
// and tells the cluster about them so requests arriving elsewhere find
// them.
type Cluster interface {
	// AgentConnected records that workstation id's agent (or AirCard
	// service) is connected here; release, called when that connection
	// ends, removes the record if no newer connection replaced it.
	AgentConnected(id int64) (release func())
	// AirServicesChanged tells the other replicas that an AirCard
	// service connected here or left, so they send their workstations'
	// AirCard lists again (PushAllAirCards on each).
	AirServicesChanged()
	// OpenAirCard opens a session for workstation wsID on the AirCard
	// with serial at the replica holding its AirCard service; the call
	// fails with EUnavailable when no replica holds one. The replica
	// checks that the workstation may use the AirCard, again.
	OpenAirCard(ctx context.Context, wsID int64, serial string) (lanyard.CardSession, error)
	// AirCardsElsewhere returns, of serials, those AirCard services on
	// other replicas host, and how many such services are connected.
	AirCardsElsewhere(ctx context.Context, serials []string) (hosted map[string]bool, services int)
	// Unblock has replica run a workstation's online unblock
	// (UnblockAt), when the card is connected there: this replica
	// admitted the workstation by its certificate.
	Unblock(ctx context.Context, replica string, ws *lanyard.Workstation, in agentproto.Unblock) (*agentproto.Unblocked, error)
}

// clusterBox holds the Cluster set with SetCluster.
type clusterBox struct{ c Cluster }

// SetCluster joins the hub to a cluster; without it the hub serves this
// process alone. Set it before the agent listener starts.
func (h *Hub) SetCluster(c Cluster) { h.cluster.Store(&clusterBox{c}) }

func (h *Hub) clusterOf() Cluster {
	if b := h.cluster.Load(); b != nil {
		return b.c
	}
	return nil
}

// OpenAirCardFor is the AirCard session another replica asks for on
// behalf of workstation wsID connected there (Cluster.OpenAirCard): the
// allowed-computer check, then a session on the AirCard service
// connected here that hosts serial.
func (h *Hub) OpenAirCardFor(ctx context.Context, wsID int64, serial string) (lanyard.CardSession, error) {
	if err := h.ws.AirCardAllowed(ctx, wsID, serial); err != nil {
		h.log.Warn("a workstation on another replica was refused an AirCard", "workstation", wsID, "serial", serial, "err", err)
		return nil, err
	}
	svc, reader, ok := h.airService(serial)
	if !ok {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "the AirCard service holding AirCard %s is not connected", serial)
	}
	s, err := h.Open(ctx, svc.id, reader)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// PushAllAirCards sends every workstation connected here its AirCard
// list again: an AirCard service connected to or left another replica.
func (h *Hub) PushAllAirCards() { go h.pushAllAirCards() }

// Connected reports whether workstation id's agent is connected here.
func (h *Hub) Connected(id int64) bool { return h.live(id) != nil }

// Counts counts the agents connected here: workstations and AirCard
// services (the operators' view of the cluster, GET /api/v1/replicas).
func (h *Hub) Counts() (workstations, airCardServices int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		if c.role == lanyard.RoleAirCardService {
			airCardServices++
		} else {
			workstations++
		}
	}
	return workstations, airCardServices
}

// UnblockAt runs the online unblock of workstation ws, which another
// replica admitted, here, where its card is connected
// (Cluster.Unblock).
func (h *Hub) UnblockAt(ctx context.Context, ws *lanyard.Workstation, in agentproto.Unblock) (*agentproto.Unblocked, error) {
	box := h.unblocker.Load()
	if box == nil {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "this server does not unblock cards from workstations")
	}
	return box.u.Unblock(ctx, ws, in)
}
