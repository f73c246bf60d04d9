package cardops

import (
	"context"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// PIN blocked cards (docs/lifecycle.md, "PIN blocked cards"): agents read
// each card's PIN tries without spending one (on arrival, after the
// server's sessions, every minute on workstations) and report what they
// read; the server keeps the last status of each card, so that the
// console shows "PIN blocked" before the user calls. A report is one
// transaction and one audit event (card.pin.status) only when it says
// something new (lanyard.CardPINStatus.Changed): agents repeat
// themselves. The card's owner and the operators are told when a card
// becomes blocked: once per block, since only the change to blocked
// sends it, and at most once a day per card (pinBlockedNoticeDue). Only
// the workstations the card is tied to are heard (cardTiedTo), and only
// so many changes per workstation an hour (pinReportLimit).

// RecordPINStatus records the PIN status pin that an agent read of the
// card with serial in a reader of workstation wsID. It reports whether
// the status changed; a card Lanyard does not know, or one not tied to
// the workstation, is no error (a visitor's card in a managed reader)
// and changes nothing.
func (s *Cards) RecordPINStatus(ctx context.Context, wsID int64, serial string, pin lanyard.PINState) (bool, error) {
	// Most reports say nothing new (every arrival of a card, thousands at
	// an AirCard service's start): a read decides, and only news takes a
	// write transaction and the card's lock.
	news, counted, err := s.pinNews(ctx, wsID, serial, pin)
	if !news || err != nil {
		return false, err
	}
	if counted && !s.pinReports.allow(s, wsID, s.rec.Clock()) {
		return false, nil
	}
	var card *lanyard.Card
	var owner *lanyard.User
	var pol *lanyard.Policy
	var wsName string
	var notify, changed bool
	err = s.store.Update(ctx, func(tx lanyard.Tx) error {
		c, err := s.tiedCardBySerial(tx, wsID, serial)
		if c == nil || err != nil {
			return err
		}
		card = c
		// Two reports of the card at once (two readers' workers) see one
		// another's: one records, the other finds nothing new.
		if err := tx.LockCard(c.ID); err != nil {
			return err
		}
		prev, err := cardPINStatus(tx, c.ID)
		if err != nil {
			return err
		}
		if !prev.Changed(pin) {
			return nil
		}
		seenAt := int64(0) // a workstation no longer on record: where is unknown
		if ws, err := tx.WorkstationByID(wsID); err == nil {
			seenAt, wsName = ws.ID, ws.Name
		}
		next := &lanyard.CardPINStatus{CardID: c.ID, PINState: mergedPIN(prev, pin), Blocked: pin.Blocked(), ReportedAt: s.rec.Clock(), WorkstationID: seenAt}
		if err := tx.PutCardPINStatus(next); err != nil {
			return err
		}
		changed = true
		details := pinDetails(c, next, prev, wsName)
		if next.Blocked && (prev == nil || !prev.Blocked) && s.notifier != nil {
			if notify, err = pinBlockedNoticeDue(tx, c, next.ReportedAt); err != nil {
				return err
			}
			// Whether the message went: what the next block is held to.
			details["notified"] = notify
		}
		if notify {
			if owner, pol, err = s.ownerPolicy(tx, c); err != nil {
				return err
			}
		}
		return tx.AppendAudit(s.rec.Event(nil, "card.pin.status", "card", strconv.FormatInt(c.ID, 10), details))
	})
	if err != nil || !notify {
		return changed, err
	}
	s.notifyPINBlocked(ctx, card, owner, pol, wsName)
	return true, nil
}

// pinNews reports whether pin is news about the card with serial from
// workstation wsID: the card is known, tied to the workstation, and its
// recorded status differs; and whether the news counts against the
// workstation's cap (pinReportLimit): an AirCard service's does not, as
// it reports thousands of cards at its first start and is paired by an
// administrator.
func (s *Cards) pinNews(ctx context.Context, wsID int64, serial string, pin lanyard.PINState) (news, counted bool, err error) {
	err = s.rec.View(ctx, func(tx lanyard.Tx) error {
		c, err := s.tiedCardBySerial(tx, wsID, serial)
		if c == nil || err != nil {
			return err
		}
		prev, err := cardPINStatus(tx, c.ID)
		if news = err == nil && prev.Changed(pin); !news {
			return err
		}
		ws, err := tx.WorkstationByID(wsID)
		if lanyard.IsCode(err, lanyard.ENotFound) {
			counted = true
			return nil
		}
		counted = err == nil && ws.Role != lanyard.RoleAirCardService
		return err
	})
	return news, counted, err
}

// cardBySerial is the card registered with serial under any card type,
// one not revoked before a revoked one; nil when there is none.
func cardBySerial(tx lanyard.Tx, serial string) (*lanyard.Card, error) {
	types, err := tx.ListCardTypes()
	if err != nil {
		return nil, err
	}
	var found *lanyard.Card
	for _, t := range types {
		c, err := tx.CardBySerial(t.Name, serial)
		if lanyard.IsCode(err, lanyard.ENotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if c.State != lanyard.CardRevoked {
			return c, nil
		}
		found = c
	}
	return found, nil
}

// mergedPIN is the status next says, with the counts it leaves out (-1, 0)
// kept from prev while the PIN's blocked state is the same.
func mergedPIN(prev *lanyard.CardPINStatus, next lanyard.PINState) lanyard.PINState {
	if prev == nil {
		return next
	}
	if next.TriesTotal == 0 {
		next.TriesTotal = prev.TriesTotal
	}
	if next.PUKTriesLeft < 0 {
		next.PUKTriesLeft = prev.PUKTriesLeft
	}
	if next.TriesLeft < 0 && prev.Blocked == next.Blocked() && !prev.Blocked {
		next.TriesLeft = prev.TriesLeft
	}
	return next
}

// pinDetails are the details of a card.pin.status event (an agent's
// report).
func pinDetails(c *lanyard.Card, next, prev *lanyard.CardPINStatus, wsName string) map[string]any {
	d := map[string]any{"serial": c.Serial, "pin_tries_left": next.TriesLeft, "pin_tries_total": next.TriesTotal,
		"puk_tries_left": next.PUKTriesLeft, "pin_blocked": next.Blocked}
	if prev != nil {
		d["was_pin_tries_left"], d["was_pin_blocked"] = prev.TriesLeft, prev.Blocked
	}
	if next.WorkstationID != 0 {
		d["workstation"], d["workstation_id"] = wsName, next.WorkstationID
	}
	return d
}

// pinRestored records, in the transaction of a PIN change or reset that
// Lanyard did, that the card's PIN has all its tries again (a successful
// CHANGE REFERENCE DATA or RESET RETRY COUNTER resets the counter, SP
// 800-73-4 Part 2 3.2.2, 3.2.3): the total last known, or unknown but
// not blocked. The operation's own audit event covers it. A card without
// a known status keeps none: the agent reports it after the session.
func (s *Cards) pinRestored(tx lanyard.Tx, cardID int64) error {
	prev, err := tx.CardPINStatus(cardID)
	if lanyard.IsCode(err, lanyard.ENotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	left := -1
	if prev.TriesTotal > 0 {
		left = prev.TriesTotal
	}
	if !prev.Blocked && prev.TriesLeft == left {
		return nil
	}
	return tx.PutCardPINStatus(&lanyard.CardPINStatus{CardID: cardID, PINState: lanyard.PINState{TriesLeft: left, TriesTotal: prev.TriesTotal,
		PUKTriesLeft: prev.PUKTriesLeft}, ReportedAt: s.rec.Clock()})
}

// cardPINStatus is the card's last known PIN status, nil when none is
// known.
func cardPINStatus(tx lanyard.Tx, cardID int64) (*lanyard.CardPINStatus, error) {
	st, err := tx.CardPINStatus(cardID)
	if lanyard.IsCode(err, lanyard.ENotFound) {
		return nil, nil
	}
	return st, err
}

// notifyPINBlocked tells the operators (users with the operator role and
// an address) and the card's owner, as the owner's policy asks for card
// notifications (notifyCardState), that the card's PIN was seen blocked
// at workstation wsName. A mail that cannot be queued is logged.
func (s *Cards) notifyPINBlocked(ctx context.Context, card *lanyard.Card, owner *lanyard.User, pol *lanyard.Policy, wsName string) {
	if s.notifier == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	var ops []*lanyard.User
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		ops, err = tx.ListUsers(lanyard.UserFilter{Role: lanyard.RoleOperator, Limit: 1000})
		return
	}); err != nil {
		s.log.Error("listing the operators to tell of a blocked PIN failed", "card", card.ID, "err", err)
	}
	var to []string
	for _, u := range ops {
		if !u.Disabled && u.Email != "" {
			to = append(to, u.Email)
		}
	}
	user := owner
	if user == nil {
		user = &lanyard.User{}
	}
	ev := CardStateEvent{Kind: "pin_blocked", User: user, Card: card, By: wsName}
	// Two messages: the operators' addresses are not the owner's to see.
	for _, to := range [][]string{to, ownerRecipients(owner, pol)} {
		if len(to) == 0 {
			continue
		}
		if err := s.notifier.CardState(ctx, to, ev); err != nil {
			s.log.Error("queueing the PIN blocked notification failed", "card", card.ID, "err", err)
		}
	}
}
