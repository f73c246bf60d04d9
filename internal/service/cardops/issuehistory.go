package cardops

import (
	"cmp"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

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
// Only with authority, and only once the issue is complete: the keys open
// everything ever encrypted to their certificates, so a card gets them at
// issue or replacement with the same authority Recover keys onto card
// demands (recoverkeys.go) — the owner's step-up (account password and
// authenticator code) when the owner issues, the caller's key recovery
// requests a second administrator approved when staff issue
// (HistoryAuthority, checked before anything is written) — and only when
// every certificate of the issue is written: a slot waiting for the CA
// puts the recovery off to Continue card issue, so that a rejected request
// (a card revoked and cleared) never leaves the keys behind. Without
// authority the card is issued without them, and the result and the card
// view say how many could be put on it (RecoverableKeys).
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

// HistoryAuthority is what lets an issue or replacement put the owner's
// earlier archived keys on the new card: the owner's step-up
// (AccountPassword and Code, never stored) when the owner issues, or the
// caller's approved key recovery requests of the owner's keys (Requests,
// dual control) when staff issue — the authority of Recover keys onto
// card.
type HistoryAuthority struct {
	AccountPassword, Code string
	Requests              []int64
}

// historyGrant is the checked HistoryAuthority, recorded in the issue
// (issueData.Recovery): a Continue card issue uses it only when Actor
// continues (checkContinuer), the requests as their requester's.
type historyGrant struct {
	Owner    bool    `json:"owner,omitempty"`
	Actor    int64   `json:"actor"`
	Requests []int64 `json:"requests,omitempty"`
}

// checkHistoryAuthority checks a (nil: none given) for p issuing owner's
// card, before anything is written: a wrong step-up or a request that does
// not serve refuses the issue. The requests are used only when the keys go
// onto the card (recordRecovery).
func (s *Cards) checkHistoryAuthority(ctx context.Context, p *lanyard.Principal, owner *lanyard.User, a *HistoryAuthority) (*historyGrant, error) {
	if a == nil {
		return nil, nil
	}
	if p.User.ID == owner.ID {
		if len(a.Requests) > 0 {
			return nil, lanyard.Errorf(lanyard.EInvalid, "your own keys need no recovery request: confirm with your password and authenticator code")
		}
		if err := s.secondFactor.VerifySecondFactor(ctx, p, a.AccountPassword, a.Code); err != nil {
			return nil, err
		}
		return &historyGrant{Owner: true, Actor: p.User.ID}, nil
	}
	if len(a.Requests) == 0 || a.AccountPassword != "" || a.Code != "" {
		return nil, lanyard.Errorf(lanyard.EForbidden, "putting %s's earlier keys onto their card needs key recovery requests a second person approved (lanyard key recovery request), not a password", owner.Login)
	}
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		_, err := s.archive.RequestsForCardTx(tx, p, owner.ID, a.Requests, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &historyGrant{Actor: p.User.ID, Requests: slices.Clone(a.Requests)}, nil
}

// certificatesWritten reports whether every certificate of d's plan is on
// the card: only then does the card get earlier keys.
func certificatesWritten(d *issueData) bool {
	for _, sl := range d.Plan.Slots {
		if !d.Written[sl.Slot] {
			return false
		}
	}
	return true
}

// recoverHistory puts j's owner's earlier archived keys on the card, when
// there are any, the card is a PIV card, the issue has the authority for
// it and every certificate of the issue is written.
func (s *Cards) recoverHistory(ctx context.Context, j *issueJob, admin *piv.Admin) error {
	d := &j.data
	if d.HistoryDone || !holdsRetiredKeys(j.ct.Kind) || !certificatesWritten(d) {
		return nil
	}
	if err := s.checkContinuer(ctx, j); err != nil {
		return err
	}
	var keys []RecoveredKey
	if d.History == nil {
		if d.Recovery == nil && d.Update == nil {
			d.HistoryDone = true // no authority: the card gets none (recorded with the next step)
			return nil
		}
		earlier := s.earlierKeys
		if d.Recovery == nil {
			earlier = s.cardOwnKeys // an update without authority: only keys this card held
		}
		ids, err := earlier(ctx, j)
		if err != nil && d.Recovery != nil && d.Recovery.Requests != nil && !lanyard.IsCode(err, lanyard.EInternal) && !lanyard.IsCode(err, lanyard.EUnavailable) {
			// The requests no longer serve (changed since the issue
			// started): the card is issued without the keys.
			s.log.Warn("earlier keys not put on the card: the key recovery requests no longer serve", "card", j.card.ID, "error", lanyard.ErrorMessage(err))
			d.Recovery, d.HistoryDone = nil, true
			return nil
		}
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

// checkContinuer keeps j's recorded grant (issueData.Recovery) to the one
// it was given to: a Continue card issue by anyone else (the owner or any
// card staff may continue) would otherwise put the owner's earlier keys
// on a card whose PIN that person then sets, on someone else's step-up or
// requests. Before the keys are chosen, someone else's continue drops the
// grant: the card is issued without them (an update keeps only the keys
// the card held), and Recover keys onto card can still put them on it.
// Once chosen and recorded (the key.recover event under the grant), only
// the grant's actor or the card's owner may finish writing them; anyone
// else is refused, leaving the issue to them.
func (s *Cards) checkContinuer(ctx context.Context, j *issueJob) error {
	g := j.data.Recovery
	if g == nil || j.p.User.ID == g.Actor && (!g.Owner || g.Actor == j.user.ID) {
		return nil
	}
	if j.data.History == nil {
		s.log.Warn("earlier keys not put on the card: the issue is continued by someone other than the one whose authority it was given",
			"card", j.card.ID, "operation", j.op.ID, "authority_of", g.Actor, "continued_by", j.p.User.ID)
		j.data.Recovery = nil
		if j.data.Update == nil {
			j.data.HistoryDone = true // recorded with the next step
		}
		return nil
	}
	return s.refuseOtherContinuer(ctx, j)
}

// refuseOtherContinuer refuses a Continue card issue by p (j.p) when j
// has recorded a recovery under someone else's grant that is not yet
// written: only the grant's actor or the card's owner may finish it.
// ContinueCardIssue asks before anything is written, so that the refusal
// leaves the issue to them.
func (s *Cards) refuseOtherContinuer(ctx context.Context, j *issueJob) error {
	g := j.data.Recovery
	if g == nil || j.data.History == nil || j.data.HistoryDone || j.p.User.ID == g.Actor || j.p.User.ID == j.user.ID {
		return nil
	}
	name := strconv.FormatInt(g.Actor, 10)
	_ = s.rec.View(ctx, func(tx lanyard.Tx) error {
		if u, err := tx.UserByID(g.Actor); err == nil {
			name = u.Login
		}
		return nil
	})
	return lanyard.Errorf(lanyard.EForbidden, "the owner's earlier keys are being put on this card with %s's authority: continue it as %s or the owner", name, name)
}

// earlierKeys lists the IDs of j's owner's active archived keys that are
// not the keys this issue certified, newest first, at most as many as the
// retired slots hold: of the plan's archive-key templates, or, for the
// new card of a replacement, of every template (a temporary card with
// the logon template only still opens the owner's mail).
func (s *Cards) earlierKeys(ctx context.Context, j *issueJob) ([]int64, error) {
	current := issueSerials(j)
	var found []*lanyard.ArchivedKey
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		var wanted []int64
		tpls, err := s.recoveryTemplates(tx, j)
		if g := j.data.Recovery; err == nil && g != nil && len(g.Requests) > 0 {
			// Staff: the keys of their approved requests, of any template.
			if wanted, err = s.grantRequestsTx(tx, j, false); err == nil {
				tpls, err = allTemplates(tx)
			}
		}
		if err != nil {
			return err
		}
		found, err = activeArchivedKeys(tx, j.user.ID, tpls, current)
		found = cardImports(j.ct.Kind, found)
		if wanted != nil {
			found = slices.DeleteFunc(found, func(k *lanyard.ArchivedKey) bool { return !slices.Contains(wanted, k.ID) })
		}
		return err
	})
	ids := newestIDs(found)
	return ids[:min(len(ids), historyRoom(j))], err
}

// grantRequestsTx checks in tx, as their requester's (the grant's actor),
// the key recovery requests j's grant names, and returns their archived
// keys; with use they are used (downloaded) in tx.
// cardOwnKeys are the keys an update puts into the card's key history
// without any new authority: keys this very card held already — its own
// earlier archived keys (the ones its renewed certificates certified) and
// those its last recovery put into its retired slots — newest first,
// within the room the update leaves. Keys from the owner's other cards
// need the owner's step-up or approved requests (earlierKeys).
func (s *Cards) cardOwnKeys(ctx context.Context, j *issueJob) ([]int64, error) {
	current := issueSerials(j)
	var found []*lanyard.ArchivedKey
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		held, err := lastRecovered(tx, j.card.ID)
		if err != nil {
			return err
		}
		born, err := lifeStartTx(tx, j.card)
		if err != nil {
			return err
		}
		tpls, err := allTemplates(tx)
		if err != nil {
			return err
		}
		if found, err = activeArchivedKeys(tx, j.user.ID, tpls, current); err != nil {
			return err
		}
		found = slices.DeleteFunc(cardImports(j.ct.Kind, found), func(k *lanyard.ArchivedKey) bool {
			ownThisLife := k.CardID == j.card.ID && !k.CreatedAt.Before(born)
			return !ownThisLife && !slices.Contains(held, k.ID)
		})
		return nil
	})
	ids := newestIDs(found)
	return ids[:min(len(ids), historyRoom(j))], err
}

// lifeStartTx is when card's current life began: the creation of its
// latest finished card issue (Card.IssuedAt, set when the issue ends,
// when none is recorded). ArchivedKey.CardID survives Revoke and clear,
// withdrawal and a new issue, so a key archived for the card before is
// not one "this card held": it is the owner's earlier key, which needs
// the authority of a recovery (docs/lifecycle.md, "Key archival").
func lifeStartTx(tx lanyard.Tx, card *lanyard.Card) (time.Time, error) {
	ops, err := tx.ListOperations(lanyard.OperationFilter{CardID: card.ID, Kind: lanyard.OpIssue})
	if err != nil {
		return time.Time{}, err
	}
	for _, op := range ops { // newest first
		if op.State == lanyard.OpDone {
			return op.CreatedAt, nil
		}
	}
	return card.IssuedAt, nil
}

func (s *Cards) grantRequestsTx(tx lanyard.Tx, j *issueJob, use bool) ([]int64, error) {
	g := j.data.Recovery
	actor := j.p
	if actor.User.ID != g.Actor {
		u, err := tx.UserByID(g.Actor)
		if err != nil {
			return nil, err
		}
		actor = &lanyard.Principal{User: u, Roles: u.Roles}
	}
	// The requests serve only while their requester may still use them.
	if actor.User.Disabled || !actor.User.Roles.Has(lanyard.RoleOperator) && !actor.User.Roles.Has(lanyard.RoleAdministrator) {
		return nil, lanyard.Errorf(lanyard.EForbidden, "the key recovery requests' requester %s is disabled or no longer an operator or administrator", actor.User.Login)
	}
	return s.archive.RequestsForCardTx(tx, actor, j.user.ID, g.Requests, use)
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
	var skipped []*lanyard.ArchivedKey
	queued := false
	j.data.History = ids
	err := j.run.Step(ctx, stepKeysRecovering, operation.Also(func(tx lanyard.Tx) (err error) {
		if g := j.data.Recovery; g != nil && len(g.Requests) > 0 {
			// The requests are used in the transaction that records
			// the recovery, each once.
			if _, err := s.grantRequestsTx(tx, j, true); err != nil {
				return err
			}
		}
		if keys, queued, err = s.openForCardTx(tx, j.p, j.user, j.card, ids); err != nil {
			return err
		}
		skipped, err = skippedKeysTx(tx, j.user.ID, j.ct.Kind, issueSerials(j))
		return err
	}), operation.EventAfter(func() *lanyard.AuditEvent {
		d := recoveryDetails(j.card, j.user, j.op.ID, keys, queued)
		if sk := skippedDetails(j.ct.Kind, skipped); sk != nil {
			d["skipped"] = sk
		}
		switch g := j.data.Recovery; {
		case g != nil && len(g.Requests) > 0:
			d["requests"], d["requested_by"] = g.Requests, g.Actor
		case g != nil:
			d["step_up"] = "owner"
		default:
			d["basis"] = "held_by_this_card"
		}
		return s.rec.Event(j.p, "key.recover", "card", strconv.FormatInt(j.card.ID, 10), d)
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

// recoverableKeys counts the owner's earlier archived keys an issued PIV
// card c (of kind) could still get with Recover keys onto card: their
// active keys that are not the card's current certificates nor among the
// keys its last recovery (an issue's or Recover keys onto card's) put in
// its retired slots, at most as many as those slots hold.
func recoverableKeys(tx lanyard.Tx, c *lanyard.Card, kind lanyard.CardKind) (int, error) {
	if c.State != lanyard.CardIssued || !holdsRetiredKeys(kind) || c.OwnerID == 0 {
		return 0, nil
	}
	except, err := writtenSerialsTx(tx, c.ID)
	if err != nil {
		return 0, err
	}
	tpls, err := allTemplates(tx)
	if err != nil {
		return 0, err
	}
	keys, err := activeArchivedKeys(tx, c.OwnerID, tpls, except)
	if keys = cardImports(kind, keys); err != nil || len(keys) == 0 {
		return 0, err
	}
	onCard, err := lastRecovered(tx, c.ID)
	if err != nil {
		return 0, err
	}
	keys = slices.DeleteFunc(keys, func(k *lanyard.ArchivedKey) bool { return slices.Contains(onCard, k.ID) })
	return min(len(keys), personalize.MaxRetiredKeys-len(onCard)), nil
}

// lastRecovered are the archived keys the card's latest finished issue or
// Recover keys onto card put in its retired slots (each writes them all).
func lastRecovered(tx lanyard.Tx, cardID int64) ([]int64, error) {
	ops, err := tx.ListOperations(lanyard.OperationFilter{CardID: cardID})
	if err != nil {
		return nil, err
	}
	for _, op := range ops { // newest first
		if op.State != lanyard.OpDone {
			continue
		}
		switch op.Kind {
		case lanyard.OpIssue, lanyard.OpUpdate:
			var d issueData
			if err := unmarshalIssue(op, &d); err != nil {
				return nil, err
			}
			return d.History, nil
		case lanyard.OpRecoverKeys:
			var d recoverKeysData
			if err := json.Unmarshal(op.Data, &d); err != nil {
				return nil, lanyard.Wrap(lanyard.EInternal, err, "reading a key recovery onto card")
			}
			return d.Keys, nil
		}
	}
	return nil, nil
}

// RecoverableNote is what an issue's result says of n earlier keys the
// card could still get ("" for none).
func RecoverableNote(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return "1 earlier encryption key can be put on this card: Recover keys onto card"
	}
	return fmt.Sprintf("%d earlier encryption keys can be put on this card: Recover keys onto card", n)
}

// issueSerials are the certificate serials j's issue wrote: the card's
// current keys, never among its earlier ones.
func issueSerials(j *issueJob) map[string]bool {
	current := map[string]bool{}
	for _, serial := range j.data.Certs {
		current[serial] = true
	}
	return current
}
