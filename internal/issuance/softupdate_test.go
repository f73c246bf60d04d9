package issuance

import (
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

const goodStorePassword = "Store-pass-9"

// storeUpdateInput is the owner (user 7) re-issuing their software store,
// which holds a signing certificate (expiring in 10 days) and an email
// certificate (valid 200 days), under a policy that requires logon (card
// keys only, so never in a store) and signing, with email optional.
// Logon and signing share slot 9a, which means nothing to a store.
func storeUpdateInput() UpdateInput {
	in := baseInput()
	in.CardType = &lanyard.CardType{Name: "software-store", Kind: lanyard.KindSoftwareStore, KeyAlgorithms: []lanyard.KeyAlgorithm{lanyard.ECP256, lanyard.RSA2048}}
	in.Settings.AllowedCards = []string{"software-store"}
	in.Settings.Certificates = lanyard.CertificateSettings{Required: []string{"logon", "signing"}, Optional: []string{"email"}}
	in.Templates["logon"].CardKeysOnly = true
	in.Templates["signing"].Slot = ""
	in.Templates["signing"].PromptKeyPassword = true
	in.Templates["signing"].RenewalKey = lanyard.RenewalReuseKey
	in.Card = &lanyard.Card{Serial: "SW-1", State: lanyard.CardIssued, OwnerID: 7}
	return UpdateInput{Input: in, Now: now, Held: []HeldCert{
		held("S1", "signing", "9a", 10*day, lanyard.ECP256),
		held("E1", "email", "9d", 200*day, lanyard.RSA2048),
	}}
}

// TestStoreReissuePlan: a software store's re-issue plans per template
// (not per slot), always with a new key and never staged, leaves out the
// templates only a card may hold, refuses what a store cannot wait for,
// and checks the key container password as at issue.
func TestStoreReissuePlan(t *testing.T) {
	in := storeUpdateInput()
	p, err := DecideStoreReissue(in, nil, goodStorePassword)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rowsText(p.Slots), "signing signing renew new_key ecp256 expiring old=S1; email email keep"; got != want {
		t.Errorf("plan %q, want %q", got, want)
	}
	if due, err := UpdateDue(StoreUpdateInput(in)); err != nil || len(due) != 1 || due[0].Template != "signing" {
		t.Errorf("UpdateDue %+v, %v", due, err)
	}
	// The input is not changed for a card, nor for the caller.
	if in.Templates["signing"].Slot != "" || in.Held[1].Slot != "9d" {
		t.Error("StoreUpdateInput changed its argument")
	}
	card := updateInput()
	if got := StoreUpdateInput(card); got.Templates["logon"] != card.Templates["logon"] || got.CanMove != card.CanMove {
		t.Error("StoreUpdateInput changed a card's input")
	}

	for _, c := range []struct {
		name     string
		change   func(*UpdateInput)
		password string
		code     string
		text     string
	}{
		{"up to date", func(in *UpdateInput) { in.Held[0].NotAfter = now.Add(200 * day) }, goodStorePassword, lanyard.EConflict, "card SW-1 is up to date"},
		{"disabled", func(in *UpdateInput) { in.Card.State = lanyard.CardDisabled }, goodStorePassword, lanyard.EConflict, "a disabled card cannot be issued, updated or unblocked"},
		{"no password", nil, "", lanyard.EInvalid, "password is required"},
		{"short password", nil, "Sh-1", lanyard.EInvalid, "8 to 128"},
		{"approval", func(in *UpdateInput) { in.Settings.Documents.Check = lanyard.DocsCARequest }, goodStorePassword, lanyard.EConflict, "a software store cannot wait for"},
		{"archive key", func(in *UpdateInput) { in.Templates["signing"].KeyArchival = true }, goodStorePassword, lanyard.EUnavailable, "software stores cannot do yet"},
		{"a card", func(in *UpdateInput) { in.CardType = pivType() }, goodStorePassword, lanyard.EInvalid, "not a software store"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := storeUpdateInput()
			if c.change != nil {
				c.change(&in)
			}
			_, err := DecideStoreReissue(in, nil, c.password)
			wantErr(t, err, c.code, c.text)
		})
	}

	// No password is needed when no template asks for one and the policy
	// does not always ask; an optional template may be added where the
	// policy lets the user choose.
	in = storeUpdateInput()
	in.Templates["signing"].PromptKeyPassword = false
	in.Settings.Workflow.SelectOptionalOnUpdate = true
	in.Held = in.Held[:1]
	p, err = DecideStoreReissue(in, []string{"email"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rowsText(p.Slots), "signing signing renew new_key ecp256 expiring old=S1; email email add new_key rsa2048 added"; got != want {
		t.Errorf("plan %q, want %q", got, want)
	}
}
