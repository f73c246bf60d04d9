package service

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// RevokeAndClearCard is the guide's *Revoke and clear card*, offered when
// a card issue cannot finish (the CA rejected a request): every
// certificate Lanyard issued for the card is revoked (cessation of
// operation), pending requests are withdrawn, the certificates Lanyard
// wrote are deleted from the card, the card's unfinished operation fails
// and the card returns to clean, unowned, so the issue can start again.
// The card must be connected: its content is cleared through the same
// relayed, server-authenticated session as the issue. The database
// changes are one transaction with one audit event, made after the card
// was cleared (a card pulled midway leaves the server's records as they
// were, and the action can be repeated).
func (s *Service) RevokeAndClearCard(ctx context.Context, p *Principal, cardID int64, in ClearInput) (*CardView, error) {
	t := in.CardTarget
	load := func() (*lanyard.Card, *lanyard.User, error) {
		var card *lanyard.Card
		var user *lanyard.User
		err := s.view(ctx, func(tx lanyard.Tx) (err error) {
			if card, err = tx.CardByID(cardID); err != nil {
				return err
			}
			if card.OwnerID != p.User.ID && !isCardStaff(p) {
				return lanyard.Errorf(lanyard.ENotFound, "card %d not found", cardID)
			}
			if card.OwnerID != 0 {
				user, err = tx.UserByID(card.OwnerID)
			}
			return err
		})
		return card, user, err
	}
	_, user, err := load() // ownership, and whose workstation to use
	if err != nil {
		return nil, err
	}
	if user != nil {
		t.User = user.Login
	}
	cc, err := s.openPIV(ctx, p, t)
	if err != nil {
		return nil, err
	}
	defer cc.sess.Close()
	// Read again inside the exclusive session: a Continue that ran while
	// this call waited for the card must not be undone half-way.
	card, _, err := load()
	if err != nil {
		return nil, err
	}
	if card.State == lanyard.CardClean || card.State == lanyard.CardRevoked {
		return nil, lanyard.Errorf(lanyard.EConflict, "card %s is %s; there is nothing to revoke and clear", card.Serial, card.State)
	}
	if cc.serial != card.Serial {
		return nil, lanyard.Errorf(lanyard.EConflict, "the card in reader %q is %s, not card %s", cc.r.Name, cc.serial, card.Serial)
	}
	// Before its PUK is sent: a card with another CHUID than the one
	// recorded is not the card (a static management key proves nothing).
	if err := personalize.CheckPUKHolder(card, cc.id); err != nil {
		return nil, err
	}
	var certs []*lanyard.Certificate
	if err := s.view(ctx, func(tx lanyard.Tx) (err error) {
		certs, err = tx.ListCertificates(lanyard.CertFilter{CardID: card.ID})
		return err
	}); err != nil {
		return nil, err
	}
	if card.PUKState == lanyard.PUKUnknown && in.AdminPIN == "" {
		return nil, lanyard.Errorf(lanyard.EInvalid, "enter the Admin PIN chosen when the card was issued: clearing the card resets its PIN with it")
	}
	ct, err := s.GetCardType(ctx, card.CardType)
	if err != nil {
		return nil, err
	}
	secrets, err := s.cardTypeSecrets(ct)
	if err != nil {
		return nil, err
	}
	admin, err := s.authenticateCard(ctx, cc, ct, secrets, card)
	if err != nil {
		return nil, err
	}
	slots := map[string]bool{}
	for _, c := range certs {
		if c.Source == lanyard.SourceManaged && c.Status == lanyard.CertWritten {
			if slot := s.certSlot(ctx, c); slot != "" {
				slots[slot] = true
			}
		}
	}
	if err := personalize.DeleteCertificates(ctx, admin, slices.Collect(maps.Keys(slots))); err != nil {
		return nil, err
	}

	// Back to the card type's user PIN, so that the next issue starts
	// from a value the server knows: the PUK resets the PIN (RESET RETRY
	// COUNTER), whatever the user set or was given. A card with its own
	// PUK keeps it (the next issue replaces it), as does one found holding
	// a new PUK an interrupted issue or rotation drew (the server holds it
	// sealed); one whose PUK the server never stored goes back to the card
	// type's default, the state of a card Lanyard has not issued. The
	// candidates are tried by personalize.UsePUK, each while two tries
	// remain.
	defaults := personalize.TypeKeys(ct, secrets)
	defPUK, defPIN := defaults.PUK, defaults.PIN
	named := defPUK
	if in.AdminPIN != "" {
		named = in.AdminPIN
	}
	// An unfinished issue may have given the card its new PUK, its reply
	// lost.
	var issuing personalize.PUKCandidate
	if op, err := s.unfinishedOperation(ctx, card.ID); err != nil {
		return nil, err
	} else if op != nil && op.Kind == lanyard.OpIssue {
		var d issueData
		if json.Unmarshal(op.Data, &d) == nil {
			issuing = s.sealedCandidate(card.ID, d.NewPUK)
		}
	}
	candidates, err := s.pukCandidates(card, named, issuing)
	if err != nil {
		return nil, err
	}
	used, err := personalize.UsePUK(ctx, cc.pc, candidates, false, "resetting the card's PIN with its Admin PIN", func(puk string) error {
		return cc.pc.UnblockPIN(ctx, puk, defPIN)
	})
	if err != nil {
		return nil, err
	}
	switch {
	case len(used.Sealed) > 0:
		// A PUK the server holds sealed: the card keeps it.
		card.SealedPUK, card.PUKState = used.Sealed, lanyard.PUKRandom
	case used.PUK != defPUK:
		if err := cc.pc.ChangePUK(ctx, used.PUK, defPUK); err != nil {
			return nil, personalize.CardError(err, "resetting the card's Admin PIN")
		}
		card.SealedPUK, card.PUKState = nil, lanyard.PUKDefault
	default:
		card.SealedPUK = nil
	}

	now := s.clock()
	var revoked []string
	// The card is cleared: record it even if the caller goes away now.
	err = s.store.Update(context.WithoutCancel(ctx), func(tx lanyard.Tx) error {
		r, err := s.revokeCertificates(ctx, tx, certs, func(c *lanyard.Certificate) bool {
			switch c.Status {
			case lanyard.CertValid, lanyard.CertApproved, lanyard.CertWritten:
				return c.Source == lanyard.SourceManaged
			}
			return false
		})
		if err != nil {
			return err
		}
		revoked = r
		ops, err := tx.ListOperations(lanyard.OperationFilter{CardID: card.ID, Limit: 50})
		if err != nil {
			return err
		}
		for _, op := range ops {
			var d issueData
			if op.Kind == lanyard.OpIssue && json.Unmarshal(op.Data, &d) == nil {
				// Every issue of the card, finished or not: no request
				// for a key on this card may be approved later.
				if err := s.withdrawRequests(tx, p, &d, "the card was revoked and cleared"); err != nil {
					return err
				}
			}
			if op.State.Finished() {
				continue
			}
			prev := op.UpdatedAt
			op.State, op.Error, op.UpdatedAt = lanyard.OpFailed, "the card was revoked and cleared", now
			if err := tx.UpdateOperation(op, prev); err != nil {
				return err
			}
		}
		card.State, card.OwnerID, card.IssuedAt, card.Name, card.UpdatedAt = lanyard.CardClean, 0, time.Time{}, "", now
		if err := tx.UpdateCard(card); err != nil {
			return err
		}
		// The PIN was reset: no copy of the one an issue set is kept.
		held, err := tx.DeleteCardHeldPINs(card.ID)
		if err != nil {
			return err
		}
		return tx.AppendAudit(s.event(p, "card.revoke_clear", "card", strconv.FormatInt(card.ID, 10), map[string]any{
			"serial": card.Serial, "revoked": revoked, "cleared_slots": len(slots), "held_pins_erased": held}))
	})
	if err != nil {
		return nil, err
	}
	var out *CardView
	err = s.view(ctx, func(tx lanyard.Tx) (err error) { out, err = s.cardView(tx, card, true); return })
	return out, err
}

// ClearInput names the connected card to revoke and clear; AdminPIN is
// the Admin PIN (PUK) chosen at an issue before Lanyard gave cards their
// own PUK (PUK state unknown); other cards need none.
type ClearInput struct {
	CardTarget
	AdminPIN string `json:"admin_pin,omitempty"`
}

// authenticateCard opens a management session with the key the server
// recorded for the card: its diversified key (only once the card proved
// to be the one recorded), or the card type's default (else the factory
// key) for a card never taken over.
func (s *Service) authenticateCard(ctx context.Context, cc *cardConn, ct *lanyard.CardType, secrets *lanyard.CardTypeSecrets, card *lanyard.Card) (*piv.Admin, error) {
	if card.AdminKeyVersion > 0 {
		return s.derivedAdmin(ctx, cc.pc, ct, card, cc.id)
	}
	return personalize.AuthenticateStatic(ctx, cc.pc, personalize.TypeKeys(ct, secrets).Admin)
}

// derivedAdmin opens a management session with card's diversified key
// (AdminKeyVersion > 0), once the card in the reader (read as id) proved
// to be the one recorded (personalize.KeyIdent,
// personalize.AuthenticateDerived). The master secret is unsealed here.
func (s *Service) derivedAdmin(ctx context.Context, pc *piv.Card, ct *lanyard.CardType, card *lanyard.Card, id personalize.Identity) (*piv.Admin, error) {
	ident, err := personalize.KeyIdent(ctx, pc, card, id)
	if err != nil {
		return nil, err
	}
	m, err := s.adminMaster(ctx, card.AdminKeyVersion)
	if err != nil {
		return nil, err
	}
	return personalize.AuthenticateDerived(ctx, pc, ct.AdminKey, m, ident)
}

// cardProven reports whether the card in a reader of workstation wsID,
// read as id, may be sent card's PUK (or a new one). A card with a
// diversified management key must prove it holds it (derivedAdmin): a
// programmable card or a modified agent can answer with anyone's serial
// and CHUID, but not with their key. A card without one (its card type
// keeps a static management key, which any card accepts) is trusted only
// in its owner's own workstation or, an AirCard, at the AirCard service
// hosting it; elsewhere it is not proven (false, no error).
func (s *Service) cardProven(ctx context.Context, pc *piv.Card, wsID int64, ct *lanyard.CardType, card *lanyard.Card, id personalize.Identity) (bool, error) {
	if err := personalize.CheckPUKHolder(card, id); err != nil {
		return false, err
	}
	if card.AdminKeyVersion > 0 {
		_, err := s.derivedAdmin(ctx, pc, ct, card, id)
		return err == nil, err
	}
	// The hub's record of the connected workstation (its owner and role
	// come from its pairing, not from what the agent says).
	access := s.cardAccess()
	if access == nil {
		return false, nil
	}
	ws, ok := access.WorkstationState(wsID)
	if !ok {
		return false, nil
	}
	switch {
	case ws.OwnerID != 0 && ws.OwnerID == card.OwnerID:
		return true, nil
	case ct.Kind == lanyard.KindAirCard && ws.Role == lanyard.RoleAirCardService && card.WorkstationID == ws.ID:
		return true, nil
	}
	return false, nil
}
