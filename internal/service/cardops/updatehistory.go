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
	return s.recoverHistory(ctx, j, admin)
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
