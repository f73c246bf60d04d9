//go:build integration

package ui_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/web/uitest"
)

// These tests drive headless Chromium against a real server (SQLite, the
// built-in CA): what a person sees and does, with every page's console
// checked for CSP violations and script errors when the test ends.

func TestBrowserLogin(t *testing.T) {
	s := mustSite(t)
	s.mustUser("ann", password)
	b := mustBrowser(t, s)

	b.Visit("/")
	if p := b.Path(); p != "/login" {
		t.Fatalf("unauthenticated / went to %s, want /login", p)
	}
	b.CheckAccessible("login")
	b.Shot("01-login")

	b.Run("wrong password",
		chromedp.SendKeys(chromedp.CSS("#login"), "ann"),
		chromedp.SendKeys(chromedp.CSS("#password"), "not the password"),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
	)
	b.WaitFor("error shown", `document.querySelector('#login-error').textContent !== ''`)
	if got := b.Text("#login-error"); !strings.Contains(got, "Wrong login or password") {
		t.Fatalf("wrong password shows %q", got)
	}
	if f := b.Focused(); f != "password" {
		t.Errorf("after a wrong password focus is on %q, want the password field", f)
	}
	b.Shot("02-login-wrong-password")

	b.Run("right password",
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
	)
	b.WaitFor("Your cards", `location.pathname === '/'`)
	b.Settle()
	if h := b.Text("h1"); h != "Your cards" {
		t.Fatalf("after login the page is %q", h)
	}
	if b.Text(".account strong") != "User ann" {
		t.Errorf("greeting %q", b.Text(".account strong"))
	}
	b.CheckAccessible("home")
	b.Shot("03-your-cards")

	for i, p := range []string{"/workstations", "/secret-questions", "/cards/1"} {
		b.Visit(p)
		b.CheckAccessible(p)
		b.Shot(fmt.Sprintf("%02d-%s", i+4, strings.ReplaceAll(strings.Trim(p, "/"), "/", "-")))
	}

	b.Run("log out", chromedp.Click(chromedp.CSS("#logout")))
	b.WaitFor("login page", `location.pathname === '/login'`)
	b.Visit("/")
	if p := b.Path(); p != "/login" {
		t.Fatalf("after logout / shows %s", p)
	}
}

func TestBrowserLoginThrottled(t *testing.T) {
	s := mustSite(t)
	s.mustUser("bob", password)
	b := mustBrowser(t, s)
	b.Visit("/login")
	b.Run("type login", chromedp.SendKeys(chromedp.CSS("#login"), "bob"))
	var msg string
	for i := 0; i < 6; i++ {
		b.Run("wrong password",
			chromedp.SendKeys(chromedp.CSS("#password"), "guess"+fmt.Sprint(i)),
			chromedp.Click(chromedp.CSS("#login-form button[type=submit]")))
		b.WaitFor("answer", `document.querySelector('#login-error').textContent !== '' && !document.querySelector('#login-form button').disabled`)
		msg = b.Text("#login-error")
		uitest.Eval[string](b, `document.querySelector('#login-error').textContent = ''`)
	}
	if !strings.Contains(msg, "Too many failed logins") {
		t.Fatalf("sixth wrong password shows %q, want the throttling message", msg)
	}
	b.Run("type again", chromedp.SendKeys(chromedp.CSS("#password"), "x"), chromedp.Click(chromedp.CSS("#login-form button[type=submit]")))
	b.WaitFor("answer", `document.querySelector('#login-error').textContent !== ''`)
	b.Shot("login-throttled")
}

func TestBrowserLoginByKeyboard(t *testing.T) {
	s := mustSite(t)
	s.mustUser("kim", password)
	b := mustBrowser(t, s)
	b.Visit("/login")
	if f := b.Focused(); f != "login" {
		t.Fatalf("the login page opens with focus on %q, want the login field", f)
	}
	b.Run("type login", chromedp.KeyEvent("kim"), chromedp.KeyEvent("\t"))
	if f := b.Focused(); f != "password" {
		t.Fatalf("Tab from login goes to %q, want password", f)
	}
	b.Run("type password", chromedp.KeyEvent(password), chromedp.KeyEvent("\t"))
	if f := b.Focused(); f != "button" {
		t.Fatalf("Tab from password goes to %q, want the Log in button", f)
	}
	b.Shot("login-keyboard")
	b.Run("press Enter", chromedp.KeyEvent("\r"))
	b.WaitFor("Your cards", `location.pathname === '/'`)
	b.Settle()

	// The first Tab reaches the skip link; Enter moves focus to the content.
	b.Run("Tab", chromedp.KeyEvent("\t"))
	if cls := uitest.Eval[string](b, `document.activeElement.className`); cls != "skip" {
		t.Fatalf("first Tab on a page reaches %q, want the skip link", cls)
	}
	b.Run("Enter", chromedp.KeyEvent("\r"))
	b.WaitFor("focus on main", `document.activeElement.id === 'main'`)
}

func TestBrowserConsoleRefusesUsers(t *testing.T) {
	s := mustSite(t)
	s.mustUser("ulla", password)
	b := mustBrowser(t, s)
	b.Login("ulla", password)
	if n := uitest.Eval[int](b, `document.querySelectorAll('a[href="/console/"]').length`); n != 0 {
		t.Errorf("an ordinary user sees %d links to the console", n)
	}
	b.Visit("/console/users")
	if h := b.Text("h1"); h != "Not allowed" {
		t.Fatalf("console for an ordinary user shows %q", h)
	}
	if !strings.Contains(b.Text("main"), "management console is for operators") {
		t.Errorf("refusal does not say why: %q", b.Text("main"))
	}
	b.Shot("console-not-allowed")
}

func TestBrowserConsoleAdministrator(t *testing.T) {
	s := mustSite(t)
	s.mustUser("root", password, "administrator", "ca_manager")
	b := mustBrowser(t, s)
	b.Login("root", password)
	b.Visit("/console/")
	b.CheckAccessible("console")
	b.Shot("01-console")

	t.Run("create and edit a user", func(t *testing.T) {
		b.Visit("/console/users")
		b.Run("open New user", chromedp.Click(chromedp.CSS("#user-new")))
		b.WaitFor("dialog open", `document.querySelector('#user-dialog').open && document.activeElement.id === 'u-login'`)
		b.CheckAccessible("user dialog")
		b.Run("fill the form",
			chromedp.SendKeys(chromedp.CSS("#u-login"), "newbie"),
			chromedp.SendKeys(chromedp.CSS("#u-name"), "Nora Newbie"),
			chromedp.SendKeys(chromedp.CSS("#u-email"), "nora@example.com"),
		)
		b.Shot("02-users-new")
		b.Run("save", chromedp.Click(chromedp.CSS("#user-save")))
		b.WaitFor("created", `document.querySelector('#users-status').textContent.includes('User newbie created')`)
		if !strings.Contains(b.Text("#users"), "Nora Newbie") {
			t.Fatalf("the new user is not listed: %q", b.Text("#users"))
		}
		if f := b.Focused(); f != "user-new" {
			t.Errorf("after the dialog closes focus is on %q, want the New user button", f)
		}
		b.Shot("03-users")
		var u struct{ Roles []string }
		if code, body := s.api("GET", "/api/v1/users/newbie", nil); code != 200 {
			t.Fatalf("GET the new user: %d %s", code, body)
		} else {
			json.Unmarshal(body, &u)
		}

		b.Run("edit", chromedp.Click(chromedp.CSS(`button[aria-label="Edit newbie"]`)))
		b.WaitFor("edit dialog", `document.querySelector('#user-dialog').open`)
		// Granting a staff role needs a new password in the same change.
		b.Run("make operator without a password", chromedp.Click(chromedp.CSS(`#user-form input[value=operator]`)), chromedp.Click(chromedp.CSS("#user-save")))
		b.WaitFor("refused", `document.querySelector('#user-error').textContent.includes('set a new password when granting a staff role')`)
		b.Run("make operator", chromedp.SendKeys(chromedp.CSS("#u-password"), "a new password for the new operator"), chromedp.Click(chromedp.CSS("#user-save")))
		b.WaitFor("saved", `document.querySelector('#users-status').textContent.includes('User newbie saved')`)
		_, body := s.api("GET", "/api/v1/users/newbie", nil)
		json.Unmarshal(body, &u)
		if strings.Join(u.Roles, ",") != "user,operator" {
			t.Fatalf("roles after edit: %v", u.Roles)
		}
	})

	t.Run("feature switches of the TPM card kinds", func(t *testing.T) {
		b.Visit("/console/card-types")
		b.WaitFor("features loaded", `document.querySelector('#features-form') && document.querySelector('#list table')`)
		if uitest.Eval[bool](b, `document.querySelector('#feature-tpm').checked || document.querySelector('#feature-platform').checked`) {
			t.Fatal("a TPM card kind is on in a new installation")
		}
		b.CheckAccessible("card types with features")
		b.Run("turn on TPM virtual smart cards", chromedp.Click(chromedp.CSS("#feature-tpm")), chromedp.Click(chromedp.CSS(`#features-form button[type=submit]`)))
		b.WaitFor("saved", `document.querySelector('#features-status').textContent.includes('Features saved')`)
		b.Shot("03b-features")
		var f struct {
			TPM      bool `json:"tpm_virtual_card"`
			Platform bool `json:"platform_credential"`
		}
		_, body := s.api("GET", "/api/v1/features", nil)
		if err := json.Unmarshal(body, &f); err != nil || !f.TPM || f.Platform {
			t.Fatalf("features after saving: %s", body)
		}
	})

	t.Run("policy with an invalid value shows the server's message", func(t *testing.T) {
		b.Visit("/console/policies")
		b.CheckAccessible("policies")
		b.WaitFor("the policy list", `document.querySelector('main table')?.textContent.includes('Documents check')`)
		b.Shot("04-policies")
		b.Visit("/console/policies/default")
		b.WaitFor("editor", `document.querySelector('#obj-json').value.includes('"default"')`)
		// What the server says about the same change, asked directly.
		_, raw := s.api("GET", "/api/v1/policies/default", nil)
		var pol map[string]any
		json.Unmarshal(raw, &pol)
		pol["settings"].(map[string]any)["issuance"].(map[string]any)["max_cards_per_user"] = -1
		code, body := s.api("PUT", "/api/v1/policies/default", pol)
		var problem struct{ Detail string }
		json.Unmarshal(body, &problem)
		if code != 400 || problem.Detail == "" {
			t.Fatalf("the API accepts max_cards_per_user=-1: %d %s", code, body)
		}

		uitest.Eval[bool](b, `(() => { const ta = document.querySelector('#obj-json'); const o = JSON.parse(ta.value);
			o.settings.issuance.max_cards_per_user = -1; ta.value = JSON.stringify(o, null, 2); return true; })()`)
		b.Run("save", chromedp.Click(chromedp.CSS("#obj-save")))
		b.WaitFor("error", `document.querySelector('#obj-error').textContent !== ''`)
		if got := b.Text("#obj-error"); !strings.Contains(got, problem.Detail[1:]) {
			t.Fatalf("the page shows %q, want the server's %q", got, problem.Detail)
		}
		if f := b.Focused(); f != "obj-json" {
			t.Errorf("after a refused save focus is on %q, want the JSON field", f)
		}
		b.CheckAccessible("policy editor")
		b.Shot("05-policy-invalid")
	})

	t.Run("approve a pending CA request", func(t *testing.T) {
		id := pendingRequest(t, s)
		b.Visit("/console/requests")
		b.CheckAccessible("requests")
		b.Shot("06-requests")
		b.Run("approve", chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[aria-label="Approve request %d"]`, id))))
		b.WaitFor("dialog", `document.querySelector('#decide-dialog').open && document.activeElement.id === 'decide-comment'`)
		b.Run("comment", chromedp.SendKeys(chromedp.CSS("#decide-comment"), "identity checked"))
		b.Shot("07-approve-dialog")
		b.Run("confirm", chromedp.Click(chromedp.CSS("#decide-submit")))
		b.WaitFor("approved", `document.querySelector('#req-status').textContent.includes('approved')`)
		b.Shot("08-requests-after")
		_, body := s.api("GET", "/api/v1/requests?status=issued", nil)
		var issued []struct {
			ID      int64
			Comment string
		}
		json.Unmarshal(body, &issued)
		if len(issued) != 1 || issued[0].ID != id || issued[0].Comment != "identity checked" {
			t.Fatalf("issued requests after approval: %s", body)
		}
	})

	t.Run("create a template from the list page", func(t *testing.T) {
		b.Visit("/console/templates")
		b.Run("name it", chromedp.SendKeys(chromedp.CSS("#new-name"), "vpn-client"), chromedp.Click(chromedp.CSS("#new-form button[type=submit]")))
		b.WaitFor("editor", `location.pathname === '/console/templates/vpn-client' && document.querySelector('#obj-json').value.includes('vpn-client')`)
		b.Settle()
		b.Run("create", chromedp.Click(chromedp.CSS("#obj-save")))
		b.WaitFor("saved", `document.querySelector('#obj-status').textContent.includes('Saved')`)
		code, body := s.api("GET", "/api/v1/templates/vpn-client", nil)
		var created struct {
			RenewalKey string `json:"renewal_key"`
		}
		if code != 200 || json.Unmarshal(body, &created) != nil || created.RenewalKey != "new_key" {
			t.Fatalf("the template was not created renewing with a new key: %d %s", code, body)
		}
		if q := uitest.Eval[string](b, `location.search`); q != "" {
			t.Errorf("after creating, the page still says it is new: %q", q)
		}
		b.Shot("09-template-created")
	})

	t.Run("every console page loads", func(t *testing.T) {
		for i, p := range []string{"/console/cards", "/console/card-types", "/console/card-types/piv", "/console/templates", "/console/workstations", "/console/cards/1"} {
			b.Visit(p)
			b.CheckAccessible(p)
			b.Shot(fmt.Sprintf("%02d-%s", i+10, strings.ReplaceAll(strings.Trim(p, "/"), "/", "-")))
		}
	})
}

// pendingRequest queues a certificate request that needs a CA manager.
func pendingRequest(t *testing.T, s *site) int64 {
	t.Helper()
	s.mustUser("dave", password)
	if code, body := s.api("POST", "/api/v1/templates", map[string]any{
		"name": "esign", "display_name": "Document signing", "key_algorithms": []string{"ecp256"}, "validity_days": 365,
		"key_usage": []string{"digital_signature", "content_commitment"}, "ext_key_usage": []string{"document_signing"},
		"subject": map[string]any{"common_name": "{display_name}"}, "requires_ca_approval": true,
	}); code != 201 {
		t.Fatalf("template: %d %s", code, body)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(key.Public())
	pub := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	code, body := s.api("POST", "/api/v1/certificates", map[string]any{"template": "esign", "user": "dave", "public_key": string(pub)})
	var res struct{ Request struct{ ID int64 } }
	json.Unmarshal(body, &res)
	if code != 202 || res.Request.ID == 0 {
		t.Fatalf("request: %d %s", code, body)
	}
	return res.Request.ID
}

// TestBrowserYourCardsOverCardAPI: a user without cards sees the empty
// states of Your cards and Connected cards, not an error.
func TestBrowserYourCardsOverCardAPI(t *testing.T) {
	s := mustSite(t)
	for _, p := range []string{"/api/v1/cards", "/api/v1/connected-cards"} {
		if code, body := s.api("GET", p, nil); code != 200 {
			t.Fatalf("GET %s: %d %s", p, code, body)
		}
	}
	s.mustUser("ann", password)
	b := mustBrowser(t, s)
	b.Login("ann", password)
	if got := b.Text("#cards-status"); !strings.Contains(got, "You have no cards yet") {
		t.Errorf("Your cards without cards says %q", got)
	}
	if got := b.Text("#connected"); !strings.Contains(got, "No cards are connected") {
		t.Errorf("Connected cards without cards says %q", got)
	}
	b.Shot("your-cards-empty")
}
