package cardops

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/cardperm"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// CancelCardUpdate ends a pending update without the card
// (administrators): its requests are withdrawn and certificates issued
// for it but not yet in use are revoked. Refused once a new key may be in
// use on the card.
func (s *Cards) CancelCardUpdate(ctx context.Context, p *lanyard.Principal, cardID int64, in CancelUpdateInput) (*CardView, error) {
	comment := strings.TrimSpace(in.Comment)
	if len(comment) > 500 {
		return nil, lanyard.Errorf(lanyard.EInvalid, "a comment is at most 500 characters")
	}
	var card *lanyard.Card
	var op *lanyard.Operation
	var revoked []string
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "card.update.cancel", "card", strconv.FormatInt(cardID, 10),
			map[string]any{"serial": card.Serial, "operation": op.ID, "step": op.Step, "comment": comment, "revoked": revoked})
	}, func(tx lanyard.Tx) error {
		var err error
		if card, err = tx.CardByID(cardID); err != nil {
			return err
		}
		if err := tx.LockCard(card.ID); err != nil {
			return err
		}
		if err := s.checkUpdatePerm(tx, p, card, cardperm.CancelUpdate); err != nil {
			return err
		}
		if card.State != lanyard.CardIssued {
			return lanyard.Errorf(lanyard.EConflict, "Cancel card update is not possible while the card is %s", card.State)
		}
		if op, err = unfinishedUpdateTx(tx, card.ID); err != nil {
			return err
		}
		if op == nil {
			return lanyard.Errorf(lanyard.EConflict, "card %s has no card update to cancel", card.Serial)
		}
		if op.State == lanyard.OpRunning {
			return lanyard.Errorf(lanyard.EConflict, "the update of card %s is running; wait for it to finish or stop", card.Serial)
		}
		revoked, err = s.cancelUpdateTx(ctx, tx, p, op, "cancelled by "+p.User.Login+": "+comment)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.notifyUpdate(ctx, "update_cancelled", card, p.User.Login, comment)
	var v *CardView
	err = s.rec.View(ctx, func(tx lanyard.Tx) error {
		var err error
		if v, err = s.cardView(tx, card, true); err != nil {
			return err
		}
		if v.Update, err = s.updateStatus(tx, card); err != nil {
			return err
		}
		return s.addAllowed(tx, p, v)
	})
	return v, err
}

// cancelUpdateTx fails unfinished update op in tx with msg, unless a new
// key of it may be in use on the card: its requests are withdrawn, and
// the certificates issued for it that never reached their slot are
// revoked (cessation of operation). It returns the serials revoked.
func (s *Cards) cancelUpdateTx(ctx context.Context, tx lanyard.Tx, p *lanyard.Principal, op *lanyard.Operation, msg string) ([]string, error) {
	var d issueData
	if err := json.Unmarshal(op.Data, &d); err != nil || d.Update == nil {
		return nil, lanyard.Errorf(lanyard.EInternal, "the update's record does not parse")
	}
	d.Update.init()
	for _, sl := range d.Plan.Slots {
		if d.Update.inUse(&d, sl.Slot) {
			return nil, lanyard.Errorf(lanyard.EConflict, "the card already holds the new key or certificate for slot %s; continue the update with the card (Continue card update)", sl.Slot)
		}
	}
	if err := s.withdrawRequests(tx, p, &d, "the card update was cancelled"); err != nil {
		return nil, err
	}
	revoked, err := s.revokeUnusedTx(ctx, tx, p, op.CardID, &d)
	if err != nil {
		return nil, err
	}
	prev := op.UpdatedAt
	op.State, op.Error, op.UpdatedAt = lanyard.OpFailed, msg, s.rec.Clock()
	return revoked, tx.UpdateOperation(op, prev)
}

// revokeUnused revokes, in tx, the new certificates of an update record d
// that are not in their slot (issued, or written to a staging slot only):
// the card goes on with its old ones. Nothing for an issue's record.
func (s *Cards) revokeUnused(ctx context.Context, tx lanyard.Tx, p *lanyard.Principal, cardID int64, d *issueData) error {
	_, err := s.revokeUnusedTx(ctx, tx, p, cardID, d)
	return err
}

// revokeUnusedTx is revokeUnused, returning the serials revoked; only
// certificates bound to card cardID are revoked, and the archived keys
// of the slots left unused are released with them (releaseArchivedTx).
func (s *Cards) revokeUnusedTx(ctx context.Context, tx lanyard.Tx, p *lanyard.Principal, cardID int64, d *issueData) ([]string, error) {
	u := d.Update
	if u == nil {
		return nil, nil
	}
	u.init()
	var certs []*lanyard.Certificate
	unused := map[string]*lanyard.Certificate{} // slot → its unused certificate (nil: none issued)
	for _, sl := range d.Plan.Slots {
		if u.Verified[sl.Slot] || u.inUse(d, sl.Slot) {
			continue
		}
		unused[sl.Slot] = nil
		serial := d.Certs[sl.Slot]
		if id := d.Requests[sl.Slot]; serial == "" && id != 0 {
			// Approved since the update last ran: the CA bound the
			// certificate to the card, the record does not name it yet.
			r, err := tx.RequestByID(id)
			if err != nil {
				return nil, err
			}
			if r.Status == lanyard.RequestIssued {
				cert, err := tx.CertificateByID(r.CertificateID)
				if err != nil {
					return nil, err
				}
				if cert.CardID == cardID {
					certs, unused[sl.Slot] = append(certs, cert), cert
				}
			}
			continue
		}
		if serial == "" {
			continue
		}
		cert, err := s.cardCertBySerial(tx, cardID, sl.Template, serial)
		if err != nil {
			return nil, err
		}
		if cert != nil {
			certs, unused[sl.Slot] = append(certs, cert), cert
		}
	}
	if err := s.releaseArchivedTx(tx, p, cardID, d, unused); err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, nil
	}
	revoked, err := s.pki.RevokeCertificatesFor(ctx, tx, certs, lanyard.ReasonCessationOfOperation, func(c *lanyard.Certificate) bool { return c.Status != lanyard.CertRevoked })
	slices.Sort(revoked)
	return revoked, err
}

// cardCertBySerial is the certificate serial issued to card cardID for
// template: looked up in the template's CA first, then the others, and
// only one bound to the card is taken (a serial is unique per issuer
// only, RFC 5280 4.1.2.2: another CA's certificate with the same serial
// is someone else's). nil when none is.
func (s *Cards) cardCertBySerial(tx lanyard.Tx, cardID int64, template, serial string) (*lanyard.Certificate, error) {
	cas := s.caOrder
	if tpl, err := tx.TemplateByName(template); err == nil && tpl.CA != "" {
		cas = append([]string{tpl.CA}, cas...)
	} else if err != nil && !lanyard.IsCode(err, lanyard.ENotFound) {
		return nil, err
	}
	for _, c := range cas {
		cert, err := tx.CertificateBySerial(c, serial)
		switch {
		case lanyard.IsCode(err, lanyard.ENotFound):
			continue
		case err != nil:
			return nil, err
		}
		if cert.CardID == cardID {
			return cert, nil
		}
	}
	return nil, nil
}
