//go:build integration

package ui_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
	"github.com/lanyard-cms/lanyard/internal/unblockcode"
	"github.com/lanyard-cms/lanyard/internal/web/uitest"
)

// TestBrowserRemoteSelfService: a user who cannot sign in opens /rss/,
// gives their user name, answers the questions the page shows (wrong
// first: refused with the same message an unknown user gets), and then
// sees their cards with their state, serial and type; Disable is offered
// on the issued card (the policy's Disable card), not on the disabled
// one. The issued card is a standard PIV card: its offline unblock
// response carries its PUK, and the page says what that discloses. The session is Remote Self-Service only: Self-Service still asks
// for a login.
func TestBrowserRemoteSelfService(t *testing.T) {
	s := mustSite(t)
	s.mustUser("rita", password)
	// Rita's answers, set as Self-Service does.
	answers := map[string]string{}
	var set []map[string]string
	for i, q := range []string{"What was the name of your first pet?", "In which city were you born?", "What was the make of your first car?"} {
		answers[q] = []string{"Rex", "Ghent", "Volvo"}[i]
		set = append(set, map[string]string{"question": q, "answer": answers[q]})
	}
	putAnswers(t, s, "rita", set)
	// Two cards: one issued, one disabled.
	now := time.Now()
	storetest.MustUpdate(t, s.srv.Store, func(tx lanyard.Tx) error {
		u, err := tx.UserByLogin("rita")
		if err != nil {
			return err
		}
		for _, c := range []*lanyard.Card{
			{Serial: "RSS00001", CardType: "piv", OwnerID: u.ID, State: lanyard.CardIssued, CreatedAt: now, UpdatedAt: now, IssuedAt: now},
			{Serial: "RSS00002", CardType: "piv", OwnerID: u.ID, State: lanyard.CardDisabled, CreatedAt: now, UpdatedAt: now, IssuedAt: now},
		} {
			if err := tx.CreateCard(c); err != nil {
				return err
			}
		}
		// The issued card is a standard PIV card with its own PUK, as its
		// issue records it.
		c, err := tx.CardBySerial("piv", "RSS00001")
		if err != nil {
			return err
		}
		if c.SealedPUK, err = s.srv.Sealer.Seal([]byte(rssPUK), cardops.CardPUKAAD(c.ID)); err != nil {
			return err
		}
		c.PUKState, c.OfflineScheme = lanyard.PUKRandom, "piv-puk"
		return tx.UpdateCard(c)
	})

	r := mustBrowser(t, s)
	ask := func(login string) []string {
		r.Visit("/rss/")
		r.CheckAccessible("rss: user name")
		r.Run("user name", chromedp.SendKeys(chromedp.CSS("#rss-login"), login), chromedp.Click(chromedp.CSS("#rss-name-form button[type=submit]")))
		r.WaitFor("questions", `!document.querySelector('#rss-answer-form').hidden`)
		return uitest.Eval[[]string](r, `[...document.querySelectorAll('#rss-questions label')].map(l => l.textContent)`)
	}
	answer := func(qs []string, wrong bool) {
		for i, q := range qs {
			a := answers[q]
			if a == "" { // a question rita did not answer (an unknown user's)
				a = "no idea"
			}
			if wrong && i == 0 {
				a = "not it"
			}
			r.Run("answer", chromedp.SendKeys(chromedp.CSS("#rss-a"+string(rune('0'+i))), a))
		}
		r.Run("sign in", chromedp.Click(chromedp.CSS("#rss-answer-form button[type=submit]")))
	}
	// An unknown user is asked too, and refused like wrong answers.
	ghost := ask("nobody-here")
	if len(ghost) != 3 {
		t.Fatalf("unknown user asked %q", ghost)
	}
	answer(ghost, true)
	r.WaitFor("refused", `document.querySelector('#rss-answer-error').textContent !== ''`)
	ghostMsg := r.Text("#rss-answer-error")
	qs := ask("rita")
	if len(qs) != 3 {
		t.Fatalf("rita asked %q", qs)
	}
	r.CheckAccessible("rss: questions")
	answer(qs, true)
	r.WaitFor("refused", `document.querySelector('#rss-answer-error').textContent !== ''`)
	if got := r.Text("#rss-answer-error"); got != ghostMsg || !strings.Contains(got, "wrong") {
		t.Errorf("wrong answers: %q; unknown user: %q; want the same", got, ghostMsg)
	}
	r.Shot("rss-01-refused")
	qs = ask("rita")
	answer(qs, false)
	r.WaitFor("cards", `!document.querySelector('#rss-cards-section').hidden && document.querySelectorAll('#rss-cards tbody tr').length === 2`)
	r.CheckAccessible("rss: cards")
	r.Shot("rss-02-cards")
	rows := uitest.Eval[[]string](r, `[...document.querySelectorAll('#rss-cards tbody tr')].map(tr => tr.textContent)`)
	for _, want := range []struct{ serial, state string }{{"RSS00001", "Issued"}, {"RSS00002", "Disabled"}} {
		if !anyRow(rows, func(row string) bool {
			return strings.Contains(row, want.serial) && strings.Contains(row, want.state) && strings.Contains(row, "piv")
		}) {
			t.Errorf("no row with %s %s: %q", want.serial, want.state, rows)
		}
	}
	if got := uitest.Eval[[]string](r, `[...document.querySelectorAll('#rss-cards button')].map(b => b.closest('tr').textContent.includes('RSS00001') ? 'issued:' + b.textContent : 'other:' + b.textContent)`); !slices.Equal(got, []string{"issued:Unblock offline", "issued:Disable"}) {
		t.Errorf("card buttons %q, want Unblock offline and Disable on the issued card only", got)
	}
	// Unblock offline: the form takes the challenge; a mistyped one gets
	// a clear error and nothing is answered.
	r.Run("unblock offline", chromedp.Click(chromedp.CSS("button[data-unblock]")))
	r.WaitFor("challenge form", `document.querySelector('[id^=rss-challenge-]') !== null`)
	r.CheckAccessible("rss: offline unblock")
	r.Run("challenge", chromedp.SendKeys(chromedp.CSS("input[id^=rss-challenge-]"), "7K3M-9QXA-2D4F-H8TZ"), chromedp.Click(chromedp.CSS(".inline-form button[type=submit]")))
	r.WaitFor("refused", `document.querySelector('.inline-form .error').textContent !== ''`)
	if msg := r.Text(".inline-form .error"); !strings.Contains(msg, "mistyped") {
		t.Errorf("a mistyped challenge: %q", msg)
	}
	// The challenge of `lanyard agent unblock --offline` for a standard
	// card: the response carries the card's PUK, and the page says so.
	ch, err := unblockcode.ChallengeFields{Scheme: unblockcode.SchemePIVPUK, CardTag: unblockcode.CardTag("RSS00001"), Nonce: 0x5EED}.Pack()
	if err != nil {
		t.Fatal(err)
	}
	uitest.Eval[string](r, `document.querySelector('input[id^=rss-challenge-]').value = ''`)
	r.Run("piv challenge", chromedp.SendKeys(chromedp.CSS("input[id^=rss-challenge-]"), unblockcode.Encode(unblockcode.Challenge, ch)),
		chromedp.Click(chromedp.CSS(".inline-form button[type=submit]")))
	r.WaitFor("response", `document.querySelector('[data-response]') !== null || document.querySelector('.inline-form .error')?.textContent.includes('card')`)
	if msg := r.Text(".inline-form .error"); msg != "" {
		t.Fatalf("the standard card's challenge: %q", msg)
	}
	resp, err := unblockcode.Decode(unblockcode.Response, r.Text("[data-response]"))
	if err != nil {
		t.Fatalf("response %q: %v", r.Text("[data-response]"), err)
	}
	if puk, err := unblockcode.OpenPUKResponse("RSS00001", ch, resp); err != nil || puk != rssPUK {
		t.Errorf("the response does not carry the card's PUK: %v", err)
	}
	if note := r.Text("#offline-puk-note"); !strings.Contains(note, "Admin PIN (PUK)") || !strings.Contains(note, "changes") {
		t.Errorf("the note on the released PUK: %q", note)
	}
	r.CheckAccessible("rss: offline unblock response")
	r.Shot("rss-03-puk-released")
	if !strings.Contains(r.Text("#rss-who"), "rita") {
		t.Errorf("signed in as: %q", r.Text("#rss-who"))
	}
	// Self-Service is not open with this session.
	r.Visit("/")
	if r.Path() != "/login" {
		t.Errorf("Self-Service with a Remote Self-Service session: %s", r.Path())
	}
	// Back on /rss/, the session still shows the cards; signing out ends it.
	r.Visit("/rss/")
	r.WaitFor("cards again", `!document.querySelector('#rss-cards-section').hidden`)
	r.Run("sign out", chromedp.Click(chromedp.CSS("#rss-signout")))
	r.WaitFor("signed out", `!document.querySelector('#rss-name-form').hidden`)
	r.CheckConsole()
}

// rssPUK is the PUK of rita's standard card.
const rssPUK = "Rt5kP9qZ"

// anyRow reports whether any row satisfies f.
func anyRow(rows []string, f func(string) bool) bool {
	for _, r := range rows {
		if f(r) {
			return true
		}
	}
	return false
}

// putAnswers sets login's secret answers through the API with a token of
// theirs.
func putAnswers(t *testing.T, s *site, login string, set []map[string]string) {
	t.Helper()
	code, body := s.api("POST", "/api/v1/tokens", map[string]any{"user": login, "ttl": "1h"})
	if code != 201 {
		t.Fatalf("token for %s: %d %s", login, code, body)
	}
	var tok struct {
		Secret string `json:"token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		t.Fatal(err)
	}
	j, _ := json.Marshal(map[string]any{"answers": set})
	req, _ := http.NewRequest("PUT", s.srv.URL+"/api/v1/me/secret-questions", bytes.NewReader(j))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok.Secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("answers: %d", res.StatusCode)
	}
}

// TestBrowserConsoleSecretAnswers: in the console's user dialog an
// operator sees that wrong answers locked a user's secret answers,
// unlocks them, and then resets them; each after a confirmation.
func TestBrowserConsoleSecretAnswers(t *testing.T) {
	s := mustSite(t)
	s.mustUser("olga", password, "operator", "user")
	s.mustUser("una", password)
	putAnswers(t, s, "una", []map[string]string{
		{"question": "What was the name of your first pet?", "answer": "Rex"},
		{"question": "In which city were you born?", "answer": "Ghent"},
		{"question": "What is your favourite book?", "answer": "Dune"},
	})
	b := mustBrowser(t, s)
	// Olga signs in first: wrong answers count against the address as
	// wrong passwords do, and these come from hers.
	b.Login("olga", password)
	for range 5 { // the default policy locks after five wrong answers in a row
		rssWrong(t, s, "una")
	}
	b.Visit("/console/users")
	b.Run("edit una", chromedp.Click(chromedp.CSS(`button[aria-label="Edit una"]`)))
	b.WaitFor("locked shown", `document.querySelector('#u-secret-status').textContent.includes('Locked since') && !document.querySelector('#u-secret-unlock').hidden`)
	b.CheckAccessible("user dialog: secret answers")
	b.Shot("console-secret-locked")
	confirm := func(button, done string) {
		b.Run("click "+button, chromedp.Click(chromedp.CSS(button)))
		b.WaitFor("confirmation", `document.querySelector('dialog[open]:not(#user-dialog) button.danger') !== null`)
		b.Run("confirm", chromedp.Click(chromedp.CSS(`dialog[open]:not(#user-dialog) button.danger`)))
		b.WaitFor(done, `document.querySelector('#u-secret-status').textContent.includes(`+uitest.JSString(done)+`)`)
	}
	confirm("#u-secret-unlock", "Unlocked")
	if !uitest.Eval[bool](b, `document.querySelector('#u-secret-unlock').hidden`) {
		t.Error("Unlock is still offered after unlocking")
	}
	confirm("#u-secret-reset", "Reset.")
	code, body := s.api("GET", "/api/v1/users/una/secret-answers", nil)
	if code != 200 || !strings.Contains(string(body), `"set":false`) || !strings.Contains(string(body), `"locked":false`) {
		t.Fatalf("after unlock and reset: %d %s", code, body)
	}
	b.CheckConsole()
}

// rssWrong signs in to Remote Self-Service as login with wrong answers.
func rssWrong(t *testing.T, s *site, login string) {
	t.Helper()
	var q struct {
		Questions []string `json:"questions"`
		Ticket    string   `json:"ticket"`
	}
	if code, body := s.api("POST", "/api/v1/rss/questions", map[string]string{"login": login}); code != 200 {
		t.Fatalf("questions: %d %s", code, body)
	} else if err := json.Unmarshal(body, &q); err != nil {
		t.Fatal(err)
	}
	var answers []map[string]string
	for _, text := range q.Questions {
		answers = append(answers, map[string]string{"question": text, "answer": "wrong"})
	}
	if code, body := s.api("POST", "/api/v1/rss/session", map[string]any{"login": login, "ticket": q.Ticket, "answers": answers}); code != 401 {
		t.Fatalf("wrong answers: %d %s", code, body)
	}
}
