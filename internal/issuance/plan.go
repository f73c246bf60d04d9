package issuance

import (
	"io"
	"slices"
	"unicode"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/policy"
)

// Choice is what the user entered in the Issue card dialog.
type Choice struct {
	Optional []string // optional templates picked
	UserPIN  string   // new user PIN; empty: the card type's default (or a random PIN, by policy)
	// AdminPIN is the card's current Admin PIN (the PIV PUK) when it is not
	// the card type's default (a card Lanyard does not know yet); empty:
	// the card type's default. The card's final PUK is always its own
	// random one, sealed on the server.
	AdminPIN string
	Tracked  []string // slots of found certificates to register as tracked
	Name     string   // the card's name, optional
}

// SlotPlan is one key to generate and certificate to issue, with the
// approvals its certificate needs before it is written (guide:
// "Documents check"): the request approved in the CA (NeedCA), the signed
// certificate form approved by an administrator (NeedForm), or both.
type SlotPlan struct {
	Slot      string               `json:"slot"`
	Template  string               `json:"template"`
	Algorithm lanyard.KeyAlgorithm `json:"algorithm"`
	NeedCA    bool                 `json:"need_ca,omitempty"`
	NeedForm  bool                 `json:"need_form,omitempty"`
	// SignedRequest: the policy's documents check asks for the owner's
	// signed certificate request form before the CA manager may approve
	// the request (guide: "Submit a signed certificate request form for it
	// to be approved in the CA"); Precheck: a document officer must also
	// have accepted it ("The administrator can precheck the certificate
	// request before it is sent to the CA"). Recorded at planning time, so
	// a later policy change does not move the goalposts of a waiting issue.
	SignedRequest bool `json:"signed_request,omitempty"`
	Precheck      bool `json:"precheck,omitempty"`
}

// Approvals says which approvals a certificate of template t needs under
// the policy's documents check: the template's own flags, or the policy's
// mode for every certificate of the card; and the CA's approval, by a
// second person, for a certificate asked for on another person's behalf
// (SecondPerson).
func Approvals(d lanyard.DocumentsSettings, t *lanyard.Template, onBehalf bool) (needCA, needForm bool) {
	needCA = t.RequiresCAApproval || onBehalf || d.Check == lanyard.DocsCARequest || d.Check == lanyard.DocsRequestForm
	needForm = t.RequiresFormApproval || d.Check == lanyard.DocsForm || d.Check == lanyard.DocsRequestForm
	return needCA, needForm
}

// Plan is an issue decided: what will be done to the card. It is recorded
// in the operation (without the PINs, which only live in memory for the
// request that sets them).
type Plan struct {
	Initialize bool       `json:"initialize"`
	Slots      []SlotPlan `json:"slots"`
	Tracked    []string   `json:"tracked,omitempty"`
	RandomPIN  bool       `json:"random_pin"`
	ShowPIN    bool       `json:"show_pin"` // the random PIN is shown to the user once
	// ShowPINToStaff: the random PIN is shown to staff running the issue
	// for someone else (the policy's "Show generated user PIN to
	// administrator"). Who runs a stage is known only then: a Continue
	// may be run by the owner or by staff.
	ShowPINToStaff bool `json:"show_pin_to_staff,omitempty"`
	// MailPIN is who gets the random PIN by e-mail.
	MailPIN lanyard.PINRecipient `json:"mail_pin,omitempty"`
	Name    string               `json:"name,omitempty"`

	UserPIN  string `json:"-"` // "" = the card type's default user PIN
	AdminPIN string `json:"-"` // the card's current PUK as entered; "" = the card type's default
	// EnteredAdminPIN records that the card's current Admin PIN was
	// entered (it is not stored): a Continue before the card has its own
	// PUK asks for it again.
	EnteredAdminPIN bool `json:"entered_admin_pin,omitempty"`
	// CustomAdminPIN is only in records of issues made before cards got
	// their own random PUK: the user chose the card's final Admin PIN,
	// which the server never stored.
	CustomAdminPIN bool `json:"custom_admin_pin,omitempty"`
	// PINSetup: the card's user sets the PIN after the issue.
	PINSetup bool `json:"pin_setup,omitempty"`
}

// Decide turns the user's choice into a plan, checking it against what
// Offer allows. rand draws the random user PIN when the policy sets one.
func Decide(in Input, o *Options, ch Choice, rand io.Reader) (*Plan, error) {
	s := in.Settings
	if len(ch.Optional) > 0 && in.Staff {
		// Operators choose for the user; the policy's user permission does
		// not restrict them.
		s.Workflow.SelectOptionalCertificates = true
	}
	names, err := policy.Templates(s, ch.Optional)
	if err != nil {
		return nil, err
	}
	if len(ch.Name) > 64 {
		return nil, lanyard.Errorf(lanyard.EInvalid, "a card name is at most 64 characters")
	}
	p := &Plan{Initialize: o.Initialize, RandomPIN: o.RandomPIN, Name: ch.Name}
	used := map[string]string{}
	for _, name := range names {
		t := in.Templates[name]
		if t == nil {
			return nil, lanyard.Errorf(lanyard.EUnavailable, "template %q does not exist; ask your administrator", name)
		}
		alg, err := KeyAlgorithm(t, in.CardType)
		if err != nil {
			return nil, err
		}
		slot := SlotName(t)
		if other, taken := used[slot]; taken {
			return nil, lanyard.Errorf(lanyard.EConflict, "templates %q and %q both use card slot %s; ask your administrator to change one", other, name, slot)
		}
		used[slot] = name
		if err := Issuable(t, in.CardType); err != nil {
			return nil, err
		}
		p.Slots = append(p.Slots, slotPlan(s, t, slot, alg, in.OnBehalf()))
	}

	switch {
	case o.PINSetup:
		if ch.UserPIN != "" || ch.AdminPIN != "" {
			return nil, lanyard.Errorf(lanyard.EInvalid, "the PIN of a %s is set up after the issue (Set up PIN); leave the PINs empty", in.CardType.Name)
		}
		// A random PIN nobody is shown: the credential cannot be used
		// until its user sets the PIN (with the credential's own PUK).
		if p.UserPIN, err = policy.RandomPIN(lanyard.RandomPINSettings{Length: o.PINMax, Groups: []lanyard.PINCharGroup{lanyard.PINDigits}, MailTo: lanyard.PINMailNobody}, rand); err != nil {
			return nil, err
		}
		p.PINSetup = true
	case o.RandomPIN:
		if ch.UserPIN != "" {
			return nil, lanyard.Errorf(lanyard.EInvalid, "your policy sets a random user PIN; leave the User PIN empty")
		}
		rp := s.Issuance.RandomPIN
		if rp.Length < o.PINMin || rp.Length > o.PINMax {
			return nil, lanyard.Errorf(lanyard.EUnavailable, "the policy's random PIN length %d does not fit the card's %d-%d; ask your administrator", rp.Length, o.PINMin, o.PINMax)
		}
		if p.UserPIN, err = policy.RandomPIN(rp, rand); err != nil {
			return nil, err
		}
		p.ShowPIN, p.ShowPINToStaff, p.MailPIN = rp.ShowToUser, rp.ShowToAdmin, rp.MailTo
	case ch.UserPIN != "":
		if !o.ShowUserPIN {
			return nil, lanyard.Errorf(lanyard.EInvalid, "the User PIN cannot be chosen for this card: it is set from the card type")
		}
		if err := checkSecret("User PIN", ch.UserPIN, o.PINMin, o.PINMax); err != nil {
			return nil, err
		}
		p.UserPIN = ch.UserPIN
	}
	if ch.AdminPIN != "" {
		if !o.ShowAdminPIN {
			return nil, lanyard.Errorf(lanyard.EInvalid, "the Admin PIN of this card is managed by Lanyard; leave the Admin PIN empty")
		}
		if err := checkSecret("Admin PIN", ch.AdminPIN, minPUK, maxPUK); err != nil {
			return nil, err
		}
		p.AdminPIN, p.EnteredAdminPIN = ch.AdminPIN, true
	}
	if len(ch.Tracked) > 0 {
		if !o.TrackedSelectable {
			return nil, lanyard.Errorf(lanyard.EForbidden, "your policy does not let you select tracked certificates")
		}
		for _, slot := range ch.Tracked {
			if !slices.ContainsFunc(o.Tracked, func(f Found) bool { return f.Slot == slot }) {
				return nil, lanyard.Errorf(lanyard.EInvalid, "no third-party certificate was found in card slot %q", slot)
			}
			if _, replaced := used[slot]; replaced {
				return nil, lanyard.Errorf(lanyard.EInvalid, "the certificate in slot %s will be replaced by %q and cannot be tracked", slot, used[slot])
			}
		}
		p.Tracked = slices.Clone(ch.Tracked)
	} else if s.Workflow.SearchTrackedCertificates && !o.TrackedSelectable {
		// Searching without letting the user pick: everything found that
		// the issue does not replace is tracked.
		for _, f := range o.Tracked {
			if _, replaced := used[f.Slot]; !replaced {
				p.Tracked = append(p.Tracked, f.Slot)
			}
		}
	}
	return p, nil
}

// checkSecret checks a PIN's length and characters (printable ASCII, as
// SP 800-73-4 part 2, 2.4.3 allows for PINs and cards accept for PUKs).
func checkSecret(what, v string, lo, hi int) error {
	if len(v) < lo || len(v) > hi {
		return lanyard.Errorf(lanyard.EInvalid, "%s must be %d to %d characters long", what, lo, hi)
	}
	for _, r := range v {
		if r > unicode.MaxASCII || !unicode.IsPrint(r) || r == ' ' {
			return lanyard.Errorf(lanyard.EInvalid, "%s may contain only printable ASCII characters without spaces", what)
		}
	}
	return nil
}

// CheckPIN checks a PIN the user chose against the length bounds lo..hi
// (0: the SP 800-73-4 bounds, 6 and 8) and the characters cards accept.
func CheckPIN(what, v string, lo, hi int) error {
	if lo == 0 {
		lo = 6
	}
	if hi == 0 {
		hi = 8
	}
	return checkSecret(what, v, lo, hi)
}
