package service

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// PUKEscrowKey is the escrow public key a workstation's agent keeps for
// the offline unblock's roll-forward (agenthub.PUKEscrower).
func (a AgentUnblock) PUKEscrowKey(ctx context.Context, ws *lanyard.Workstation) ([]byte, error) {
	return a.s.Cards.PUKEscrowKey(ctx)
}

// PUKEscrow records the PUK a workstation's tool gave a card of the
// workstation's owner after an offline unblock.
func (a AgentUnblock) PUKEscrow(ctx context.Context, ws *lanyard.Workstation, in agentproto.PUKEscrow) error {
	return a.s.Cards.AcceptPUKEscrow(ctx, ws, cardops.PUKEscrowInput{Serial: in.Serial, Challenge: in.Challenge, Sealed: in.Sealed, Changed: in.Changed})
}
