//go:build integration

package ui_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/notify/mailpittest"
)

// TestBrowserNotifications: an administrator sets up SMTP, sends a test
// e-mail that a real SMTP server receives, sees a failed message
// highlighted and retries it, and has an invalid template refused with
// the parser's message.
func TestBrowserNotifications(t *testing.T) {
	smtp := mailpittest.MustEnv(t)
	s := mustSite(t)
	s.mustUser("root", password, "administrator")
	b := mustBrowser(t, s)
	b.Login("root", password)
	b.Visit("/console/notifications")
	b.WaitFor("loaded", `document.querySelector('#nt-status').textContent.includes('off')`)
	b.CheckAccessible("notifications")
	b.Shot("01-notifications")

	// A dead port first: the test e-mail fails once its attempts run out.
	dead := mailpittest.FreeAddr(t)
	_, deadPort := mailpittest.HostPort(t, dead)
	_, port := mailpittest.HostPort(t, smtp.SMTP)
	b.Run("settings",
		chromedp.Click(chromedp.CSS("#smtp-enabled")),
		chromedp.SendKeys(chromedp.CSS("#smtp-host"), "127.0.0.1"),
		chromedp.SetValue(chromedp.CSS("#smtp-security"), "none"),
		chromedp.SetValue(chromedp.CSS("#smtp-port"), strconv.Itoa(deadPort)),
		chromedp.SendKeys(chromedp.CSS("#smtp-from"), "Lanyard <lanyard@example.com>"),
		chromedp.Click(chromedp.CSS("#smtp-save")),
	)
	b.WaitFor("saved", `document.querySelector('#nt-status').textContent.includes('Settings saved')`)
	to := "browser-" + strings.ToLower(t.Name()) + "@example.com"
	b.Run("test e-mail", chromedp.SendKeys(chromedp.CSS("#test-to"), to), chromedp.Click(chromedp.CSS("#test-send")))
	b.WaitFor("queued", `document.querySelector('#nt-status').textContent.includes('is queued')`)
	for range 8 { // MaxAttempts with webtest's short backoff
		if _, err := s.srv.Mailer.DeliverDue(t.Context()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(110 * time.Millisecond) // webtest's MaxBackoff
	}
	b.Run("refresh", chromedp.Click(chromedp.CSS("#outbox-refresh")))
	b.WaitFor("failed row", `document.querySelector('#outbox tr.failed') !== null`)
	b.Shot("02-outbox-failed")

	b.Run("working port", chromedp.SetValue(chromedp.CSS("#smtp-port"), strconv.Itoa(port)), chromedp.Click(chromedp.CSS("#smtp-save")))
	b.WaitFor("saved again", `document.querySelector('#nt-status').textContent.includes('Settings saved')`)
	b.Run("retry", chromedp.Click(chromedp.CSS(`#outbox tr.failed button`)))
	b.WaitFor("retried", `document.querySelector('#nt-status').textContent.includes('queued again')`)
	if _, err := s.srv.Mailer.DeliverDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	mailpittest.Wait(t, smtp.API, to, 1)
	b.Run("refresh", chromedp.Click(chromedp.CSS("#outbox-refresh")))
	b.WaitFor("sent", `document.querySelector('#outbox .badge.sent') !== null && document.querySelector('#outbox tr.failed') === null`)

	b.Run("break a template", chromedp.SetValue(chromedp.CSS("#tpl-subject"), "Hello {{.User.Nope}}"), chromedp.Click(chromedp.CSS("#tpl-save")))
	b.WaitFor("refused", `document.querySelector('#tpl-error').textContent.includes('not valid')`)
	b.CheckAccessible("notifications after edits")
	b.Shot("03-template-refused")

	// A random PIN is never sent without TLS: it is refused when queued,
	// so the caller reports it not sent; over STARTTLS to a relay of the
	// company's own CA (pasted into the settings) the next one arrives.
	alice := &lanyard.User{Login: "alice", DisplayName: "Alice", Email: "alice-" + strings.ToLower(t.Name()) + "@example.com"}
	if err := s.srv.Mailer.RandomPIN(t.Context(), []string{alice.Email}, alice, &lanyard.Card{Serial: "4242"}, "97531864"); !lanyard.IsCode(err, lanyard.EUnavailable) || !strings.Contains(err.Error(), "no TLS") {
		t.Fatalf("a random PIN queued for a relay without TLS: %v", err)
	}
	_, tlsPort := mailpittest.HostPort(t, smtp.StartTLS)
	b.Run("STARTTLS with the company CA",
		chromedp.SetValue(chromedp.CSS("#smtp-host"), "localhost"),
		chromedp.SetValue(chromedp.CSS("#smtp-security"), "starttls"),
		chromedp.SetValue(chromedp.CSS("#smtp-port"), strconv.Itoa(tlsPort)),
		chromedp.SendKeys(chromedp.CSS("#smtp-username"), smtp.User),
		chromedp.SendKeys(chromedp.CSS("#smtp-password"), smtp.Password),
		chromedp.SetValue(chromedp.CSS("#smtp-ca"), smtp.CAPEM(t)),
		chromedp.Click(chromedp.CSS("#smtp-save")))
	b.WaitFor("saved with the CA", `document.querySelector('#nt-status').textContent.includes('Settings saved') && document.querySelector('#smtp-ca').value.includes('BEGIN CERTIFICATE')`)
	if err := s.srv.Mailer.RandomPIN(t.Context(), []string{alice.Email}, alice, &lanyard.Card{Serial: "4242"}, "86420975"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.srv.Mailer.DeliverDue(t.Context()); err != nil {
		t.Fatal(err)
	}
	if m := mailpittest.Wait(t, smtp.StartTLSAPI, alice.Email, 1)[0]; !strings.Contains(m.Text, "86420975") || strings.Contains(m.Text, "97531864") {
		t.Errorf("the PIN mail over STARTTLS: %q", m.Text)
	}
	b.CheckConsole()
}
