package agenthub

import (
	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Errors of relay sessions. Each is a *lanyard.Error, so the web layer
// shows its code and message; compare with errors.Is.
var (
	// ErrOffline: the workstation has no agent connected here.
	ErrOffline = &lanyard.Error{Code: lanyard.EUnavailable, Message: "the workstation's agent is not connected"}
	// ErrAgentGone: the agent's connection ended during the session.
	ErrAgentGone = &lanyard.Error{Code: lanyard.EUnavailable, Message: "the workstation's agent disconnected"}
	// ErrCardRemoved: the card left the reader during the session.
	ErrCardRemoved = &lanyard.Error{Code: lanyard.EUnavailable, Message: "the card was removed from the reader"}
	// ErrSessionClosed: the session was closed.
	ErrSessionClosed = &lanyard.Error{Code: lanyard.EUnavailable, Message: "the card session is closed"}
	// ErrNoCard: no card in the reader.
	ErrNoCard = &lanyard.Error{Code: lanyard.EUnavailable, Message: "there is no card in the reader"}
	// ErrNoReader: the workstation has no such reader.
	ErrNoReader = &lanyard.Error{Code: lanyard.ENotFound, Message: "the workstation has no such reader"}
	// ErrCardBusy: another session, or another application on the
	// workstation, holds the card.
	ErrCardBusy = &lanyard.Error{Code: lanyard.EConflict, Message: "the card is busy"}
	// ErrNoTPM: a TPM-bound virtual card was asked of a workstation
	// without a usable TPM.
	ErrNoTPM = &lanyard.Error{Code: lanyard.EUnavailable, Message: "the workstation has no usable TPM 2.0"}
	// ErrNoSlot: the workstation cannot attach another virtual card.
	ErrNoSlot = &lanyard.Error{Code: lanyard.EUnavailable, Message: "the workstation has no free reader slot for another virtual card (each vpcd slot holds one)"}
	// ErrNoStore: the agent cannot write the software store asked for.
	ErrNoStore = &lanyard.Error{Code: lanyard.EUnavailable, Message: "the workstation's agent cannot write that software store (the machine store needs an agent running as root)"}
	// ErrNoKey: the agent no longer holds the software store's key pair.
	ErrNoKey = &lanyard.Error{Code: lanyard.EUnavailable, Message: "the workstation's agent no longer holds the key pair (it waited too long for its certificate); issue again"}
)

// agentError maps an error the agent reported to the package's errors.
func agentError(e *agentproto.Error) error {
	switch e.Code {
	case agentproto.ErrCodeCardRemoved:
		return ErrCardRemoved
	case agentproto.ErrCodeNoCard:
		return ErrNoCard
	case agentproto.ErrCodeNoReader:
		return ErrNoReader
	case agentproto.ErrCodeBusy:
		return ErrCardBusy
	case agentproto.ErrCodeNoSession:
		return ErrSessionClosed
	case agentproto.ErrCodeNoTPM:
		return ErrNoTPM
	case agentproto.ErrCodeNoSlot:
		return ErrNoSlot
	case agentproto.ErrCodeNoStore:
		return ErrNoStore
	case agentproto.ErrCodeNoKey:
		return ErrNoKey
	}
	return lanyard.Errorf(lanyard.EUnavailable, "the workstation could not use the card: %s", e.Message)
}
