package main

import (
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/agentproto"
)

// readerNotes is what lanyard agent status adds to a reader's card: that
// the server says it is disabled or revoked (it cannot be used: ask the
// help desk), and its PIN blocked or tries left as the agent last read
// them (docs/lifecycle.md, "PIN blocked cards").
func readerNotes(r agentproto.Reader, states []agentproto.CardState) string {
	var notes string
	for _, st := range states {
		if st.Serial != r.Serial || !agent.Unusable(st.State) {
			continue
		}
		notes += ", " + st.State
		if st.Reason != "" {
			notes += " (" + st.Reason + ")"
		}
		notes += " by the server: it cannot be used, ask your help desk"
	}
	switch p := r.PIN; {
	case p == nil:
	case p.Left == 0:
		notes += ", PIN blocked: unblock it with lanyard agent unblock or in Self-Service"
	case p.Left > 0:
		notes += fmt.Sprintf(", PIN: %d tries left", p.Left)
	}
	return notes
}
