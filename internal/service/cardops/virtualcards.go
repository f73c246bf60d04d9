package cardops

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
	"github.com/lanyard-cms/lanyard/internal/policy"
)

// VirtualKinds are the card kinds an agent creates on its workstation.
var VirtualKinds = []lanyard.CardKind{lanyard.KindTPMVirtualCard, lanyard.KindPlatformCredential, lanyard.KindAirCard}

// VirtualOption is whether a virtual card of Kind can be created on a
// workstation for a user, and if not, why: Self-Service shows the
// "Create a TPM" and "Create platform credential" buttons only where
// Available, and the reason otherwise.
type VirtualOption struct {
	WorkstationID int64
	Workstation   string
	Kind          lanyard.CardKind
	CardType      string
	Available     bool
	Reason        string
}

// VirtualOptions lists, for every connected workstation the caller may
// use, whether each virtual card kind can be created there for user
// (login; "" = the caller).
func (s *Cards) VirtualOptions(ctx context.Context, p *lanyard.Principal, login string) ([]VirtualOption, error) {
	out := []VirtualOption{}
	err := s.eachUsableWorkstation(ctx, p, login, func(tx lanyard.Tx, u *lanyard.User, ws *lanyard.WorkstationState) error {
		if ws.Role == lanyard.RoleAirCardService {
			return nil // it hosts AirCards; it makes no virtual cards of its own
		}
		for _, kind := range VirtualKinds {
			o := VirtualOption{WorkstationID: ws.ID, Workstation: ws.Name, Kind: kind}
			ct, err := s.virtualAllowed(ctx, tx, u, isCardStaff(p), ws, kind)
			if ct != nil {
				o.CardType = ct.Name
			}
			if o.Available, o.Reason, err = optionOutcome(err); err != nil {
				return err
			}
			out = append(out, o)
		}
		return nil
	})
	return out, err
}

// eachUsableWorkstation calls fn, in one read transaction, for every
// online workstation the caller may use (their own; staff: every one),
// with the user the Issue dialog's options are for (cardUser).
func (s *Cards) eachUsableWorkstation(ctx context.Context, p *lanyard.Principal, login string, fn func(tx lanyard.Tx, u *lanyard.User, ws *lanyard.WorkstationState) error) error {
	access := s.cardAccess()
	if access == nil {
		return nil
	}
	states := access.Workstations(ownerScope(p))
	return s.rec.View(ctx, func(tx lanyard.Tx) error {
		u, err := s.cardUser(tx, p, login)
		if err != nil {
			return err
		}
		for i := range states {
			ws := &states[i]
			if !ws.Online || (ws.OwnerID != p.User.ID && !isCardStaff(p)) {
				continue
			}
			if err := fn(tx, u, ws); err != nil {
				return err
			}
		}
		return nil
	})
}

// optionOutcome turns a rule's verdict into an option's availability and
// the reason shown when it is not available; an internal error is not a
// verdict and is returned instead.
func optionOutcome(err error) (available bool, reason string, fatal error) {
	switch {
	case err == nil:
		return true, "", nil
	case lanyard.IsCode(err, lanyard.EInternal):
		return false, "", err
	default:
		return false, lanyard.ErrorMessage(err), nil
	}
}

// cardUser is the user a card workflow acts for: the caller, or (staff
// only) the user named by login.
func (s *Cards) cardUser(tx lanyard.Tx, p *lanyard.Principal, login string) (*lanyard.User, error) {
	var u *lanyard.User
	var err error
	switch {
	case login == "" || login == p.User.Login:
		u, err = tx.UserByID(p.User.ID)
	case !isCardStaff(p):
		return nil, lanyard.Errorf(lanyard.EForbidden, "you can issue cards only for yourself")
	default:
		if u, err = tx.UserByLogin(login); err == nil {
			err = onBehalfAllowed(p, u)
		}
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, lanyard.Errorf(lanyard.EConflict, "user %q is disabled", u.Login)
	}
	return u, nil
}

// onBehalfAllowed checks that staff member p may issue a card for u: an
// operator does not issue cards for someone holding a staff role, as
// they do not reset, unblock or replace such cards (cardperm,
// docs/security.md "Roles"): the card would sign in as that person. An
// administrator does; the CA approval's four eyes still apply.
func onBehalfAllowed(p *lanyard.Principal, u *lanyard.User) error {
	if u.ID != p.User.ID && u.Roles.Staff() && !p.Roles.Has(lanyard.RoleAdministrator) {
		return lanyard.Errorf(lanyard.EForbidden, "%s holds a staff role: an administrator issues their cards", u.Login)
	}
	return nil
}

// virtualAllowed checks every rule for creating a virtual card of kind
// for u on ws and returns the card type it will be: the feature switch,
// the policy (an allowed card type of the kind; for AirCards the Issue
// AirCard permission unless staff act for the user, staff true), the
// workstation's TPM and free reader slots, and for platform credentials
// the guide's limits (at most 10 per computer, one per user per
// workstation) and an enrolled second factor for Set up PIN.
func (s *Cards) virtualAllowed(ctx context.Context, tx lanyard.Tx, u *lanyard.User, staff bool, ws *lanyard.WorkstationState, kind lanyard.CardKind) (*lanyard.CardType, error) {
	f, err := s.catalog.ReadFeatures(tx)
	if err != nil {
		return nil, err
	}
	label := kindLabel(kind)
	switch {
	case kind == lanyard.KindTPMVirtualCard && !f.TPMVirtualCard, kind == lanyard.KindPlatformCredential && !f.PlatformCredential:
		return nil, lanyard.Errorf(lanyard.EForbidden, "creating %ss is turned off on this server; an administrator turns it on (Console → Card types → Features, or: lanyard features set --%s on)",
			label, featureFlag(kind))
	}
	pol, err := s.catalog.PolicyFor(tx, u)
	if err != nil {
		return nil, lanyard.Errorf(lanyard.EForbidden, "no policy applies to %s; ask your administrator", u.Login)
	}
	types, err := tx.ListCardTypes()
	if err != nil {
		return nil, err
	}
	var ct *lanyard.CardType
	for _, t := range types {
		if t.Kind == kind && policy.CardTypeAllowed(pol.Settings, t.Name) {
			ct = t
			break
		}
	}
	if ct == nil {
		return nil, lanyard.Errorf(lanyard.EForbidden, "the policy %q allows no card type of kind %s", pol.Name, label)
	}
	if max := pol.Settings.Issuance.MaxCardsPerUser; max > 0 {
		if n, err := tx.CountCards(u.ID); err != nil {
			return ct, err
		} else if n >= max {
			return ct, lanyard.Errorf(lanyard.EConflict, "the policy allows at most %d card(s) per user, and %s has %d", max, u.Login, n)
		}
	}
	if kind == lanyard.KindAirCard {
		if err := issuance.AirCardPermitted(pol.Settings, staff, pol.Name); err != nil {
			return ct, err
		}
		if ws.Role == lanyard.RoleAirCardService {
			return ct, lanyard.Errorf(lanyard.EInvalid, "an AirCard is issued from the workstation that will use it")
		}
		if _, ok := airCardService(s.cardAccess()); !ok {
			return ct, lanyard.Errorf(lanyard.EUnavailable, "the AirCard service is not connected; ask your administrator")
		}
		return ct, nil
	}
	switch {
	case ws.TPM == nil:
		return ct, lanyard.Errorf(lanyard.EUnavailable, "workstation %s has not reported its TPM yet; update its Lanyard agent", ws.Name)
	case !ws.TPM.Usable:
		return ct, lanyard.Errorf(lanyard.EUnavailable, "workstation %s has no usable TPM 2.0: %s", ws.Name, ws.TPM.Reason)
	case ws.VirtualSlots <= 0:
		return ct, lanyard.Errorf(lanyard.EUnavailable, "workstation %s has no free reader slot for another virtual card", ws.Name)
	}
	if kind == lanyard.KindPlatformCredential {
		if err := s.platformLimits(tx, ct, u, ws.ID, 0); err != nil {
			return ct, err
		}
		if ok, err := s.hasSecondFactor(ctx, tx, u); err != nil {
			return ct, err
		} else if !ok {
			return ct, lanyard.Errorf(lanyard.EConflict, "a platform credential's PIN is set up with an authenticator app; enroll one in Self-Service (Authenticator app) first")
		}
	}
	return ct, nil
}

// platformLimits checks the guide's rules for platform credentials of
// type ct on workstation wsID: at most MaxPerWorkstation per computer and
// one per user per workstation. except is a card not to count (the one
// being issued).
func (s *Cards) platformLimits(tx lanyard.Tx, ct *lanyard.CardType, u *lanyard.User, wsID, except int64) error {
	rules, _ := lanyard.KindPlatformCredential.Rules()
	cards, err := tx.ListCards(lanyard.CardFilter{CardType: ct.Name, WorkstationID: wsID})
	if err != nil {
		return err
	}
	n := 0
	for _, c := range cards {
		if c.ID == except || c.State == lanyard.CardRevoked {
			continue
		}
		n++
		if rules.OnePerUserPerStation && c.OwnerID == u.ID {
			return lanyard.Errorf(lanyard.EConflict, "%s already has a platform credential (%s) on this computer; a user has only one per workstation", u.Login, c.Serial)
		}
	}
	if max := rules.MaxPerWorkstation; max > 0 && n >= max {
		return lanyard.Errorf(lanyard.EConflict, "this computer already has %d platform credentials, the most it may have", n)
	}
	return nil
}

// CreateVirtualInput asks for a new virtual card on a workstation.
type CreateVirtualInput struct {
	WorkstationID int64
	Kind          lanyard.CardKind
	User          string
	Name          string
}

// CreateVirtualCard has the workstation's agent create a virtual card
// (Issue card → Create a TPM / Create platform credential) and registers
// it for the user, in one transaction with its audit event. The card is
// then issued like any other card in its reader.
func (s *Cards) CreateVirtualCard(ctx context.Context, p *lanyard.Principal, in CreateVirtualInput) (*ConnectedCard, error) {
	return s.createVirtualCard(ctx, p, in, nil)
}

// createVirtualCard is CreateVirtualCard; a new AirCard is made at
// service air if given (Replace card chose it), else at the one
// airCardService chooses.
func (s *Cards) createVirtualCard(ctx context.Context, p *lanyard.Principal, in CreateVirtualInput, air *lanyard.WorkstationState) (*ConnectedCard, error) {
	ca := s.cardAccess()
	if ca == nil {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "no workstation agents are connected to this server")
	}
	if !slices.Contains(VirtualKinds, in.Kind) {
		return nil, lanyard.Errorf(lanyard.EInvalid, "kind must be %s, %s or %s", lanyard.KindTPMVirtualCard, lanyard.KindPlatformCredential, lanyard.KindAirCard)
	}
	if len(in.Name) > 64 {
		return nil, lanyard.Errorf(lanyard.EInvalid, "a card name is at most 64 characters")
	}
	ws, ok := ca.WorkstationState(in.WorkstationID)
	if !ok || (ws.OwnerID != p.User.ID && !isCardStaff(p)) {
		return nil, lanyard.Errorf(lanyard.ENotFound, "workstation %d is not connected or not yours", in.WorkstationID)
	}
	var u *lanyard.User
	var ct *lanyard.CardType
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		if u, err = s.cardUser(tx, p, in.User); err != nil {
			return err
		}
		ct, err = s.virtualAllowed(ctx, tx, u, isCardStaff(p), &ws, in.Kind)
		return err
	}); err != nil {
		return nil, err
	}
	// A TPM card is made by the workstation's agent; an AirCard by the
	// AirCard service, and bound to the workstation it was issued from.
	host := ws
	if in.Kind == lanyard.KindAirCard && air != nil {
		host = *air
	} else if in.Kind == lanyard.KindAirCard {
		var ok bool
		if host, ok = airCardService(ca); !ok {
			return nil, lanyard.Errorf(lanyard.EUnavailable, "the AirCard service is not connected; ask your administrator")
		}
	}
	r, err := s.makeVirtual(ctx, ca, host, in.Kind)
	if err != nil {
		return nil, err
	}
	now := s.rec.Clock()
	c := &lanyard.Card{Serial: r.Serial, CardType: ct.Name, OwnerID: u.ID, Name: in.Name, State: lanyard.CardClean,
		ATR: r.ATR, WorkstationID: ws.ID, CreatedAt: now, UpdatedAt: now}
	// One transaction, recorded as the card's first operation.
	_, err = operation.Once(ctx, s.runner, operation.Begin{
		Card: c, Op: lanyard.Operation{Kind: lanyard.OpCreateVirtual, UserID: u.ID, ActorID: p.User.ID},
		// Checked again in the transaction: two creations at once must
		// not both pass the maximum cards per user or the platform
		// credential limits.
		Check: func(tx lanyard.Tx) error {
			if err := s.checkMaxCards(tx, u, 0); err != nil {
				return err
			}
			if in.Kind == lanyard.KindPlatformCredential {
				if err := s.platformLimits(tx, ct, u, ws.ID, 0); err != nil {
					return err
				}
			}
			if in.Kind == lanyard.KindAirCard {
				// Workstations and the hub know an AirCard by its
				// serial alone, across AirCard card types and services.
				if old, err := s.airCards.AirCardBySerial(tx, c.Serial); err == nil {
					return lanyard.Errorf(lanyard.EConflict, "AirCard serial %s is already registered (card %d); create the AirCard again", c.Serial, old.ID)
				} else if !lanyard.IsCode(err, lanyard.ENotFound) {
					return err
				}
			}
			return nil
		},
		Then: func(tx lanyard.Tx, c *lanyard.Card) error {
			if in.Kind == lanyard.KindAirCard {
				if err := tx.AddAirCardComputer(&lanyard.AirCardComputer{CardID: c.ID, WorkstationID: ws.ID, AddedBy: p.User.Login, AddedAt: now}); err != nil {
					return err
				}
				// The workstation's agent connects it, on whichever
				// replica it is (docs/architecture.md, "Change notices").
				return lanyard.NotifyIDs(tx, lanyard.NoticeAirCards, ws.ID)
			}
			return nil
		},
		Event: func(c *lanyard.Card, op *lanyard.Operation) *lanyard.AuditEvent {
			return s.rec.Event(p, "card.virtual.create", "card", strconv.FormatInt(c.ID, 10), map[string]any{
				"serial": c.Serial, "kind": string(in.Kind), "card_type": ct.Name, "user": u.Login, "workstation": ws.Name, "operation": op.ID})
		}}, &struct{}{})
	if err != nil {
		s.discardVirtual(ctx, ca, host, r.Serial, err)
		return nil, err
	}
	return &ConnectedCard{WorkstationID: host.ID, Workstation: host.Name, Reader: r.Name, ATR: hex.EncodeToString(r.ATR), Serial: r.Serial,
		CardType: ct.Name, Kind: ct.Kind, CardID: c.ID, State: c.State, Owner: u.Login}, nil
}

// makeVirtual has host make a virtual card of kind. An AirCard whose
// serial (random, 32 bits, unique per service only) is already
// registered — at another service, or under another AirCard type — is
// removed and made again, up to three times: workstations know an
// AirCard by its serial alone.
func (s *Cards) makeVirtual(ctx context.Context, ca lanyard.CardAccess, host lanyard.WorkstationState, kind lanyard.CardKind) (lanyard.Reader, error) {
	for attempt := 1; ; attempt++ {
		r, err := ca.CreateVirtual(ctx, host.ID, kind)
		if err != nil {
			if r.Serial != "" { // made, but not seen in its reader in time
				s.discardVirtual(ctx, ca, host, r.Serial, err)
			}
			return lanyard.Reader{}, err
		}
		if kind != lanyard.KindAirCard || attempt == 3 {
			return r, nil // the registration checks the serial again
		}
		taken := false
		if err := s.rec.View(ctx, func(tx lanyard.Tx) error {
			_, err := s.airCards.AirCardBySerial(tx, r.Serial)
			taken = err == nil
			if lanyard.IsCode(err, lanyard.ENotFound) {
				err = nil
			}
			return err
		}); err != nil {
			s.discardVirtual(ctx, ca, host, r.Serial, err)
			return lanyard.Reader{}, err
		}
		if !taken {
			return r, nil
		}
		s.discardVirtual(ctx, ca, host, r.Serial, lanyard.Errorf(lanyard.EConflict, "AirCard serial %s is already registered", r.Serial))
	}
}

// discardVirtual has the host remove the virtual card with serial it made
// for a registration that failed (a limit reached meanwhile, a serial
// taken): unregistered, it would hold a reader slot of the workstation,
// or a sealed file at the AirCard service, that no one could use.
func (s *Cards) discardVirtual(ctx context.Context, ca lanyard.CardAccess, host lanyard.WorkstationState, serial string, cause error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := ca.DestroyVirtual(ctx, host.ID, serial); err != nil {
		s.log.Warn("a virtual card made for a failed registration could not be removed; it stays, unregistered",
			"workstation", host.Name, "serial", serial, "cause", cause, "err", err)
		return
	}
	s.log.Info("virtual card removed after its registration failed", "workstation", host.Name, "serial", serial, "cause", cause)
}

// recognizeVirtual returns the card type of a virtual card an agent
// made, known by its ATR (agentproto.VirtualATR): the first type of that
// kind. Card types with ATR patterns of their own were tried first.
func recognizeVirtual(types []*lanyard.CardType, atr []byte) *lanyard.CardType {
	for _, kind := range VirtualKinds {
		if !bytes.Equal(atr, agentproto.VirtualATR(string(kind))) {
			continue
		}
		for _, ct := range types {
			if ct.Kind == kind {
				return ct
			}
		}
	}
	return nil
}

func kindLabel(kind lanyard.CardKind) string {
	switch kind {
	case lanyard.KindTPMVirtualCard:
		return "TPM virtual smart card"
	case lanyard.KindPlatformCredential:
		return "platform credential"
	case lanyard.KindAirCard:
		return "AirCard"
	}
	return string(kind)
}

func featureFlag(kind lanyard.CardKind) string {
	switch kind {
	case lanyard.KindTPMVirtualCard:
		return "tpm-virtual-card"
	case lanyard.KindPlatformCredential:
		return "platform-credential"
	}
	return fmt.Sprint(kind)
}

// airCardService returns the online AirCard service a new AirCard goes
// to, if one is connected: of several, the one hosting the fewest, so
// that adding a service spreads the new cards (a card stays on the
// service that made it, since its sealed file is there).
func airCardService(ca lanyard.CardAccess) (lanyard.WorkstationState, bool) {
	if ca == nil {
		return lanyard.WorkstationState{}, false
	}
	var best lanyard.WorkstationState
	found := false
	for _, ws := range ca.AirCardServices(nil) {
		if ws.Online && (!found || ws.ReaderCount < best.ReaderCount) {
			best, found = ws, true
		}
	}
	return best, found
}
