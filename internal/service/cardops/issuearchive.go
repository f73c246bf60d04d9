package cardops

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Key archival in Issue card (docs/lifecycle.md, "Key archival"): for a
// template with archive key the key pair is generated on the server and
// archived (archive.Archive) before it reaches the card, then imported
// into the slot (IMPORT KEY) instead of generated there; its certificate
// is bound to the archived key in the step that records the certificate.
// An attempt interrupted before that step leaves a pending archived key
// that the next attempt discards before it makes a new one: the card is
// given the new key, and only a certified key is ever kept for recovery.

// importArchivedKey makes slot sl's key on the server, archives it and
// imports it into the card; it returns the public key to certify and the
// archived key's ID. Every card kind that issue reaches imports keys: PIV
// cards and AirCards of any algorithm they hold, TPM virtual cards and
// platform credentials RSA 2048 and 3072 into their TPM (TPM2_Import),
// which the plan chose (issuance.KeyAlgorithm); a plan recorded before
// that rule is checked again before a key is made.
func (s *Cards) importArchivedKey(ctx context.Context, j *issueJob, admin *piv.Admin, slot piv.Slot, sl issuance.SlotPlan, tpl *lanyard.Template) (crypto.PublicKey, int64, error) {
	if err := issuance.CheckArchivedKey(tpl, j.ct, sl.Algorithm); err != nil {
		return nil, 0, err
	}
	if err := s.discardInterrupted(ctx, j, tpl.Name); err != nil {
		return nil, 0, err
	}
	k, key, err := s.archive.GenerateArchived(ctx, j.p, j.user.ID, j.card.ID, tpl, sl.Algorithm)
	if err != nil {
		return nil, 0, err
	}
	if err := personalize.ImportKey(ctx, admin, slot, key); err != nil {
		return nil, 0, err
	}
	return key.Public(), k.ID, nil
}

// discardInterrupted discards the pending archived keys of j's card and
// template: keys of an attempt interrupted before its certificate was
// recorded, never certified and no longer on the card once it gets a new
// one. A key waiting for CA approval is not among them: its slot has a
// request, and no new key is made for it.
func (s *Cards) discardInterrupted(ctx context.Context, j *issueJob, template string) error {
	var stale []int64
	if err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		ks, err := tx.ArchivedKeysOf(j.user.ID, template)
		for _, k := range ks {
			if k.State == lanyard.ArchivedKeyPending && k.CardID == j.card.ID {
				stale = append(stale, k.ID)
			}
		}
		return err
	}); err != nil {
		return err
	}
	for _, id := range stale {
		if err := s.archive.Discard(ctx, j.p, id); err != nil {
			return err
		}
	}
	return nil
}

// certifyArchived binds the certificate der of template to its archived
// key, in the transaction that records the certificate, when the template
// archives keys; it returns the archived key's ID for the event (0: the
// template does not archive).
func (s *Cards) certifyArchived(tx lanyard.Tx, j *issueJob, template string, der []byte) (int64, error) {
	if tpl := j.tpls[template]; tpl == nil || !tpl.KeyArchival {
		return 0, nil
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return 0, lanyard.Wrap(lanyard.EInternal, err, "the issued certificate does not parse")
	}
	ks, err := tx.ArchivedKeysOf(j.user.ID, template)
	if err != nil {
		return 0, err
	}
	for _, k := range ks {
		if k.CardID == j.card.ID && k.State != lanyard.ArchivedKeyDiscarded && bytes.Equal(k.PublicKey, cert.RawSubjectPublicKeyInfo) {
			if j.data.Update != nil && k.State == lanyard.ArchivedKeyActive {
				// A reuse-key update certifies the archived key again.
				_, _, err := s.archive.RecertifyTx(tx, k.ID, cert)
				return k.ID, err
			}
			_, _, err := s.archive.CertifyTx(tx, k.ID, cert)
			return k.ID, err
		}
	}
	return 0, lanyard.Errorf(lanyard.EConflict, "the %s certificate %s is for no archived key of this card; %s", template, cert.SerialNumber.Text(16), j.startAgain())
}

// discardRequested discards the pending archived key that waited on CA
// request r, now rejected or withdrawn (why), in that decision's
// transaction: no certificate will come for it, the card's slot gets a
// new key when the card is issued again, and a key kept sealed for
// nothing is a key that could leak for nothing. The key is the owner's
// pending one of r's template with r's public key; none (the template
// does not archive) is fine.
func (s *Cards) discardRequested(tx lanyard.Tx, p *lanyard.Principal, r *lanyard.CertRequest, why string) error {
	ks, err := tx.ArchivedKeysOf(r.UserID, r.Template)
	if err != nil {
		return err
	}
	for _, k := range ks {
		if k.State == lanyard.ArchivedKeyPending && bytes.Equal(k.PublicKey, r.PublicKey) {
			if err := s.archive.DiscardTx(tx, p, k.ID, map[string]any{"request": r.ID, "why": why}); err != nil {
				return err
			}
		}
	}
	return nil
}
