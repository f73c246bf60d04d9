package main

import (
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/apiv1"
)

// readerNotes is what lanyard agent status adds to a reader's card: that
// the server says it is disabled or revoked (it cannot be used: ask the
// help desk), and its PIN blocked or tries left as the agent last read
// them (docs/lifecycle.md, "PIN blocked cards").
func readerNotes(r agentproto.Reader, states []agentproto.CardState) string {
	var notes string
	for _, st := range states {
		if st.Serial == r.Serial && st.State == agentproto.CardStateUpdating {
			notes += ", updating card contents: keep the card in the reader"
		}
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

// pinLine is a card's PIN status as lanyard card show says it: blocked
// or the tries left (those the card gave), and where and when it was
// seen (docs/lifecycle.md, "PIN blocked cards").
func pinLine(p *apiv1.CardPIN) string {
	tries := ""
	if p.TriesLeft != nil {
		tries = fmt.Sprintf("%d", *p.TriesLeft)
		if p.TriesTotal != nil {
			tries += fmt.Sprintf(" of %d", *p.TriesTotal)
		}
		tries += " tries left"
	}
	line := "not blocked"
	switch {
	case p.Blocked && tries != "":
		line = "BLOCKED (" + tries + ")"
	case p.Blocked:
		line = "BLOCKED"
	case tries != "":
		line = tries
	}
	if p.PUKTriesLeft != nil {
		line += fmt.Sprintf(", PUK %d tries left", *p.PUKTriesLeft)
	}
	where := "set by Lanyard"
	if p.Workstation != "" {
		where = "seen at " + p.Workstation
	}
	return line + "; " + where + " " + p.ReportedAt.UTC().Format("2006-01-02 15:04Z")
}
