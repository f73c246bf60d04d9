package cardops

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/cardperm"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// CardView is a card as people see it: with its owner's login and its
// certificates (the card menu's Contents tab).
type CardView struct {
	*lanyard.Card
	Kind         lanyard.CardKind // of its card type
	Owner        string
	Certificates []*CardCertificate
	Operations   []*lanyard.Operation
	// AllowedOperations are the operations the caller may start on the
	// card (cardperm.Allowed with the owner's policy): the card menu,
	// the console and the CLI offer exactly these. Set by GetCard,
	// ListCards and the card state operations.
	AllowedOperations []cardperm.Op
	// ReplacedBy is the card's latest replacement (this card the old
	// one), Replaces the replacement that made it (this card the new
	// one); nil when none (docs/lifecycle.md, "Replace").
	ReplacedBy *ReplacementView
	Replaces   *ReplacementView
	// PIN is the card's last known PIN status (an agent's report, or
	// Lanyard's own PIN reset or change); nil when none is known.
	PIN *CardPIN
	// ContentStatus is what the Card Monitor last found of the card's
	// certificates (none for a revoked card or one it never recorded).
	ContentStatus lanyard.ContentStatus
	// Update is whether an update is due and the unfinished one (set by
	// GetCard for an issued card; nil otherwise).
	Update *UpdateStatus
	// RecoverableKeys is how many of the owner's earlier archived
	// encryption keys an issued PIV card could still get with Recover keys
	// onto card (set by GetCard and the issue result; issuehistory.go).
	RecoverableKeys int
}

// ReplacementView is a replacement link with both cards' serials.
type ReplacementView struct {
	*lanyard.CardReplacement
	OldSerial string
	NewSerial string
}

// CardPIN is a card's last known PIN status and the name of the
// workstation it was reported from (empty: Lanyard's own).
type CardPIN struct {
	lanyard.CardPINStatus
	Workstation string
}

// CardCertificate is one line of a card's Contents tab.
type CardCertificate struct {
	ID       int64
	Serial   string
	CA       string
	Template string
	Subject  string
	Status   lanyard.CertStatus
	Source   lanyard.CertSource
	NotAfter string
	Slot     string
	// RequestID names the CA request of a certificate that is not issued
	// yet (status pending or rejected).
	RequestID int64
	// OnHold: the certificate is on hold while its card is disabled
	// (RFC 5280 certificateHold).
	OnHold bool
}

// ConnectedCard is a card in a reader of a workstation the caller may
// use, as Self-Service lists it.
type ConnectedCard struct {
	WorkstationID int64
	Workstation   string
	Reader        string
	ATR           string
	Serial        string
	CardType      string // "" when no card type recognizes the ATR
	Kind          lanyard.CardKind
	CardID        int64
	State         lanyard.CardState
	Owner         string
}

// RegisterCardInput registers a card an operator hands out.
type RegisterCardInput struct {
	Serial   string
	CardType string
	Name     string
}

// isCardStaff reports whether p may do card work on other users' cards
// (lanyard.Principal.IsCardStaff).
func isCardStaff(p *lanyard.Principal) bool { return p.IsCardStaff() }

// ownerScope is the owner whose workstations p works with
// (lanyard.Principal.OwnerScope).
func ownerScope(p *lanyard.Principal) int64 { return p.OwnerScope() }

// ListCards lists cards; users see only their own.
func (s *Cards) ListCards(ctx context.Context, p *lanyard.Principal, f lanyard.CardFilter) ([]*CardView, error) {
	if !p.IsStaff() && !p.Has(lanyard.RoleAuditor) {
		f.OwnerID = p.User.ID
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	var out []*CardView
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		cards, err := tx.ListCards(f)
		if err != nil {
			return err
		}
		out = make([]*CardView, 0, len(cards))
		for _, c := range cards {
			v, err := s.cardView(tx, c, false)
			if err != nil {
				return err
			}
			if err := s.addAllowed(tx, p, v); err != nil {
				return err
			}
			out = append(out, v)
		}
		return nil
	})
	return out, err
}

// GetCard returns a card with its contents and operations.
func (s *Cards) GetCard(ctx context.Context, p *lanyard.Principal, id int64) (*CardView, error) {
	var out *CardView
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		c, err := tx.CardByID(id)
		if err != nil {
			return err
		}
		if c.OwnerID != p.User.ID && !p.IsStaff() && !p.Has(lanyard.RoleAuditor) {
			return lanyard.Errorf(lanyard.ENotFound, "card %d not found", id)
		}
		if out, err = s.cardView(tx, c, true); err != nil {
			return err
		}
		if out.Update, err = s.updateStatus(tx, c); err != nil {
			return err
		}
		if out.RecoverableKeys, err = recoverableKeys(tx, c, out.Kind); err != nil {
			return err
		}
		return s.addAllowed(tx, p, out)
	})
	return out, err
}

func (s *Cards) cardView(tx lanyard.Tx, c *lanyard.Card, full bool) (*CardView, error) {
	v := &CardView{Card: c, Certificates: []*CardCertificate{}}
	if ct, err := tx.CardTypeByName(c.CardType); err == nil {
		v.Kind = ct.Kind
	}
	if c.OwnerID != 0 {
		u, err := tx.UserByID(c.OwnerID)
		if err != nil {
			return nil, err
		}
		v.Owner = u.Login
	}
	pin, err := cardPINStatus(tx, c.ID)
	if err != nil {
		return nil, err
	}
	if pin != nil {
		v.PIN = &CardPIN{CardPINStatus: *pin}
		if ws, err := tx.WorkstationByID(pin.WorkstationID); pin.WorkstationID != 0 && err == nil {
			v.PIN.Workstation = ws.Name
		}
	}
	if v.ContentStatus, err = contentStatus(tx, c); err != nil {
		return nil, err
	}
	certs, err := tx.ListCertificates(lanyard.CertFilter{CardID: c.ID})
	if err != nil {
		return nil, err
	}
	for _, cert := range certs {
		cc := &CardCertificate{ID: cert.ID, Serial: cert.Serial, CA: cert.CA, Template: cert.Template, Subject: cert.Subject,
			Status: cert.Status, Source: cert.Source, NotAfter: cert.NotAfter.Format("2006-01-02"), OnHold: cert.OnHold()}
		cc.Slot = cert.Slot
		if t, err := s.catalog.Template(tx, cert.Template); err == nil && cc.Slot == "" && cert.Source == lanyard.SourceManaged {
			cc.Slot = slotOf(t)
		}
		v.Certificates = append(v.Certificates, cc)
	}
	ops, err := tx.ListOperations(lanyard.OperationFilter{CardID: c.ID, Limit: 20})
	if err != nil {
		return nil, err
	}
	if full {
		for _, op := range ops {
			v.Operations = append(v.Operations, viewOperation(op))
		}
	}
	// Certificates still waiting in the CA (or refused there) are lines
	// of the Contents tab too (guide: "you can check the certificate
	// status – Pending").
	unfinished, err := tx.ListOperations(lanyard.OperationFilter{CardID: c.ID, Kind: lanyard.OpIssue, Unfinished: true})
	if err != nil {
		return nil, err
	}
	updates, err := tx.ListOperations(lanyard.OperationFilter{CardID: c.ID, Kind: lanyard.OpUpdate, Unfinished: true})
	if err != nil {
		return nil, err
	}
	unfinished = append(unfinished, updates...)
	for _, op := range unfinished {
		var d issueData
		if json.Unmarshal(op.Data, &d) != nil {
			continue
		}
		for _, sl := range d.Plan.Slots {
			id := d.Requests[sl.Slot]
			if id == 0 || d.Certs[sl.Slot] != "" {
				continue
			}
			r, err := tx.RequestByID(id)
			if err != nil {
				return nil, err
			}
			status := lanyard.CertPending
			switch r.Status {
			case lanyard.RequestRejected:
				status = lanyard.CertRejected
			case lanyard.RequestIssued:
				continue // its certificate is bound to the card and listed above
			}
			v.Certificates = append(v.Certificates, &CardCertificate{CA: r.CA, Template: r.Template, Subject: r.Subject,
				Status: status, Source: lanyard.SourceManaged, Slot: sl.Slot, RequestID: r.ID})
		}
	}
	return v, addReplacements(tx, v)
}

// RegisterCard records a card an operator hands out: it is then known to
// Lanyard (state clean) and users can issue it even when their policy does
// not let them add cards.
func (s *Cards) RegisterCard(ctx context.Context, p *lanyard.Principal, in RegisterCardInput) (*lanyard.Card, error) {
	if in.Serial == "" || len(in.Serial) > 64 {
		return nil, lanyard.Errorf(lanyard.EInvalid, "serial must be 1-64 characters")
	}
	if len(in.Name) > 64 {
		return nil, lanyard.Errorf(lanyard.EInvalid, "a card name is at most 64 characters")
	}
	now := s.rec.Clock()
	c := &lanyard.Card{Serial: in.Serial, CardType: in.CardType, Name: in.Name, State: lanyard.CardClean, CreatedAt: now, UpdatedAt: now}
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "card.register", "card", strconv.FormatInt(c.ID, 10), map[string]any{"serial": c.Serial, "card_type": c.CardType})
	}, func(tx lanyard.Tx) error {
		ct, err := tx.CardTypeByName(in.CardType)
		if err != nil {
			return err
		}
		if ct.Kind == lanyard.KindAirCard {
			// An AirCard exists only at an AirCard service, which makes
			// it (Issue AirCard) and picks its serial.
			return lanyard.Errorf(lanyard.EInvalid, "AirCards are not registered by hand; users create them with Issue AirCard")
		}
		return tx.CreateCard(c)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ConnectedCards lists the cards in the readers of the caller's
// workstations (staff: every workstation), recognized by card type and
// matched with Lanyard's records.
func (s *Cards) ConnectedCards(ctx context.Context, p *lanyard.Principal, own bool) ([]*ConnectedCard, error) {
	out := []*ConnectedCard{}
	ca := s.cardAccess()
	if ca == nil {
		return out, nil
	}
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		types, err := tx.ListCardTypes()
		if err != nil {
			return err
		}
		// The AirCard service holds every user's AirCards as readers
		// (10,000 of them): the caller's are found in one query, not one
		// per reader, and only their readers are copied from the hub, as
		// only the caller's own workstations are.
		airCards, err := s.airCards.AirCardsOf(tx, types, p)
		if err != nil {
			return err
		}
		if own {
			// Staff asked for their own cards: other people's AirCards
			// are not theirs either.
			maps.DeleteFunc(airCards, func(_ string, c *lanyard.Card) bool { return c.OwnerID != p.User.ID })
		}
		var states []lanyard.WorkstationState
		if isCardStaff(p) && !own {
			states = ca.Workstations(0)
		} else {
			states = ca.Workstations(p.User.ID)
			if len(airCards) > 0 {
				states = append(states, ca.AirCardServices(slices.Collect(maps.Keys(airCards)))...)
			}
		}
		for _, ws := range states {
			air := ws.Role == lanyard.RoleAirCardService
			if !ws.Online || (ws.OwnerID != p.User.ID && !isCardStaff(p) && !air) {
				continue
			}
			for _, r := range ws.Readers {
				var known *lanyard.Card
				if air {
					if known = airCards[r.Serial]; known == nil || r.Serial == "" {
						continue
					}
				}
				if !r.Present {
					continue
				}
				cc := &ConnectedCard{WorkstationID: ws.ID, Workstation: ws.Name, Reader: r.Name, ATR: hex.EncodeToString(r.ATR), Serial: r.Serial}
				if ct := recognize(types, r.ATR, r.Serial != ""); ct != nil {
					cc.CardType, cc.Kind = ct.Name, ct.Kind
					c, err := known, error(nil)
					if c == nil || c.CardType != ct.Name {
						c, err = tx.CardBySerial(ct.Name, r.Serial)
					}
					if err == nil {
						cc.CardID, cc.State = c.ID, c.State
						if c.OwnerID != 0 {
							if u, err := tx.UserByID(c.OwnerID); err == nil {
								cc.Owner = u.Login
							}
						}
					} else if !lanyard.IsCode(err, lanyard.ENotFound) {
						return err
					}
				}
				out = append(out, cc)
			}
		}
		return nil
	})
	return out, err
}

// recognize returns the first card type (in creation order) whose ATR
// patterns match atr. A card that no pattern names but that answered as a
// PIV card (isPIV: the agent read its serial through the PIV application)
// falls to the first PIV card type without patterns: PIV is a standard
// interface, so "any PIV card" is a sensible default card type.
func recognize(types []*lanyard.CardType, atr []byte, isPIV bool) *lanyard.CardType {
	for _, ct := range types {
		if len(atr) > 0 && len(ct.ATRPatterns) > 0 && lanyard.MatchATR(ct.ATRPatterns, atr) {
			return ct
		}
	}
	if ct := recognizeVirtual(types, atr); ct != nil {
		return ct
	}
	if isPIV {
		for _, ct := range types {
			if ct.Kind == lanyard.KindPIV && len(ct.ATRPatterns) == 0 {
				return ct
			}
		}
	}
	return nil
}

// certSlot is the slot certificate c is on in its card: the one recorded
// when it was bound to the card, else (a certificate stored before slots
// were recorded) its template's slot now; "" when neither is known.
func (s *Cards) certSlot(ctx context.Context, c *lanyard.Certificate) string {
	if c.Slot != "" {
		return c.Slot
	}
	if tpl, err := s.catalog.GetTemplate(ctx, c.Template); err == nil {
		return slotOf(tpl)
	}
	return ""
}

// slotOf is the PIV slot of a template's key ("9a" by default).
func slotOf(t *lanyard.Template) string {
	if t.Slot != "" {
		return t.Slot
	}
	return "9a"
}

// sealedIssueFields are the issue record's sealed secrets: the new PUK
// (issueData.NewPUK) and, in records written before the random PIN's
// copies were held apart (lanyard.HeldPIN, migration 0016 erases them),
// the PIN copy kept for the owner's mail (pin_copy) and the PIN kept for
// the owner's first look (owner_pin).
var sealedIssueFields = []string{"new_puk", "pin_copy", "owner_pin"}

// viewOperation is op as card views show it: without the sealed secrets
// an issue records (sealedIssueFields), whatever the operation's kind, so
// that a kind added later cannot leak one by recording it under the same
// name. Operation.Data never carries a PIN, PUK or key to a client,
// sealed or not; a record that is not a JSON object is not shown at all.
func viewOperation(op *lanyard.Operation) *lanyard.Operation {
	if len(op.Data) == 0 {
		return op
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(op.Data, &fields) != nil {
		out := *op
		out.Data = nil
		return &out
	}
	found := false
	for _, f := range sealedIssueFields {
		if _, ok := fields[f]; ok {
			delete(fields, f)
			found = true
		}
	}
	if !found {
		return op
	}
	out := *op
	out.Data, _ = json.Marshal(fields)
	return &out
}

// lockUnchanged holds card's row until commit (Tx.LockCard) and fails
// with EConflict, saying when, if the card changed since it was read at
// was (its UpdatedAt then).
func lockUnchanged(tx lanyard.Tx, card *lanyard.Card, was time.Time, when string) error {
	if err := tx.LockCard(card.ID); err != nil {
		return err
	}
	cur, err := tx.CardByID(card.ID)
	if err != nil {
		return err
	}
	if !cur.UpdatedAt.Equal(was) {
		return lanyard.Errorf(lanyard.EConflict, "card %s changed %s", card.Serial, when)
	}
	return nil
}
