package cardops

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
)

// The steps of Update card contents (docs/lifecycle.md, "Update card
// contents"), in the order that never leaves a slot without a working
// key and certificate pair:
//
//   - new key, card can move keys (staged): the new key is generated in
//     a spare retired slot R, certified, its certificate written to R;
//     then the certificate goes to the slot S, the old key in S is
//     deleted and the new one moved from R to S (until the move, R holds
//     the complete new pair), and R's certificate object is deleted;
//   - new key, card cannot move keys (in place; only for certificates
//     that need no approval): rekeying:S is recorded before GENERATE in
//     S, the certificate signed at once and written;
//   - reuse key: the key in S is certified again and the certificate
//     written over the old one: S always holds a matching pair;
//   - archive key: the new key is made and archived on the server and
//     imported into S only once its certificate is to be written;
//   - remove: the certificate (and, on a card that can, the key) is
//     deleted from S, then revoked.
//
// Each slot ends with a read-back of S (verified:S), in whose
// transaction the old certificate is revoked as superseded: an old
// certificate is revoked only once its replacement is proven on the card.

// updateSteps runs the update's card steps not yet recorded. It reports
// pending when a certificate waits for an approval (the card keeps its
// old one meanwhile).
func (s *Cards) updateSteps(ctx context.Context, j *issueJob) (pending bool, err error) {
	d, u := &j.data, j.data.Update
	u.init()
	// The card has its own management key since its issue; no PIN is
	// touched.
	admin, err := s.cardAdmin(ctx, j, personalize.TypeKeys(j.ct, j.secrets))
	if err != nil {
		return false, err
	}
	for _, sl := range d.Plan.Slots {
		if u.Verified[sl.Slot] {
			continue
		}
		// A certificate removed from the slot a new one takes leaves
		// first.
		for _, rm := range u.removals() {
			if rm.Slot == sl.Slot && !u.Removed[rm.Slot] {
				if err := s.removeSlot(ctx, j, admin, rm); err != nil {
					return false, err
				}
			}
		}
		waiting, err := s.updateSlot(ctx, j, admin, sl)
		if err != nil {
			return false, err
		}
		pending = pending || waiting
	}
	for _, rm := range u.removals() {
		if !u.Removed[rm.Slot] {
			if err := s.removeSlot(ctx, j, admin, rm); err != nil {
				return false, err
			}
		}
	}
	if err := s.updateHistory(ctx, j, admin); err != nil {
		return false, err
	}
	if !d.Tracked {
		if err := s.trackCertificates(ctx, j); err != nil {
			return false, err
		}
	}
	return pending, nil
}

// updateSlot takes renew or add slot sl as far as it goes: waiting when
// its certificate waits for an approval.
func (s *Cards) updateSlot(ctx context.Context, j *issueJob, admin *piv.Admin, sl issuance.SlotPlan) (waiting bool, err error) {
	d, u := &j.data, j.data.Update
	row := u.row(sl.Slot)
	if row == nil {
		return false, lanyard.Errorf(lanyard.EInternal, "the update's record has no row for slot %s", sl.Slot)
	}
	if d.Certs[sl.Slot] == "" {
		if waiting, err := s.updateCertificate(ctx, j, admin, sl, row); err != nil || waiting {
			return waiting, err
		}
		if d.Certs[sl.Slot] == "" {
			return true, nil
		}
	}
	if sl.NeedForm && !d.Written[sl.Slot] {
		ok, err := s.formApproved(ctx, j, sl)
		if err != nil || !ok {
			return err == nil, err
		}
	}
	rec, cert, err := s.updateCert(ctx, j, sl)
	if err != nil {
		return false, err
	}
	slot, err := personalize.ParseSlot(sl.Slot)
	if err != nil {
		return false, err
	}
	if !d.Written[sl.Slot] {
		if err := s.writeNew(ctx, j, admin, sl, row, slot); err != nil {
			return false, err
		}
	}
	if row.Staged && !u.Swapped[sl.Slot] {
		if err := s.swapStaged(ctx, j, admin, sl, slot, cert); err != nil {
			return false, err
		}
	}
	return false, s.verifySlot(ctx, j, sl, row, slot, rec, cert)
}

// updateCertificate makes the new key of slot sl (or takes the old one)
// and has it certified: signed at once (issued:slot) or queued for the
// CA's approval (requested:slot; waiting).
func (s *Cards) updateCertificate(ctx context.Context, j *issueJob, admin *piv.Admin, sl issuance.SlotPlan, row *issuance.UpdateSlot) (waiting bool, err error) {
	d := &j.data
	if id := d.Requests[sl.Slot]; id != 0 {
		return s.approvedCertificate(ctx, j, sl, id)
	}
	tpl := j.tpls[sl.Template]
	if tpl == nil {
		return false, lanyard.Errorf(lanyard.EUnavailable, "template %q no longer exists", sl.Template)
	}
	tpl = shortened(tpl, d.MaxValidityDays)
	slot, err := personalize.ParseSlot(sl.Slot)
	if err != nil {
		return false, err
	}
	var pub crypto.PublicKey
	var archived int64
	switch {
	case row.Key == lanyard.RenewalReuseKey:
		pub, err = s.reusedKey(ctx, j, slot, row)
	case tpl.KeyArchival:
		pub, archived, err = s.archiveNewKey(ctx, j, sl, tpl)
	case row.Staged:
		pub, err = s.stagedKey(ctx, j, admin, sl)
	default:
		pub, err = s.inPlaceKey(ctx, j, admin, sl, slot)
	}
	if err != nil {
		return false, err
	}
	if err := ca.CheckPublicKey(tpl, pub); err != nil {
		return false, err
	}
	if sl.NeedCA {
		// The request waits in the CA's queue; the card keeps its old
		// pair and is used as before.
		return true, s.queueCardRequest(ctx, j, sl, tpl, pub)
	}
	return false, s.signSlot(ctx, j, sl, tpl, pub, archived)
}

// reusedKey is the key in slot that a reuse-key renewal certifies again:
// read from the card (GET METADATA) or, for a card that cannot tell, from
// the held certificate, and checked to be the held certificate's key.
func (s *Cards) reusedKey(ctx context.Context, j *issueJob, slot piv.Slot, row *issuance.UpdateSlot) (crypto.PublicKey, error) {
	var pub crypto.PublicKey
	md, err := j.pc.Metadata(ctx, slot.Ref())
	switch {
	case err == nil && md.PublicKey != nil:
		pub = md.PublicKey
	case err == nil || errors.Is(err, piv.ErrUnsupported):
		old, err := j.pc.Certificate(ctx, slot)
		if err != nil {
			return nil, personalize.CardError(err, "reading the certificate in slot "+row.Slot)
		}
		pub = old.PublicKey
	default:
		return nil, personalize.CardError(err, "reading the key in slot "+row.Slot)
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "public key cannot be encoded")
	}
	sum := sha256.Sum256(spki)
	if hex.EncodeToString(sum[:]) != row.OldKey {
		return nil, lanyard.Errorf(lanyard.EConflict, "the key in slot %s is no longer the one certificate %s certifies, so it is not certified again; update the card with a new key (template renewal key) or replace it", row.Slot, row.Old)
	}
	return pub, nil
}

// stagedKey generates slot sl's new key in a spare retired slot, chosen
// and recorded (staged:slot) before the key is generated there: a run
// resumed after a lost reply generates there again.
func (s *Cards) stagedKey(ctx context.Context, j *issueJob, admin *piv.Admin, sl issuance.SlotPlan) (crypto.PublicKey, error) {
	u := j.data.Update
	if u.Stage[sl.Slot] == "" {
		r, err := freeRetiredSlot(ctx, j.pc, u.Stage, len(j.data.History))
		if err != nil {
			return nil, err
		}
		u.Stage[sl.Slot] = personalize.SlotString(r)
		if err := j.run.Step(ctx, operation.Staged.On(sl.Slot)); err != nil {
			delete(u.Stage, sl.Slot)
			return nil, err
		}
	}
	r, err := personalize.ParseSlot(u.Stage[sl.Slot])
	if err != nil {
		return nil, err
	}
	return personalize.GenerateKey(ctx, admin, r, sl.Algorithm)
}

// inPlaceKey generates slot's new key over the old one (a card that
// cannot move keys), recording rekeying:slot before: from GENERATE on the
// old key is gone, and the old certificate no longer matches until the
// new one is written.
func (s *Cards) inPlaceKey(ctx context.Context, j *issueJob, admin *piv.Admin, sl issuance.SlotPlan, slot piv.Slot) (crypto.PublicKey, error) {
	if err := s.markRekeying(ctx, j, sl.Slot); err != nil {
		return nil, err
	}
	return personalize.GenerateKey(ctx, admin, slot, sl.Algorithm)
}

func (s *Cards) markRekeying(ctx context.Context, j *issueJob, slot string) error {
	return markSlot(ctx, j, j.data.Update.Rekeying, operation.Rekeying, slot)
}

// markSlot records step on slot once (m[slot] set), before the card is
// told what the step announces.
func markSlot(ctx context.Context, j *issueJob, m map[string]bool, step operation.SlotStep, slot string) error {
	if m[slot] {
		return nil
	}
	m[slot] = true
	if err := j.run.Step(ctx, step.On(slot)); err != nil {
		delete(m, slot)
		return err
	}
	return nil
}

// archiveNewKey makes an archive-key template's new key on the server
// and archives it (pending until its certificate is recorded); nothing
// reaches the card yet. Every card kind imports it, as at Issue card
// (issuearchive.go): a TPM card only RSA 2048 and 3072, which the plan
// chose (issuance.KeyAlgorithm) and a plan recorded before that rule is
// checked against again. An attempt interrupted before its certificate
// was recorded left a pending key, discarded first.
func (s *Cards) archiveNewKey(ctx context.Context, j *issueJob, sl issuance.SlotPlan, tpl *lanyard.Template) (crypto.PublicKey, int64, error) {
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
	// Recorded with the request if the certificate waits: the key is
	// imported when it is written.
	j.data.Update.Archived[sl.Slot] = k.ID
	return key.Public(), k.ID, nil
}

// updateCert reads the new certificate of slot sl, issued or approved for
// this update.
func (s *Cards) updateCert(ctx context.Context, j *issueJob, sl issuance.SlotPlan) (*lanyard.Certificate, *x509.Certificate, error) {
	rec, err := s.slotCertificate(ctx, j, sl)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		return nil, nil, lanyard.Wrap(lanyard.EInternal, err, "stored certificate does not parse")
	}
	return rec, cert, nil
}

// writeNew writes slot sl's new certificate to the card (written:slot):
// into the staging slot when the key was staged, else into the slot,
// after importing an archived key there.
func (s *Cards) writeNew(ctx context.Context, j *issueJob, admin *piv.Admin, sl issuance.SlotPlan, row *issuance.UpdateSlot, slot piv.Slot) error {
	u := j.data.Update
	to := slot
	switch {
	case row.Staged:
		r, err := personalize.ParseSlot(u.Stage[sl.Slot])
		if err != nil {
			return err
		}
		to = r
	case u.Archived[sl.Slot] != 0 && row.Key == lanyard.RenewalNewKey:
		if err := s.importArchived(ctx, j, admin, sl, slot, u.Archived[sl.Slot]); err != nil {
			return err
		}
	}
	return s.writeCertificateTo(ctx, j, admin, sl, to)
}

// importArchived imports archived key id into slot, recording
// rekeying:slot first (IMPORT KEY overwrites the old key).
func (s *Cards) importArchived(ctx context.Context, j *issueJob, admin *piv.Admin, sl issuance.SlotPlan, slot piv.Slot, id int64) error {
	if err := s.markRekeying(ctx, j, sl.Slot); err != nil {
		return err
	}
	var key crypto.Signer
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { _, key, err = s.archive.OpenTx(tx, id); return }); err != nil {
		return err
	}
	return personalize.ImportKey(ctx, admin, slot, key)
}

// swapStaged puts a staged slot's new pair into the slot (swapping:slot
// recorded first, then swapped:slot): the certificate first (the staging slot still holds the whole new
// pair), then the old key deleted and the new one moved in, then the
// staging slot's certificate object deleted. A run resumed after a lost
// reply finds the move done when the slot's key is the new one.
func (s *Cards) swapStaged(ctx context.Context, j *issueJob, admin *piv.Admin, sl issuance.SlotPlan, slot piv.Slot, cert *x509.Certificate) error {
	u := j.data.Update
	r, err := personalize.ParseSlot(u.Stage[sl.Slot])
	if err != nil {
		return err
	}
	moved, _, err := slotKeyMatches(ctx, j.pc, slot, cert)
	if err != nil {
		return err
	}
	if !moved {
		staged, _, err := slotKeyMatches(ctx, j.pc, r, cert)
		if err != nil {
			return err
		}
		if !staged {
			return lanyard.Errorf(lanyard.EConflict, "neither slot %s nor the staging slot %s holds the new key of certificate %s; the card was changed during the update", sl.Slot, u.Stage[sl.Slot], cert.SerialNumber.Text(16))
		}
		// The old decryption key is kept as an earlier key: its retired
		// slot chosen and recorded before the slot is touched.
		row := u.row(sl.Slot)
		if row != nil && row.Retire {
			if err := s.chooseRetired(ctx, j, sl.Slot, row); err != nil {
				return err
			}
		}
		// Recorded before the slot is touched: from the PUT DATA on, the
		// slot may hold the new certificate (Cancel card update then
		// refuses, since revoking it would break the slot), and Continue
		// finishes the swap from where the new key is (S or the staging
		// slot), above.
		if err := markSlot(ctx, j, u.Swapping, operation.Swapping, sl.Slot); err != nil {
			return err
		}
		// The old key of an archive-key template goes to the key history
		// once the new one is in place (updateHistory): the server holds
		// it. Archive-key templates are never staged; the old key of a
		// key-management template that does not archive is moved into
		// the next retired slot (retireOld), or, when none was free and
		// its loss was accepted, deleted.
		if err := admin.PutCertificate(ctx, slot, cert); err != nil {
			return personalize.CardError(err, "writing the certificate to slot "+sl.Slot+" failed")
		}
		if err := s.retireOld(ctx, j, admin, sl.Slot, slot); err != nil {
			return err
		}
		if err := personalize.DeleteKey(ctx, admin, slot); err != nil {
			return err
		}
		if err := personalize.MoveKey(ctx, admin, r, slot); err != nil {
			return err
		}
	}
	if err := admin.DeleteCertificate(ctx, r); err != nil && !errors.Is(err, piv.ErrNotFound) {
		return personalize.CardError(err, "deleting the staging slot "+u.Stage[sl.Slot])
	}
	u.Swapped[sl.Slot] = true
	if err := j.run.Step(ctx, operation.Swapped.On(sl.Slot)); err != nil {
		delete(u.Swapped, sl.Slot)
		return err
	}
	return nil
}

// verifySlot reads slot back (its new certificate and key; a staging slot
// empty) and records verified:slot, revoking the old certificate as
// superseded in the same transaction.
func (s *Cards) verifySlot(ctx context.Context, j *issueJob, sl issuance.SlotPlan, row *issuance.UpdateSlot, slot piv.Slot, rec *lanyard.Certificate, cert *x509.Certificate) error {
	u := j.data.Update
	keyChecked, err := personalize.ReadBack(ctx, j.pc, slot, cert)
	if err != nil {
		return err
	}
	if r := u.Stage[sl.Slot]; r != "" {
		rs, err := personalize.ParseSlot(r)
		if err != nil {
			return err
		}
		if err := slotEmpty(ctx, j.pc, rs, true); err != nil {
			return err
		}
	}
	u.Verified[sl.Slot], u.KeyChecked[sl.Slot] = true, keyChecked
	if row.Old != "" {
		u.Superseded[row.Old] = rec.Serial
	}
	details := map[string]any{"card": j.card.ID, "operation": j.op.ID, "slot": sl.Slot, "template": sl.Template, "new": rec.Serial, "key": string(row.Key), "key_checked": keyChecked}
	if row.Old != "" {
		details["old"] = row.Old
	}
	// The event is about the certificate superseded; an added one
	// supersedes none and is told as the update's step.
	var ev *lanyard.AuditEvent
	if row.Old != "" {
		ev = s.rec.Event(j.p, "cert.supersede", "certificate", row.Old, details)
	}
	err = j.run.Step(ctx, operation.Verified.On(sl.Slot), operation.Also(func(tx lanyard.Tx) error {
		return s.supersede(ctx, tx, row)
	}), operation.Event(ev))
	if err != nil {
		delete(u.Verified, sl.Slot)
		if row.Old != "" {
			delete(u.Superseded, row.Old)
		}
	}
	return err
}

// supersede revokes row's old certificate (reason superseded, the CRL
// re-signed), in tx; one already revoked stays as it is.
func (s *Cards) supersede(ctx context.Context, tx lanyard.Tx, row *issuance.UpdateSlot) error {
	if row.Old == "" {
		return nil
	}
	old, err := tx.CertificateBySerial(row.OldCA, row.Old)
	if lanyard.IsCode(err, lanyard.ENotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = s.pki.RevokeCertificatesFor(ctx, tx, []*lanyard.Certificate{old}, lanyard.ReasonSuperseded, func(c *lanyard.Certificate) bool {
		return c.Status != lanyard.CertRevoked
	})
	return err
}

// removeSlot deletes a certificate the policy no longer names from the
// card (with its key, on a card that can delete keys), reads the slot
// back empty and records removed:slot, revoking the certificate as
// superseded in the same transaction. Delete before revoke: a run
// pulled in between leaves a valid certificate that is no longer on the
// card, and the resumed run revokes it.
func (s *Cards) removeSlot(ctx context.Context, j *issueJob, admin *piv.Admin, row issuance.UpdateSlot) error {
	u := j.data.Update
	slot, err := personalize.ParseSlot(row.Slot)
	if err != nil {
		return err
	}
	if err := personalize.DeleteCertificates(ctx, admin, []string{row.Slot}); err != nil {
		return err
	}
	if u.CanMove {
		if err := personalize.DeleteKey(ctx, admin, slot); err != nil {
			return err
		}
	}
	if err := slotEmpty(ctx, j.pc, slot, u.CanMove); err != nil {
		return err
	}
	u.Removed[row.Slot] = true
	u.Superseded[row.Old] = ""
	details := map[string]any{"card": j.card.ID, "operation": j.op.ID, "slot": row.Slot, "template": row.Template, "old": row.Old, "removed": true}
	err = j.run.Step(ctx, operation.Removed.On(row.Slot), operation.Also(func(tx lanyard.Tx) error { return s.supersede(ctx, tx, &row) }),
		operation.Event(s.rec.Event(j.p, "cert.supersede", "certificate", row.Old, details)))
	if err != nil {
		delete(u.Removed, row.Slot)
		delete(u.Superseded, row.Old)
	}
	return err
}

// untrack unbinds, in tx, the tracked records the update found gone from
// the card (or written over): they stay recorded, bound to no card.
func (s *Cards) untrack(tx lanyard.Tx, j *issueJob) ([]string, error) {
	var out []string
	for _, serial := range j.data.Update.Plan.Untracked {
		certs, err := tx.ListCertificates(lanyard.CertFilter{CardID: j.card.ID})
		if err != nil {
			return nil, err
		}
		for _, c := range certs {
			if c.Serial != serial || c.Source != lanyard.SourceTracked || s.stillOnCard(j, c) {
				continue
			}
			c.CardID, c.UpdatedAt = 0, s.rec.Clock()
			if err := tx.UpdateCertificate(c); err != nil {
				return nil, err
			}
			out = append(out, serial)
		}
	}
	return out, nil
}

// stillOnCard reports whether tracked record c is what the card holds in
// its slot now: another system's certificate with the same serial (a
// serial is unique per issuer only, RFC 5280 4.1.2.2) may have replaced
// it, and only the record of the one gone is unbound.
func (s *Cards) stillOnCard(j *issueJob, c *lanyard.Certificate) bool {
	return slices.ContainsFunc(j.found, func(f issuance.Found) bool {
		return f.Certificate != nil && f.Slot == c.Slot && f.Serial == c.Serial && trackedCA(f.Certificate) == c.CA
	})
}

// updateEvent is an update's audit event on its card.
func (s *Cards) updateEvent(j *issueJob, action string, details map[string]any) *lanyard.AuditEvent {
	details["operation"] = j.op.ID
	details["serial"] = j.card.Serial
	return s.rec.Event(j.p, action, "card", strconv.FormatInt(j.card.ID, 10), details)
}
