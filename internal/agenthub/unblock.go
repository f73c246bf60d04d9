package agenthub

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Unblocker resets the PIN of a card in a workstation's reader for the
// workstation's owner, after their secret answers: the online unblock of
// the workstation's command line (lanyard agent unblock). The card
// workflows implement it; the composition root gives it to the hub with
// SetUnblocker once both exist (the card workflows need the hub's card
// access first).
type Unblocker interface {
	// UnblockQuestions are the secret questions ws's owner chose.
	UnblockQuestions(ctx context.Context, ws *lanyard.Workstation) ([]string, error)
	// Unblock resets the PIN of the card in.Serial connected at ws.
	Unblock(ctx context.Context, ws *lanyard.Workstation, in agentproto.Unblock) (*agentproto.Unblocked, error)
	// PINRules are the PIN rules of the cards ws may set a PIN on
	// without the server (agentproto.PathPINRules).
	PINRules(ctx context.Context, ws *lanyard.Workstation) (*agentproto.PINRules, error)
}

// unblockerBox holds the Unblocker set with SetUnblocker.
type unblockerBox struct{ u Unblocker }

// SetUnblocker gives the hub the online unblock of workstations' command
// lines; until it is set, the endpoint answers unavailable.
func (h *Hub) SetUnblocker(u Unblocker) { h.unblocker.Store(&unblockerBox{u}) }

// workstationOf admits the workstation presenting its client certificate.
func (h *Hub) workstationOf(w http.ResponseWriter, r *http.Request) (*lanyard.Workstation, Unblocker, bool) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		writeProblem(w, lanyard.Errorf(lanyard.EUnauthenticated, "a workstation client certificate is required; pair the agent first"))
		return nil, nil, false
	}
	ws, err := h.ws.AgentConnected(r.Context(), r.TLS.PeerCertificates[0].SerialNumber.Text(16))
	if err != nil {
		writeProblem(w, err)
		return nil, nil, false
	}
	box := h.unblocker.Load()
	if box == nil {
		writeProblem(w, lanyard.Errorf(lanyard.EUnavailable, "this server does not unblock cards from workstations"))
		return nil, nil, false
	}
	return ws, box.u, true
}

func (h *Hub) unblockQuestions(w http.ResponseWriter, r *http.Request) {
	ws, u, ok := h.workstationOf(w, r)
	if !ok {
		return
	}
	qs, err := u.UnblockQuestions(r.Context(), ws)
	if err != nil {
		writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusOK, agentproto.UnblockQuestions{Questions: qs})
}

func (h *Hub) unblock(w http.ResponseWriter, r *http.Request) {
	ws, u, ok := h.workstationOf(w, r)
	if !ok {
		return
	}
	var in agentproto.Unblock
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeProblem(w, lanyard.Errorf(lanyard.EInvalid, "the request body must be {\"serial\", \"answers\": [{\"question\", \"answer\"}], \"new_pin\"}"))
		return
	}
	out, err := u.Unblock(r.Context(), ws, in)
	var elsewhere *lanyard.ElsewhereError
	if cl := h.clusterOf(); cl != nil && errors.As(err, &elsewhere) {
		// The card is reached through another replica of the cluster
		// (the workstation's connection, or the AirCard service's, is
		// there): it runs the unblock.
		out, err = cl.Unblock(r.Context(), elsewhere.Replica, ws, in)
	}
	if err != nil {
		writeProblem(w, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, out)
}
