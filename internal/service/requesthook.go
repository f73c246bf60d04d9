package service

import (
	"context"
	"math/big"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/pki"
)

// requestHook is the card issue's side of a CA decision (pki.RequestHook):
// only the card code reads a card issue's record (issueData), so the CA
// queue asks it, through this, whether a request may be approved and
// what its decision means for the card.
type requestHook struct{ s *Service }

// CheckApprove refuses a card-only template's request from no card issue
// (cardHeld) and a card request whose signed request form is missing or
// only vouched for by the approver or requester (requestFormRequired).
func (h requestHook) CheckApprove(tx lanyard.Tx, p *lanyard.Principal, r *lanyard.CertRequest, tpl *lanyard.Template) error {
	if err := cardHeld(tx, r, tpl); err != nil {
		return err
	}
	return requestFormRequired(tx, r, p)
}

// Decided binds the certificate to the card of r's issue (cardRequestDecided).
func (h requestHook) Decided(tx lanyard.Tx, r *lanyard.CertRequest, cert *lanyard.Certificate) (func(context.Context), error) {
	return h.s.cardRequestDecided(tx, r, cert)
}

// cardHeld refuses to sign a card-keys-only template's request that no
// card issue made: one queued through the certificate API before the
// template became card-only (or before the rule existed).
func cardHeld(tx lanyard.Tx, r *lanyard.CertRequest, tpl *lanyard.Template) error {
	if !tpl.CardKeysOnly {
		return nil
	}
	op, _, _, err := cardRequest(tx, r)
	if err != nil {
		return err
	}
	if err := cardRequestGone(r, op); err != nil {
		return err
	}
	if op == nil {
		return lanyard.Errorf(lanyard.EForbidden, "template %q certifies only keys generated on a card, and request %d did not come from a card issue; reject it", tpl.Name, r.ID)
	}
	return nil
}

// revokeCertificates and serialHex keep workstations.go's calls until it
// moves to its own package (issue 15, step 7e): pki owns both.
func (s *Service) revokeCertificates(ctx context.Context, tx lanyard.Tx, certs []*lanyard.Certificate, revoke func(*lanyard.Certificate) bool) ([]string, error) {
	return s.PKI.RevokeCertificates(ctx, tx, certs, revoke)
}

func serialHex(n *big.Int) string { return pki.SerialHex(n) }
