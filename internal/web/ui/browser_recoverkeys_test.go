//go:build integration

package ui_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardtest"
	"github.com/lanyard-cms/lanyard/internal/web/uitest"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
)

// tokenFor is an API token of login.
func tokenFor(t *testing.T, s *site, login string) string {
	t.Helper()
	var tok apiv1.NewToken
	code, body := s.api("POST", "/api/v1/tokens", map[string]any{"user": login, "ttl": "1h"})
	if code != 201 || json.Unmarshal(body, &tok) != nil {
		t.Fatalf("token for %s: %d %s", login, code, body)
	}
	return tok.Secret
}

// retiredSerials are the certificate serials in the retired slots of
// the emulated card in reader "Reader 0" of workstation 1 that its Key
// History Object counts, from 82 up.
func (u *updateSite) retiredSerials(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	pc, err := piv.New(cardtest.Transport(u.access.Card(1, "Reader 0")), piv.Config{Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.Select(ctx); err != nil {
		t.Fatal(err)
	}
	h, err := personalize.ReadKeyHistory(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := 1; i <= h.OnCard; i++ {
		slot, _ := pivspec.RetiredSlot(i)
		c, err := pc.Certificate(ctx, slot)
		if err != nil {
			t.Fatalf("retired slot %d the key history counts: %v", i, err)
		}
		out = append(out, lanyard.SerialHex(c.SerialNumber))
	}
	return out
}

// TestBrowserRecoverKeysOntoCard (issue 17): Recover keys onto card in
// the card menus. An operator on the console's card page of alice's card
// is told that it needs approved key recovery requests of theirs while
// they have none; once an administrator approved the operator's request
// for alice's older key, the dialog lists it, and the card gets that key
// in retired slot 82. Then alice, in Self-Service, recovers all her
// earlier keys onto her card with her account password and
// authenticator code (a wrong code refused by the server): the newest
// goes to 82, the other to 83.
func TestBrowserRecoverKeysOntoCard(t *testing.T) {
	u := mustUpdateSite(t)
	u.mustUser("olivia", password, "operator")
	u.mustUser("adam", password, "administrator")
	older, _ := archivedKeyOn(t, u.site, "alice", "k-alice-1")
	newer, _ := archivedKeyOn(t, u.site, "alice", "k-alice-2")
	enrolTOTP(t, u.site, "alice")
	enrolTOTP(t, u.site, "adam")
	id := strconv.FormatInt(u.card.ID, 10)

	op := mustBrowser(t, u.site)
	op.Login("olivia", password)
	op.Visit("/console/cards/" + id)
	op.Run("Recover keys onto card", chromedp.Click(chromedp.CSS("#card-recover-keys-"+id)))
	op.WaitFor("told to ask first", `[...document.querySelectorAll('.status')].some((s) => s.textContent.includes('needs key recovery requests of yours that a second person approved'))`)
	if uitest.Eval[bool](op, `document.querySelector('dialog[aria-labelledby="recover-keys-title"]') !== null`) {
		t.Error("the dialog opened without requests")
	}

	// olivia asks for alice's older key; adam approves.
	oliviaTok := tokenFor(t, u.site, "olivia")
	var req apiv1.KeyRecoveryRequest
	code, body := u.apiAs(oliviaTok, "POST", "/api/v1/key-recoveries", map[string]any{"archived_key_id": older.ID, "reason": "alice's card gets her old mail key"})
	if code != 201 || json.Unmarshal(body, &req) != nil {
		t.Fatalf("request: %d %s", code, body)
	}
	code, body = u.apiAs(tokenFor(t, u.site, "adam"), "POST", "/api/v1/key-recoveries/"+strconv.FormatInt(req.ID, 10)+"/approve",
		map[string]any{"comment": "ok", "account_password": password, "code": webtest.TOTPCode(t, u.srv.URL, "adam")})
	if code != 200 {
		t.Fatalf("approve: %d %s", code, body)
	}
	op.Visit("/console/cards/" + id)
	op.Run("Recover keys onto card", chromedp.Click(chromedp.CSS("#card-recover-keys-"+id)))
	box := "#recover-keys-request-" + strconv.FormatInt(req.ID, 10)
	op.WaitFor("the approved request listed", `document.querySelector('`+box+`') !== null`)
	op.CheckAccessible("console Recover keys onto card dialog")
	op.Shot("recover-keys-console")
	op.Run("recover", chromedp.Click(chromedp.CSS(box)), chromedp.Click(chromedp.CSS(`dialog[aria-labelledby="recover-keys-title"] button[type=submit]`)))
	op.WaitFor("recovered", `(document.querySelector('#recover-keys-result')?.textContent ?? '').includes('now holds 1 earlier key')`)
	if got := u.retiredSerials(t); len(got) != 1 || got[0] != older.CertificateSerial {
		t.Fatalf("retired slots after the operator's recovery: %v, want %s", got, older.CertificateSerial)
	}
	op.CheckConsole()

	b := mustBrowser(t, u.site)
	b.Login("alice", password)
	b.Visit("/")
	b.Run("open the card menu", chromedp.Click(chromedp.CSS(`article[data-card-id="`+id+`"] details.menu summary`)))
	b.Run("Recover keys onto card", chromedp.Click(chromedp.CSS("#card-recover-keys-"+id)))
	b.WaitFor("the step-up", `document.querySelector('#recover-keys-account') !== null`)
	b.CheckAccessible("Self-Service Recover keys onto card dialog")
	b.Run("a wrong code", chromedp.SendKeys(chromedp.CSS("#recover-keys-account"), password),
		chromedp.SendKeys(chromedp.CSS("#recover-keys-code"), "000000"),
		chromedp.Click(chromedp.CSS(`dialog[aria-labelledby="recover-keys-title"] button[type=submit]`)))
	b.WaitFor("refused", `[...document.querySelectorAll('dialog .status')].some((s) => s.textContent.startsWith('The keys were not put on the card.'))`)
	uitest.Eval[bool](b, `(() => { document.getElementById('recover-keys-code').value = ''; return true; })()`)
	b.Run("the right code", chromedp.SendKeys(chromedp.CSS("#recover-keys-code"), webtest.TOTPCode(t, u.srv.URL, "alice")),
		chromedp.Click(chromedp.CSS(`dialog[aria-labelledby="recover-keys-title"] button[type=submit]`)))
	b.WaitFor("recovered", `(document.querySelector('#recover-keys-result')?.textContent ?? '').includes('now holds 2 earlier keys')`)
	b.Shot("recover-keys-self-service")
	if got := u.retiredSerials(t); len(got) != 2 || got[0] != newer.CertificateSerial || got[1] != older.CertificateSerial {
		t.Fatalf("retired slots after alice's recovery: %v, want %s, %s", got, newer.CertificateSerial, older.CertificateSerial)
	}
	b.CheckConsole()
}
