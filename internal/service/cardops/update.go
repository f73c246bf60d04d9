package cardops

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Update card contents (docs/lifecycle.md, "Update card contents"): the
// service half. issuance.OfferUpdate and DecideUpdate decide what changes;
// the operation here runs the plan on the card as a resumable operation
// of kind lanyard.OpUpdate, reusing Issue card's certificate steps (CA
// approval, documents check, signing). The card stays issued and usable
// throughout: a new key is built in a spare retired slot and moved into
// place (MOVE KEY) only once its certificate is on the card, and the old
// certificate is revoked (superseded) only after the new one is read back.

// UpdateOptionsResult is what the Update card dialog shows for a card in
// a reader.
type UpdateOptionsResult struct {
	Card *ConnectedCard
	issuance.UpdateOptions
}

// UpdateCardInput is the Update card dialog's answer.
type UpdateCardInput struct {
	CardTarget
	Templates []string // optional templates to add (held optional ones are kept anyway)
	Tracked   []string // slots of found third-party certificates to track
	// Renew are templates the card holds that staff want renewed now
	// although they are not due.
	Renew []string
	// AcceptKeyLoss accepts the options' cautions (a key-management key
	// replaced in place on a card that cannot move keys).
	AcceptKeyLoss bool
}

// UpdateCardResult reports an update: done, or pending (a certificate
// waits for an approval; Continue card update finishes it).
type UpdateCardResult struct {
	Card        *CardView
	OperationID int64
	State       string // done or pending
	Slots       []UpdatedSlot
}

// UpdatedSlot is one changed slot of an update's result.
type UpdatedSlot struct {
	Slot      string
	Template  string
	Action    issuance.SlotAction
	Key       lanyard.RenewalKey
	OldSerial string // the certificate replaced or removed ("" for add)
	NewSerial string // the new certificate ("" for remove, or while pending)
	Status    string // done, pending (waits for an approval) or "" before it ran
}

// UpdateStatus is a card's update state in its view, from the records
// alone: whether an update is due now and why (the Self-Service banner),
// and the unfinished update to continue, if any.
type UpdateStatus struct {
	Due     bool
	Changes []issuance.UpdateSlot // the rows an update would change now
	// Unfinished is the pending or interrupted update operation; nil when none.
	Unfinished *lanyard.Operation
}

// CancelUpdateInput is Cancel card update's answer (administrators).
type CancelUpdateInput struct {
	Comment string
}

// UpdateOptions opens the Update card dialog for the card in a reader.
func (s *Cards) UpdateOptions(ctx context.Context, p *lanyard.Principal, t CardTarget) (*UpdateOptionsResult, error) {
	return nil, lanyard.Errorf(lanyard.EUnavailable, "update card contents is not built yet")
}

// UpdateCard updates the card in a reader from the dialog's answer.
func (s *Cards) UpdateCard(ctx context.Context, p *lanyard.Principal, in UpdateCardInput) (*UpdateCardResult, error) {
	return nil, lanyard.Errorf(lanyard.EUnavailable, "update card contents is not built yet")
}

// ContinueCardUpdate finishes the card's interrupted or pending update
// ("Continue card update") from its last recorded step; no PIN is asked.
func (s *Cards) ContinueCardUpdate(ctx context.Context, p *lanyard.Principal, cardID int64, t CardTarget) (*UpdateCardResult, error) {
	return nil, lanyard.Errorf(lanyard.EUnavailable, "update card contents is not built yet")
}

// CancelCardUpdate ends a pending update without the card
// (administrators): its requests are withdrawn and certificates issued
// for it but not yet in use are revoked. Refused once a new key may be in
// use on the card.
func (s *Cards) CancelCardUpdate(ctx context.Context, p *lanyard.Principal, cardID int64, in CancelUpdateInput) (*CardView, error) {
	return nil, lanyard.Errorf(lanyard.EUnavailable, "update card contents is not built yet")
}
