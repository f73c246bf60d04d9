//go:build integration

package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestBrowserIssuePolicyRules shows the policy's rules in the Issue card
// dialog on the real stack: a card an operator registered gets no Admin
// PIN field; optional templates are shown but cannot be chosen when the
// policy does not let users select them; a user at the policy's maximum
// number of cards is refused with a message that says so.
func TestBrowserIssuePolicyRules(t *testing.T) {
	s := newStack(t)
	eve, _ := s.user("eve")
	s.pair("eve")
	c := newVCard(t)
	s.insert(c)
	ctx := context.Background()
	if _, err := s.admin.Post(ctx, "/api/v1/cards", apiv1.RegisterCardInput{Serial: c.serial, CardType: "piv"}, nil); err != nil {
		t.Fatalf("registering the card as an operator: %v", err)
	}
	if k := s.connected(eve, c.serial); k.CardID == 0 || k.Owner != "" || k.State != lanyard.CardClean {
		t.Fatalf("the registered card is listed as %+v", k)
	}

	b := mustBrowser(t, s.srv.URL)
	b.Login("eve", password)

	t.Run("registered card: no Admin PIN", func(t *testing.T) {
		b.openIssueDialog(s.reader, c.serial)
		b.Shot("01-registered-card")
		for sel, want := range map[string]bool{"#user-pin": true, "#user-pin2": true, "#admin-pin": false} {
			if got := b.exists(sel); got != want {
				t.Errorf("dialog for a registered card has %s: %v, want %v", sel, got, want)
			}
		}
		if strings.Contains(b.Text("#issue-form"), "not yet registered") {
			t.Error("the dialog calls the registered card unregistered")
		}
		b.closeDialog()
	})

	t.Run("optional templates not selectable", func(t *testing.T) {
		s.setPolicy(func(set map[string]any) { section(set, "workflow")["select_optional_certificates"] = false })
		b.openIssueDialog(s.reader, c.serial)
		b.Shot("02-optional-not-selectable")
		tpls := b.dialogTemplates()
		if len(tpls) != 3 || !tpls[0].Checked || !tpls[0].Disabled {
			t.Fatalf("templates %+v", tpls)
		}
		for _, o := range tpls[1:] {
			if !o.Disabled || o.Checked || o.Tag != "Optional, not selectable" {
				t.Errorf("optional template %+v is selectable", o)
			}
		}
		if got := b.Text("#optional-note"); !strings.Contains(got, "does not let you choose optional certificates") {
			t.Errorf("the note says %q", got)
		}
		b.closeDialog()
		// The server refuses what the page does not offer.
		in := apiv1.IssueCardInput{CardTarget: s.target(), Templates: []string{"secure-email"}, UserPIN: "12121212"}
		_, err := eve.Post(ctx, "/api/v1/issue", in, nil)
		if lanyard.ErrorCode(err) == "" {
			t.Fatal("issuing with an optional template the policy does not let users select succeeded")
		}
		t.Logf("POST /issue with a forbidden optional template: %v", err)
	})

	t.Run("maximum cards per user", func(t *testing.T) {
		var u lanyard.User
		if err := s.admin.Get(ctx, "/api/v1/users/eve", &u); err != nil {
			t.Fatal(err)
		}
		// Eve already has a card (issued at some other time and place).
		now := time.Now()
		if err := s.srv.Store.Update(ctx, func(tx lanyard.Tx) error {
			return tx.CreateCard(&lanyard.Card{Serial: "99000001", CardType: "piv", OwnerID: u.ID, State: lanyard.CardIssued, CreatedAt: now, UpdatedAt: now, IssuedAt: now})
		}); err != nil {
			t.Fatal(err)
		}
		s.setPolicy(func(set map[string]any) { section(set, "issuance")["max_cards_per_user"] = 1 })
		b.Visit("/")
		b.openIssueDialog(s.reader, c.serial)
		b.Shot("03-maximum-cards")
		msg := b.Text("#issue-body .error")
		if !regexp.MustCompile(`^This card cannot be issued\. The policy allows at most 1 card\(s\) per user, and 1 are already issued`).MatchString(msg) {
			t.Errorf("the refusal says %q", msg)
		}
		if b.exists("#issue-form") {
			t.Error("the dialog offers a form though the card cannot be issued")
		}
		b.closeDialog()
		if p := b.Path(); p != "/" {
			t.Errorf("after closing the refusal the page is %s", p)
		}
	})
}

// TestAPIIssueRandomPINNotInitialized: a random User PIN without
// initialization. The options ask for no User PIN, a PIN sent anyway is
// refused before the card is touched, the issue returns the PIN once,
// and OpenSC signs with it.
func TestAPIIssueRandomPINNotInitialized(t *testing.T) {
	s := newStack(t)
	fay, _ := s.user("fay")
	s.setPolicy(func(set map[string]any) { section(set, "issuance")["random_user_pin"] = true })
	s.pair("fay")
	c := newVCard(t)
	s.insert(c)
	ctx := context.Background()

	var opts apiv1.IssueOptionsResult
	if _, err := fay.Post(ctx, "/api/v1/issue/options", s.target(), &opts); err != nil {
		t.Fatal(err)
	}
	if !opts.RandomPIN || opts.ShowUserPIN || opts.Initialize || !opts.ShowAdminPIN {
		t.Fatalf("options: random %v, user PIN field %v, initialize %v, admin PIN field %v; want true, false, false, true",
			opts.RandomPIN, opts.ShowUserPIN, opts.Initialize, opts.ShowAdminPIN)
	}
	in := apiv1.IssueCardInput{CardTarget: s.target(), UserPIN: "12341234"}
	if _, err := fay.Post(ctx, "/api/v1/issue", in, nil); lanyard.ErrorCode(err) != lanyard.EInvalid {
		t.Errorf("issuing with a chosen PIN under a random-PIN policy: %v, want invalid", err)
	}
	var res apiv1.IssueCardResult
	in.UserPIN = ""
	if _, err := fay.Post(ctx, "/api/v1/issue", in, &res); err != nil {
		t.Fatal(err)
	}
	if res.State != "issued" || !regexp.MustCompile(`^\d{8}$`).MatchString(res.RandomPIN) {
		t.Fatalf("issue result: state %s, random PIN %q", res.State, res.RandomPIN)
	}
	if strings.Contains(s.rawGet("/api/v1/cards/"+itoa(res.Card.ID)), res.RandomPIN) {
		t.Error("the card's record contains the random PIN")
	}
	s.agent.stop(t)
	tk := openToken(t, s.reader)
	s.checkIssued(tk, res.Card.ID, res.RandomPIN, "9a")
}
