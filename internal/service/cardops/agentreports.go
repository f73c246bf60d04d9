package cardops

import (
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Trust of agents' card reports (docs/security.md, "Agent reports";
// docs/lifecycle.md, "PIN blocked cards"). An agent names the cards in
// its readers by the serial it read, which a modified agent, or a card
// that answers with another card's serial, can make up: the serial is a
// claim, not a proof (the server's own sessions prove a card with its
// admin key before they touch it). So a workstation's claims are taken,
// and the workstation told of a card, only for the cards tied to it;
// its reports are counted, and a card's owner and the operators hear of
// a blocked PIN at most once a day.

const (
	// pinReportPeriod and pinReportsPerPeriod cap the PIN status changes
	// recorded from one workstation (not an AirCard service: pinNews): a
	// card read wrong PINs at, or one issued, is one change; far more is
	// an agent that makes them up.
	pinReportPeriod     = time.Hour
	pinReportsPerPeriod = 200
	// pinBlockedNoticePeriod: at most one card_pin_blocked message per
	// card in it, unless Lanyard unblocked the card since (a PIN reset,
	// an offline unblock response), which a person asked for.
	pinBlockedNoticePeriod = 24 * time.Hour
)

// cardTiedTo reports whether card c is tied to workstation wsID, the
// kind of workstation whose agent's reports of it are taken and that is
// told its state: a virtual card or software store lives there
// (Card.WorkstationID, which a smart card does not record); the
// workstation belongs to the card's owner; it is one of the card's
// AirCard computers; or it is an AirCard service and c an AirCard. A
// smart card seen at someone else's computer, a help desk's or a shared
// one with no owner, is reported again at one of its owner's (a known
// limit, docs/security.md).
func cardTiedTo(tx lanyard.Tx, c *lanyard.Card, wsID int64) (bool, error) {
	if wsID == 0 {
		return false, nil
	}
	if c.WorkstationID == wsID {
		return true, nil
	}
	ws, err := tx.WorkstationByID(wsID)
	if lanyard.IsCode(err, lanyard.ENotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	switch ws.Role {
	case lanyard.RoleAirCardService:
		ct, err := tx.CardTypeByName(c.CardType)
		if lanyard.IsCode(err, lanyard.ENotFound) {
			return false, nil
		}
		return err == nil && ct.Kind == lanyard.KindAirCard, err
	case lanyard.RoleWorkstation:
		if ws.OwnerID != 0 && ws.OwnerID == c.OwnerID {
			return true, nil
		}
	default:
		return false, nil
	}
	computers, err := tx.AirCardComputers(c.ID)
	if err != nil {
		return false, err
	}
	for _, pc := range computers {
		if pc.WorkstationID == wsID {
			return true, nil
		}
	}
	return false, nil
}

// tiedCardBySerial is the card with serial (cardBySerial) when it is
// tied to workstation wsID; nil when Lanyard does not know it or it
// belongs elsewhere, which is logged at debug level only: a visitor's
// card is no event, and a made-up serial must not fill the log.
func (s *Cards) tiedCardBySerial(tx lanyard.Tx, wsID int64, serial string) (*lanyard.Card, error) {
	c, err := cardBySerial(tx, serial)
	if c == nil || err != nil {
		return nil, err
	}
	tied, err := cardTiedTo(tx, c, wsID)
	if !tied || err != nil {
		if err == nil {
			s.log.Debug("ignoring a workstation's report of a card not tied to it", "workstation", wsID, "serial", serial, "card", c.ID)
		}
		return nil, err
	}
	return c, nil
}

// pinReportLimit counts the PIN status changes recorded per workstation
// in the current period (pinReportsPerPeriod), in memory: a restart
// starts the count again, which a flood survives only for a period. The
// zero value is ready to use.
type pinReportLimit struct {
	mu     sync.Mutex
	period time.Time      // start of the current period
	counts map[int64]int  // workstation → changes recorded in it
	warned map[int64]bool // workstation → told in the log this period
}

// allow takes one of workstation wsID's changes for the period at now,
// false when it has none left; it logs the first refusal of a period.
func (l *pinReportLimit) allow(s *Cards, wsID int64, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.counts == nil || now.Sub(l.period) >= pinReportPeriod || now.Before(l.period) {
		l.period, l.counts, l.warned = now, map[int64]int{}, map[int64]bool{}
	}
	if l.counts[wsID] >= pinReportsPerPeriod {
		if !l.warned[wsID] {
			l.warned[wsID] = true
			s.log.Warn("a workstation reported more PIN status changes than allowed; ignoring its reports for the rest of the period",
				"workstation", wsID, "limit", pinReportsPerPeriod, "period", pinReportPeriod)
		}
		return false
	}
	l.counts[wsID]++
	return true
}

// pinBlockedNoticeDue reports whether a card_pin_blocked message may go
// out for card c at now: no card.pin.status event of the card said it
// was sent (details "notified") within pinBlockedNoticePeriod, or
// Lanyard unblocked the card since the last one. Derived from the audit
// log, which keeps what was sent, so that no table needs another column.
func pinBlockedNoticeDue(tx lanyard.Tx, c *lanyard.Card, now time.Time) (bool, error) {
	id := strconv.FormatInt(c.ID, 10)
	events, err := tx.ListAudit(lanyard.AuditFilter{Action: "card.pin.status", ObjectType: "card", ObjectID: id})
	if err != nil {
		return false, err
	}
	var last *lanyard.AuditEvent
	for _, ev := range events {
		var d struct {
			Notified bool `json:"notified"`
		}
		if json.Unmarshal(ev.Details, &d) == nil && d.Notified {
			last = ev
		}
	}
	if last == nil || now.Sub(last.Time) >= pinBlockedNoticePeriod {
		return true, nil
	}
	// A PIN reset's event names the card by ID, an offline unblock's by
	// serial.
	for _, f := range []lanyard.AuditFilter{{Action: "card.pin.reset", ObjectID: id}, {Action: "card.offline_unblock", ObjectID: c.Serial}} {
		f.AfterSeq, f.ObjectType, f.Limit = last.Seq, "card", 1
		since, err := tx.ListAudit(f)
		if err != nil || len(since) > 0 {
			return len(since) > 0, err
		}
	}
	return false, nil
}
