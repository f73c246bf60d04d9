package agenthub

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service"
)

// CardAccess presents the hub to the service's card workflows
// (service.CardAccess): the live inventory and relay sessions.
func (h *Hub) CardAccess() service.CardAccess { return cardAccess{h} }

type cardAccess struct{ h *Hub }

func (a cardAccess) Workstations(ownerID int64) []service.WorkstationState {
	states := a.h.StatesOf(ownerID)
	out := make([]service.WorkstationState, 0, len(states))
	for _, st := range states {
		out = append(out, serviceState(st))
	}
	return out
}

func (a cardAccess) AirCardServices(serials []string) []service.WorkstationState {
	states := a.h.AirCardServices(serials)
	out := make([]service.WorkstationState, 0, len(states))
	for _, st := range states {
		out = append(out, serviceState(st))
	}
	return out
}

func (a cardAccess) WorkstationState(id int64) (service.WorkstationState, bool) {
	st, ok := a.h.State(id)
	if !ok {
		return service.WorkstationState{}, false
	}
	return serviceState(st), true
}

func serviceState(st WorkstationState) service.WorkstationState {
	ws := service.WorkstationState{ID: st.WorkstationID, Name: st.Name, OwnerID: st.OwnerID, Role: st.Role, Online: st.Online, VirtualSlots: st.VirtualSlots,
		SoftwareStores: st.SoftStores, ReaderCount: st.ReaderCount}
	if st.TPM != nil {
		ws.TPM = &service.TPMState{Usable: st.TPM.Usable, Reason: st.TPM.Reason, Manufacturer: st.TPM.Manufacturer, Kind: st.TPM.Kind}
	}
	for _, r := range st.Readers {
		ws.Readers = append(ws.Readers, service.ReaderState{Name: r.Name, Present: r.Present, ATR: r.ATR, Serial: r.Serial})
	}
	return ws
}

func (a cardAccess) Open(ctx context.Context, workstationID int64, reader string) (service.CardSession, error) {
	s, err := a.h.Open(ctx, workstationID, reader)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (a cardAccess) CreateVirtual(ctx context.Context, workstationID int64, kind lanyard.CardKind) (service.ReaderState, error) {
	r, err := a.h.CreateVirtual(ctx, workstationID, string(kind))
	if err != nil {
		return service.ReaderState{Serial: r.Serial}, err
	}
	return service.ReaderState{Name: r.Name, Present: r.Present, ATR: r.ATR, Serial: r.Serial}, nil
}

func (a cardAccess) AirCardsChanged(workstationIDs ...int64) { a.h.AirCardsChanged(workstationIDs...) }

func (a cardAccess) DestroyVirtual(ctx context.Context, workstationID int64, serial string) error {
	return a.h.DestroyVirtual(ctx, workstationID, serial)
}
