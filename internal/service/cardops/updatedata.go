package cardops

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"slices"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/cardperm"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// updateRecord is what an update records beyond an issue's record
// (issueData.Update): the whole plan, keep and remove rows included, and
// per slot how far the card got. issueData.Plan holds only the slots
// that get a new certificate, so the issue's certificate steps (CA
// request, approval, documents, signing) and everything reading issue
// records (the CA request hook, the documents check, the card view's
// pending lines) work on an update unchanged.
type updateRecord struct {
	Plan issuance.UpdatePlan `json:"plan"`
	// CanMove: the card can move keys (MOVE KEY), so a new key is built
	// in a spare retired slot (Stage) and moved into place at the end.
	CanMove bool `json:"can_move"`
	// Stage maps a target slot to the retired slot its new key is built
	// in, recorded before the key is generated there.
	Stage map[string]string `json:"stage,omitempty"`
	// Rekeying marks a slot whose key is replaced in place (GENERATE or
	// an archived key's IMPORT): recorded before the card is told, since
	// from then on the old key may be gone.
	Rekeying map[string]bool `json:"rekeying,omitempty"`
	// Retire maps a staged slot whose old key is kept on the card as an
	// earlier key (issuance.UpdateSlot.Retire) to the retired slot it
	// goes to, recorded (retiring:S) before the slot is touched.
	Retire map[string]string `json:"retire,omitempty"`
	// Swapping marks a staged slot whose new certificate and key are
	// being moved into the target slot (PUT DATA, DELETE KEY, MOVE KEY):
	// recorded before the first of them, since from then on the slot may
	// hold the new certificate (with the old key, no key or the new key).
	Swapping map[string]bool `json:"swapping,omitempty"`
	// Swapped marks a staged slot whose new key and certificate are in
	// the target slot.
	Swapped map[string]bool `json:"swapped,omitempty"`
	// Verified marks a slot read back with its new certificate and key;
	// its old certificate was revoked (superseded) in the same step.
	Verified map[string]bool `json:"verified,omitempty"`
	// KeyChecked: the card told the slot's key when it was read back
	// (GET METADATA); false for a standard PIV card, where only the
	// certificate object was compared.
	KeyChecked map[string]bool `json:"key_checked,omitempty"`
	// Removed marks a slot whose certificate was deleted from the card
	// and revoked.
	Removed map[string]bool `json:"removed,omitempty"`
	// Superseded maps an old serial to the serial that replaced it (""
	// for a removed certificate).
	Superseded map[string]string `json:"superseded,omitempty"`
	// Archived maps a slot of an archive-key template to the archived key
	// made for it on the server: imported into the slot only once its
	// certificate is written, so the card keeps its old key while the
	// certificate waits for an approval.
	Archived map[string]int64 `json:"archived,omitempty"`
	// Auto: started by the automatic update on connect.
	Auto bool `json:"auto,omitempty"`
}

func newUpdateRecord(plan *issuance.UpdatePlan, canMove, auto bool) *updateRecord {
	return &updateRecord{Plan: *plan, CanMove: canMove, Auto: auto}
}

// init makes the record's maps (a record read back has nil maps for the
// steps not taken yet).
func (u *updateRecord) init() {
	for _, m := range []*map[string]bool{&u.Rekeying, &u.Swapping, &u.Swapped, &u.Verified, &u.KeyChecked, &u.Removed} {
		if *m == nil {
			*m = map[string]bool{}
		}
	}
	if u.Stage == nil {
		u.Stage = map[string]string{}
	}
	if u.Retire == nil {
		u.Retire = map[string]string{}
	}
	if u.Superseded == nil {
		u.Superseded = map[string]string{}
	}
	if u.Archived == nil {
		u.Archived = map[string]int64{}
	}
}

// row is the plan's renew or add row of slot.
func (u *updateRecord) row(slot string) *issuance.UpdateSlot {
	for i := range u.Plan.Slots {
		r := &u.Plan.Slots[i]
		if r.Slot == slot && (r.Action == issuance.ActionRenew || r.Action == issuance.ActionAdd) {
			return r
		}
	}
	return nil
}

// removals are the plan's remove rows.
func (u *updateRecord) removals() []issuance.UpdateSlot {
	return slices.DeleteFunc(slices.Clone(u.Plan.Slots), func(r issuance.UpdateSlot) bool { return r.Action != issuance.ActionRemove })
}

// inUse reports whether the new certificate of slot may already be in
// use on the card: its key moved or generated into the slot, an archived
// key imported there, a staged pair being moved in (swapping: the slot may
// hold the new certificate already), or (reuse key, in place) the
// certificate written over the old one; and the slot not yet read back.
// Cancelling then would revoke the certificate the card uses.
func (u *updateRecord) inUse(d *issueData, slot string) bool {
	if u.Verified[slot] {
		return false
	}
	staged := u.Stage[slot] != ""
	return u.Swapping[slot] || u.Swapped[slot] || u.Rekeying[slot] || (d.Written[slot] && !staged)
}

// unfinishedUpdateTx is the card's running, interrupted or pending
// update, if any.
func unfinishedUpdateTx(tx lanyard.Tx, cardID int64) (*lanyard.Operation, error) {
	ops, err := tx.ListOperations(lanyard.OperationFilter{CardID: cardID, Kind: lanyard.OpUpdate, Unfinished: true, Limit: 1})
	if err != nil || len(ops) == 0 {
		return nil, err
	}
	return ops[0], nil
}

// unfinishedRecoverKeysTx is the card's unfinished Recover keys onto
// card, or nil.
func unfinishedRecoverKeysTx(tx lanyard.Tx, cardID int64) (*lanyard.Operation, error) {
	ops, err := tx.ListOperations(lanyard.OperationFilter{CardID: cardID, Kind: lanyard.OpRecoverKeys, Unfinished: true, Limit: 1})
	if err != nil || len(ops) == 0 {
		return nil, err
	}
	return ops[0], nil
}

// unfinishedKind is the kind of the card's unfinished issue, update or
// Recover keys onto card ("" when none): an update waits until it is
// continued (an update writing the key history over a recovery half
// written would lose the keys it recorded).
func unfinishedKind(tx lanyard.Tx, cardID int64) (lanyard.OperationKind, error) {
	for _, find := range []func(lanyard.Tx, int64) (*lanyard.Operation, error){unfinishedIssueTx, unfinishedUpdateTx, unfinishedRecoverKeysTx} {
		op, err := find(tx, cardID)
		if err != nil {
			return "", err
		}
		if op != nil {
			return op.Kind, nil
		}
	}
	return "", nil
}

// heldCertificates is what the card holds by the records: Lanyard's
// certificates on it (the newest per slot; written, expired, on hold or
// revoked on their own), and the tracked third-party records bound to
// it. A certificate revoked as superseded or ceased (an update replaced
// or removed it, a cancelled update never used it) is no longer held.
func heldCertificates(tx lanyard.Tx, card *lanyard.Card, tpls map[string]*lanyard.Template) (held, tracked []issuance.HeldCert, err error) {
	certs, err := tx.ListCertificates(lanyard.CertFilter{CardID: card.ID})
	if err != nil {
		return nil, nil, err
	}
	slotOfCert := func(c *lanyard.Certificate) string {
		if t := tpls[c.Template]; c.Slot == "" && t != nil {
			return slotOf(t)
		}
		return c.Slot
	}
	newest := map[string]*lanyard.Certificate{}
	var order []string
	for _, c := range certs {
		if c.Source == lanyard.SourceTracked {
			if c.Status != lanyard.CertRevoked {
				tracked = append(tracked, heldOf(c, slotOfCert(c)))
			}
			continue
		}
		switch c.Status {
		case lanyard.CertWritten, lanyard.CertExpired:
		case lanyard.CertRevoked:
			if c.Reason == lanyard.ReasonSuperseded || c.Reason == lanyard.ReasonCessationOfOperation {
				continue
			}
		default:
			continue // not on the card (yet)
		}
		slot := slotOfCert(c)
		cur := newest[slot]
		if cur == nil {
			order = append(order, slot)
		}
		if cur == nil || c.NotBefore.After(cur.NotBefore) || (c.NotBefore.Equal(cur.NotBefore) && c.ID > cur.ID) {
			newest[slot] = c
		}
	}
	for _, slot := range order {
		c := newest[slot]
		h := heldOf(c, slot)
		h.Revoked = c.Status == lanyard.CertRevoked
		if h.Archived, err = archivedFor(tx, card.OwnerID, c); err != nil {
			return nil, nil, err
		}
		held = append(held, h)
	}
	return held, tracked, nil
}

// heldOf is certificate c, in slot, as the update decisions see it.
func heldOf(c *lanyard.Certificate, slot string) issuance.HeldCert {
	h := issuance.HeldCert{Serial: c.Serial, CA: c.CA, Template: c.Template, Slot: slot, Subject: c.Subject, NotAfter: c.NotAfter, KeySHA256: c.KeySHA256}
	if parsed, err := x509.ParseCertificate(c.DER); err == nil {
		h.Algorithm = lanyard.KeyAlgorithmOf(parsed.PublicKey)
		h.Issuer = parsed.Issuer.String()
	}
	return h
}

// archivedFor reports whether the server holds a copy of c's key (key
// archival): an archived key of c's template certified by c.
func archivedFor(tx lanyard.Tx, ownerID int64, c *lanyard.Certificate) (bool, error) {
	ks, err := tx.ArchivedKeysOf(ownerID, c.Template)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(ks, func(k *lanyard.ArchivedKey) bool {
		return k.State == lanyard.ArchivedKeyActive && k.CertificateSerial == c.Serial
	}), nil
}

// updateInput is the update decision's input for card, read in tx: its
// owner, policy, card type and templates, and what it holds by the
// records. Staff and Requester are p's.
func (s *Cards) updateInput(tx lanyard.Tx, p *lanyard.Principal, card *lanyard.Card) (*issuance.UpdateInput, error) {
	owner, pol, err := s.ownerPolicy(tx, card)
	if err != nil {
		return nil, err
	}
	if owner == nil || pol == nil {
		return nil, nil
	}
	in := &issuance.UpdateInput{Now: s.rec.Clock()}
	in.Staff, in.Requester = isCardStaff(p), p.User.ID
	in.Settings, in.PolicyName, in.OwnerID, in.Owner, in.Card = pol.Settings, pol.Name, owner.ID, owner, card
	if in.CardType, err = tx.CardTypeByName(card.CardType); err != nil {
		return nil, err
	}
	if in.Templates, err = templatesByName(tx); err != nil {
		return nil, err
	}
	// A software store's certificates are told apart by template, not
	// slot (softupdate.go).
	*in = issuance.StoreUpdateInput(*in)
	if in.Held, in.TrackedRecs, err = heldCertificates(tx, card, in.Templates); err != nil {
		return nil, err
	}
	in.Unfinished, err = unfinishedKind(tx, card.ID)
	return in, err
}

// updateStatus is card's UpdateStatus for its view, from the records
// alone (issuance.UpdateDue): nil for a card that is not issued.
func (s *Cards) updateStatus(tx lanyard.Tx, card *lanyard.Card) (*UpdateStatus, error) {
	if card.State != lanyard.CardIssued || card.OwnerID == 0 {
		return nil, nil
	}
	in, err := s.updateInput(tx, lanyard.SystemPrincipal, card)
	if err != nil || in == nil {
		return nil, err
	}
	in.Staff, in.Requester = false, 0
	st := &UpdateStatus{}
	if st.Unfinished, err = unfinishedUpdateTx(tx, card.ID); err != nil {
		return nil, err
	}
	if st.Unfinished != nil {
		st.Unfinished = viewOperation(st.Unfinished)
	}
	changes, err := issuance.UpdateDue(*in)
	if err != nil {
		// A policy that cannot be applied (a template gone) shows as
		// not due; Update card says why.
		return st, nil
	}
	st.Due, st.Changes = len(changes) > 0, changes
	return st, nil
}

// checkUpdatePerm checks that p may update card (cardperm.Update, or
// op), in tx. A card that is not issued is refused by the update's own
// checks (issuance.OfferUpdate), with their clearer message.
func (s *Cards) checkUpdatePerm(tx lanyard.Tx, p *lanyard.Principal, card *lanyard.Card, op cardperm.Op) error {
	if card.State != lanyard.CardIssued {
		return nil
	}
	owner, pol, err := s.ownerPolicy(tx, card)
	if err != nil {
		return err
	}
	pc, err := permCardTx(tx, card, owner)
	if err != nil {
		return err
	}
	return cardperm.Check(cardperm.ActorOf(p), workflowOf(pol), pc, op)
}

// updateLoad says which card an update expects to find in the reader and
// what permits it (loadUpdate).
type updateLoad struct {
	// card is the card the update is for; 0: the card found in the
	// reader, whichever it is.
	card int64
	// auto: the automatic update on connect, whose permission is the
	// policy's switch, checked again on the card read (checkAutoUpdate).
	auto bool
	// continued: Continue card update, whose permission updateToContinue
	// checked.
	continued bool
}

// loadUpdate reads what an update of the card in cc needs: the issue's
// job (owner, card type, templates) and the update decision's input. The
// card read must be how.card when that is set (the path's card, the
// arrival's card): the update acts on the card read, never on another
// one the caller did not ask for.
func (s *Cards) loadUpdate(ctx context.Context, p *lanyard.Principal, t CardTarget, cc *cardConn, how updateLoad) (*issueJob, *issuance.UpdateInput, error) {
	auto := how.auto
	var card *lanyard.Card
	var ownerLogin string
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		types, err := tx.ListCardTypes()
		if err != nil {
			return err
		}
		ct := recognize(types, cc.r.ATR, cc.serial != "")
		if ct == nil {
			return lanyard.Errorf(lanyard.EInvalid, "no card type recognizes this card (ATR %x); ask your administrator to add its card type", cc.r.ATR)
		}
		switch card, err = tx.CardBySerial(ct.Name, cc.serial); {
		case lanyard.IsCode(err, lanyard.ENotFound):
			return lanyard.Errorf(lanyard.EInvalid, "card %s is not registered in Lanyard; issue it first", cc.serial)
		case err != nil:
			return err
		}
		if how.card != 0 && card.ID != how.card {
			return lanyard.Errorf(lanyard.EConflict, "reader %q holds card %s (ID %d), not card %d: put card %d in the reader", cc.r.Name, card.Serial, card.ID, how.card, how.card)
		}
		if card.OwnerID == 0 {
			return lanyard.Errorf(lanyard.EConflict, "card %s is not issued (%s); issue it instead", card.Serial, card.State)
		}
		if card.OwnerID != p.User.ID && !isCardStaff(p) {
			return lanyard.Errorf(lanyard.EForbidden, "card %s is not yours", card.Serial)
		}
		owner, err := tx.UserByID(card.OwnerID)
		if err != nil {
			return err
		}
		ownerLogin = owner.Login
		switch {
		case auto:
			return s.checkAutoUpdate(tx, t.WorkstationID, card)
		case how.continued:
			return nil
		}
		return s.checkUpdatePerm(tx, p, card, cardperm.Update)
	})
	if err != nil {
		return nil, nil, err
	}
	t.User = ownerLogin
	j, in, err := s.loadIssue(ctx, p, t, cc.r, cc.serial)
	if err != nil {
		return nil, nil, err
	}
	if j.card == nil || j.card.ID != card.ID {
		return nil, nil, lanyard.Errorf(lanyard.EConflict, "card %s changed while it was being read; try again", cc.serial)
	}
	uin := &issuance.UpdateInput{Input: *in, Now: s.rec.Clock(), Auto: auto}
	if auto {
		// The automatic update is the owner's own (decision of issue
		// 17): no staff choices, no second person.
		uin.Staff, uin.Requester = false, 0
	}
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		if uin.Held, uin.TrackedRecs, err = heldCertificates(tx, j.card, j.tpls); err != nil {
			return err
		}
		uin.Unfinished, err = unfinishedKind(tx, j.card.ID)
		return err
	}); err != nil {
		return nil, nil, err
	}
	if err := s.findTracked(ctx, cc.pc, &uin.Input); err != nil {
		return nil, nil, err
	}
	if uin.CanMove, err = personalize.CanMoveKeys(ctx, cc.pc); err != nil {
		return nil, nil, err
	}
	if uin.CanMove {
		h, err := personalize.ReadKeyHistory(ctx, cc.pc)
		if err != nil {
			return nil, nil, err
		}
		uin.HistoryKeys = h.OnCard
	}
	j.pc, j.id, j.found = cc.pc, cc.id, uin.Found
	return j, uin, nil
}

// checkAutoUpdate checks, in tx, on the card actually read, what the
// automatic update decided from the workstation's report
// (autoUpdateDue): the card is tied to workstation wsID and its owner's
// policy updates cards on connect. The system acts for no one else.
func (s *Cards) checkAutoUpdate(tx lanyard.Tx, wsID int64, card *lanyard.Card) error {
	tied, err := cardTiedTo(tx, card, wsID)
	if err != nil {
		return err
	}
	if !tied {
		return lanyard.Errorf(lanyard.EForbidden, "card %s is not tied to workstation %d, so it is not updated automatically there", card.Serial, wsID)
	}
	_, pol, err := s.ownerPolicy(tx, card)
	if err != nil {
		return err
	}
	if pol == nil || !pol.Settings.Workflow.AutoUpdateOnConnect {
		return lanyard.Errorf(lanyard.EForbidden, "the policy of card %s does not update it automatically on connect", card.Serial)
	}
	return nil
}

// stagedSlots are the staging slots of card's updates that may still hold
// a new certificate never moved into place (staged, not swapped): Clear
// deletes them with the card's other certificates.
func (s *Cards) stagedSlots(ctx context.Context, cardID int64) ([]string, error) {
	var out []string
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		ops, err := tx.ListOperations(lanyard.OperationFilter{CardID: cardID, Kind: lanyard.OpUpdate})
		if err != nil {
			return err
		}
		for _, op := range ops {
			var d issueData
			if json.Unmarshal(op.Data, &d) != nil || d.Update == nil {
				continue
			}
			for slot, r := range d.Update.Stage {
				if !d.Update.Swapped[slot] {
					out = append(out, r)
				}
			}
		}
		return nil
	})
	return out, err
}
