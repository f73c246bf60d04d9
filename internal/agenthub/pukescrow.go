package agenthub

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// PUKEscrower takes the roll-forward of an offline unblock from a
// workstation (agentproto.PathPUKEscrow). The Unblocker given to
// SetUnblocker implements it when the server escrows PUKs.
type PUKEscrower interface {
	PUKEscrowKey(ctx context.Context, ws *lanyard.Workstation) ([]byte, error)
	PUKEscrow(ctx context.Context, ws *lanyard.Workstation, in agentproto.PUKEscrow) error
}

func (h *Hub) escrowerOf(w http.ResponseWriter, r *http.Request) (*lanyard.Workstation, PUKEscrower, bool) {
	ws, u, ok := h.workstationOf(w, r)
	if !ok {
		return nil, nil, false
	}
	e, ok := u.(PUKEscrower)
	if !ok {
		writeProblem(w, lanyard.Errorf(lanyard.EUnavailable, "this server does not take PUK escrows"))
		return nil, nil, false
	}
	return ws, e, true
}

func (h *Hub) pukEscrowKey(w http.ResponseWriter, r *http.Request) {
	ws, e, ok := h.escrowerOf(w, r)
	if !ok {
		return
	}
	pub, err := e.PUKEscrowKey(r.Context(), ws)
	if err != nil {
		writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusOK, agentproto.PUKEscrowKey{PublicKey: pub})
}

func (h *Hub) pukEscrow(w http.ResponseWriter, r *http.Request) {
	ws, e, ok := h.escrowerOf(w, r)
	if !ok {
		return
	}
	var in agentproto.PUKEscrow
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeProblem(w, lanyard.Errorf(lanyard.EInvalid, "the request body must be {\"serial\", \"challenge\", \"sealed\", \"changed\"}"))
		return
	}
	if err := e.PUKEscrow(r.Context(), ws, in); err != nil {
		writeProblem(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
