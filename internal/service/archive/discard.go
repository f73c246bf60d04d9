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
	k, err := tx.ArchivedKeyByID(id)
	if err != nil {
		return err
	}
	switch k.State {
	case lanyard.ArchivedKeyDiscarded:
		return nil
	case lanyard.ArchivedKeyActive:
		return lanyard.Errorf(lanyard.EConflict, "archived key %d has certificate %s; it stays archived", id, k.CertificateSerial)
	}
	k.State, k.SealedKey, k.UpdatedAt = lanyard.ArchivedKeyDiscarded, nil, a.rec.Clock()
	if err := tx.UpdateArchivedKey(k); err != nil {
		return err
	}
	details := map[string]any{"owner_id": k.OwnerID, "card_id": k.CardID, "template": k.Template}
	for name, v := range extra {
		details[name] = v
	}
	return tx.AppendAudit(a.rec.Event(p, "key.discard", "archived_key", strconv.FormatInt(id, 10), details))
}
