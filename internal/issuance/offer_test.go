package issuance

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/policy"
)

func pivType() *lanyard.CardType {
	return &lanyard.CardType{Name: "piv", Kind: lanyard.KindPIV, PIN: lanyard.PINPolicy{MinLength: 6, MaxLength: 8, PINRetries: 3, PUKRetries: 3},
		KeyAlgorithms: []lanyard.KeyAlgorithm{lanyard.ECP256, lanyard.RSA2048}, SupportsInit: true}
}

func templates() map[string]*lanyard.Template {
	return map[string]*lanyard.Template{
		"logon":   {Name: "logon", DisplayName: "Smart card logon", KeyAlgs: []lanyard.KeyAlgorithm{lanyard.ECP256}, Slot: "9a"},
		"email":   {Name: "email", KeyAlgs: []lanyard.KeyAlgorithm{lanyard.RSA2048}, Slot: "9d"},
		"signing": {Name: "signing", KeyAlgs: []lanyard.KeyAlgorithm{lanyard.ECP256}, Slot: "9c"},
		"clash":   {Name: "clash", KeyAlgs: []lanyard.KeyAlgorithm{lanyard.ECP256}, Slot: "9a"},
		"ec384":   {Name: "ec384", KeyAlgs: []lanyard.KeyAlgorithm{lanyard.ECP384}, Slot: "9e"},
	}
}

// baseInput is a user issuing an unregistered card under the default
// policy with one required and two optional templates.
func baseInput() Input {
	s := policy.Defaults()
	s.AllowedCards = []string{"piv"}
	s.Certificates = lanyard.CertificateSettings{Required: []string{"logon"}, Optional: []string{"email", "signing"}}
	return Input{Settings: s, PolicyName: "default", CardType: pivType(), OwnerID: 7, Templates: templates()}
}

func wantErr(t *testing.T, err error, code, text string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s containing %q", code, text)
	}
	if !lanyard.IsCode(err, code) || !strings.Contains(err.Error(), text) {
		t.Fatalf("error %v, want %s containing %q", err, code, text)
	}
}

// Every rule of the guide's Issue card dialog that refuses an issue.
func TestOfferRefusals(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Input)
		code   string
		text   string
	}{
		{"unknown card type", func(in *Input) { in.CardType = nil }, lanyard.EInvalid, "card type"},
		{"no Issue card permission", func(in *Input) { in.Settings.Workflow.IssueCard = false }, lanyard.EForbidden, "does not allow you to issue cards"},
		{"AirCard without the Issue AirCard permission", func(in *Input) {
			in.CardType = &lanyard.CardType{Name: "aircard", Kind: lanyard.KindAirCard}
			in.Settings.AllowedCards = []string{"aircard"}
		}, lanyard.EForbidden, "Issue AirCard"},
		{"card type not allowed", func(in *Input) { in.Settings.AllowedCards = []string{"other"} }, lanyard.EForbidden, "not allowed"},
		{"unregistered card, users may not add cards", func(in *Input) { in.Settings.Workflow.AllowUserAddCards = false }, lanyard.EForbidden, "not registered"},
		{"maximum cards per user", func(in *Input) { in.Settings.Issuance.MaxCardsPerUser = 2; in.OwnedCards = 2 }, lanyard.EConflict, "at most 2"},
		{"card already issued", func(in *Input) { in.Card = &lanyard.Card{Serial: "1", State: lanyard.CardIssued, OwnerID: 7} }, lanyard.EConflict, "already issued"},
		{"card of another user", func(in *Input) { in.Card = &lanyard.Card{Serial: "1", State: lanyard.CardAssigned, OwnerID: 8} }, lanyard.EConflict, "another user"},
		{"card revoked", func(in *Input) { in.Card = &lanyard.Card{Serial: "1", State: lanyard.CardRevoked} }, lanyard.EConflict, "revoked"},
		{"card pending", func(in *Input) { in.Card = &lanyard.Card{Serial: "1", State: lanyard.CardPending, OwnerID: 7} }, lanyard.EConflict, "pending"},
		{"template the card cannot hold", func(in *Input) { in.Settings.Certificates.Required = []string{"ec384"} }, lanyard.EInvalid, "cannot hold"},
		{"template missing", func(in *Input) { in.Settings.Certificates.Optional = []string{"gone"} }, lanyard.EUnavailable, "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInput()
			tt.change(&in)
			_, err := Offer(in)
			wantErr(t, err, tt.code, tt.text)
		})
	}
}

func TestOfferDialog(t *testing.T) {
	t.Run("not initialized, unregistered: user and admin PIN", func(t *testing.T) {
		o, err := Offer(baseInput())
		if err != nil {
			t.Fatal(err)
		}
		if o.Initialize || !o.ShowUserPIN || !o.ShowAdminPIN || o.Caution != "" || o.RandomPIN || !o.OptionalSelectable {
			t.Fatalf("options %+v", o)
		}
		if o.PINMin != 6 || o.PINMax != 8 || len(o.Required) != 1 || o.Required[0].Description != "Smart card logon" || len(o.Optional) != 2 {
			t.Fatalf("options %+v", o)
		}
	})
	t.Run("registered card: no Admin PIN field", func(t *testing.T) {
		in := baseInput()
		in.Card = &lanyard.Card{Serial: "1", State: lanyard.CardClean}
		o, err := Offer(in)
		if err != nil {
			t.Fatal(err)
		}
		if o.ShowAdminPIN || !o.Registered {
			t.Fatalf("registered card offers the Admin PIN: %+v", o)
		}
	})
	t.Run("registered card whose PUK was chosen at an earlier issue: its current Admin PIN", func(t *testing.T) {
		in := baseInput()
		in.Card = &lanyard.Card{Serial: "1", State: lanyard.CardClean, PUKState: lanyard.PUKUnknown}
		o, err := Offer(in)
		if err != nil {
			t.Fatal(err)
		}
		if !o.ShowAdminPIN {
			t.Fatalf("a card whose PUK Lanyard does not know offers no Admin PIN: %+v", o)
		}
	})
	t.Run("operators register cards without the user permission", func(t *testing.T) {
		in := baseInput()
		in.Settings.Workflow.AllowUserAddCards, in.Settings.Workflow.IssueCard, in.Staff = false, false, true
		o, err := Offer(in)
		if err != nil {
			t.Fatal(err)
		}
		if !o.ShowAdminPIN {
			t.Fatal("operator gets no Admin PIN for an unregistered card")
		}
	})
	t.Run("initialized: caution, no user PIN, policy PIN length", func(t *testing.T) {
		in := baseInput()
		in.Settings.Issuance.InitializeCard = true
		in.Settings.Issuance.Initialization.PINMinLength = 7
		o, err := Offer(in)
		if err != nil {
			t.Fatal(err)
		}
		if !o.Initialize || o.Caution != InitializeCaution || o.ShowUserPIN || !o.ShowAdminPIN || o.PINMin != 7 {
			t.Fatalf("options %+v", o)
		}
	})
	t.Run("card type without initialization is not initialized", func(t *testing.T) {
		in := baseInput()
		in.Settings.Issuance.InitializeCard = true
		in.CardType.SupportsInit = false
		o, err := Offer(in)
		if err != nil {
			t.Fatal(err)
		}
		if o.Initialize {
			t.Fatal("initializes a card type that does not support it")
		}
	})
	t.Run("random PIN: no User PIN field", func(t *testing.T) {
		in := baseInput()
		in.Settings.Issuance.RandomUserPIN = true
		o, err := Offer(in)
		if err != nil {
			t.Fatal(err)
		}
		if o.ShowUserPIN || !o.RandomPIN {
			t.Fatalf("options %+v", o)
		}
	})
	t.Run("optional templates not selectable", func(t *testing.T) {
		in := baseInput()
		in.Settings.Workflow.SelectOptionalCertificates = false
		o, err := Offer(in)
		if err != nil {
			t.Fatal(err)
		}
		if o.OptionalSelectable {
			t.Fatal("optional templates selectable although the policy forbids it")
		}
	})
	t.Run("tracked certificates only when searching", func(t *testing.T) {
		in := baseInput()
		in.Found = []Found{{Slot: "9c", Subject: "CN=Old"}}
		o, _ := Offer(in)
		if len(o.Tracked) != 0 || o.TrackedSelectable {
			t.Fatalf("tracked offered without search: %+v", o.Tracked)
		}
		in.Settings.Workflow.SearchTrackedCertificates, in.Settings.Workflow.AllowUserSelectTracked = true, true
		o, _ = Offer(in)
		if len(o.Tracked) != 1 || !o.TrackedSelectable {
			t.Fatalf("tracked not offered: %+v", o)
		}
	})
	t.Run("an interrupted issue of the owner's own card is not counted twice", func(t *testing.T) {
		in := baseInput()
		in.Settings.Issuance.MaxCardsPerUser, in.OwnedCards = 1, 1
		in.Card = &lanyard.Card{Serial: "1", State: lanyard.CardAssigned, OwnerID: 7}
		if _, err := Offer(in); err != nil {
			t.Fatal(err)
		}
	})
}

func decide(t *testing.T, in Input, ch Choice) (*Plan, error) {
	t.Helper()
	o, err := Offer(in)
	if err != nil {
		t.Fatal(err)
	}
	return Decide(in, o, ch, bytes.NewReader(bytes.Repeat([]byte{0x42, 0x17, 0x99, 0x03}, 64)))
}

func TestDecide(t *testing.T) {
	t.Run("required plus chosen optional, slots and algorithms", func(t *testing.T) {
		p, err := decide(t, baseInput(), Choice{Optional: []string{"email"}, UserPIN: "654321", AdminPIN: "87654321"})
		if err != nil {
			t.Fatal(err)
		}
		want := []SlotPlan{{Slot: "9a", Template: "logon", Algorithm: lanyard.ECP256}, {Slot: "9d", Template: "email", Algorithm: lanyard.RSA2048}}
		if len(p.Slots) != 2 || p.Slots[0] != want[0] || p.Slots[1] != want[1] || p.UserPIN != "654321" || p.AdminPIN != "87654321" {
			t.Fatalf("plan %+v", p)
		}
	})
	t.Run("empty PINs fall back to the card type", func(t *testing.T) {
		p, err := decide(t, baseInput(), Choice{})
		if err != nil {
			t.Fatal(err)
		}
		if p.UserPIN != "" || p.AdminPIN != "" {
			t.Fatalf("plan %+v", p)
		}
	})
	t.Run("random PIN drawn by policy and shown", func(t *testing.T) {
		in := baseInput()
		in.Settings.Issuance.RandomUserPIN = true
		in.Settings.Issuance.RandomPIN = lanyard.RandomPINSettings{Length: 8, Groups: []lanyard.PINCharGroup{lanyard.PINDigits}, ShowToUser: true, MailTo: lanyard.PINMailNobody}
		p, err := decide(t, in, Choice{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.UserPIN) != 8 || strings.Trim(p.UserPIN, "0123456789") != "" || !p.ShowPIN || !p.RandomPIN {
			t.Fatalf("plan %+v", p)
		}
		_, err = decide(t, in, Choice{UserPIN: "123456"})
		wantErr(t, err, lanyard.EInvalid, "random user PIN")
	})
	refusals := []struct {
		name   string
		change func(*Input)
		ch     Choice
		code   string
		text   string
	}{
		{"optional not selectable", func(in *Input) { in.Settings.Workflow.SelectOptionalCertificates = false }, Choice{Optional: []string{"email"}}, lanyard.EForbidden, "optional"},
		{"optional not offered", nil, Choice{Optional: []string{"clash"}}, lanyard.EInvalid, "not offered"},
		{"user PIN too short", nil, Choice{UserPIN: "12345"}, lanyard.EInvalid, "6 to 8"},
		{"user PIN too long", nil, Choice{UserPIN: "123456789"}, lanyard.EInvalid, "6 to 8"},
		{"user PIN with a space", nil, Choice{UserPIN: "123 456"}, lanyard.EInvalid, "printable"},
		{"user PIN on an initializing issue", func(in *Input) { in.Settings.Issuance.InitializeCard = true }, Choice{UserPIN: "123456"}, lanyard.EInvalid, "cannot be chosen"},
		{"admin PIN on a registered card", func(in *Input) { in.Card = &lanyard.Card{Serial: "1", State: lanyard.CardClean} }, Choice{AdminPIN: "12345678"}, lanyard.EInvalid, "managed by Lanyard"},
		{"admin PIN too short", nil, Choice{AdminPIN: "12345"}, lanyard.EInvalid, "Admin PIN must be 6 to 8"},
		{"two templates on one slot", func(in *Input) { in.Settings.Certificates.Optional = []string{"clash"} }, Choice{Optional: []string{"clash"}}, lanyard.EConflict, "slot 9a"},
		{"tracked not selectable", func(in *Input) {
			in.Settings.Workflow.SearchTrackedCertificates = true
			in.Found = []Found{{Slot: "9c"}}
		}, Choice{Tracked: []string{"9c"}}, lanyard.EForbidden, "tracked"},
		{"tracked slot not found", func(in *Input) {
			in.Settings.Workflow.SearchTrackedCertificates, in.Settings.Workflow.AllowUserSelectTracked = true, true
			in.Found = []Found{{Slot: "9c"}}
		}, Choice{Tracked: []string{"9e"}}, lanyard.EInvalid, "no third-party"},
		{"tracked slot replaced", func(in *Input) {
			in.Settings.Workflow.SearchTrackedCertificates, in.Settings.Workflow.AllowUserSelectTracked = true, true
			in.Found = []Found{{Slot: "9a"}}
		}, Choice{Tracked: []string{"9a"}}, lanyard.EInvalid, "replaced"},
		{"random PIN longer than the card allows", func(in *Input) {
			in.Settings.Issuance.RandomUserPIN = true
			in.Settings.Issuance.RandomPIN = lanyard.RandomPINSettings{Length: 10, Groups: []lanyard.PINCharGroup{lanyard.PINDigits}, MailTo: lanyard.PINMailNobody}
		}, Choice{}, lanyard.EUnavailable, "does not fit"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			in := baseInput()
			if tt.change != nil {
				tt.change(&in)
			}
			_, err := decide(t, in, tt.ch)
			wantErr(t, err, tt.code, tt.text)
		})
	}
	t.Run("search without selection tracks what is not replaced", func(t *testing.T) {
		in := baseInput()
		in.Settings.Workflow.SearchTrackedCertificates = true
		in.Found = []Found{{Slot: "9a"}, {Slot: "9e"}}
		p, err := decide(t, in, Choice{})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Tracked) != 1 || p.Tracked[0] != "9e" {
			t.Fatalf("tracked %v, want [9e]", p.Tracked)
		}
	})
}

// A template whose subject needs an attribute the owner lacks is refused
// when the dialog opens, before the card is touched.
func TestOfferChecksOwnerAttributes(t *testing.T) {
	in := baseInput()
	in.Templates["logon"].Subject = lanyard.SubjectSpec{CommonName: "{display_name}", SANUPN: true}
	in.Owner = &lanyard.User{Login: "alice"}
	_, err := Offer(in)
	wantErr(t, err, lanyard.EInvalid, "has no UPN")
	in.Owner.UPN = "alice@example.test"
	if _, err := Offer(in); err != nil {
		t.Fatal(err)
	}
}

// The documents check decides the approvals of every certificate; the
// template's own flags add to it.
func TestApprovals(t *testing.T) {
	plain := &lanyard.Template{Name: "p"}
	flagged := &lanyard.Template{Name: "f", RequiresCAApproval: true, RequiresFormApproval: true}
	tests := []struct {
		check          lanyard.DocumentsCheck
		tpl            *lanyard.Template
		onBehalf       bool
		wantCA, wantFm bool
	}{
		{lanyard.DocsNone, plain, false, false, false},
		{lanyard.DocsCARequest, plain, false, true, false},
		{lanyard.DocsForm, plain, false, false, true},
		{lanyard.DocsRequestForm, plain, false, true, true},
		{lanyard.DocsNone, flagged, false, true, true},
		// Issue 13: on another person's behalf, a second person approves
		// whatever the template and the policy say.
		{lanyard.DocsNone, plain, true, true, false},
		{lanyard.DocsForm, plain, true, true, true},
	}
	for _, tt := range tests {
		ca, form := Approvals(lanyard.DocumentsSettings{Check: tt.check}, tt.tpl, tt.onBehalf)
		if ca != tt.wantCA || form != tt.wantFm {
			t.Errorf("%s/%s/%v: CA %v form %v, want %v %v", tt.check, tt.tpl.Name, tt.onBehalf, ca, form, tt.wantCA, tt.wantFm)
		}
	}
}

// Issue 13: an operator issuing a card for another user plans every
// certificate for the CA's approval; the owner issuing their own does not.
func TestDecideOnBehalfNeedsCA(t *testing.T) {
	in := baseInput()
	in.Staff, in.Requester = true, 99
	o, err := Offer(in)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Decide(in, o, Choice{}, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, sl := range p.Slots {
		if !sl.NeedCA {
			t.Errorf("slot %s of a card issued on another's behalf needs no CA approval", sl.Slot)
		}
	}
	in.Requester = in.OwnerID
	if p, err = Decide(in, o, Choice{}, rand.Reader); err != nil {
		t.Fatal(err)
	}
	for _, sl := range p.Slots {
		if sl.NeedCA {
			t.Errorf("slot %s of the owner's own card needs CA approval", sl.Slot)
		}
	}
}

// Issue 13: a card-keys-only template goes on cards of every kind that
// generates keys on the card, never into a software store or to a key
// from outside a card; a template with OCSP signing is refused anywhere.
func TestIssuable(t *testing.T) {
	only := &lanyard.Template{Name: "logon", CardKeysOnly: true}
	for _, k := range lanyard.AllCardKinds {
		err := Issuable(only, &lanyard.CardType{Name: string(k), Kind: k})
		if (err == nil) != (k != lanyard.KindSoftwareStore) {
			t.Errorf("%s: %v", k, err)
		}
	}
	wantErr(t, Issuable(only, nil), lanyard.EForbidden, "only keys generated on a card")
	if err := Issuable(&lanyard.Template{Name: "mail"}, nil); err != nil {
		t.Errorf("a template for any key: %v", err)
	}
	ocsp := &lanyard.Template{Name: "ocsp", ExtKeyUsage: []string{lanyard.EKUOCSPSigning}}
	wantErr(t, Issuable(ocsp, pivType()), lanyard.EInvalid, "OCSP responder")
}
