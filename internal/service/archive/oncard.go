package archive

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Recovery onto the owner's card (docs/lifecycle.md, "Key archival"):
// when a card is issued, or replaces another, for an owner with archived
// encryption keys, their earlier keys go into the card's retired key
// management slots so that mail encrypted to their earlier certificates
// still opens. Card issue (internal/service/cardops) does the card work
// and records the recovery in its step's transaction with its event; it
// asks this package for the keys and the owner's notice.

// NoticeRecoveredToCard: earlier archived keys were put on the owner's
// card. The notice's Key is the newest of them and its Reason names the
// card and every certificate.
const NoticeRecoveredToCard = "recovered_to_card"

// CardKey is an archived key opened to go onto its owner's card, with
// its certificate.
type CardKey struct {
	Key         *lanyard.ArchivedKey // without its sealed key
	Private     crypto.Signer
	Certificate *x509.Certificate
}

// OpenForCardTx opens ownerID's archived keys ids in tx, each with its
// certificate, in the order given. Each must be the owner's and active
// (recoverable); the caller records the recovery (key.recover) in the
// same transaction or one that committed before the keys reach a card.
func (a *Archive) OpenForCardTx(tx lanyard.Tx, ownerID int64, ids []int64) ([]CardKey, error) {
	out := make([]CardKey, 0, len(ids))
	for _, id := range ids {
		if _, err := a.recoverable(tx, ownerID, id); err != nil {
			return nil, err
		}
		k, key, err := a.OpenTx(tx, id)
		if err != nil {
			return nil, err
		}
		_, cert, err := certificateOf(tx, k)
		if err != nil {
			return nil, err
		}
		k.SealedKey = nil
		out = append(out, CardKey{Key: k, Private: key, Certificate: cert})
	}
	return out, nil
}

// NotifyOntoCardTx queues, in tx, the owner's notice that keys (newest
// first) were put on card by p; it reports whether one was queued (call
// Wake after the commit).
func (a *Archive) NotifyOntoCardTx(tx lanyard.Tx, p *lanyard.Principal, owner *lanyard.User, card *lanyard.Card, keys []*lanyard.ArchivedKey) (bool, error) {
	if len(keys) == 0 {
		return false, nil
	}
	serials := make([]string, len(keys))
	for i, k := range keys {
		serials[i] = k.Template + " " + k.CertificateSerial
	}
	what := fmt.Sprintf("card %s now holds the keys of %s", card.Serial, strings.Join(serials, ", "))
	return a.notify(tx, Notice{Kind: NoticeRecoveredToCard, Owner: owner, Key: keys[0], By: p.User.Login, Reason: what})
}

// Wake tells the notifier to send what was queued, when queued.
func (a *Archive) Wake(queued bool) { a.wake(queued) }

// RequestsForCardTx checks, in tx, that the key recovery requests ids are
// p's own, approved and not used yet, each of a key of ownerID (the card's
// owner), and returns their archived keys' IDs: an operator puts another
// user's keys onto that user's card only under dual control, as they
// would download them. With consume the requests become downloaded (used)
// in tx, which records the recovery, so each serves once.
func (a *Archive) RequestsForCardTx(tx lanyard.Tx, p *lanyard.Principal, ownerID int64, ids []int64, consume bool) ([]int64, error) {
	keys := make([]int64, 0, len(ids))
	for _, id := range ids {
		r, err := a.downloadable(tx, p, id)
		if err != nil {
			return nil, err
		}
		if r.OwnerID != ownerID {
			return nil, lanyard.Errorf(lanyard.EInvalid, "key recovery %d is of another user's key than the card's owner", id)
		}
		owner, err := a.recoverable(tx, ownerID, r.ArchivedKeyID)
		if err != nil {
			return nil, err
		}
		// As for a download: the owner was told at the address the
		// request recorded.
		if err := checkOwnerEmail(r, owner); err != nil {
			return nil, err
		}
		keys = append(keys, r.ArchivedKeyID)
		if consume {
			r.State, r.UpdatedAt = lanyard.KeyRecoveryDownloaded, a.rec.Clock()
			if err := tx.UpdateKeyRecoveryRequest(r, lanyard.KeyRecoveryApproved); err != nil {
				return nil, err
			}
		}
	}
	return keys, nil
}
