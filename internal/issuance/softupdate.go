package issuance

import (
	"slices"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/policy"
)

// Software store re-issue (docs/lifecycle.md, "Update card contents",
// software stores): the update plan of a card applied to a software
// store. A store has no slots: each certificate is a PKCS#12 file of its
// own, so the plan's slot is the template's name, and a renewal always
// makes a new key (the key is in the old file, which the server cannot
// read to certify it again).

// StoreUpdateInput adapts in to a software store: every template's slot
// is its name and its renewal key a new key, the policy's templates only
// a card may hold are left out (a store never held them, and an issue of
// a store leaves them out too, OfferSoftwareStore), and keys are never
// overwritten in place (the new key goes into a new file). in is
// returned unchanged when its card type is not a software store. The
// service applies it before it reads the held certificates, so that a
// store's certificates are told apart by template.
func StoreUpdateInput(in UpdateInput) UpdateInput {
	if in.CardType == nil || in.CardType.Kind != lanyard.KindSoftwareStore {
		return in
	}
	tpls := make(map[string]*lanyard.Template, len(in.Templates))
	for name, t := range in.Templates {
		c := *t
		c.Slot, c.RenewalKey = name, lanyard.RenewalNewKey
		tpls[name] = &c
	}
	in.Templates = tpls
	cardOnly := func(name string) bool { t := tpls[name]; return t != nil && t.CardKeysOnly }
	c := &in.Settings.Certificates
	c.Required = slices.DeleteFunc(slices.Clone(c.Required), cardOnly)
	c.Optional = slices.DeleteFunc(slices.Clone(c.Optional), cardOnly)
	in.Held = slices.Clone(in.Held)
	for i := range in.Held {
		in.Held[i].Slot = in.Held[i].Template
	}
	in.CanMove = true
	return in
}

// DecideStoreReissue is the plan of a software store's re-issue: the
// card's update plan (OfferUpdate, DecideUpdate with the optional
// templates chosen), each new certificate checked as for a store's issue
// (no approval to wait for, no archived key), and the key container
// password checked against the policy's rules, as at issue: the new
// files are written with it (a re-issue that only revokes writes none
// and needs none). Rows are never staged. An up-to-date store
// is refused (EConflict) as an up-to-date card is.
func DecideStoreReissue(in UpdateInput, optional []string, password string) (*UpdatePlan, error) {
	if in.CardType == nil || in.CardType.Kind != lanyard.KindSoftwareStore {
		return nil, lanyard.Errorf(lanyard.EInvalid, "this card is not a software store; use Update card")
	}
	in = StoreUpdateInput(in)
	o, err := OfferUpdate(in)
	if err != nil {
		return nil, err
	}
	p, err := DecideUpdate(in, o, UpdateChoice{Optional: optional})
	if err != nil {
		return nil, err
	}
	// As at issue, the password is required when the policy always asks
	// or a template of the store (kept ones too: the store was issued
	// with one password) prompts for one.
	required, writes := in.Settings.Issuance.KeyPassword.Always, false
	for i := range p.Slots {
		r := &p.Slots[i]
		r.Staged = false
		t := in.Templates[r.Template]
		if r.Action == ActionRemove || t == nil {
			continue
		}
		required = required || t.PromptKeyPassword
		if r.Action == ActionKeep {
			continue
		}
		if err := softTemplate(in.Input, t); err != nil {
			return nil, err
		}
		writes = true
	}
	if !writes {
		return p, nil // only revocations: no file is written
	}
	if err := policy.CheckKeyPassword(in.Settings.Issuance.KeyPassword, password, required); err != nil {
		return nil, err
	}
	return p, nil
}
