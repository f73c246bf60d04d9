package cardops

import (
	"bytes"
	"crypto/x509"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// releaseArchivedTx releases, in tx, the archived keys of update record
// d's slots that end unused (a cancelled or failed update; unused maps
// such a slot to its certificate revoked in the same transaction, nil
// when none was issued), so that no key made for the update stays
// recoverable or goes into the key history:
//   - the new key archived for the slot is discarded, pending (a request
//     approved since, or never signed) or active with that certificate
//     (signed, never written): it never reached the card;
//   - a reuse-key renewal certified the card's archived key again: the
//     key goes back to the old certificate, which the card still holds.
func (s *Cards) releaseArchivedTx(tx lanyard.Tx, p *lanyard.Principal, cardID int64, d *issueData, unused map[string]*lanyard.Certificate) error {
	u := d.Update
	for slot, cert := range unused {
		serial := ""
		if cert != nil {
			serial = cert.Serial
		}
		if id := u.Archived[slot]; id != 0 {
			why := map[string]any{"why": "the card update ended before the key reached the card", "slot": slot}
			if err := s.archive.DiscardUnusedTx(tx, p, id, serial, why); err != nil {
				return err
			}
			continue
		}
		if row := u.row(slot); cert != nil && row != nil && row.Key == lanyard.RenewalReuseKey && row.Old != "" {
			if err := s.recertifyOldTx(tx, cardID, row.Template, cert, row.OldCA, row.Old); err != nil {
				return err
			}
		}
	}
	return nil
}

// recertifyOldTx moves card cardID's archived key of template certified
// by cert (a reuse-key renewal that never reached the card) back to the
// old certificate oldSerial of CA oldCA; nothing when the template does
// not archive.
func (s *Cards) recertifyOldTx(tx lanyard.Tx, cardID int64, template string, cert *lanyard.Certificate, oldCA, oldSerial string) error {
	card, err := tx.CardByID(cardID)
	if err != nil {
		return err
	}
	ks, err := tx.ArchivedKeysOf(card.OwnerID, template)
	if err != nil {
		return err
	}
	for _, k := range ks {
		if k.State != lanyard.ArchivedKeyActive || k.CertificateSerial != cert.Serial {
			continue
		}
		oldRec, err := tx.CertificateBySerial(oldCA, oldSerial)
		if err != nil {
			return err
		}
		old, err := x509.ParseCertificate(oldRec.DER)
		if err != nil {
			return lanyard.Wrap(lanyard.EInternal, err, "stored certificate does not parse")
		}
		if !bytes.Equal(old.RawSubjectPublicKeyInfo, k.PublicKey) {
			continue
		}
		_, _, err = s.archive.RecertifyTx(tx, k.ID, old)
		return err
	}
	return nil
}
