package agenthub

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// CardAccess presents the hub to the service's card workflows
// (lanyard.CardAccess): the live inventory and relay sessions.
func (h *Hub) CardAccess() lanyard.CardAccess { return cardAccess{h} }

type cardAccess struct{ h *Hub }

func (a cardAccess) Workstations(ownerID int64) []lanyard.WorkstationState {
	return a.h.StatesOf(ownerID)
}

func (a cardAccess) AirCardServices(serials []string) []lanyard.WorkstationState {
	return a.h.AirCardServices(serials)
}

func (a cardAccess) WorkstationState(id int64) (lanyard.WorkstationState, bool) {
	st, ok := a.h.State(id)
	if !ok {
		return lanyard.WorkstationState{}, false
	}
	return st, true
}

// reader is the agent's report of a reader (the wire) as the domain's.
func reader(r agentproto.Reader) lanyard.Reader {
	return lanyard.Reader{Name: r.Name, Present: r.Present, ATR: r.ATR, Serial: r.Serial, PIN: pinState(r.PIN)}
}

// pinState is the PIN status an agent read (the wire) as the domain's;
// nil when the agent reported none.
func pinState(p *agentproto.PINStatus) *lanyard.PINState {
	if p == nil {
		return nil
	}
	return &lanyard.PINState{TriesLeft: p.Left, TriesTotal: p.Total, PUKTriesLeft: p.PUKLeft}
}

// samePINState reports that a and b say the same.
func samePINState(a, b *lanyard.PINState) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// tpmState is the agent's TPM check (the wire) as the domain's; nil when
// the agent reported none.
func tpmState(t *agentproto.TPMStatus) *lanyard.TPMState {
	if t == nil {
		return nil
	}
	return &lanyard.TPMState{Usable: t.Usable, Reason: t.Reason, Manufacturer: t.Manufacturer, Kind: t.Kind}
}

func (a cardAccess) Open(ctx context.Context, workstationID int64, reader string) (lanyard.CardSession, error) {
	s, err := a.h.Open(ctx, workstationID, reader)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (a cardAccess) CreateVirtual(ctx context.Context, workstationID int64, kind lanyard.CardKind) (lanyard.Reader, error) {
	return a.h.CreateVirtual(ctx, workstationID, string(kind))
}

func (a cardAccess) AirCardsChanged(workstationIDs ...int64) { a.h.AirCardsChanged(workstationIDs...) }

func (a cardAccess) DestroyVirtual(ctx context.Context, workstationID int64, serial string) error {
	return a.h.DestroyVirtual(ctx, workstationID, serial)
}
