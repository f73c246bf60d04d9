package archive

import (
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// DiscardTx is Discard in the caller's transaction, with extra details
// for its key.discard event (why: the CA request the key waited on was
// rejected or withdrawn). The sealed key is erased from the row: a
// discarded key never opens again.
func (a *Archive) DiscardTx(tx lanyard.Tx, p *lanyard.Principal, id int64, extra map[string]any) error {
	return a.discardTx(tx, p, id, "", extra)
}

// DiscardUnusedTx discards archived key id, pending or active with
// certificate serial, in the caller's transaction: the key of a card
// update that was cancelled or failed before the key reached the card,
// whose certificate the same transaction revokes. The key never left the
// server, so nothing was encrypted to it that a card could open; its
// sealed copy is erased as a pending key's is. An active key of another
// certificate is refused.
func (a *Archive) DiscardUnusedTx(tx lanyard.Tx, p *lanyard.Principal, id int64, serial string, extra map[string]any) error {
	return a.discardTx(tx, p, id, serial, extra)
}

// discardTx discards key id: pending, or active with certificate serial
// when serial is set.
func (a *Archive) discardTx(tx lanyard.Tx, p *lanyard.Principal, id int64, serial string, extra map[string]any) error {
	k, err := tx.ArchivedKeyByID(id)
	if err != nil {
		return err
	}
	switch k.State {
	case lanyard.ArchivedKeyDiscarded:
		return nil
	case lanyard.ArchivedKeyActive:
		if serial == "" || k.CertificateSerial != serial {
			return lanyard.Errorf(lanyard.EConflict, "archived key %d has certificate %s; it stays archived", id, k.CertificateSerial)
		}
	}
	k.State, k.SealedKey, k.UpdatedAt = lanyard.ArchivedKeyDiscarded, nil, a.rec.Clock()
	if err := tx.UpdateArchivedKey(k); err != nil {
		return err
	}
	details := map[string]any{"owner_id": k.OwnerID, "card_id": k.CardID, "template": k.Template}
	if serial != "" {
		details["certificate"] = serial
	}
	for name, v := range extra {
		details[name] = v
	}
	return tx.AppendAudit(a.rec.Event(p, "key.discard", "archived_key", strconv.FormatInt(id, 10), details))
}
