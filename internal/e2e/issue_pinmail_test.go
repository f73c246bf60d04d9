//go:build integration

package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/notify/mailpittest"
	"github.com/lanyard-cms/lanyard/internal/web/uitest"
)

// TestBrowserIssueMailRandomPIN is the guide's "If a random PIN was set
// during the card issue, it is displayed on your screen. If necessary,
// save your PIN and email it to yourself or your manager" (issue 14 item
// 2) on the real stack. The policy mails the PIN to the manager, whom
// finn has no address for: the dialog says the automatic mail was not
// sent, and offers *E-mail it to me* (not *to my manager*). With the
// relay switched to no TLS the click is refused with that reason; over
// STARTTLS it sends the PIN (from the server's sealed copy) to mailpit;
// a second click is refused: the PIN is sent once.
func TestBrowserIssueMailRandomPIN(t *testing.T) {
	s := newStack(t)
	s.user("finn")
	m := s.startMail()
	s.setPolicy(func(set map[string]any) {
		iss := section(set, "issuance")
		iss["random_user_pin"] = true
		rp := section(iss, "random_pin")
		rp["show_to_user"], rp["mail_to"] = true, "manager"
	})
	s.pair("finn")
	c := newVCard(t)
	s.insert(c)

	b := mustBrowser(t, s.srv.URL)
	b.Login("finn", password)
	b.openIssueDialog(s.reader, c.serial)
	b.Run("Issue", chromedp.Click(chromedp.CSS(`#issue-form button[type=submit]`)))
	b.WaitFor("Card issued", `document.querySelector('#issue-result-title')?.textContent === 'Card issued'`)
	pin := uitest.Eval[string](b.Browser, `document.querySelector('#random-pin')?.value ?? ''`)
	if !regexp.MustCompile(`^\d{8}$`).MatchString(pin) {
		t.Fatalf("the random PIN shown is %q, want 8 digits", pin)
	}
	if got := b.Text("#pin-mail-note"); got != "The PIN could not be e-mailed: no address for the recipients the policy names." {
		t.Errorf("the dialog says of the policy's mail %q", got)
	}
	if !b.exists("#pin-mail-user") || b.exists("#pin-mail-manager") {
		t.Fatalf("the dialog offers me: %v, my manager: %v; want only me (finn has no manager address)", b.exists("#pin-mail-user"), b.exists("#pin-mail-manager"))
	}
	b.CheckAccessible("Issue result with the PIN mail choices")
	b.Shot("01-random-pin-mail-choices")

	// A relay without TLS: the outbox refuses a PIN, and the dialog says why.
	_, port := mailpittest.HostPort(t, m.smtp)
	plain := apiv1.MailSettingsInput{Enabled: true, Host: "localhost", Port: port, Security: apiv1.SMTPNone, From: "Lanyard <lanyard@example.com>"}
	if _, err := s.admin.Do(context.Background(), "PUT", "/api/v1/notifications/settings", plain, nil); err != nil {
		t.Fatal(err)
	}
	clickMail := func(want string) string {
		t.Helper()
		b.Run("E-mail it to me", chromedp.Click(chromedp.CSS(`#pin-mail-user`)))
		b.WaitFor(want, `(t => t !== '' && t !== 'Sending…')(document.querySelector('#pin-mail-status')?.textContent ?? '')`)
		return b.Text("#pin-mail-status")
	}
	if got := clickMail("the no-TLS refusal"); !strings.Contains(got, "The PIN was not e-mailed: the mail relay has no TLS") {
		t.Errorf("over a relay without TLS the dialog says %q", got)
	}

	s.mailSettings(m.smtp, m.env.CAPEM(t))
	if got := clickMail("the PIN mailed"); got != "Your PIN was e-mailed to finn@example.com. It is sent only once." {
		t.Errorf("after E-mail it to me the dialog says %q", got)
	}
	b.Shot("02-random-pin-mailed")
	msgs := s.mail(m, "finn@example.com", 1)
	wantMail(t, msgs[0], "finn@example.com", "User PIN of card "+c.serial, pin)
	if strings.Contains(msgs[0].Subject, pin) {
		t.Error("the PIN is in the subject")
	}

	if got := clickMail("the second request refused"); got != "The PIN of this issue was already e-mailed to you; it is sent only once." {
		t.Errorf("a second E-mail it to me says %q", got)
	}
	b.Shot("03-random-pin-mail-refused")
	s.deliver()
	if got := mailpittest.Find(t, m.api, "finn@example.com"); len(got) != 1 {
		t.Errorf("%d messages to finn, want the one PIN mail", len(got))
	}
}
