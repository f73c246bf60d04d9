package cardops

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/cardperm"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
)

// Recover keys onto card (docs/lifecycle.md, "Key archival"): an issued
// PIV card in a reader gets its owner's earlier archived keys in its
// retired key management slots, as Issue card gives them to a new or
// replacement card (issuehistory.go), for a card issued before its
// owner had them archived, or one whose retired keys are to be completed.
//
//   - The owner recovers all their earlier keys (those not the card's
//     current certificates, newest first, up to the 20 slots) after the
//     step-up of PKCS #12 recovery: account password and authenticator
//     code. A key on a card opens the same mail as a PKCS #12 file.
//   - An operator or administrator puts another user's keys onto that
//     user's card only under dual control: key recovery requests they made
//     and a second person approved (archive's RequestRecovery and
//     DecideRecovery), each used once; the keys already in the card's
//     retired slots stay.
//
// The recovery is recorded (operation recover_keys, the key.recover event,
// the owner's notice, the requests used) before the card gets the keys;
// a card pulled meanwhile leaves the operation interrupted, and the next
// Recover keys onto card of that card writes the recorded keys again
// (without new requests; the owner passes the step-up again).

// RecoverKeysInput is Recover keys onto card. Where the card is may be
// given; by default it is found in a reader of its owner's or the
// caller's workstations.
type RecoverKeysInput struct {
	CardTarget
	// AccountPassword and Code are the owner's step-up; never stored.
	AccountPassword, Code string
	// Requests are an operator's approved key recovery requests of the
	// owner's keys (dual control); the owner gives none.
	Requests []int64
}

// RecoverKeysResult is the card after the recovery and the archived keys
// now in its retired slots, from 82 up (without their sealed keys).
type RecoverKeysResult struct {
	Card *CardView
	Keys []*lanyard.ArchivedKey
	// Note says which of the owner's earlier keys the card could not
	// take (a TPM card: those not RSA 2048 or 3072); "" when it took all.
	Note string
}

// recoverKeysData is the recover_keys operation's record.
type recoverKeysData struct {
	Keys []int64 `json:"keys"` // the archived keys for slots 82 up
}

// recoverKeysCard is the card Recover keys onto card works on.
type recoverKeysCard struct {
	card  *lanyard.Card
	owner *lanyard.User
	ct    *lanyard.CardType
	own   bool
}

// RecoverKeysOntoCard puts the owner's earlier archived keys onto card
// cardID (see the top of this file).
func (s *Cards) RecoverKeysOntoCard(ctx context.Context, p *lanyard.Principal, cardID int64, in RecoverKeysInput) (*RecoverKeysResult, error) {
	unfinished, err := s.unfinishedOp(ctx, cardID, lanyard.OpRecoverKeys)
	if err != nil {
		return nil, err
	}
	if err := s.checkRecoverKeysTurn(ctx, p, cardID, unfinished); err != nil {
		return nil, err
	}
	c, err := s.loadRecoverKeys(ctx, p, cardID, in, unfinished != nil)
	if err != nil {
		return nil, err
	}
	if !c.own && unfinished == nil {
		// The requests are checked before the card is touched, and used
		// in the transaction that records the recovery.
		if err := s.rec.View(ctx, func(tx lanyard.Tx) error {
			_, err := s.archive.RequestsForCardTx(tx, p, c.owner.ID, in.Requests, false)
			return err
		}); err != nil {
			return nil, err
		}
	}
	if c.own {
		// An owner with no earlier key is told so before the step-up
		// spends an authenticator code.
		if unfinished == nil {
			if err := s.rec.View(ctx, func(tx lanyard.Tx) error {
				_, err := s.keysForCard(tx, p, c, nil, nil, false)
				return err
			}); err != nil {
				return nil, err
			}
		}
		if err := s.elsewhere(in.CardTarget, func() (CardTarget, error) { return s.findCard(p, c.card) }); err != nil {
			return nil, err // before the step-up spends the code
		}
		if err := s.secondFactor.VerifySecondFactor(ctx, p, in.AccountPassword, in.Code); err != nil {
			return nil, err
		}
	}
	cc, err := s.openPINCard(ctx, p, &pinCard{card: c.card}, in.CardTarget)
	if err != nil {
		return nil, err
	}
	defer cc.sess.Close()
	if cc.serial != c.card.Serial {
		return nil, lanyard.Errorf(lanyard.EConflict, "the card in reader %q is %s, not card %s", cc.r.Name, cc.serial, c.card.Serial)
	}
	if err := personalize.CheckIdentity(c.card, cc.id); err != nil {
		return nil, err
	}
	secrets, err := s.catalog.CardTypeSecrets(c.ct)
	if err != nil {
		return nil, err
	}
	admin, err := s.authenticateCard(ctx, cc, c.ct, secrets, c.card)
	if err != nil {
		return nil, err
	}
	run, keys, err := s.startRecoverKeys(ctx, p, c, cc.pc, unfinished, in.Requests)
	if err != nil {
		return nil, err
	}
	retired := make([]personalize.RetiredKey, len(keys))
	out := make([]*lanyard.ArchivedKey, len(keys))
	for i, k := range keys {
		retired[i], out[i] = personalize.RetiredKey{Key: k.Private, Certificate: k.Certificate}, k.Key
	}
	if err := personalize.WriteRetiredKeys(ctx, cc.pc, admin, retired); err != nil {
		msg := lanyard.ErrorMessage(err)
		ev := s.rec.Event(p, "card.recover_keys.interrupted", "card", strconv.FormatInt(c.card.ID, 10), map[string]any{"operation": run.Op.ID, "error": msg})
		if serr := run.Stop(context.WithoutCancel(ctx), lanyard.OpInterrupted, msg, operation.Event(ev)); serr != nil {
			s.log.Error("recording an interrupted key recovery onto a card failed", "operation", run.Op.ID, "error", serr)
		}
		return nil, err
	}
	run.Op.State = lanyard.OpDone
	if err := run.Step(context.WithoutCancel(ctx), operation.Done, operation.Event(s.rec.Event(p, "card.recover_keys", "card", strconv.FormatInt(c.card.ID, 10),
		map[string]any{"serial": c.card.Serial, "operation": run.Op.ID, "archived_keys": run.Data.Keys}))); err != nil {
		return nil, err
	}
	v, err := s.viewFor(ctx, p, run.Card)
	if err != nil {
		return nil, err
	}
	res := &RecoverKeysResult{Card: v, Keys: out}
	err = s.rec.View(ctx, func(tx lanyard.Tx) error {
		except, err := writtenSerialsTx(tx, c.card.ID)
		if err != nil {
			return err
		}
		skipped, err := skippedKeysTx(tx, c.owner.ID, c.ct.Kind, except)
		res.Note = SkippedNote(c.ct.Kind, len(skipped))
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// loadRecoverKeys reads card cardID and checks p may recover keys onto
// it: an issued PIV card, its owner or card staff (someone else's card
// not found), requests only from staff and always from them, unless an
// interrupted recovery (resumed) recorded its keys already.
func (s *Cards) loadRecoverKeys(ctx context.Context, p *lanyard.Principal, cardID int64, in RecoverKeysInput, resumed bool) (*recoverKeysCard, error) {
	var c recoverKeysCard
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		if c.card, err = tx.CardByID(cardID); err != nil {
			return err
		}
		if c.card.OwnerID != p.User.ID && !isCardStaff(p) {
			return lanyard.Errorf(lanyard.ENotFound, "card %d not found", cardID)
		}
		if c.card.OwnerID == 0 {
			return lanyard.Errorf(lanyard.EConflict, "card %s has no owner whose keys it could hold", c.card.Serial)
		}
		if c.owner, err = tx.UserByID(c.card.OwnerID); err != nil {
			return err
		}
		c.ct, err = tx.CardTypeByName(c.card.CardType)
		return err
	})
	if err != nil {
		return nil, err
	}
	c.own = c.card.OwnerID == p.User.ID
	switch {
	case c.card.State != lanyard.CardIssued:
		return nil, lanyard.Errorf(lanyard.EConflict, "card %s is %s: keys are recovered onto an issued card", c.card.Serial, c.card.State)
	case !holdsRetiredKeys(c.ct.Kind):
		return nil, lanyard.Errorf(lanyard.EUnavailable, "card %s is a %s card, which has no retired key slots to put archived keys in", c.card.Serial, c.ct.Kind)
	case c.own && len(in.Requests) > 0:
		return nil, lanyard.Errorf(lanyard.EInvalid, "your own keys need no recovery request: confirm with your password and authenticator code")
	case !c.own && len(in.Requests) == 0 && !resumed:
		return nil, lanyard.Errorf(lanyard.EForbidden, "putting %s's keys onto their card needs key recovery requests a second person approved (lanyard key recovery request)", c.owner.Login)
	}
	// The card menus offer it by the same rule (cardperm.RecoverKeys):
	// the owner, or card staff, never through Remote Self-Service.
	if err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		owner, pol, err := s.ownerPolicy(tx, c.card)
		if err != nil {
			return err
		}
		pc, err := permCardTx(tx, c.card, owner)
		pc.RetiredSlots = true // a card with retired slots, checked above
		if err != nil {
			return err
		}
		return cardperm.Check(cardperm.ActorOf(p), workflowOf(pol), pc, cardperm.RecoverKeys)
	}); err != nil {
		return nil, err
	}
	return &c, nil
}

// startRecoverKeys resumes the card's interrupted recovery with its
// recorded keys, else chooses the keys and records the recovery: the
// operation, the requests used, the owner's notice and key.recover, in
// one transaction. It returns the run and the opened keys, newest first.
func (s *Cards) startRecoverKeys(ctx context.Context, p *lanyard.Principal, c *recoverKeysCard, pc *piv.Card, unfinished *lanyard.Operation, requests []int64) (*operation.Run[recoverKeysData], []RecoveredKey, error) {
	var keys []RecoveredKey
	if unfinished != nil {
		var d recoverKeysData
		if err := json.Unmarshal(unfinished.Data, &d); err != nil {
			return nil, nil, lanyard.Wrap(lanyard.EInternal, err, "reading the interrupted key recovery")
		}
		if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { keys, err = s.archive.OpenForCardTx(tx, c.owner.ID, d.Keys); return }); err != nil {
			return nil, nil, err
		}
		run := operation.Attach(s.runner, unfinished, c.card, &d)
		err := run.Resume(ctx, s.rec.Event(p, "card.recover_keys.resume", "card", strconv.FormatInt(c.card.ID, 10), map[string]any{"operation": unfinished.ID}))
		return run, keys, err
	}
	onCard, err := retiredSerials(ctx, pc)
	if err != nil {
		return nil, nil, err
	}
	if err := s.refuseOnlyOnCard(ctx, c, onCard); err != nil {
		return nil, nil, err
	}
	// The keys are chosen first (the record is written as it is before
	// the transaction), and chosen again in it, using the requests.
	data := &recoverKeysData{}
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		data.Keys, err = s.keysForCard(tx, p, c, onCard, requests, false)
		return err
	}); err != nil {
		return nil, nil, err
	}
	queued := false
	var skipped []*lanyard.ArchivedKey
	was := c.card.UpdatedAt
	c.card.UpdatedAt = s.rec.Clock()
	run, err := operation.Start(ctx, s.runner, operation.Begin{
		Card: c.card, Op: lanyard.Operation{Kind: lanyard.OpRecoverKeys, UserID: c.owner.ID, ActorID: p.User.ID},
		Check: func(tx lanyard.Tx) (err error) {
			if err := lockUnchanged(tx, c.card, was, "while it was being read; try again"); err != nil {
				return err
			}
			ids, err := s.keysForCard(tx, p, c, onCard, requests, true)
			if err != nil {
				return err
			}
			if !slices.Equal(ids, data.Keys) {
				return lanyard.Errorf(lanyard.EConflict, "%s's archived keys changed while the card was read; try again", c.owner.Login)
			}
			if keys, queued, err = s.openForCardTx(tx, p, c.owner, c.card, data.Keys); err != nil {
				return err
			}
			except, err := writtenSerialsTx(tx, c.card.ID)
			if err != nil {
				return err
			}
			skipped, err = skippedKeysTx(tx, c.owner.ID, c.ct.Kind, except)
			return err
		},
		Event: func(card *lanyard.Card, op *lanyard.Operation) *lanyard.AuditEvent {
			d := recoveryDetails(card, c.owner, op.ID, keys, queued)
			if sk := skippedDetails(c.ct.Kind, skipped); sk != nil {
				d["skipped"] = sk
			}
			if len(requests) > 0 {
				d["requests"] = requests
			}
			return s.rec.Event(p, "key.recover", "card", strconv.FormatInt(card.ID, 10), d)
		}}, data)
	if err != nil {
		c.card.UpdatedAt = was
		return nil, nil, err
	}
	s.archive.Wake(queued)
	return run, keys, nil
}

// keysForCard chooses, in tx, the archived keys c's card gets, newest
// first: the owner's, all their active keys not the card's current
// certificates; staff's, the keys of their approved requests (used here)
// and those the card's retired slots hold already (certificate serials
// onCard). With use the requests are used (archive.RequestsForCardTx).
func (s *Cards) keysForCard(tx lanyard.Tx, p *lanyard.Principal, c *recoverKeysCard, onCard map[string]bool, requests []int64, use bool) ([]int64, error) {
	except, err := writtenSerialsTx(tx, c.card.ID)
	if err != nil {
		return nil, err
	}
	tpls, err := allTemplates(tx)
	if err != nil {
		return nil, err
	}
	found, err := activeArchivedKeys(tx, c.owner.ID, tpls, except)
	if err != nil {
		return nil, err
	}
	all := cardImports(c.ct.Kind, slices.Clone(found))
	if len(all) == 0 && len(found) > 0 {
		return nil, lanyard.Errorf(lanyard.EConflict, "%s's earlier archived keys are not RSA 2048 or RSA 3072 keys, which card %s (a %s card) cannot import: recover them as PKCS #12 files", c.owner.Login, c.card.Serial, c.ct.Kind)
	}
	if !c.own {
		wanted, err := s.archive.RequestsForCardTx(tx, p, c.owner.ID, requests, use)
		if err != nil {
			return nil, err
		}
		if err := requestsImportable(c, found, wanted); err != nil {
			return nil, err
		}
		all = slices.DeleteFunc(all, func(k *lanyard.ArchivedKey) bool {
			return !onCard[k.CertificateSerial] && !slices.Contains(wanted, k.ID)
		})
		if len(all) > personalize.MaxRetiredKeys {
			return nil, lanyard.Errorf(lanyard.EInvalid, "card %s would hold %d earlier keys; a PIV card holds %d", c.card.Serial, len(all), personalize.MaxRetiredKeys)
		}
	}
	if len(all) == 0 {
		return nil, lanyard.Errorf(lanyard.EConflict, "%s has no earlier archived keys to put on card %s", c.owner.Login, c.card.Serial)
	}
	return newestIDs(all), nil
}

// refuseOnlyOnCard refuses a recovery onto a card whose key history
// holds a key the server has no copy of (a non-archived decryption key an
// update kept in a retired slot): the archived keys are written from 82
// up and would destroy it. Nothing is written; the archived keys stay
// recoverable as files.
func (s *Cards) refuseOnlyOnCard(ctx context.Context, c *recoverKeysCard, onCard map[string]bool) error {
	if len(onCard) == 0 {
		return nil
	}
	return s.rec.View(ctx, func(tx lanyard.Tx) error {
		ks, err := tx.ArchivedKeysOf(c.owner.ID, "")
		if err != nil {
			return err
		}
		for serial := range onCard {
			if !slices.ContainsFunc(ks, func(k *lanyard.ArchivedKey) bool { return k.CertificateSerial == serial }) {
				return lanyard.Errorf(lanyard.EConflict, "card %s keeps an earlier decryption key (certificate %s) that only the card holds, which recovering archived keys onto it would overwrite; recover them as a file instead (Encryption keys)", c.card.Serial, serial)
			}
		}
		return nil
	})
}

// retiredSerials reads the certificate serials (hex) of the retired keys
// the card's key history counts.
func retiredSerials(ctx context.Context, pc *piv.Card) (map[string]bool, error) {
	h, err := personalize.ReadKeyHistory(ctx, pc)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for n := 1; n <= h.OnCard; n++ {
		slot, _ := pivspec.RetiredSlot(n)
		cert, err := pc.Certificate(ctx, slot)
		if err != nil {
			continue // an empty or unreadable slot holds nothing to keep
		}
		out[lanyard.SerialHex(cert.SerialNumber)] = true
	}
	return out, nil
}

// unfinishedOp is the card's running, interrupted or pending operation of
// kind, or nil (Recover keys onto card refuses a running one:
// checkRecoverKeysTurn).
func (s *Cards) unfinishedOp(ctx context.Context, cardID int64, kind lanyard.OperationKind) (*lanyard.Operation, error) {
	var ops []*lanyard.Operation
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		ops, err = tx.ListOperations(lanyard.OperationFilter{CardID: cardID, Kind: kind, Unfinished: true, Limit: 1})
		return err
	})
	if err != nil || len(ops) == 0 {
		return nil, err
	}
	return ops[0], nil
}

// checkRecoverKeysTurn refuses Recover keys onto card while another
// operation holds the card's slots or its recovery: an unfinished update
// (its new key may wait in a retired slot that the recovered keys would
// overwrite), a recovery running now, or an interrupted one started by
// someone else — only its actor resumes it, or the card's owner, who
// passes the step-up for it (an interrupted recovery is resumed with the
// keys it recorded and without new requests, so no other staff member
// may finish it).
func (s *Cards) checkRecoverKeysTurn(ctx context.Context, p *lanyard.Principal, cardID int64, unfinished *lanyard.Operation) error {
	update, err := s.unfinishedOp(ctx, cardID, lanyard.OpUpdate)
	switch {
	case err != nil:
		return err
	case update != nil:
		return lanyard.Errorf(lanyard.EConflict, "an update of card %d is unfinished: finish it with Continue card update (or have an administrator cancel it) before recovering keys onto the card", cardID)
	case unfinished == nil:
		return nil
	case unfinished.State == lanyard.OpRunning:
		return lanyard.Errorf(lanyard.EConflict, "keys are being recovered onto card %d right now; try again when that has finished", cardID)
	case unfinished.ActorID != p.User.ID && unfinished.UserID != p.User.ID:
		return lanyard.Errorf(lanyard.EForbidden, "the interrupted key recovery onto card %d was started by someone else: only they, or the card's owner with their step-up, resume it", cardID)
	}
	return nil
}

// writtenSerialsTx are the serials of the certificates written to card
// cardID: its current keys, never among its earlier ones.
func writtenSerialsTx(tx lanyard.Tx, cardID int64) (map[string]bool, error) {
	current, err := tx.ListCertificates(lanyard.CertFilter{CardID: cardID, Status: lanyard.CertWritten})
	except := map[string]bool{}
	for _, cert := range current {
		except[cert.Serial] = true
	}
	return except, err
}
