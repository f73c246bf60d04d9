//go:build integration

package e2e

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/client"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/web/uitest"
)

const robustPIN = "13572468"

// startIssue posts an issue of the card in the vpcd reader with the
// optional secure-email template, in the background.
func (s *stack) startIssue(c *client.Client) <-chan error {
	errc := make(chan error, 1)
	in := apiv1.IssueCardInput{CardTarget: s.target(), Templates: []string{"secure-email"}, UserPIN: robustPIN}
	go func() {
		var res apiv1.IssueCardResult
		_, err := c.Post(context.Background(), "/api/v1/issue", in, &res)
		errc <- err
	}()
	return errc
}

// wantInterrupted waits for the issue request to fail as interrupted and
// checks that the card's operation is interrupted at step.
func (s *stack) wantInterrupted(errc <-chan error, serial, step string) *apiv1.CardView {
	s.t.Helper()
	select {
	case err := <-errc:
		if lanyard.ErrorCode(err) != lanyard.EUnavailable || !strings.Contains(err.Error(), "Continue card issue") {
			s.t.Fatalf("the interrupted issue answered %v (code %s), want unavailable, to be continued", err, lanyard.ErrorCode(err))
		}
	case <-time.After(30 * time.Second):
		s.t.Fatal("the issue did not end within 30 s of the interruption")
	}
	v := s.cardBySerial(serial)
	if len(v.Operations) == 0 {
		s.t.Fatalf("card %s has no operations", serial)
	}
	op := v.Operations[0]
	if op.Kind != lanyard.OpIssue || op.State != lanyard.OpInterrupted || op.Step != step {
		s.t.Fatalf("operation after the interruption: %s %s at step %q (%s), want issue interrupted at %q", op.Kind, op.State, op.Step, op.Error, step)
	}
	s.t.Logf("interrupted at %s: %s", op.Step, op.Error)
	return v
}

// checkKnown checks that every certificate on the card is one the server
// records for it.
func (s *stack) checkKnown(tk *token, cardID int64, wantSlots ...string) {
	s.t.Helper()
	v := s.cardView(cardID)
	certs := tk.certs()
	if len(certs) != len(wantSlots) {
		s.t.Errorf("the card holds %d certificates, want %d (slots %v)", len(certs), len(wantSlots), wantSlots)
	}
	for sl, c := range certs {
		known := false
		for _, r := range v.Certificates {
			known = known || strings.EqualFold(r.Serial, c.SerialNumber.Text(16))
		}
		if !known {
			s.t.Errorf("slot %s holds certificate %x (%s), which the server does not know", sl, c.SerialNumber, c.Subject)
		}
	}
}

// continueIssue is Continue card issue on the card in the vpcd reader.
func (s *stack) continueIssue(c *client.Client, cardID int64) *apiv1.IssueCardResult {
	s.t.Helper()
	var res apiv1.IssueCardResult
	in := apiv1.ContinueInput{CardTarget: s.target(), UserPIN: robustPIN}
	if _, err := c.Post(context.Background(), "/api/v1/cards/"+strconv.FormatInt(cardID, 10)+"/continue", in, &res); err != nil {
		s.t.Fatalf("Continue card issue: %v", err)
	}
	if res.State != "issued" {
		s.t.Fatalf("Continue card issue ended %s, want issued", res.State)
	}
	return &res
}

// isGenerate matches GENERATE ASYMMETRIC KEY PAIR for slot.
func isGenerate(slot byte) func([]byte) bool {
	return func(cmd []byte) bool { return len(cmd) >= 4 && cmd[1] == 0x47 && cmd[3] == slot }
}

// isPutCert matches (the first part of) PUT DATA of a slot's certificate
// object, e.g. 5FC10B for 9D.
func isPutCert(tag ...byte) func([]byte) bool {
	want := append([]byte{0x5C, 0x03}, tag...)
	return func(cmd []byte) bool { return len(cmd) >= 4 && cmd[1] == 0xDB && bytes.Contains(cmd, want) }
}

// TestIssueAgentKilledThenContinued kills the agent in the middle of an
// issue: the card holds back the GENERATE for the second key (9D), so the
// 9A certificate is issued and recorded but nothing is written yet. The
// operation becomes interrupted; no certificate the server does not know
// is on the card; the agent, restarted with the same state (no new
// pairing), serves Continue card issue, which finishes the issue.
func TestIssueAgentKilledThenContinued(t *testing.T) {
	s := newStack(t)
	cal, _ := s.user("cal")
	s.pair("cal")
	c := newVCard(t)
	c.holdAt(isGenerate(0x9D))
	s.insert(c)

	errc := s.startIssue(cal)
	c.waitHeld(t, "GENERATE for slot 9D")
	s.agent.cancel() // the agent process is killed
	v := s.wantInterrupted(errc, c.serial, "issued:9a")
	c.release <- true // the card did get the command; its answer reaches no one
	s.agent.stop(t)
	if len(v.Certificates) != 1 || v.Certificates[0].Status != "valid" || v.Certificates[0].Slot != "9a" {
		t.Fatalf("after the interruption the server records %+v, want the 9A certificate, valid (not yet written)", v.Certificates)
	}

	tk := openToken(t, s.reader)
	s.checkKnown(tk, v.ID) // nothing was written

	s.restartAgent()
	s.waitState("showing the card again", func(st lanyard.WorkstationState) bool { return s.readerState(st).Serial == c.serial })
	s.continueIssue(cal, v.ID)
	s.agent.stop(t)
	s.checkIssued(tk, v.ID, robustPIN, "9a", "9d")
}

// TestIssueCardPulledThenContinued pulls the card while the 9D
// certificate is being written (9A is written): the operation becomes
// interrupted, the card holds only the certificate the server recorded
// as written; put back, Continue card issue in the card menu of Your
// cards (Self-Service) finishes it.
func TestIssueCardPulledThenContinued(t *testing.T) {
	s := newStack(t)
	dee, _ := s.user("dee")
	s.pair("dee")
	c := newVCard(t)
	c.holdAt(isPutCert(0x5F, 0xC1, 0x0B))
	s.insert(c)

	errc := s.startIssue(dee)
	c.waitHeld(t, "PUT DATA of the 9D certificate")
	s.pull(c)
	v := s.wantInterrupted(errc, c.serial, "written:9a")

	s.insert(c)
	tk := openToken(t, s.reader)
	s.checkKnown(tk, v.ID, "9a")

	s.waitState("showing the card again", func(st lanyard.WorkstationState) bool { return s.readerState(st).Serial == c.serial })
	b := mustBrowser(t, s.srv.URL)
	b.Login("dee", password)
	b.WaitFor("the interrupted card under Your cards", `document.querySelector('#cards').textContent.includes(`+uitest.JSString(c.serial)+`)`)
	b.Run("open the card menu and choose Continue card issue",
		chromedp.Click(chromedp.CSS(`#cards details.menu summary`)),
		chromedp.Click(chromedp.CSS(`#cards details.menu button`)))
	b.WaitFor("the Continue card issue dialog", `!!document.querySelector('#continue-user-pin')`)
	b.CheckAccessible("continue dialog")
	b.Shot("continue-dialog")
	b.Run("enter the PINs and continue",
		chromedp.SendKeys(chromedp.CSS("#continue-user-pin"), robustPIN),
		chromedp.Click(chromedp.CSS(`dialog[open] button[type=submit]`)))
	b.WaitFor("the card issued", `document.querySelector('dialog[open]') && document.querySelector('dialog[open]').textContent.includes('The card is issued.')`)
	b.Shot("continue-done")
	s.agent.stop(t)
	s.checkIssued(tk, v.ID, robustPIN, "9a", "9d")
	b.CheckConsole()
}
