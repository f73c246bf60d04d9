package issuance

import (
	"slices"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/policy"
)

// SoftwareStoreOptions is what the software store dialog shows (the
// guide's "Registry": name → Software store — machine or — user → Issue,
// then the key container password when a template asks for one).
type SoftwareStoreOptions struct {
	CardType           string         `json:"card_type"`
	Required           []TemplateInfo `json:"required_templates"`
	Optional           []TemplateInfo `json:"optional_templates"`
	OptionalSelectable bool           `json:"optional_selectable"`
	// PasswordRequired: a template prompts for a key container password
	// (or the policy always asks); otherwise the password may be empty
	// and the file is protected by its permissions alone.
	PasswordRequired   bool `json:"password_required"`
	PasswordMinLength  int  `json:"password_min_length"`
	PasswordMinClasses int  `json:"password_min_classes"`
}

// SoftwareStoreChoice is what the user entered.
type SoftwareStoreChoice struct {
	Optional []string
	Password string // never stored
	Name     string
}

// SoftwareStorePlan is one software store decided: a key pair and a
// certificate per template, written with the password.
type SoftwareStorePlan struct {
	Name  string         `json:"name,omitempty"`
	Slots []SoftwareSlot `json:"slots"`
}

// SoftwareSlot is one template's key and certificate in a software store.
type SoftwareSlot struct {
	Template  string               `json:"template"`
	Algorithm lanyard.KeyAlgorithm `json:"algorithm"`
}

// OfferSoftwareStore decides whether in.Owner may get a software store of
// in.CardType and what the dialog offers. in.Card is not used: a software
// store is a new card each time.
func OfferSoftwareStore(in Input) (*SoftwareStoreOptions, error) {
	s := in.Settings
	ct := in.CardType
	switch {
	case ct == nil || ct.Kind != lanyard.KindSoftwareStore:
		return nil, lanyard.Errorf(lanyard.EForbidden, "the policy %q allows no card type of kind software store", in.PolicyName)
	case !in.Staff && !s.Workflow.IssueCard:
		return nil, lanyard.Errorf(lanyard.EForbidden, "your policy does not allow you to issue cards")
	case !policy.CardTypeAllowed(s, ct.Name):
		return nil, lanyard.Errorf(lanyard.EForbidden, "cards of type %q are not allowed by the policy %q", ct.Name, in.PolicyName)
	}
	if max := s.Issuance.MaxCardsPerUser; max > 0 && in.OwnedCards >= max {
		return nil, lanyard.Errorf(lanyard.EConflict, "the policy allows at most %d card(s) per user, and %d are already issued", max, in.OwnedCards)
	}
	o := &SoftwareStoreOptions{CardType: ct.Name, OptionalSelectable: in.Staff || s.Workflow.SelectOptionalCertificates}
	o.PasswordMinLength, o.PasswordMinClasses = policy.KeyPasswordRule(s.Issuance.KeyPassword)
	o.PasswordRequired = s.Issuance.KeyPassword.Always
	// A required certificate only a card may hold is not one of a
	// software store's: the store carries the policy's others.
	required := slices.DeleteFunc(slices.Clone(s.Certificates.Required), func(name string) bool { return cardOnly(in, name) })
	var err error
	if o.Required, err = softTemplates(in, required, &o.PasswordRequired); err != nil {
		return nil, err
	}
	// An optional template that cannot go into a software store is
	// not offered; the required ones must all fit.
	for _, name := range s.Certificates.Optional {
		var prompt bool
		infos, err := softTemplates(in, []string{name}, &prompt)
		if err == nil {
			o.Optional = append(o.Optional, infos...)
		}
	}
	if o.Optional == nil {
		o.Optional = []TemplateInfo{}
	}
	if len(o.Required) == 0 && len(o.Optional) == 0 {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "the policy %q names no certificate template for a software store; ask your administrator", in.PolicyName)
	}
	return o, nil
}

// softTemplates describes the templates and checks that each can go
// into a software store; prompt is set when one asks for a password.
func softTemplates(in Input, names []string, prompt *bool) ([]TemplateInfo, error) {
	out := []TemplateInfo{}
	for _, name := range names {
		t, ok := in.Templates[name]
		if !ok {
			return nil, lanyard.Errorf(lanyard.EUnavailable, "the policy names template %q, which does not exist; ask your administrator", name)
		}
		if err := softTemplate(in, t); err != nil {
			return nil, err
		}
		*prompt = *prompt || t.PromptKeyPassword
		desc := t.DisplayName
		if desc == "" {
			desc = t.Name
		}
		out = append(out, TemplateInfo{Name: t.Name, Description: desc})
	}
	return out, nil
}

// cardOnly reports whether the template named is one only a card may
// hold (Issuable).
func cardOnly(in Input, name string) bool {
	t := in.Templates[name]
	return t != nil && t.CardKeysOnly
}

func softTemplate(in Input, t *lanyard.Template) error {
	if _, err := KeyAlgorithm(t, in.CardType); err != nil {
		return err
	}
	if err := Issuable(t, in.CardType); err != nil {
		return err
	}
	// A software store's key is made by the workstation's agent; an
	// archive-key template's key must be made and archived on the server
	// (docs/lifecycle.md, "Key archival"), which software stores do not do
	// yet: refused rather than issued unarchived.
	if t.KeyArchival {
		return lanyard.Errorf(lanyard.EUnavailable, "certificate %q archives its key, which software stores cannot do yet; issue it on a card", t.Name)
	}
	if in.Owner != nil {
		if err := ca.CheckSubject(t, in.Owner); err != nil {
			return lanyard.Errorf(lanyard.EInvalid, "%s; ask your administrator to complete the user's details", lanyard.ErrorMessage(err))
		}
	}
	// The key exists only in the agent's memory until its certificate is
	// written with it: it cannot wait days for an approval.
	if needCA, needForm := Approvals(in.Settings.Documents, t, in.OnBehalf()); needCA || needForm {
		if in.OnBehalf() {
			return lanyard.Errorf(lanyard.EForbidden, "certificate %q for another user needs a second person's approval, which a software store cannot wait for; let the user issue it, or issue it on a card", t.Name)
		}
		return lanyard.Errorf(lanyard.EConflict, "certificate %q needs an approval (documents check), which a software store cannot wait for; issue it on a card", t.Name)
	}
	return nil
}

// DecideSoftwareStore checks the user's choice against the offer and the
// password rules and returns the plan.
func DecideSoftwareStore(in Input, o *SoftwareStoreOptions, ch SoftwareStoreChoice) (*SoftwareStorePlan, error) {
	s := in.Settings
	if len(ch.Optional) > 0 && in.Staff {
		s.Workflow.SelectOptionalCertificates = true
	}
	for _, name := range ch.Optional {
		if cardOnly(in, name) {
			return nil, Issuable(in.Templates[name], in.CardType)
		}
		if slices.Contains(s.Certificates.Optional, name) && !slices.ContainsFunc(o.Optional, func(t TemplateInfo) bool { return t.Name == name }) {
			return nil, lanyard.Errorf(lanyard.EInvalid, "certificate %q cannot go into a software store", name)
		}
	}
	names, err := policy.Templates(s, ch.Optional)
	if err != nil {
		return nil, err
	}
	if len(ch.Name) > 64 {
		return nil, lanyard.Errorf(lanyard.EInvalid, "a card name is at most 64 characters")
	}
	p := &SoftwareStorePlan{Name: ch.Name}
	required := s.Issuance.KeyPassword.Always
	for _, name := range names {
		t := in.Templates[name]
		if t == nil {
			return nil, lanyard.Errorf(lanyard.EUnavailable, "template %q does not exist; ask your administrator", name)
		}
		if t.CardKeysOnly && !slices.Contains(ch.Optional, name) {
			continue // required, but for cards only (OfferSoftwareStore)
		}
		if err := softTemplate(in, t); err != nil {
			return nil, err
		}
		alg, _ := KeyAlgorithm(t, in.CardType)
		required = required || t.PromptKeyPassword
		p.Slots = append(p.Slots, SoftwareSlot{Template: name, Algorithm: alg})
	}
	if len(p.Slots) == 0 {
		return nil, lanyard.Errorf(lanyard.EInvalid, "choose at least one certificate for the software store")
	}
	if err := policy.CheckKeyPassword(s.Issuance.KeyPassword, ch.Password, required); err != nil {
		return nil, err
	}
	return p, nil
}
