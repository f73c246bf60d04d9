package cardops

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
)

// issueJob is one issue operation in progress in this process.
type issueJob struct {
	p       *lanyard.Principal
	user    *lanyard.User
	ct      *lanyard.CardType
	secrets *lanyard.CardTypeSecrets
	card    *lanyard.Card
	op      *lanyard.Operation
	data    issueData
	// run records the steps; its Op, Card and Data are op, card and
	// &data.
	run   *operation.Run[issueData]
	plan  *issuance.Plan
	tpls  map[string]*lanyard.Template
	found []issuance.Found
	pc    *piv.Card
	id    personalize.Identity
	// resumeAt is, for a Continue, the PIN step the interrupted run had
	// reached ("puk" or "pin"; "" before them): its change may have
	// reached the card with the reply lost.
	resumeAt string
	// replace is set when the issue's card replaces another (replace.go).
	replace *replaceStart
}

// resumePoint is the PIN step an interrupted issue recorded as d had
// reached once every certificate step is done (written, or waiting for
// the CA): "pin" when the Admin PIN is recorded (since issue 13 it is set
// before the first key), "puk" when not (an operation recorded by an
// older server), "" otherwise.
func resumePoint(d *issueData) string {
	if d.PINSet {
		return ""
	}
	for _, sl := range d.Plan.Slots {
		if !d.Written[sl.Slot] && !(d.Requests[sl.Slot] != 0 && d.Certs[sl.Slot] == "") {
			return ""
		}
	}
	if d.PUKSet {
		return "pin"
	}
	return "puk"
}

// issueData is the issue operation's record (Operation.Data): the plan and
// what has been done, step by step. A resumed operation skips what is
// recorded here.
type issueData struct {
	Plan        issuance.Plan     `json:"plan"`
	Initialized bool              `json:"initialized,omitempty"`
	Certs       map[string]string `json:"certs"`              // slot → serial of the certificate issued for its key
	Written     map[string]bool   `json:"written"`            // slot → certificate written to the card
	Requests    map[string]int64  `json:"requests,omitempty"` // slot → CA request waiting for approval
	// TakeoverVersion is the master secret version this operation moves
	// the card's management key to; TakeoverDone once the card has it.
	TakeoverVersion int  `json:"takeover_version,omitempty"`
	TakeoverDone    bool `json:"takeover_done,omitempty"`
	// NewPUK is the card's own random PUK, sealed (CardPUKAAD), drawn and
	// recorded before it is sent to the card: a run resumed after the
	// change reached the card, its reply lost, still knows it. It moves to
	// the card record once the card has it (PUKSet).
	NewPUK []byte `json:"new_puk,omitempty"`
	PUKSet bool   `json:"puk_set,omitempty"`
	PINSet bool   `json:"pin_set,omitempty"`
	// OfflineArmed: a TPM card's offline unblock code is armed (or the
	// card cannot hold one); offlinetpm.go.
	OfflineArmed bool `json:"offline_armed,omitempty"`
	Tracked      bool `json:"tracked,omitempty"`
	// History are the owner's earlier archived keys this issue puts into
	// the card's retired slots, newest first (82 up), recorded with their
	// recovery before the card gets them; HistoryDone once it has them
	// and its key history (issuehistory.go).
	History     []int64 `json:"history,omitempty"`
	HistoryDone bool    `json:"history_done,omitempty"`
	// RetiredCleared: the retired key slots of a card not initialized
	// were emptied before its keys were written (personalize.ClearRetiredKeys).
	RetiredCleared bool `json:"retired_cleared,omitempty"`
	// Recovery is the authority the issue was given to put those keys on
	// the card (nil: none, the card gets none); issuehistory.go.
	Recovery *historyGrant `json:"recovery,omitempty"`
	// MaxValidityDays bounds the validity of the certificates issued, in
	// days (0: each template's own): a temporary replacement card's
	// (policy: Workflow → Temporary card validity).
	MaxValidityDays int `json:"max_validity_days,omitempty"`
	// Update is set when the operation is an update of an issued card
	// (lanyard.OpUpdate): Plan then lists only the slots that get a new
	// certificate, and Update what else the update does (updatedata.go).
	Update *updateRecord `json:"update,omitempty"`
	// The random user PIN is never in this record, sealed or not: the
	// copies the result dialog's mail choices and the card's owner may
	// use are held apart (lanyard.HeldPIN). Records written before that
	// may still name pin_copy and owner_pin; they are ignored.
}

// startAgain is what the holder of a failed run does next: a failed
// update leaves the card as it was (update it again), a failed issue
// leaves a card to clear.
func (j *issueJob) startAgain() string {
	if j.data.Update != nil {
		return "the card keeps its old certificate; update the card again"
	}
	return "revoke and clear the card, then issue it again"
}

func planTemplates(p *issuance.Plan) []string {
	out := make([]string, len(p.Slots))
	for i, sl := range p.Slots {
		out[i] = sl.Template
	}
	return out
}

// unfinishedIssue returns the card's running, interrupted or pending
// issue, if any: found by kind and state, however many other operations
// (failed clears) came after it.
func (s *Cards) unfinishedIssue(ctx context.Context, cardID int64) (*lanyard.Operation, error) {
	var out *lanyard.Operation
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { out, err = unfinishedIssueTx(tx, cardID); return })
	return out, err
}

// unfinishedIssueTx is unfinishedIssue in tx.
func unfinishedIssueTx(tx lanyard.Tx, cardID int64) (*lanyard.Operation, error) {
	ops, err := tx.ListOperations(lanyard.OperationFilter{CardID: cardID, Kind: lanyard.OpIssue, Unfinished: true, Limit: 1})
	if err != nil || len(ops) == 0 {
		return nil, err
	}
	return ops[0], nil
}
