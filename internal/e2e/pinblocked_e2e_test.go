//go:build integration

package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

// TestAgentReportsPINBlocked (docs/lifecycle.md, "PIN blocked cards"):
// with the agent running, wrong PINs typed into yubico-piv-tool (another
// application, through the same pcscd) block the issued card's PIN; the
// agent's next check reads it without spending a try and the server shows
// it: the API's card view says blocked with 0 of 3 tries left and where,
// the PIN blocked filter lists the card, the console's card page says so
// in Chromium, and the owner and the operator each get one mail. After
// the owner's online unblock (Reset PIN with the secret answers) the
// card shows its full tries again.
func TestAgentReportsPINBlocked(t *testing.T) {
	s := newStack(t)
	s.pinCheck = 300 * time.Millisecond
	m := s.startMail()
	s.setPolicy(func(st map[string]any) { section(st, "notifications")["notify_user"] = true })
	owner, _ := s.user("pete")
	s.user("opal", lanyard.RoleUser, lanyard.RoleOperator)
	s.pair("pete")
	c := newVCard(t)
	s.insert(c)
	ctx := context.Background()
	var res apiv1.IssueCardResult
	if _, err := owner.Post(ctx, "/api/v1/issue", apiv1.IssueCardInput{CardTarget: s.target(), UserPIN: "24681357"}, &res); err != nil {
		t.Fatal(err)
	}
	id := res.Card.ID
	pinIs := func(what string, ok func(*apiv1.CardPIN) bool) *apiv1.CardPIN {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			v := s.cardView(id)
			if v.PIN != nil && ok(v.PIN) {
				return v.PIN
			}
			if time.Now().After(deadline) {
				t.Fatalf("the card's PIN status is not %s: %+v", what, v.PIN)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	tries := func(n int) func(*apiv1.CardPIN) bool {
		return func(p *apiv1.CardPIN) bool { return p.TriesLeft != nil && *p.TriesLeft == n }
	}
	pinIs("3 tries left after the issue", tries(3))

	// Wrong PINs in another application, the agent running.
	for i := range 3 {
		out, err := exec.Command("yubico-piv-tool", "-r", s.reader, "-a", "verify-pin", "-P", "00000000").CombinedOutput()
		if err == nil {
			t.Fatalf("yubico-piv-tool verified a wrong PIN:\n%s", out)
		}
		if i == 0 {
			pinIs("2 tries left", tries(2))
		}
	}
	p := pinIs("blocked", func(p *apiv1.CardPIN) bool { return p.Blocked })
	if p.TriesLeft == nil || *p.TriesLeft != 0 || p.TriesTotal == nil || *p.TriesTotal != 3 || p.WorkstationID != s.ws || p.Workstation == "" || p.ReportedAt.IsZero() {
		t.Fatalf("blocked PIN status %+v", p)
	}
	var blocked []*apiv1.CardView
	if err := s.admin.Get(ctx, "/api/v1/cards?pin_blocked=true", &blocked); err != nil || len(blocked) != 1 || blocked[0].ID != id {
		t.Fatalf("PIN blocked cards: %v, %d", err, len(blocked))
	}

	b := mustBrowser(t, s.srv.URL)
	b.Login("opal", password)
	b.Visit("/console/cards/" + itoa(id))
	b.WaitFor("the PIN line", `!!document.querySelector('#card-pin')`)
	if got := b.Text("#card-pin"); !strings.Contains(got, "Blocked (0 of 3 tries left)") || !strings.Contains(got, "seen at "+p.Workstation) {
		t.Errorf("the console card page says %q", got)
	}
	b.Shot("pin-blocked-console")
	b.Visit("/console/cards?pin_blocked=true")
	b.WaitFor("the PIN blocked badge", `!!document.querySelector('#cards .badge.pin-blocked')`)

	for _, to := range []string{"pete@example.com", "opal@example.com"} {
		got := s.mail(m, to, 1)
		wantMail(t, got[0], to, "PIN blocked: card "+res.Card.Serial, "is blocked", "seen so at "+p.Workstation)
	}

	// The owner's online unblock.
	var answers []apiv1.SecretAnswerInput
	for _, q := range identity.SecretQuestions[:3] {
		answers = append(answers, apiv1.SecretAnswerInput{Question: q, Answer: "the same answer"})
	}
	if _, err := owner.Do(ctx, "PUT", "/api/v1/me/secret-questions", apiv1.SecretAnswersInput{Answers: answers}, nil); err != nil {
		t.Fatal(err)
	}
	in := apiv1.PINResetInput{WorkstationID: s.ws, Reader: s.reader, NewPIN: "11223355", Answers: answers}
	if _, err := owner.Post(ctx, "/api/v1/cards/"+itoa(id)+"/pin-reset", in, nil); err != nil {
		t.Fatal(err)
	}
	p = pinIs("unblocked", func(p *apiv1.CardPIN) bool { return !p.Blocked && p.TriesLeft != nil && *p.TriesLeft == 3 })
	if p.TriesTotal == nil || *p.TriesTotal != 3 {
		t.Fatalf("after the reset %+v", p)
	}
	b.Visit("/console/cards/" + itoa(id))
	b.WaitFor("the PIN line", `!!document.querySelector('#card-pin')`)
	if got := b.Text("#card-pin"); !strings.Contains(got, "3 of 3 tries left") || strings.Contains(got, "Blocked") {
		t.Errorf("after the reset the console card page says %q", got)
	}
	s.agent.stop(t)
	runTool(t, "yubico-piv-tool", "-r", s.reader, "-a", "verify-pin", "-P", "11223355")
}

// TestAgentShowsDisabledCard (issue 16 item 7): a card disabled on the
// server and connected again is shown disabled by the agent's own status
// (lanyard agent status), which the server told it at the card's
// arrival; the same status says the PIN's tries left, and a blocked PIN.
func TestAgentShowsDisabledCard(t *testing.T) {
	bin := lanyardBinary(t)
	s, c, owner, tok, res := issueOnStack(t, "dina")
	ctx := context.Background()
	cli := &lanyardCLI{t: t, bin: bin, env: []string{"LANYARD_SERVER=" + s.srv.URL, "LANYARD_TOKEN=" + tok}}
	status := func(what string, ok func(string) bool) string {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			out, _ := cli.run(0, "agent", "status", "--state", s.agentDir)
			if ok(out) {
				return out
			}
			if time.Now().After(deadline) {
				t.Fatalf("agent status does not show %s:\n%s", what, out)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	out := status("the tries left", func(o string) bool { return strings.Contains(o, "PIN: 3 tries left") })
	if strings.Contains(out, "disabled") {
		t.Fatalf("an issued card shown disabled:\n%s", out)
	}

	if _, err := owner.Post(ctx, "/api/v1/cards/"+itoa(res.Card.ID)+"/disable", struct{}{}, nil); err != nil {
		t.Fatal(err)
	}
	s.pull(c)
	s.insert(c)
	status("the card disabled", func(o string) bool {
		return strings.Contains(o, "serial "+c.serial+", disabled by the server: it cannot be used, ask your help desk")
	})
}
