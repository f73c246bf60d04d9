//go:build integration

package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestBrowserClearInitialize: the Clear dialog of a revoked PIV card
// offers *Initialize the card*; checked, the card is wiped to its factory
// state, which pkcs11-tool finds holding no object.
func TestBrowserClearInitialize(t *testing.T) {
	s := newStack(t)
	alice, _ := s.user("alice")
	s.pair("alice")
	c := newVCard(t)
	s.insert(c)
	ctx := context.Background()
	var res apiv1.IssueCardResult
	if _, err := alice.Post(ctx, "/api/v1/issue", apiv1.IssueCardInput{CardTarget: s.target(), UserPIN: "24681357"}, &res); err != nil {
		t.Fatal(err)
	}
	id := itoa(res.Card.ID)
	if _, err := alice.Post(ctx, "/api/v1/cards/"+id+"/revoke", apiv1.RevokeCardInput{Reason: "damaged"}, nil); err != nil {
		t.Fatal(err)
	}

	b := mustBrowser(t, s.srv.URL)
	b.Login("alice", password)
	b.Visit("/cards/" + id)
	b.WaitFor("the Clear card button", `document.querySelector('#card-clear')`)
	b.Run("Clear card", chromedp.Click(chromedp.CSS("#card-clear")))
	b.WaitFor("the Initialize option", `document.querySelector('dialog[open] #clear-initialize')`)
	b.CheckAccessible("Clear card dialog with Initialize")
	b.Run("initialize", chromedp.Click(chromedp.CSS("#clear-initialize")))
	b.Shot("clear-initialize")
	b.Run("clear", chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)))
	b.WaitFor("the card wiped", `document.querySelector('dialog[open] .success') || document.querySelector('dialog[open] .status.error')`)
	if got := b.Text("dialog[open]"); !strings.Contains(got, "wiped to its factory state") {
		t.Fatalf("the Clear card dialog says %q", got)
	}
	b.CheckConsole()
	var card *lanyard.Card
	if err := s.srv.Store.View(ctx, func(tx lanyard.Tx) (err error) { card, err = tx.CardByID(res.Card.ID); return }); err != nil {
		t.Fatal(err)
	}
	if card.State != lanyard.CardRevoked || card.AdminKeyVersion != 0 || card.PUKState != lanyard.PUKDefault {
		t.Errorf("after the wipe: %s, key version %d, PUK %s", card.State, card.AdminKeyVersion, card.PUKState)
	}
	s.agent.stop(t)
	if objs := openToken(t, s.reader).run("--login", "--pin", "123456", "--list-objects"); strings.Contains(objs, "Object;") {
		t.Errorf("pkcs11-tool lists objects on the wiped card:\n%s", objs)
	}
}
