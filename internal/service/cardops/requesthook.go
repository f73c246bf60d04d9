package cardops

import (
	"context"
	"encoding/json"

	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// RequestHook is the card issue's side of a CA decision (pki.RequestHook):
// only the card code reads a card issue's record (issueData), so the CA
// queue asks it, through this, whether a request may be approved and
// what its decision means for the card.
type RequestHook struct{ s *Cards }

// RequestHook returns the card issue's side of CA decisions.
func (s *Cards) RequestHook() RequestHook { return RequestHook{s} }

// CheckApprove refuses a card's request whose issue no longer waits for
// it (cardRequestGone), a card-only template's request from no card
// issue (one queued through the certificate API before the template
// became card-only, or before the rule existed), and a card's request
// whose signed request form is missing or vouched for only by the
// approver or the requester (documents.RequestFormRequired).
func (h RequestHook) CheckApprove(tx lanyard.Tx, p *lanyard.Principal, r *lanyard.CertRequest, tpl *lanyard.Template) error {
	op, _, _, err := cardRequest(tx, r)
	if err != nil {
		return err
	}
	if err := cardRequestGone(r, op); err != nil {
		return err
	}
	if op == nil && tpl.CardKeysOnly {
		return lanyard.Errorf(lanyard.EForbidden, "template %q certifies only keys generated on a card, and request %d did not come from a card issue; reject it", tpl.Name, r.ID)
	}
	return h.s.documents.RequestFormRequired(tx, r, p)
}

// MaxValidityDays bounds the certificate approved for a card issue's
// request by the issue's bound (a temporary replacement card's;
// pki.RequestValidity).
func (h RequestHook) MaxValidityDays(tx lanyard.Tx, r *lanyard.CertRequest) (int, error) {
	_, d, _, err := cardRequest(tx, r)
	if err != nil || d == nil {
		return 0, err
	}
	return d.MaxValidityDays, nil
}

// Decided binds the certificate to the card of r's issue (cardRequestDecided).
func (h RequestHook) Decided(tx lanyard.Tx, r *lanyard.CertRequest, cert *lanyard.Certificate) (func(context.Context), error) {
	return h.s.cardRequestDecided(tx, r, cert)
}

// CardIssues is what the documents check reads of card issues
// (documents.CardIssues): their records are the card code's. It reads
// only the caller's transaction, so the zero value serves.
type CardIssues struct{}

// UnfinishedIssue is the card's unfinished issue operation, else its
// unfinished update (nil: none): an update's certificates wait for their
// documents like an issue's.
func (CardIssues) UnfinishedIssue(tx lanyard.Tx, cardID int64) (*lanyard.Operation, error) {
	op, err := unfinishedIssueTx(tx, cardID)
	if err != nil || op != nil {
		return op, err
	}
	return unfinishedUpdateTx(tx, cardID)
}

// IssueRecord is what the issue operation op recorded by slot: its CA
// requests and the serials of the certificates written.
func (CardIssues) IssueRecord(op *lanyard.Operation) (map[string]int64, map[string]string, error) {
	var data issueData
	if len(op.Data) > 0 {
		if err := json.Unmarshal(op.Data, &data); err != nil {
			return nil, nil, lanyard.Wrap(lanyard.EInternal, err, "the operation's record does not parse")
		}
	}
	return data.Requests, data.Certs, nil
}

// CardRequest is the unfinished card issue that r is for and its plan
// for r's slot (cardRequest); op is nil when there is none.
func (CardIssues) CardRequest(tx lanyard.Tx, r *lanyard.CertRequest) (op *lanyard.Operation, slot *issuance.SlotPlan, err error) {
	op, _, slot, err = cardRequest(tx, r)
	if err != nil || op == nil {
		return nil, nil, err
	}
	return op, slot, nil
}
