//go:build integration

package ui_test

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/web/uitest"
)

// TestBrowserConsoleSCIMTokens: an administrator creates a SCIM token on
// the console's SCIM provisioning page, sees its secret once, the token
// opens /scim/v2/, and revoking it on the page closes it again.
func TestBrowserConsoleSCIMTokens(t *testing.T) {
	s := mustSite(t)
	s.mustUser("root", password, "administrator")
	b := mustBrowser(t, s)
	b.Login("root", password)

	b.Visit("/console/scim")
	b.WaitFor("the empty list", `document.querySelector('#scim-status').textContent.includes('0 tokens')`)
	b.CheckAccessible("SCIM provisioning")
	if ep := b.Text("#scim-endpoint"); ep != s.srv.URL+"/scim/v2" {
		t.Errorf("endpoint %q", ep)
	}
	b.Run("a token without a name", chromedp.Click(chromedp.CSS("#scim-create")))
	b.WaitFor("the field's message", `document.querySelector('#scim-name').getAttribute('aria-invalid') === 'true'`)
	b.Run("create entra-id", chromedp.SetValue(chromedp.CSS("#scim-name"), "entra-id"), chromedp.Click(chromedp.CSS("#scim-create")))
	b.WaitFor("the secret", `document.querySelector('#scim-secret-value').value.startsWith('lys_')`)
	b.WaitFor("the listed token", `document.querySelector('#scim-tokens').textContent.includes('entra-id')`)
	b.Shot("console-scim-token")
	secret := uitest.Eval[string](b, `document.querySelector('#scim-secret-value').value`)
	if code, body := s.apiAs(secret, "GET", "/scim/v2/Users", nil); code != 200 {
		t.Fatalf("SCIM with the new token: %d %s", code, body)
	}
	b.Run("revoke", chromedp.Click(chromedp.CSS("#scim-tokens button.danger")))
	b.WaitFor("the confirmation", `document.querySelector('dialog[open] button.danger') !== null`)
	b.Run("confirm", chromedp.Click(chromedp.CSS("dialog[open] button.danger")))
	b.WaitFor("revoked", `document.querySelector('#scim-status').textContent.includes('is revoked')`)
	b.WaitFor("listed as revoked", `document.querySelector('#scim-tokens tbody').textContent.includes('revoked')`)
	if code, _ := s.apiAs(secret, "GET", "/scim/v2/Users", nil); code != 401 {
		t.Fatalf("SCIM with the revoked token: %d", code)
	}
}
