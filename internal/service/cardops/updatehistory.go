package cardops

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The key history on Update card contents (docs/lifecycle.md, "Key
// archival"): an archive-key template renewed with a new key leaves the
// old key on the server only (it stays active), so once the new key is
// in its slot the owner's earlier archived keys, the one just replaced
// among them, go into the retired slots 82 up with the Key History
// Object, exactly as at Issue card (issuehistory.go: the same selection,
// steps keys_recovering and keys_recovered, key.recover event and owner's
// notice). Mail encrypted to the old certificate still opens with the
// card.
//
// The update builds new keys in retired slots too, from 95 downward
// (stagedKey): the history is written only below the lowest staging slot
// still in use (historyRoom), and a staging slot is never chosen among
// the slots the history counts or is recorded to take (freeRetiredSlot).

// updateHistory writes j's key history once every archive-key template
// the update renews or adds with a new key is verified in its slot; an
// update without one leaves the retired slots alone.
func (s *Cards) updateHistory(ctx context.Context, j *issueJob, admin *piv.Admin) error {
	u := j.data.Update
	due := false
	for _, r := range u.Plan.Slots {
		tpl := j.tpls[r.Template]
		if tpl == nil || !tpl.KeyArchival || r.Key != lanyard.RenewalNewKey || (r.Action != issuance.ActionRenew && r.Action != issuance.ActionAdd) {
			continue
		}
		if !u.Verified[r.Slot] {
			return nil
		}
		due = true
	}
	if !due {
		return nil
	}
	if !j.data.HistoryDone && j.data.History == nil {
		kept, err := s.onlyOnCardHistory(ctx, j)
		if err != nil || kept {
			// The history is written from 82 with archived keys only, which
			// would drop an earlier key the card alone holds (a retired
			// non-archived decryption key, updateretire.go): the archived
			// keys stay on the server, recoverable, instead.
			if kept {
				s.log.Warn("the card's key history holds a key the server does not; the archived earlier keys are not written onto the card", "card", j.card.ID, "operation", j.op.ID)
			}
			return err
		}
	}
	return s.recoverHistory(ctx, j, admin)
}

// onlyOnCardHistory reports whether the card's key history counts a
// retired slot whose certificate is not of one of the owner's archived
// keys: a key only the card holds.
func (s *Cards) onlyOnCardHistory(ctx context.Context, j *issueJob) (bool, error) {
	slots, err := personalize.HistorySlots(ctx, j.pc)
	if err != nil || len(slots) == 0 {
		return false, err
	}
	var serials []string
	for _, r := range slots {
		c, err := j.pc.Certificate(ctx, r)
		if err != nil {
			return true, nil // counted without its certificate: not the server's to rewrite
		}
		serials = append(serials, c.SerialNumber.Text(16))
	}
	kept := false
	err = s.rec.View(ctx, func(tx lanyard.Tx) error {
		for _, serial := range serials {
			archived := false
			for name := range j.tpls {
				ks, err := tx.ArchivedKeysOf(j.user.ID, name)
				if err != nil {
					return err
				}
				for _, k := range ks {
					archived = archived || k.CertificateSerial == serial
				}
			}
			kept = kept || !archived
		}
		return nil
	})
	return kept, err
}

// historyRoom is how many retired slots from 82 up j's key history may
// take: all of them, for an update up to the lowest staging slot still
// in use (a slot not yet verified, whose staging slot holds or will hold
// its new key).
func historyRoom(j *issueJob) int {
	room := personalize.MaxRetiredKeys
	u := j.data.Update
	if u == nil {
		return room
	}
	for slot, r := range u.Stage {
		if u.Verified[slot] {
			continue
		}
		if rs, err := personalize.ParseSlot(r); err == nil && rs >= pivspec.SlotRetiredFirst && rs <= pivspec.SlotRetiredLast {
			room = min(room, int(rs-pivspec.SlotRetiredFirst))
		}
	}
	return room
}
