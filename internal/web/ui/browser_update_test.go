//go:build integration

package ui_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardtest"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
)

// updateSite is a site whose cards are emulated in-process (cardtest)
// and whose clock the test moves: alice's card, issued 350 days ago with
// the default policy's smart card logon certificate (365 days) and its
// optional document signing one (730 days), is in reader "Reader 0" of
// her workstation 1.
type updateSite struct {
	*site
	access *cardtest.Access
	ahead  atomic.Int64 // how far the clock is ahead of real time
	alice  string       // alice's API token
	card   *apiv1.CardView
}

func mustUpdateSite(t *testing.T) *updateSite {
	t.Helper()
	st, err := sqlitetest.Open(context.Background(), filepath.Join(t.TempDir(), "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	u := &updateSite{access: cardtest.New()}
	srv := webtest.StartWith(t, st, webtest.Options{
		Cards: func(lanyard.CardAccess) lanyard.CardAccess { return u.access },
		Now:   func() time.Time { return time.Now().Add(time.Duration(u.ahead.Load())) },
	})
	u.site = &site{t: t, srv: srv}
	u.mustUser("alice", password)
	u.mustUser("root", password, "administrator")
	if code, body := u.api("PATCH", "/api/v1/users/alice", map[string]any{"upn": "alice@example.com"}); code != 200 {
		t.Fatalf("UPN: %d %s", code, body)
	}
	// Notifications on (queued only: no worker delivers them here).
	if code, body := u.api("PUT", "/api/v1/notifications/settings", map[string]any{"enabled": true, "host": "127.0.0.1", "port": 2525, "security": "none", "from": "lanyard@example.com"}); code != 200 {
		t.Fatalf("mail settings: %d %s", code, body)
	}
	// Users may update their cards.
	u.editPolicy(func(settings map[string]any) {
		wf := settings["workflow"].(map[string]any)
		wf["issued_card_operations"].(map[string]any)["update"] = true
	})
	var tok apiv1.NewToken
	code, body := u.api("POST", "/api/v1/tokens", map[string]any{"user": "alice", "ttl": "1h"})
	if code != 201 || json.Unmarshal(body, &tok) != nil {
		t.Fatalf("token: %d %s", code, body)
	}
	u.alice = tok.Secret
	var a lanyard.User
	_, body = u.api("GET", "/api/v1/users/alice", nil)
	json.Unmarshal(body, &a)
	u.access.Add(t, 1, a.ID, "Reader 0")
	// The card is issued 350 days ago (the tokens, made now, are valid
	// then too): its logon certificate expires in 15 days, within the
	// renewal window (the 30-day warning period) once the clock is back.
	u.ahead.Store(int64(-350 * 24 * time.Hour))
	defer u.ahead.Store(0)
	var res apiv1.IssueCardResult
	code, body = u.apiAs(u.alice, "POST", "/api/v1/issue", map[string]any{"workstation_id": 1, "reader": "Reader 0", "user_pin": "24681357", "name": "Office card", "templates": []string{"document-signing"}})
	if code != 201 || json.Unmarshal(body, &res) != nil || res.State != "issued" {
		t.Fatalf("issue: %d %s", code, body)
	}
	u.card = res.Card
	return u
}

// editPolicy changes the default policy's settings.
func (u *updateSite) editPolicy(edit func(settings map[string]any)) {
	u.t.Helper()
	code, body := u.api("GET", "/api/v1/policies/default", nil)
	var pol map[string]any
	if code != 200 || json.Unmarshal(body, &pol) != nil {
		u.t.Fatalf("GET policy: %d %s", code, body)
	}
	edit(pol["settings"].(map[string]any))
	if code, body := u.api("PUT", "/api/v1/policies/default", pol); code != 200 {
		u.t.Fatalf("PUT policy: %d %s", code, body)
	}
}

// mailed reports whether a notification of kind was queued to to.
func (u *updateSite) mailed(kind, to string) bool {
	u.t.Helper()
	list, err := u.srv.Mailer.ListMail(context.Background(), lanyard.MailFilter{Limit: 100})
	if err != nil {
		u.t.Fatal(err)
	}
	return slices.ContainsFunc(list, func(m *lanyard.MailMessage) bool { return m.Kind == kind && slices.Contains(m.To, to) })
}

// cardNow is the card as the administrator sees it now.
func (u *updateSite) cardNow() *apiv1.CardView {
	u.t.Helper()
	var v apiv1.CardView
	code, body := u.api("GET", "/api/v1/cards/"+strconv.FormatInt(u.card.ID, 10), nil)
	if code != 200 || json.Unmarshal(body, &v) != nil {
		u.t.Fatalf("GET card: %d %s", code, body)
	}
	return &v
}

// certOf is the card's certificate of template in status.
func certOf(v *apiv1.CardView, template string, status lanyard.CertStatus) *apiv1.CardCertificate {
	for _, c := range v.Certificates {
		if c.Template == template && c.Status == status {
			return c
		}
	}
	return nil
}

// TestBrowserUpdateCard (issue 17): 350 days after the issue the smart
// card logon certificate expires within the renewal window: Self-Service
// shows the banner, the card menu's Update card opens the dialog with the
// renewal and its reason, and updating writes a new certificate and
// revokes the old one; the banner is gone after.
func TestBrowserUpdateCard(t *testing.T) {
	u := mustUpdateSite(t)
	old := certOf(u.card, "smartcard-logon", lanyard.CertWritten)
	if old == nil {
		t.Fatalf("issued card without its logon certificate: %+v", u.card.Certificates)
	}
	if v := u.cardNow(); v.Update == nil || !v.Update.Due {
		t.Fatalf("the card's update 350 days on: %+v", v.Update)
	}

	b := mustBrowser(t, u.site)
	b.Login("alice", password)
	b.Visit("/")
	banner := "#update-banner-" + strconv.FormatInt(u.card.ID, 10)
	b.WaitFor("the banner", `(document.querySelector('`+banner+`')?.textContent ?? '').startsWith('Card Office card: certificate smartcard-logon expires on ') &&
		document.querySelector('`+banner+`').textContent.endsWith('connect the card and choose Update card.')`)
	b.CheckAccessible("Self-Service home with the update banner")
	b.Shot("update-banner")
	b.Run("open the card menu", chromedp.Click(chromedp.CSS(`article[data-card-id="`+strconv.FormatInt(u.card.ID, 10)+`"] details.menu summary`)))
	b.Run("Update card", chromedp.Click(chromedp.CSS("#card-update-"+strconv.FormatInt(u.card.ID, 10))))
	b.WaitFor("the options", `(() => { const rows = [...document.querySelectorAll('#update-options tbody tr')].map((r) => r.textContent);
		return rows.some((r) => r.includes('9a') && r.includes('smartcard-logon') && r.includes('Renew') && r.includes('expires soon') && r.includes('New key') && r.includes('`+old.Serial+`'))
			&& !document.querySelector('#update-submit').disabled; })()`)
	b.CheckAccessible("Update card dialog")
	b.Shot("update-dialog")
	b.Run("update", chromedp.Click(chromedp.CSS("#update-submit")))
	b.WaitFor("updated", `(document.querySelector('#update-result')?.textContent ?? '') === 'The card is updated.'`)
	b.Shot("update-done")

	v := u.cardNow()
	renewed := certOf(v, "smartcard-logon", lanyard.CertWritten)
	if renewed == nil || renewed.Serial == old.Serial {
		t.Fatalf("after the update: %+v", v.Certificates)
	}
	if c := certOf(v, "smartcard-logon", lanyard.CertRevoked); c == nil || c.Serial != old.Serial {
		t.Errorf("the old certificate is not revoked: %+v", v.Certificates)
	}
	if v.Update == nil || v.Update.Due || v.Update.UnfinishedOperation != nil {
		t.Errorf("the card's update after: %+v", v.Update)
	}
	if !u.mailed("card_updated", "alice@example.com") {
		t.Error("alice was not told of the update (card_updated)")
	}
	b.Run("close", chromedp.Click(chromedp.CSS(`#update-dialog .buttons button`)))
	b.WaitFor("the banner is gone", `!document.querySelector('`+banner+`') && document.querySelector('#cards article')`)
}

// TestBrowserCancelCardUpdate (issue 17): under a documents check that
// sends every certificate to the CA, alice's update waits for a CA
// manager. Self-Service says so in the banner and offers Continue card
// update; an administrator cancels it on the console's card page with a
// comment (required), and the card keeps its certificate, nothing
// waiting.
func TestBrowserCancelCardUpdate(t *testing.T) {
	u := mustUpdateSite(t)
	old := certOf(u.card, "smartcard-logon", lanyard.CertWritten)
	u.editPolicy(func(settings map[string]any) {
		settings["documents"] = map[string]any{"check": "certificate_request"}
	})
	var res apiv1.UpdateCardResult
	code, body := u.apiAs(u.alice, "POST", "/api/v1/cards/"+strconv.FormatInt(u.card.ID, 10)+"/update", map[string]any{"workstation_id": 1, "reader": "Reader 0"})
	if code != 200 || json.Unmarshal(body, &res) != nil || res.State != "pending" {
		t.Fatalf("update: %d %s", code, body)
	}
	id := strconv.FormatInt(u.card.ID, 10)
	if !u.mailed("card_update_pending", "alice@example.com") {
		t.Error("alice was not told that the update waits (card_update_pending)")
	}

	alice := mustBrowser(t, u.site)
	alice.Login("alice", password)
	alice.Visit("/cards/" + id)
	alice.WaitFor("pending", `(document.querySelector('#update-banner-`+id+`')?.textContent ?? '').includes('an update of its contents is pending — once it is approved, connect the card and choose Continue card update.') &&
		document.querySelector('#card-update-continue-`+id+`') && !document.querySelector('#card-update-`+id+`') && !document.querySelector('#card-update-cancel-`+id+`')`)
	alice.CheckAccessible("card page with a pending update")
	alice.Shot("update-pending")

	root := mustBrowser(t, u.site)
	root.Login("root", password)
	root.Visit("/console/cards/" + id)
	root.WaitFor("Cancel card update", `document.querySelector('#card-update-cancel-`+id+`')`)
	root.Run("open it", chromedp.Click(chromedp.CSS("#card-update-cancel-"+id)))
	root.WaitFor("the dialog", `document.querySelector('#update-cancel-comment') && document.activeElement === document.querySelector('#update-cancel-comment')`)
	root.CheckAccessible("Cancel card update dialog")
	root.Run("no comment", chromedp.Click(chromedp.CSS("#update-cancel-submit")))
	root.WaitFor("the comment is asked for", `[...document.querySelectorAll('dialog .status')].some((e) => e.textContent.includes('Say why the card update is cancelled'))`)
	root.Run("a comment", chromedp.SendKeys(chromedp.CSS("#update-cancel-comment"), "alice renews next month with her new card"),
		chromedp.Click(chromedp.CSS("#update-cancel-submit")))
	root.WaitFor("cancelled", `document.querySelector('#card-status').textContent === 'The card update is cancelled.' && !document.querySelector('#card-update-cancel-`+id+`')`)
	root.Shot("update-cancelled")

	v := u.cardNow()
	if v.Update == nil || v.Update.UnfinishedOperation != nil {
		t.Errorf("after the cancel: %+v", v.Update)
	}
	if c := certOf(v, "smartcard-logon", lanyard.CertWritten); c == nil || c.Serial != old.Serial {
		t.Errorf("the card's certificate after the cancel: %+v", v.Certificates)
	}
	if !u.mailed("card_update_cancelled", "alice@example.com") {
		t.Error("alice was not told of the cancel (card_update_cancelled)")
	}
}

// TestBrowserContinueCardUpdate (issue 17): alice's update waits for a
// CA manager; once approved, the card menu's Continue card update writes
// the new certificate (no PIN asked) and the old one is revoked.
func TestBrowserContinueCardUpdate(t *testing.T) {
	u := mustUpdateSite(t)
	old := certOf(u.card, "smartcard-logon", lanyard.CertWritten)
	u.mustUser("carol", password, "ca_manager")
	// The logon template now needs a CA manager's approval.
	code, body := u.api("GET", "/api/v1/templates/smartcard-logon", nil)
	var tpl map[string]any
	if code != 200 || json.Unmarshal(body, &tpl) != nil {
		t.Fatalf("GET template: %d %s", code, body)
	}
	tpl["requires_ca_approval"] = true
	if code, body := u.api("PUT", "/api/v1/templates/smartcard-logon", tpl); code != 200 {
		t.Fatalf("PUT template: %d %s", code, body)
	}
	id := strconv.FormatInt(u.card.ID, 10)
	if code, body := u.apiAs(u.alice, "POST", "/api/v1/cards/"+id+"/update", map[string]any{"workstation_id": 1, "reader": "Reader 0"}); code != 200 {
		t.Fatalf("update: %d %s", code, body)
	}
	var reqs []apiv1.RequestView
	code, body = u.api("GET", "/api/v1/requests?state=pending", nil)
	if code != 200 || json.Unmarshal(body, &reqs) != nil || len(reqs) != 1 {
		t.Fatalf("pending requests: %d %s", code, body)
	}
	var tok apiv1.NewToken
	if code, body := u.api("POST", "/api/v1/tokens", map[string]any{"user": "carol", "ttl": "1h"}); code != 201 || json.Unmarshal(body, &tok) != nil {
		t.Fatalf("token: %d %s", code, body)
	}
	if code, body := u.apiAs(tok.Secret, "POST", "/api/v1/requests/"+strconv.FormatInt(reqs[0].ID, 10)+"/approve", map[string]any{"comment": "renewal checked"}); code != 200 {
		t.Fatalf("approve: %d %s", code, body)
	}

	b := mustBrowser(t, u.site)
	b.Login("alice", password)
	b.Visit("/cards/" + id)
	b.WaitFor("Continue card update", `document.querySelector('#card-update-continue-`+id+`')`)
	b.Run("continue", chromedp.Click(chromedp.CSS("#card-update-continue-"+id)))
	b.WaitFor("the dialog", `document.querySelector('#update-continue-hint')?.textContent.includes('no PIN is asked')`)
	b.CheckAccessible("Continue card update dialog")
	b.Run("go on", chromedp.Click(chromedp.CSS(`dialog form button[type=submit]`)))
	b.WaitFor("updated", `(document.querySelector('#update-result')?.textContent ?? '') === 'The card is updated.' &&
		[...document.querySelectorAll('dialog tbody tr')].some((r) => r.textContent.includes('`+old.Serial+`') && r.textContent.includes('Done'))`)
	b.Shot("update-continued")
	b.Run("close", chromedp.Click(chromedp.CSS(`dialog .buttons button`)))
	b.WaitFor("Update card is back", `document.querySelector('#card-update-`+id+`') && !document.querySelector('#update-banner-`+id+`')`)

	v := u.cardNow()
	if c := certOf(v, "smartcard-logon", lanyard.CertWritten); c == nil || c.Serial == old.Serial {
		t.Errorf("after Continue: %+v", v.Certificates)
	}
	if c := certOf(v, "smartcard-logon", lanyard.CertRevoked); c == nil || c.Serial != old.Serial {
		t.Errorf("the old certificate is not revoked: %+v", v.Certificates)
	}
	if !u.mailed("card_updated", "alice@example.com") {
		t.Error("alice was not told of the update (card_updated)")
	}
}

// TestBrowserConsoleRenewNow (issue 17): in the console an administrator's
// Update card dialog offers to renew a certificate that is not due; the
// renewal, on alice's behalf, waits for a CA manager.
func TestBrowserConsoleRenewNow(t *testing.T) {
	u := mustUpdateSite(t)
	id := strconv.FormatInt(u.card.ID, 10)
	b := mustBrowser(t, u.site)
	b.Login("root", password)
	b.Visit("/console/cards/" + id)
	b.Run("Update card", chromedp.Click(chromedp.CSS("#card-update-"+id)))
	b.WaitFor("the options", `document.querySelector('#update-renew input[name=update-renew][value="document-signing"]') &&
		[...document.querySelectorAll('#update-options tbody tr')].some((r) => r.textContent.includes('document-signing') && r.textContent.includes('Keep'))`)
	b.CheckAccessible("console Update card dialog")
	b.Run("renew document signing now", chromedp.Click(chromedp.CSS(`#update-renew input[value="document-signing"]`)), chromedp.Click(chromedp.CSS("#update-submit")))
	b.WaitFor("pending", `(document.querySelector('#update-result')?.textContent ?? '').startsWith('Card update pending') &&
		[...document.querySelectorAll('dialog tbody tr')].filter((r) => r.textContent.includes('Renew')).length === 2`)
	b.Shot("console-renew-now")
	var reqs []apiv1.RequestView
	code, body := u.api("GET", "/api/v1/requests?state=pending", nil)
	if code != 200 || json.Unmarshal(body, &reqs) != nil || len(reqs) != 2 {
		t.Fatalf("pending requests: %d %s", code, body)
	}
}
