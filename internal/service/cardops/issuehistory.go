package cardops

import (
	"cmp"
	"context"
	"crypto"
	"crypto/x509"
	"slices"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
)

// Recovery onto the owner's new or replacement card (docs/lifecycle.md,
// "Key archival"). When a PIV card is issued with a template that
// archives its key, the template's slot gets a new archived key
// (issuearchive.go) and the owner's earlier archived keys of the plan's
// archive-key templates go into the retired key management slots 82 up,
// newest first, with the Key History Object counting them
// (personalize.WriteRetiredKeys): mail encrypted to an earlier
// certificate still opens with the card. The new card of a replacement
// gets the owner's archived keys of every template, the replaced card's
// current key among them, whatever templates it has itself.
//
// Two steps, so that no key reaches a card before its recovery is on
// record: keys_recovering chooses the keys and records them in the
// operation with the key.recover event and the owner's notice, in one
// transaction; the card then gets them, and keys_recovered records that
// it has. A run interrupted in between writes the recorded keys again,
// into the same slots, without a second event.

// The recovery's steps (operation.Step names are stored: never change
// them).
const (
	stepKeysRecovering operation.Step = "keys_recovering" // the earlier keys are chosen, their recovery recorded
	stepKeysRecovered  operation.Step = "keys_recovered"  // they are in the retired slots with the key history
)

// RecoveredKey is an archived key opened to go onto its owner's card,
// with its certificate (KeyArchive.OpenForCardTx).
type RecoveredKey struct {
	Key         *lanyard.ArchivedKey // without its sealed key
	Private     crypto.Signer
	Certificate *x509.Certificate
}

// recoverHistory puts j's owner's earlier archived keys on the card, when
// there are any and the card is a PIV card.
func (s *Cards) recoverHistory(ctx context.Context, j *issueJob, admin *piv.Admin) error {
	d := &j.data
	if d.HistoryDone || j.ct.Kind != lanyard.KindPIV {
		return nil
	}
	var keys []RecoveredKey
	if d.History == nil {
		ids, err := s.earlierKeys(ctx, j)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			d.HistoryDone = true // recorded with the next step
			return nil
		}
		if keys, err = s.recordRecovery(ctx, j, ids); err != nil {
			return err
		}
	} else if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		keys, err = s.archive.OpenForCardTx(tx, j.user.ID, d.History)
		return err
	}); err != nil {
		return err
	}
	retired := make([]personalize.RetiredKey, len(keys))
	for i, k := range keys {
		retired[i] = personalize.RetiredKey{Key: k.Private, Certificate: k.Certificate}
	}
	if err := personalize.WriteRetiredKeys(ctx, j.pc, admin, retired); err != nil {
		return err
	}
	d.HistoryDone = true
	if err := j.run.Step(ctx, stepKeysRecovered); err != nil {
		d.HistoryDone = false
		return err
	}
	return nil
}

// earlierKeys lists the IDs of j's owner's active archived keys that are
// not the keys this issue certified, newest first, at most as many as the
// retired slots hold: of the plan's archive-key templates, or, for the
// new card of a replacement, of every template (a temporary card with
// the logon template only still opens the owner's mail).
func (s *Cards) earlierKeys(ctx context.Context, j *issueJob) ([]int64, error) {
	current := map[string]bool{}
	for _, serial := range j.data.Certs {
		current[serial] = true
	}
	var found []*lanyard.ArchivedKey
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		tpls, err := s.recoveryTemplates(tx, j)
		if err != nil {
			return err
		}
		found, err = activeArchivedKeys(tx, j.user.ID, tpls, current)
		return err
	})
	ids := newestIDs(found)
	return ids[:min(len(ids), historyRoom(j))], err
}

// recoveryTemplates names the templates whose archived keys j's card
// gets: every template when the card replaces another (its link,
// recorded when the replacement started, tells also a Continue card
// issue), else the plan's that archive keys.
func (s *Cards) recoveryTemplates(tx lanyard.Tx, j *issueJob) ([]string, error) {
	links, err := tx.CardReplacementsOf(j.card.ID)
	if err != nil {
		return nil, err
	}
	if slices.ContainsFunc(links, func(r *lanyard.CardReplacement) bool { return r.NewCardID == j.card.ID }) {
		return allTemplates(tx)
	}
	var names []string
	for _, sl := range j.data.Plan.Slots {
		if tpl := j.tpls[sl.Template]; tpl != nil && tpl.KeyArchival {
			names = append(names, tpl.Name)
		}
	}
	return names, nil
}

// allTemplates names every template: keys archived under one whose
// archive key was turned off since are still the owner's keys.
func allTemplates(tx lanyard.Tx) ([]string, error) {
	tpls, err := tx.ListTemplates()
	names := make([]string, len(tpls))
	for i, t := range tpls {
		names[i] = t.Name
	}
	return names, err
}

// activeArchivedKeys lists ownerID's active archived keys of the
// templates named, except those whose certificate serial is in except,
// newest first.
func activeArchivedKeys(tx lanyard.Tx, ownerID int64, templates []string, except map[string]bool) ([]*lanyard.ArchivedKey, error) {
	var found []*lanyard.ArchivedKey
	seen := map[string]bool{}
	for _, name := range templates {
		if seen[name] {
			continue
		}
		seen[name] = true
		ks, err := tx.ArchivedKeysOf(ownerID, name)
		if err != nil {
			return nil, err
		}
		for _, k := range ks {
			if k.State == lanyard.ArchivedKeyActive && !except[k.CertificateSerial] {
				found = append(found, k)
			}
		}
	}
	slices.SortFunc(found, func(a, b *lanyard.ArchivedKey) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
	})
	return found, nil
}

// newestIDs returns the IDs of the first keys of ks (newest first), as
// many as the retired slots hold.
func newestIDs(ks []*lanyard.ArchivedKey) []int64 {
	ids := make([]int64, 0, min(len(ks), personalize.MaxRetiredKeys))
	for _, k := range ks[:min(len(ks), personalize.MaxRetiredKeys)] {
		ids = append(ids, k.ID)
	}
	return ids
}

// recordRecovery records ids as the keys j puts on the card, opening them
// (each must still be recoverable), with the owner's notice and the
// key.recover event, in one transaction; it returns the opened keys.
func (s *Cards) recordRecovery(ctx context.Context, j *issueJob, ids []int64) ([]RecoveredKey, error) {
	var keys []RecoveredKey
	queued := false
	j.data.History = ids
	err := j.run.Step(ctx, stepKeysRecovering, operation.Also(func(tx lanyard.Tx) (err error) {
		keys, queued, err = s.openForCardTx(tx, j.p, j.user, j.card, ids)
		return err
	}), operation.EventAfter(func() *lanyard.AuditEvent {
		return s.rec.Event(j.p, "key.recover", "card", strconv.FormatInt(j.card.ID, 10), recoveryDetails(j.card, j.user, j.op.ID, keys, queued))
	}))
	if err != nil {
		j.data.History = nil
		return nil, err
	}
	s.archive.Wake(queued)
	return keys, nil
}

// openForCardTx opens owner's archived keys ids in tx to go onto card
// and queues the owner's notice of it (reporting whether one was queued).
func (s *Cards) openForCardTx(tx lanyard.Tx, p *lanyard.Principal, owner *lanyard.User, card *lanyard.Card, ids []int64) ([]RecoveredKey, bool, error) {
	keys, err := s.archive.OpenForCardTx(tx, owner.ID, ids)
	if err != nil {
		return nil, false, err
	}
	archived := make([]*lanyard.ArchivedKey, len(keys))
	for i, k := range keys {
		archived[i] = k.Key
	}
	queued, err := s.archive.NotifyOntoCardTx(tx, p, owner, card, archived)
	return keys, queued, err
}

// recoveryDetails is what the key.recover event of a recovery onto card
// (by operation opID) says: the card, the owner, and per key its ID,
// template, certificate serial and retired slot; never a key.
func recoveryDetails(card *lanyard.Card, owner *lanyard.User, opID int64, keys []RecoveredKey, notified bool) map[string]any {
	ids := make([]int64, len(keys))
	list := make([]map[string]any, len(keys))
	for i, k := range keys {
		slot, _ := pivspec.RetiredSlot(i + 1)
		ids[i] = k.Key.ID
		list[i] = map[string]any{"archived_key": k.Key.ID, "template": k.Key.Template, "serial": k.Key.CertificateSerial,
			"kra_version": k.Key.KRAVersion, "slot": personalize.SlotString(slot)}
	}
	return map[string]any{"format": "card", "card": card.ID, "card_serial": card.Serial, "owner": owner.Login,
		"operation": opID, "archived_keys": ids, "keys": list, "notified": notified}
}
