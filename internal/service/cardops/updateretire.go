package cardops

import (
	"context"
	"crypto/x509"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
)

// The old key of a staged key-management renewal that does not archive
// (issuance.UpdateSlot.Retire; docs/lifecycle.md, "Update card
// contents"): it exists only on the card, so before the new key is moved
// into its slot it is moved (MOVE KEY) into the next retired slot with
// its certificate, and the Key History Object counts it
// (personalize.RetireKey). Data encrypted to the old certificate still
// opens with the card.
//
// The retired slot is the one after those the Key History Object counts
// and the archive-key history this operation recorded to write, chosen
// and recorded (retiring:S) before slot S is touched, so a resumed run
// goes to the same slot. It must lie below the lowest staging slot still
// in use (historyRoom) and be none of the update's staging slots.

// chooseRetired records the retired slot slot's old key goes to (once).
func (s *Cards) chooseRetired(ctx context.Context, j *issueJob, slot string, row *issuance.UpdateSlot) error {
	u := j.data.Update
	if u.Retire[slot] != "" {
		return nil
	}
	h, err := personalize.ReadKeyHistory(ctx, j.pc)
	if err != nil {
		return err
	}
	n := max(h.OnCard, len(j.data.History)) + 1
	r, ok := pivspec.RetiredSlot(n)
	free := ok && n <= historyRoom(j)
	for _, st := range u.Stage {
		free = free && st != personalize.SlotString(r)
	}
	if !free {
		return lanyard.Errorf(lanyard.EConflict, "the card has no free retired slot left to keep the old decryption key of slot %s (certificate %s); clear old keys from the card, or update it accepting the key's loss", slot, row.Old)
	}
	u.Retire[slot] = personalize.SlotString(r)
	details := map[string]any{"card": j.card.ID, "operation": j.op.ID, "slot": slot, "template": row.Template, "certificate": row.Old, "retired_slot": u.Retire[slot]}
	err = j.run.Step(ctx, operation.Retiring.On(slot), operation.Event(s.rec.Event(j.p, "card.key.retire", "certificate", row.Old, details)))
	if err != nil {
		delete(u.Retire, slot)
	}
	return err
}

// retireOld moves slot's old key into its recorded retired slot with its
// certificate (nothing when none is recorded); resumed, it finishes
// what was left.
func (s *Cards) retireOld(ctx context.Context, j *issueJob, admin *piv.Admin, name string, slot piv.Slot) error {
	u := j.data.Update
	if u.Retire[name] == "" {
		return nil
	}
	to, err := personalize.ParseSlot(u.Retire[name])
	if err != nil {
		return err
	}
	row := u.row(name)
	var rec *lanyard.Certificate
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { rec, err = tx.CertificateBySerial(row.OldCA, row.Old); return }); err != nil {
		return err
	}
	old, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		return lanyard.Wrap(lanyard.EInternal, err, "stored certificate does not parse")
	}
	return personalize.RetireKey(ctx, j.pc, admin, slot, to, old)
}
