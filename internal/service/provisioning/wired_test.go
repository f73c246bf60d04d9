package provisioning_test

import (
	"context"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/scim"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/provisioning"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// TestDeactivationDisablesCardsWired: in the assembled service (the card
// workflows wired in as the leaver handling, internal/service), a SCIM
// deactivation disables the account's issued card and puts its
// certificate on hold in the same change, as the default leaver action
// says; reactivation enables the account and leaves the card disabled.
func TestDeactivationDisablesCardsWired(t *testing.T) {
	w := newWired(t)
	stack, prov, ctx, p, u, owner, card, cert := w.stack, w.prov, w.ctx, w.p, w.u, w.owner, w.card, w.cert
	if _, err := prov.PatchUser(ctx, p, u.ID, patch(t, `{"Operations":[{"op":"Replace","path":"active","value":"False"}]}`)); err != nil {
		t.Fatal(err)
	}
	check := func(what string, wantDisabled bool) {
		t.Helper()
		storetest.MustView(t, stack.Store, func(tx lanyard.Tx) error {
			gotU, err := tx.UserByID(owner.ID)
			if err != nil {
				return err
			}
			gotCard, err := tx.CardByID(card.ID)
			if err != nil {
				return err
			}
			gotCert, err := tx.CertificateByID(cert.ID)
			if err != nil {
				return err
			}
			if gotU.Disabled != wantDisabled || gotCard.State != lanyard.CardDisabled || !gotCert.OnHold() {
				t.Errorf("%s: user disabled %v (want %v), card %s, certificate on hold %v; want the card disabled and on hold",
					what, gotU.Disabled, wantDisabled, gotCard.State, gotCert.OnHold())
			}
			return nil
		})
	}
	check("after deactivation", true)
	if _, err := prov.PatchUser(ctx, p, u.ID, patch(t, `{"Operations":[{"op":"replace","path":"active","value":true}]}`)); err != nil {
		t.Fatal(err)
	}
	check("after reactivation", false)
}

// runWiredDeleteRevokes: a SCIM DELETE of a member of a SCIM group to
// which a policy with leaver action revoke is linked revokes the card:
// the leaver action comes from the account as it was before the DELETE
// emptied its groups (in the assembled service).
func runWiredDeleteRevokes(t *testing.T, e *env) {
	prov := e.st.Service.Provisioning
	ctx := t.Context()
	tok, err := prov.CreateToken(ctx, e.st.Admin, "wired")
	if err != nil {
		t.Fatal(err)
	}
	p, err := prov.Authenticate(ctx, tok.Secret, "192.0.2.5")
	if err != nil {
		t.Fatal(err)
	}
	u, err := prov.CreateUser(ctx, p, &scim.User{Schemas: []string{scim.UserSchema}, UserName: "gone@example.test"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prov.CreateGroup(ctx, p, &scim.Group{DisplayName: "Contractors", Members: []scim.Ref{{Value: u.ID}}}); err != nil {
		t.Fatal(err)
	}
	pol := storetest.NewPolicy("contractors", 10)
	pol.Assignments = []lanyard.Assignment{{Kind: lanyard.AssignGroup, Name: "Contractors"}}
	pol.Settings.Workflow.LeaverAction = lanyard.LeaverRevoke
	var card *lanyard.Card
	var cert *lanyard.Certificate
	now := time.Now()
	storetest.MustUpdate(t, e.st.Store, func(tx lanyard.Tx) error {
		if err := tx.CreatePolicy(pol); err != nil {
			return err
		}
		owner, err := tx.UserByLogin("gone@example.test")
		if err != nil {
			return err
		}
		card = storetest.NewCard("5c1e0002", owner.ID)
		if err := tx.CreateCard(card); err != nil {
			return err
		}
		cert = storetest.NewCertificate("builtin", "5c1e0002aa", owner.ID)
		cert.CardID, cert.Template, cert.Status, cert.NotBefore, cert.NotAfter = card.ID, "smartcard-logon", lanyard.CertWritten, now.Add(-time.Hour), now.Add(300*24*time.Hour)
		return tx.CreateCertificates([]*lanyard.Certificate{cert})
	})
	if err := prov.DeleteUser(ctx, p, u.ID); err != nil {
		t.Fatal(err)
	}
	storetest.MustView(t, e.st.Store, func(tx lanyard.Tx) error {
		gotCard, err := tx.CardByID(card.ID)
		if err != nil {
			return err
		}
		gotCert, err := tx.CertificateByID(cert.ID)
		if err != nil {
			return err
		}
		if gotCard.State != lanyard.CardRevoked || gotCert.Status != lanyard.CertRevoked {
			t.Errorf("after DELETE: card %s, certificate %s; want both revoked (the group's policy says revoke)", gotCard.State, gotCert.Status)
		}
		return nil
	})
}

// wired is a SCIM client's user with an issued card in the assembled
// service.
type wired struct {
	stack *servicetest.Stack
	prov  *provisioning.Provisioning
	ctx   context.Context
	p     *lanyard.Principal
	u     *scim.User
	owner *lanyard.User
	card  *lanyard.Card
	cert  *lanyard.Certificate
}

func newWired(t *testing.T) *wired {
	t.Helper()
	stack := servicetest.New(t, servicetest.Options{})
	prov := stack.Service.Provisioning
	ctx := context.Background()
	tok, err := prov.CreateToken(ctx, stack.Admin, "entra")
	if err != nil {
		t.Fatal(err)
	}
	p, err := prov.Authenticate(ctx, tok.Secret, "192.0.2.5")
	if err != nil {
		t.Fatal(err)
	}
	u, err := prov.CreateUser(ctx, p, &scim.User{Schemas: []string{scim.UserSchema}, UserName: "leaver@example.test",
		Emails: []scim.Email{{Value: "leaver@example.test", Primary: true}}})
	if err != nil {
		t.Fatal(err)
	}
	var owner *lanyard.User
	var card *lanyard.Card
	var cert *lanyard.Certificate
	now := time.Now()
	storetest.MustUpdate(t, stack.Store, func(tx lanyard.Tx) (err error) {
		if owner, err = tx.UserByLogin("leaver@example.test"); err != nil {
			return err
		}
		card = storetest.NewCard("5c1e0001", owner.ID)
		if err := tx.CreateCard(card); err != nil {
			return err
		}
		cert = storetest.NewCertificate("builtin", "5c1e0001aa", owner.ID)
		cert.CardID, cert.Template, cert.Status, cert.NotBefore, cert.NotAfter = card.ID, "smartcard-logon", lanyard.CertWritten, now.Add(-time.Hour), now.Add(300*24*time.Hour)
		return tx.CreateCertificates([]*lanyard.Certificate{cert})
	})

	return &wired{stack: stack, prov: prov, ctx: ctx, p: p, u: u, owner: owner, card: card, cert: cert}
}

// TestAdminDisableKeptAgainstSCIM: staff disable a SCIM user in Lanyard;
// the client's "active" leaves the account disabled and its card alone;
// the client's deactivation then takes the account over, and the leaver
// handling disables the card.
func TestAdminDisableKeptAgainstSCIM(t *testing.T) {
	w := newWired(t)
	yes := true
	if _, err := w.stack.Service.Identity.UpdateUser(w.ctx, w.stack.Admin, w.owner.Login, identity.UserInput{Disabled: &yes}); err != nil {
		t.Fatal(err)
	}
	state := func() (*lanyard.User, *lanyard.Card) {
		var u *lanyard.User
		var c *lanyard.Card
		storetest.MustView(t, w.stack.Store, func(tx lanyard.Tx) (err error) {
			if u, err = tx.UserByID(w.owner.ID); err != nil {
				return err
			}
			c, err = tx.CardByID(w.card.ID)
			return err
		})
		return u, c
	}
	if _, err := w.prov.PatchUser(w.ctx, w.p, w.u.ID, patch(t, `{"Operations":[{"op":"replace","path":"active","value":true}]}`)); err != nil {
		t.Fatal(err)
	}
	if u, c := state(); !u.Disabled || u.DisabledBy != lanyard.DisabledByAdmin || c.State != lanyard.CardIssued {
		t.Errorf("after the client's active: user %+v, card %s", u, c.State)
	}
	if _, err := w.prov.PatchUser(w.ctx, w.p, w.u.ID, patch(t, `{"Operations":[{"op":"replace","path":"active","value":false}]}`)); err != nil {
		t.Fatal(err)
	}
	if u, c := state(); !u.Disabled || u.DisabledBy != lanyard.DisabledBySource || c.State != lanyard.CardDisabled {
		t.Errorf("after the client's deactivation: user %+v, card %s", u, c.State)
	}
}
