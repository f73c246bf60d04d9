package issuance

import (
	"crypto/x509"
	"fmt"
	"slices"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/policy"
)

// Input is what the decisions need to know about the card, its future
// owner and the caller. The service gathers it in one read transaction.
type Input struct {
	Settings   lanyard.PolicySettings // the owner's effective policy
	PolicyName string
	// Staff is true when an operator or administrator issues on the
	// owner's behalf: user permissions (Issue card, adding cards) then do
	// not apply, the policy's card rules still do.
	Staff bool
	// Requester is the caller's user ID: who asks for the certificates
	// (0: the owner). Someone asking for another person's certificates
	// needs a second person's approval (SecondPerson).
	Requester  int64
	CardType   *lanyard.CardType
	Card       *lanyard.Card // the registered card; nil when Lanyard does not know it
	OwnerID    int64
	Owner      *lanyard.User // nil: attributes not checked
	OwnedCards int           // the owner's cards that are not revoked
	Templates  map[string]*lanyard.Template
	// Found are the certificates already on the card (read before the
	// dialog opens when the policy searches for tracked certificates).
	Found []Found
}

// Found is a certificate found on the card that Lanyard did not issue.
type Found struct {
	Slot        string            `json:"slot"`
	Subject     string            `json:"subject"`
	Issuer      string            `json:"issuer"`
	Serial      string            `json:"serial"`
	NotAfter    time.Time         `json:"not_after"`
	Certificate *x509.Certificate `json:"-"`
}

// TemplateInfo describes a template in the dialog.
type TemplateInfo struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Slot        string `json:"slot"`
}

// Options is what the Issue card dialog shows.
type Options struct {
	Registered         bool           `json:"registered"`
	Initialize         bool           `json:"initialize"`
	Caution            string         `json:"caution,omitempty"`
	ShowUserPIN        bool           `json:"show_user_pin"`
	ShowAdminPIN       bool           `json:"show_admin_pin"`
	RandomPIN          bool           `json:"random_pin"`
	PINMin             int            `json:"pin_min"`
	PINMax             int            `json:"pin_max"`
	Required           []TemplateInfo `json:"required_templates"`
	Optional           []TemplateInfo `json:"optional_templates"`
	OptionalSelectable bool           `json:"optional_selectable"`
	Tracked            []Found        `json:"tracked"`
	TrackedSelectable  bool           `json:"tracked_selectable"`
	// PINSetup: the user sets the PIN after the issue (Set up PIN), as
	// for a platform credential; the dialog asks for no PIN.
	PINSetup bool `json:"pin_setup,omitempty"`
}

// InitializeCaution is the guide's warning, shown before an initializing
// issue.
const InitializeCaution = "Initializing the card deletes all of its contents: every key, certificate and data object on it."

// PUK length bounds (SP 800-73-4 part 2, 2.4.3: the PUK is 8 bytes; cards
// accept 6 to 8 characters).
const (
	minPUK = 6
	maxPUK = 8
)

// AirCardPermitted checks the policy's user permission *Issue AirCard*
// (User permissions → General): allowing the aircard card type says
// which card type an AirCard is, the permission says whether users may
// have one made and issued for themselves. As for *Issue card*, staff
// issuing on a user's behalf are not bound by user permissions.
func AirCardPermitted(s lanyard.PolicySettings, staff bool, policyName string) error {
	if staff || s.Workflow.IssueAirCard {
		return nil
	}
	return lanyard.Errorf(lanyard.EForbidden, "the policy %q does not allow you to issue AirCards; an administrator enables the Issue AirCard option in User permissions → General (workflow.issue_aircard)", policyName)
}

// OtherOwner is the refusal of card c for ownerID when c is someone
// else's (nil when it is ownerID's or no one's): a clean card withdrawn
// to its owner is kept for their new issue (docs/lifecycle.md,
// "Withdraw"), for nobody else; any other card belongs to its owner.
// Offer and Replace card refuse such a card in the same words.
func OtherOwner(c *lanyard.Card, ownerID int64) error {
	switch {
	case c.OwnerID == 0 || c.OwnerID == ownerID:
		return nil
	case c.State == lanyard.CardClean:
		return lanyard.Errorf(lanyard.EConflict, "card %s is kept for another user (withdrawn to its owner); an operator withdraws it to stock before it is issued to someone else", c.Serial)
	default:
		return lanyard.Errorf(lanyard.EConflict, "card %s belongs to another user", c.Serial)
	}
}

// Offer decides whether the card may be issued to its owner and what the
// dialog offers. Errors carry the message the user sees.
func Offer(in Input) (*Options, error) {
	s := in.Settings
	ct := in.CardType
	if ct == nil {
		return nil, lanyard.Errorf(lanyard.EInvalid, "this card is not of a card type Lanyard knows; ask your administrator to add its card type")
	}
	if !in.Staff && !s.Workflow.IssueCard {
		return nil, lanyard.Errorf(lanyard.EForbidden, "your policy does not allow you to issue cards")
	}
	if !policy.CardTypeAllowed(s, ct.Name) {
		return nil, lanyard.Errorf(lanyard.EForbidden, "cards of type %q are not allowed by the policy %q", ct.Name, in.PolicyName)
	}
	if ct.Kind == lanyard.KindAirCard {
		if err := AirCardPermitted(s, in.Staff, in.PolicyName); err != nil {
			return nil, err
		}
	}
	if c := in.Card; c != nil {
		switch {
		case c.State == lanyard.CardDisabled:
			return nil, lanyard.Errorf(lanyard.EConflict, "card %s is disabled: a disabled card cannot be issued, updated or unblocked; enable it first", c.Serial)
		case c.State == lanyard.CardRevoked:
			return nil, lanyard.Errorf(lanyard.EConflict, "card %s is revoked and cannot be issued; clear and withdraw it first", c.Serial)
		case c.OwnerID != 0 && c.OwnerID != in.OwnerID:
			return nil, OtherOwner(c, in.OwnerID)
		case c.State == lanyard.CardIssued || c.State == lanyard.CardPINSetup:
			return nil, lanyard.Errorf(lanyard.EConflict, "card %s is already issued", c.Serial)
		case c.State == lanyard.CardPending:
			return nil, lanyard.Errorf(lanyard.EConflict, "card %s has a card issue pending; continue it from the card menu", c.Serial)
		}
	} else if !in.Staff && !s.Workflow.AllowUserAddCards {
		return nil, lanyard.Errorf(lanyard.EForbidden, "this card is not registered in Lanyard and your policy does not let you add cards; ask an operator to register it")
	}
	// A card the user already owns is already among OwnedCards.
	ownedByCaller := in.Card != nil && in.Card.OwnerID == in.OwnerID && (in.Card.State == lanyard.CardAssigned || in.Card.State == lanyard.CardClean)
	if max := s.Issuance.MaxCardsPerUser; max > 0 && !ownedByCaller && in.OwnedCards >= max {
		return nil, lanyard.Errorf(lanyard.EConflict, "the policy allows at most %d card(s) per user, and %d are already issued", max, in.OwnedCards)
	}

	o := &Options{
		Registered:         in.Card != nil,
		Initialize:         s.Issuance.InitializeCard && ct.SupportsInit,
		RandomPIN:          s.Issuance.RandomUserPIN,
		OptionalSelectable: in.Staff || s.Workflow.SelectOptionalCertificates,
		TrackedSelectable:  s.Workflow.SearchTrackedCertificates && s.Workflow.AllowUserSelectTracked,
	}
	if o.Initialize {
		o.Caution = InitializeCaution
	}
	// The guide: the Admin PIN field appears when the card was not added to
	// Lanyard and users may add cards (operators always register it). It
	// asks for the card's current Admin PIN (PUK), needed only when that is
	// not the card type's default; the card leaves the issue with its own
	// random PUK in any case. A registered card whose PUK was chosen at an
	// earlier issue and never stored asks for it too.
	o.ShowAdminPIN = in.Card == nil && (in.Staff || s.Workflow.AllowUserAddCards) ||
		in.Card != nil && in.Card.PUKState == lanyard.PUKUnknown
	o.ShowUserPIN = !o.Initialize && !o.RandomPIN
	o.PINMin, o.PINMax = pinRange(s, ct)
	if ct.Kind == lanyard.KindPlatformCredential {
		// Windows Hello for Business model: the credential is made with
		// a random PIN nobody sees, and its user sets the PIN afterwards
		// (Set up PIN), after proving a second factor.
		o.ShowUserPIN, o.ShowAdminPIN, o.RandomPIN, o.PINSetup = false, false, false, true
	}
	var err error
	if o.Required, err = templateInfos(in, s.Certificates.Required); err != nil {
		return nil, err
	}
	if o.Optional, err = templateInfos(in, s.Certificates.Optional); err != nil {
		return nil, err
	}
	if s.Workflow.SearchTrackedCertificates && !o.Initialize {
		o.Tracked = slices.Clone(in.Found)
	}
	if o.Tracked == nil {
		o.Tracked = []Found{}
	}
	return o, nil
}

// pinRange is the user PIN length the card will accept: the card type's
// PIN policy, narrowed by the policy's initialization settings when set.
// PINRange is the length range of a user PIN on a card of type ct under
// the policy s: the card type's, narrowed by the policy's initialization
// settings when the policy initializes cards. A PIN changed or reset
// after the issue follows the same rules as one set at the issue.
func PINRange(s lanyard.PolicySettings, ct *lanyard.CardType) (int, int) { return pinRange(s, ct) }

func pinRange(s lanyard.PolicySettings, ct *lanyard.CardType) (int, int) {
	lo, hi := ct.PIN.MinLength, ct.PIN.MaxLength
	if s.Issuance.InitializeCard && ct.SupportsInit {
		if n := s.Issuance.Initialization.PINMinLength; n > 0 {
			lo = n
		}
		if n := s.Issuance.Initialization.PINMaxLength; n > 0 {
			hi = n
		}
	}
	return lo, hi
}

func templateInfos(in Input, names []string) ([]TemplateInfo, error) {
	out := []TemplateInfo{}
	for _, name := range names {
		t, ok := in.Templates[name]
		if !ok {
			return nil, lanyard.Errorf(lanyard.EUnavailable, "the policy names template %q, which does not exist; ask your administrator", name)
		}
		if _, err := KeyAlgorithm(t, in.CardType); err != nil {
			return nil, err
		}
		if err := Issuable(t, in.CardType); err != nil {
			return nil, err
		}
		if in.Owner != nil {
			if err := ca.CheckSubject(t, in.Owner); err != nil {
				return nil, lanyard.Errorf(lanyard.EInvalid, "%s; ask your administrator to complete the user's details", lanyard.ErrorMessage(err))
			}
		}
		desc := t.DisplayName
		if desc == "" {
			desc = t.Name
		}
		out = append(out, TemplateInfo{Name: t.Name, Description: desc, Slot: SlotName(t)})
	}
	return out, nil
}

// KeyAlgorithm is the algorithm of the key generated on the card for t:
// the template's first algorithm that the card type can hold (and, when t
// archives its key, import: archivekeys.go). A template the card cannot
// hold (an EC template on an RSA-only TPM card) is refused with a clear
// message.
func KeyAlgorithm(t *lanyard.Template, ct *lanyard.CardType) (lanyard.KeyAlgorithm, error) {
	for _, a := range t.KeyAlgs {
		if slices.Contains(ct.KeyAlgorithms, a) && importable(t, ct, a) {
			return a, nil
		}
	}
	if archiveImports(t, ct) != nil {
		return "", archiveRefusal(t, ct)
	}
	return "", lanyard.Errorf(lanyard.EInvalid, "template %q needs a %v key, which cards of type %q cannot hold (they support %v)",
		t.Name, t.KeyAlgs, ct.Name, ct.KeyAlgorithms)
}

// SlotName is the PIV slot a template's key goes to: its own, else the
// authentication slot 9A (SP 800-73-4 part 1, 3.1: PIV Authentication).
func SlotName(t *lanyard.Template) string {
	if t.Slot != "" {
		return t.Slot
	}
	return "9a"
}

func (f Found) String() string { return fmt.Sprintf("%s %s (%s)", f.Slot, f.Subject, f.Serial) }
