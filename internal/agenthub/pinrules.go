package agenthub

import "net/http"

// pinRules answers a paired workstation the PIN rules of the cards it may
// set a PIN on (agentproto.PathPINRules).
func (h *Hub) pinRules(w http.ResponseWriter, r *http.Request) {
	ws, u, ok := h.workstationOf(w, r)
	if !ok {
		return
	}
	out, err := u.PINRules(r.Context(), ws)
	if err != nil {
		writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
