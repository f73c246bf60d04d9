package workstations

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// AirCardCodeTTL is how long a connection code lives (the issue: one
// hour).
const AirCardCodeTTL = time.Hour

// AirCardJoinLimits bound the guesses at connection codes, per
// workstation and per client address: a code has 50 random bits, and five
// wrong ones lock the guesser out for ten minutes, doubling.
var AirCardJoinLimits = auth.Limits{MaxFailures: 5, Window: 15 * time.Minute, BaseLock: 10 * time.Minute, MaxLock: 24 * time.Hour, MaxKeys: 100_000}

// AirCardOwned reports whether the card in reader r of the AirCard
// service is registered to p (staff: to anyone), for card work on it.
func (s *Workstations) AirCardOwned(ctx context.Context, p *lanyard.Principal, r lanyard.Reader) bool {
	owned := false
	_ = s.rec.View(ctx, func(tx lanyard.Tx) error {
		owned = airCardOwnedTx(tx, p, r)
		return nil
	})
	return owned
}

// airCardOwnedTx is airCardOwned inside a transaction.
func airCardOwnedTx(tx airCardLookup, p *lanyard.Principal, r lanyard.Reader) bool {
	if r.Serial == "" {
		return false
	}
	c, err := airCardBySerial(tx, r.Serial)
	return err == nil && c.OwnerID != 0 && (c.OwnerID == p.User.ID || p.IsCardStaff())
}

// AirCardsOf returns, by serial, the registered AirCards p may use at the
// AirCard service: p's own, and for staff every one with an owner.
func (s *Workstations) AirCardsOf(tx lanyard.CardStore, types []*lanyard.CardType, p *lanyard.Principal) (map[string]*lanyard.Card, error) {
	out := map[string]*lanyard.Card{}
	f := lanyard.CardFilter{OwnerID: p.User.ID}
	if p.IsCardStaff() {
		f.OwnerID = 0
	}
	for _, ct := range types {
		if ct.Kind != lanyard.KindAirCard {
			continue
		}
		f.CardType = ct.Name
		cards, err := tx.ListCards(f)
		if err != nil {
			return nil, err
		}
		for _, c := range cards {
			if c.OwnerID != 0 {
				out[c.Serial] = c
			}
		}
	}
	return out, nil
}

// AirCardBySerial returns the registered AirCard with serial.
func (s *Workstations) AirCardBySerial(tx airCardLookup, serial string) (*lanyard.Card, error) {
	return airCardBySerial(tx, serial)
}

// airCardLookup is what finding an AirCard by serial reads (an alias,
// so that an interface of the card workflows can name the same type).
type airCardLookup = interface {
	lanyard.CardTypeStore
	lanyard.CardStore
}

// airCardBySerial is AirCardBySerial.
func airCardBySerial(tx airCardLookup, serial string) (*lanyard.Card, error) {
	types, err := tx.ListCardTypes()
	if err != nil {
		return nil, err
	}
	for _, ct := range types {
		if ct.Kind != lanyard.KindAirCard {
			continue
		}
		c, err := tx.CardBySerial(ct.Name, serial)
		if err == nil {
			return c, nil
		}
		if !lanyard.IsCode(err, lanyard.ENotFound) {
			return nil, err
		}
	}
	return nil, lanyard.Errorf(lanyard.ENotFound, "AirCard %s is not registered", serial)
}

// usable reports whether a card may still be used at all.
func usable(c *lanyard.Card) bool {
	return c.State != lanyard.CardRevoked && c.State != lanyard.CardDisabled
}

// AirCardsFor lists the AirCards workstation wsID may use, neither
// revoked nor disabled, in the order they were allowed: what the aircards
// message its agent gets when it connects and whenever the list changes
// is made of (the hub bounds and converts it).
func (s *Workstations) AirCardsFor(ctx context.Context, wsID int64) ([]*lanyard.Card, error) {
	out := []*lanyard.Card{}
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		ids, err := tx.AirCardsAllowedOn(wsID)
		if err != nil {
			return err
		}
		for _, id := range ids {
			c, err := tx.CardByID(id)
			if err != nil {
				return err
			}
			if usable(c) {
				out = append(out, c)
			}
		}
		return nil
	})
	return out, err
}

// AirCardAllowed checks that workstation wsID may open a session on the
// AirCard with serial: it is on the card's list of allowed computers and
// the card is neither revoked nor disabled. The hub asks before every
// session a workstation opens.
func (s *Workstations) AirCardAllowed(ctx context.Context, wsID int64, serial string) error {
	return s.rec.View(ctx, func(tx lanyard.Tx) error {
		c, err := airCardBySerial(tx, serial)
		if err != nil {
			return lanyard.Errorf(lanyard.EForbidden, "this computer is not allowed to use AirCard %s", serial)
		}
		if !usable(c) {
			return lanyard.Errorf(lanyard.EForbidden, "AirCard %s is %s", serial, c.State)
		}
		ids, err := tx.AirCardsAllowedOn(wsID)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if id == c.ID {
				return nil
			}
		}
		return lanyard.Errorf(lanyard.EForbidden, "this computer is not allowed to use AirCard %s", serial)
	})
}

// airCardsCheckBatch is how many workstations AirCardSessionsRefused
// checks per transaction.
const airCardsCheckBatch = 500

// AirCardSessionsRefused is AirCardAllowed for the open AirCard sessions
// of many workstations at once (open: workstation ID → the serials of
// the AirCards it has sessions on), as the hub's periodic recheck needs
// it: a change whose notice was lost — a computer removed, the AirCard
// disabled, on another replica — still ends the sessions it forbids. It
// returns the pairs no longer allowed, by workstation; a failed batch
// does not keep the others from being checked.
func (s *Workstations) AirCardSessionsRefused(ctx context.Context, open map[int64][]string) (refused map[int64][]string, err error) {
	refused = map[int64][]string{}
	ids := slices.Sorted(maps.Keys(open))
	var firstErr error
	for batch := range slices.Chunk(ids, airCardsCheckBatch) {
		got := map[int64][]string{}
		err := s.rec.View(ctx, func(tx lanyard.Tx) error {
			clear(got)
			cards := map[string]*lanyard.Card{} // by serial; nil: not an AirCard
			for _, wsID := range batch {
				allowed, err := tx.AirCardsAllowedOn(wsID)
				if err != nil {
					return err
				}
				for _, serial := range open[wsID] {
					c, seen := cards[serial]
					if !seen {
						if c, err = airCardBySerial(tx, serial); err != nil && !lanyard.IsCode(err, lanyard.ENotFound) {
							return err
						}
						cards[serial] = c
					}
					if c == nil || !usable(c) || !slices.Contains(allowed, c.ID) {
						got[wsID] = append(got[wsID], serial)
					}
				}
			}
			return nil
		})
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		maps.Copy(refused, got)
	}
	return refused, firstErr
}

// AirCardComputer is one allowed computer of an AirCard as the card menu
// lists it.
type AirCardComputer struct {
	WorkstationID int64
	Workstation   string
	AddedBy       string
	AddedAt       time.Time
	Online        bool
}

// airCardOf loads an AirCard the caller may manage: its owner, or staff
// who do card work (operators, administrators).
func (s *Workstations) airCardOf(tx lanyard.Tx, p *lanyard.Principal, cardID int64) (*lanyard.Card, error) {
	return s.airCard(tx, p, cardID, p.IsCardStaff())
}

// airCardComputersReadable loads an AirCard whose allowed computers the
// caller may read: its owner, and those who read workstations (operators,
// administrators, auditors). CA managers read the card, not workstations.
func (s *Workstations) airCardComputersReadable(tx lanyard.Tx, p *lanyard.Principal, cardID int64) (*lanyard.Card, error) {
	return s.airCard(tx, p, cardID, mayReadWorkstations(p))
}

// airCard loads AirCard cardID for p, who may have it when they own it
// or when anyone's is allowed.
func (s *Workstations) airCard(tx lanyard.Tx, p *lanyard.Principal, cardID int64, anyones bool) (*lanyard.Card, error) {
	c, err := tx.CardByID(cardID)
	if err != nil {
		return nil, err
	}
	if c.OwnerID != p.User.ID && !anyones {
		return nil, lanyard.Errorf(lanyard.ENotFound, "card %d not found", cardID)
	}
	ct, err := tx.CardTypeByName(c.CardType)
	if err != nil {
		return nil, err
	}
	if ct.Kind != lanyard.KindAirCard {
		return nil, lanyard.Errorf(lanyard.EInvalid, "card %s is not an AirCard", c.Serial)
	}
	return c, nil
}

// AirCardComputers lists the computers allowed to use an AirCard.
func (s *Workstations) AirCardComputers(ctx context.Context, p *lanyard.Principal, cardID int64) ([]AirCardComputer, error) {
	out := []AirCardComputer{}
	online := func(id int64) bool {
		if s.agents == nil {
			return false
		}
		ws, ok := s.agents.WorkstationState(id)
		return ok && ws.Online
	}
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		if _, err := s.airCardComputersReadable(tx, p, cardID); err != nil {
			return err
		}
		list, err := tx.AirCardComputers(cardID)
		if err != nil {
			return err
		}
		for _, c := range list {
			v := AirCardComputer{WorkstationID: c.WorkstationID, AddedBy: c.AddedBy, AddedAt: c.AddedAt, Online: online(c.WorkstationID)}
			if w, err := tx.WorkstationByID(c.WorkstationID); err == nil {
				v.Workstation = w.Name
			}
			out = append(out, v)
		}
		return nil
	})
	return out, err
}

// RemoveAirCardComputer takes a computer off an AirCard's list (its user
// or an operator); the AirCard is disconnected there at once.
func (s *Workstations) RemoveAirCardComputer(ctx context.Context, p *lanyard.Principal, cardID, wsID int64) error {
	var card *lanyard.Card
	return s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "aircard.computer.remove", "card", strconv.FormatInt(cardID, 10),
			map[string]any{"serial": card.Serial, "workstation": wsID})
	}, func(tx lanyard.Tx) (err error) {
		if card, err = s.airCardOf(tx, p, cardID); err != nil {
			return err
		}
		if err := tx.RemoveAirCardComputer(cardID, wsID); err != nil {
			return err
		}
		return lanyard.NotifyIDs(tx, lanyard.NoticeAirCards, wsID)
	})
}

// AirCardCode is a new connection code, shown once.
type AirCardCode struct {
	Code      string
	Serial    string
	ExpiresAt time.Time
	// MailedTo is where the code was sent by e-mail, when asked;
	// MailNote says why it was not.
	MailedTo []string
	MailNote string
}

// AirCardCodeInput asks for a connection code. With Mail the code also
// goes to the card's owner by e-mail, sealed in the outbox like a PIN.
type AirCardCodeInput struct {
	Mail bool
}

// CreateAirCardCode makes a connection code for a user's AirCard
// (operators): valid for AirCardCodeTTL, usable once, stored hashed. The
// user enters it on the computer to join (lanyard agent aircard add).
func (s *Workstations) CreateAirCardCode(ctx context.Context, p *lanyard.Principal, cardID int64, in AirCardCodeInput) (*AirCardCode, error) {
	if !p.Has(lanyard.RoleOperator, lanyard.RoleAdministrator) {
		return nil, lanyard.Errorf(lanyard.EForbidden, "only operators create AirCard connection codes")
	}
	var raw [7]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	b := base32.StdEncoding.EncodeToString(raw[:])[:10]
	code := b[:5] + "-" + b[5:]
	now := s.rec.Clock()
	rec := &lanyard.AirCardCode{CardID: cardID, CodeHash: HashAirCardCode(code), CreatedBy: p.User.Login, CreatedAt: now, ExpiresAt: now.Add(AirCardCodeTTL)}
	var card *lanyard.Card
	var owner *lanyard.User
	err := s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "aircard.code.create", "card", strconv.FormatInt(cardID, 10),
			map[string]any{"serial": card.Serial, "expires_at": rec.ExpiresAt, "mail": in.Mail})
	}, func(tx lanyard.Tx) (err error) {
		if card, err = s.airCardOf(tx, p, cardID); err != nil {
			return err
		}
		if !usable(card) {
			return lanyard.Errorf(lanyard.EConflict, "AirCard %s is %s", card.Serial, card.State)
		}
		if owner, err = tx.UserByID(card.OwnerID); err != nil {
			return err
		}
		return tx.CreateAirCardCode(rec)
	})
	if err != nil {
		return nil, err
	}
	out := &AirCardCode{Code: code, Serial: card.Serial, ExpiresAt: rec.ExpiresAt}
	if in.Mail {
		// The code exists either way and is shown to the operator, who
		// can pass it on by other means when the mail cannot go.
		switch {
		case s.notifier == nil:
			out.MailNote = "e-mail is not set up on this server; give the code to the user another way"
		case owner.Email == "":
			out.MailNote = fmt.Sprintf("%s has no e-mail address; give the code to the user another way", owner.Login)
		default:
			if err := s.notifier.AirCardCode(ctx, []string{owner.Email}, owner, card, code); err != nil {
				out.MailNote = "the e-mail could not be queued (" + lanyard.ErrorMessage(err) + "); give the code to the user another way"
			} else {
				out.MailedTo = []string{owner.Email}
			}
		}
	}
	return out, nil
}

// HashAirCardCode is what the store keeps of a connection code: hex
// SHA-256 of its canonical form (XXXXX-XXXXX), under a label of its own.
func HashAirCardCode(code string) string {
	sum := sha256.Sum256([]byte("lanyard-aircard-code-v1\x00" + code))
	return hex.EncodeToString(sum[:])
}

// JoinAirCard adds workstation wsID (its agent authenticated by its client
// certificate) to the allowed computers of the AirCard a connection code
// names, and uses the code up. Wrong codes count against the workstation
// and the client's network (an IPv6 /64, auth.ClientNet); expired and used codes are refused with what
// happened. It returns the AirCard joined.
func (s *Workstations) JoinAirCard(ctx context.Context, wsID int64, remote, code string) (*lanyard.Card, error) {
	keys := []string{"aircard-ws:" + strconv.FormatInt(wsID, 10), "aircard-ip:" + auth.ClientNet(remote)}
	// The guess is reserved before the code is looked up, so parallel
	// guesses — on every replica, the throttle being shared — cannot all
	// slip past a lock (auth.Throttle.Begin).
	att, err := s.joinThrottle.Begin(ctx, keys...)
	var te *auth.ThrottledError
	if errors.As(err, &te) {
		return nil, lanyard.Wrap(lanyard.ERateLimited, err, "too many wrong connection codes; try again in "+max(te.Wait, time.Second).Round(time.Second).String())
	}
	if err != nil {
		return nil, err
	}
	defer att.Release()
	fail := func(err error) error {
		att.Fail()
		return err
	}
	norm, ok := agentproto.NormalizePairingCode(code)
	if !ok {
		return nil, fail(lanyard.Errorf(lanyard.EInvalid, "a connection code is 10 letters and digits 2-7, shown as XXXXX-XXXXX"))
	}
	now := s.rec.Clock()
	var card *lanyard.Card
	var ws *lanyard.Workstation
	agent := &lanyard.Principal{User: &lanyard.User{Login: "agent"}, RemoteAddr: remote}
	err = s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(agent, "aircard.computer.join", "card", strconv.FormatInt(card.ID, 10),
			map[string]any{"serial": card.Serial, "workstation": ws.ID, "workstation_name": ws.Name})
	}, func(tx lanyard.Tx) error {
		c, err := tx.AirCardCodeByHash(HashAirCardCode(norm))
		switch {
		case lanyard.IsCode(err, lanyard.ENotFound):
			return lanyard.Errorf(lanyard.ENotFound, "unknown connection code %s; check it, or ask your operator for a new one", norm)
		case err != nil:
			return err
		case !c.UsedAt.IsZero():
			return lanyard.Errorf(lanyard.EConflict, "connection code %s was already used; ask your operator for a new one", norm)
		case now.After(c.ExpiresAt):
			return lanyard.Errorf(lanyard.EConflict, "connection code %s expired at %s; ask your operator for a new one", norm, c.ExpiresAt.Format(time.RFC3339))
		}
		if ws, err = tx.WorkstationByID(wsID); err != nil {
			return err
		}
		if ws.Role != lanyard.RoleWorkstation || ws.Status != lanyard.WorkstationActive {
			return lanyard.Errorf(lanyard.EForbidden, "only a paired workstation can join an AirCard")
		}
		if card, err = tx.CardByID(c.CardID); err != nil {
			return err
		}
		if !usable(card) {
			return lanyard.Errorf(lanyard.EConflict, "AirCard %s is %s", card.Serial, card.State)
		}
		if err := tx.UseAirCardCode(c.ID, wsID, now); err != nil {
			return err
		}
		// Already allowed: the code is used up all the same. Asked
		// first, not learnt from the insert's unique violation, which
		// would abort a PostgreSQL transaction and lose the code's use.
		allowed, err := tx.AirCardsAllowedOn(wsID)
		if err != nil {
			return err
		}
		if slices.Contains(allowed, card.ID) {
			return nil
		}
		if err := tx.AddAirCardComputer(&lanyard.AirCardComputer{CardID: card.ID, WorkstationID: wsID, AddedBy: "code", AddedAt: now}); err != nil {
			return err
		}
		return lanyard.NotifyIDs(tx, lanyard.NoticeAirCards, wsID)
	})
	if err != nil {
		if lanyard.IsCode(err, lanyard.ENotFound) || lanyard.IsCode(err, lanyard.EConflict) && strings.Contains(err.Error(), "connection code") {
			return nil, fail(err)
		}
		return nil, err
	}
	// A right code clears the workstation's wrong ones, never the
	// address's (auth.Attempt.Succeed): otherwise one workstation with
	// codes to use would clear its address's failures between guesses
	// made by others behind it.
	att.Succeed()
	return card, nil
}
