package cardops_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

const firstPIN = "24681357"

// issuedEnv is alice's card issued with firstPIN.
func issuedEnv(t *testing.T) (*issueEnv, int64) {
	t.Helper()
	e := newIssueEnv(t)
	res, err := e.svc.Cards.IssueCard(context.Background(), e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: firstPIN})
	if err != nil {
		t.Fatal(err)
	}
	return e, res.Card.ID
}

// aliceAnswers sets alice's secret answers and returns them.
func (e *issueEnv) aliceAnswers(t *testing.T) []cardops.SecretAnswer {
	t.Helper()
	var in identity.SecretAnswersInput
	var out []cardops.SecretAnswer
	for i, q := range identity.SecretQuestions[:3] {
		a := fmt.Sprintf("answer number %d", i)
		in.Answers = append(in.Answers, identity.SecretAnswerInput{Question: q, Answer: a})
		out = append(out, cardops.SecretAnswer{Question: q, Answer: a})
	}
	if _, err := e.svc.Identity.SetMySecretAnswers(context.Background(), e.alice, in); err != nil {
		t.Fatal(err)
	}
	return out
}

// operator creates user login with the operator role.
func (e *issueEnv) operator(t *testing.T, login string) *lanyard.Principal {
	t.Helper()
	ctx := context.Background()
	e.newUser(t, login)
	u, err := e.svc.Identity.UpdateUser(ctx, e.admin, login, identity.UserInput{Roles: &lanyard.Roles{lanyard.RoleUser, lanyard.RoleOperator}, Password: ptr("operator password 1")})
	if err != nil {
		t.Fatal(err)
	}
	return &lanyard.Principal{User: u, Roles: u.Roles}
}

// pinTries is the card's PIN tries left (VERIFY without data: no try spent).
func pinTries(t *testing.T, c *emu.Card) int {
	t.Helper()
	n, err := pivOf(t, c).PINRetries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// wantPIN checks that the card takes pin and, when given, refuses old.
func wantPIN(t *testing.T, c *emu.Card, pin, old string) {
	t.Helper()
	ctx := context.Background()
	if old != "" {
		if err := pivOf(t, c).VerifyPIN(ctx, old); err == nil {
			t.Fatal("the card still takes the old PIN")
		}
	}
	if err := pivOf(t, c).VerifyPIN(ctx, pin); err != nil {
		t.Fatalf("the card refuses the new PIN: %v", err)
	}
}

// noSecretsInAudit checks that no audit event holds any of secrets.
func noSecretsInAudit(t *testing.T, e *issueEnv, secrets ...string) {
	t.Helper()
	for _, ev := range storetest.CheckAuditChain(t, e.st) {
		for _, s := range secrets {
			if s != "" && bytes.Contains(ev.Details, []byte(s)) {
				t.Fatalf("audit event %s holds a PIN or PUK", ev.Action)
			}
		}
	}
}

func hasAudit(t *testing.T, e *issueEnv, action string) bool {
	t.Helper()
	for _, ev := range storetest.CheckAuditChain(t, e.st) {
		if ev.Action == action {
			return true
		}
	}
	return false
}

// Change PIN: the owner only, the new PIN within the rules (nothing sent
// to the card otherwise), a wrong old PIN costs one try and says how many
// are left, the change is one operation with its audit event.
func TestChangePIN(t *testing.T) {
	e, id := issuedEnv(t)
	ctx := context.Background()
	change := func(p *lanyard.Principal, old, pin string) error {
		_, err := e.svc.Cards.ChangePIN(ctx, p, id, cardops.ChangePINInput{OldPIN: old, NewPIN: pin})
		return err
	}
	full := pinTries(t, e.card)

	// Bad input: nothing reaches the card.
	wantCode(t, change(e.alice, firstPIN, "123"), lanyard.EInvalid)
	wantCode(t, change(e.alice, firstPIN, "1234 678"), lanyard.EInvalid)
	wantCode(t, change(e.alice, firstPIN, firstPIN), lanyard.EInvalid)
	wantCode(t, change(e.alice, "", "13572468"), lanyard.EInvalid)
	if n := pinTries(t, e.card); n != full {
		t.Fatalf("bad input spent PIN tries: %d left of %d", n, full)
	}
	// Nobody but the owner changes a PIN.
	wantCode(t, change(e.admin, firstPIN, "13572468"), lanyard.EForbidden)
	bob := e.newUser(t, "bob")
	wantCode(t, change(bob, firstPIN, "13572468"), lanyard.ENotFound)

	// A wrong old PIN: one try spent, the tries left said.
	err := change(e.alice, "99999999", "13572468")
	wantCode(t, err, lanyard.EForbidden)
	if want := fmt.Sprintf("%d tries left", full-1); !strings.Contains(err.Error(), want) {
		t.Fatalf("wrong old PIN: %v, want %q", err, want)
	}
	if n := pinTries(t, e.card); n != full-1 {
		t.Fatalf("PIN tries after a wrong PIN: %d, want %d", n, full-1)
	}
	if !hasAudit(t, e, "card.pin.change.fail") {
		t.Error("the refused change is not in the audit log")
	}

	// The policy decides.
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.IssuedCardOps.ChangePIN = false })
	wantCode(t, change(e.alice, firstPIN, "13572468"), lanyard.EForbidden)
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.IssuedCardOps.ChangePIN = true })

	v, err := e.svc.Cards.ChangePIN(ctx, e.alice, id, cardops.ChangePINInput{OldPIN: firstPIN, NewPIN: "13572468"})
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Operations) == 0 || v.Operations[0].Kind != lanyard.OpChangePIN || v.Operations[0].State != lanyard.OpDone {
		t.Fatalf("operations after the change: %+v", v.Operations)
	}
	wantPIN(t, e.card, "13572468", firstPIN)
	if n := pinTries(t, e.card); n != full {
		t.Fatalf("PIN tries after the change: %d, want %d", n, full)
	}
	if !hasAudit(t, e, "card.pin.change") {
		t.Error("no card.pin.change audit event")
	}
	noSecretsInAudit(t, e, firstPIN, "13572468", "99999999")
}

// Online unblock: the owner's PIN is blocked; after their secret answers
// the card's own PUK sets the new PIN, its tries are restored and the PUK
// is rotated: the card refuses the old PUK and takes the new sealed one.
func TestResetPINOnlineUnblock(t *testing.T) {
	e, id := issuedEnv(t)
	ctx := context.Background()
	answers := e.aliceAnswers(t)
	full := pinTries(t, e.card)
	for pinTries(t, e.card) > 0 {
		_ = pivOf(t, e.card).VerifyPIN(ctx, "00000000")
	}
	_, err := e.svc.Cards.ChangePIN(ctx, e.alice, id, cardops.ChangePINInput{OldPIN: firstPIN, NewPIN: "13572468"})
	if err == nil || !strings.Contains(err.Error(), "blocked") {
		t.Fatalf("change of a blocked PIN: %v", err)
	}
	oldPUK, err := e.svc.Cards.CardPUK(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	reset := func(in cardops.ResetPINInput) (*cardops.ResetPINResult, error) {
		return e.svc.Cards.ResetPIN(ctx, e.alice, id, in)
	}
	// The owner answers first; wrong answers change nothing.
	_, err = reset(cardops.ResetPINInput{NewPIN: "13572468"})
	wantCode(t, err, lanyard.EInvalid)
	wrong := append([]cardops.SecretAnswer(nil), answers...)
	wrong[1].Answer = "not it"
	_, err = reset(cardops.ResetPINInput{NewPIN: "13572468", Answers: wrong})
	wantCode(t, err, lanyard.EForbidden)
	_, err = reset(cardops.ResetPINInput{NewPIN: "12", Answers: answers})
	wantCode(t, err, lanyard.EInvalid)
	if n := pinTries(t, e.card); n != 0 {
		t.Fatalf("the PIN was touched by refused resets: %d tries", n)
	}

	res, err := reset(cardops.ResetPINInput{NewPIN: "13572468", Answers: answers})
	if err != nil {
		t.Fatal(err)
	}
	if res.RandomPIN != "" || res.Card.PUKState != lanyard.PUKRandom {
		t.Fatalf("result %+v", res)
	}
	if n := pinTries(t, e.card); n != full {
		t.Fatalf("PIN tries after the reset: %d, want %d", n, full)
	}
	wantPIN(t, e.card, "13572468", "")
	newPUK, err := e.svc.Cards.CardPUK(ctx, id)
	if err != nil || newPUK == oldPUK || len(newPUK) != 8 {
		t.Fatalf("the PUK was not rotated: %v", err)
	}
	var ae *piv.AuthError
	if err := pivOf(t, e.card).ChangePUK(ctx, oldPUK, oldPUK); !errors.As(err, &ae) {
		t.Fatalf("the card takes the old PUK: %v", err)
	}
	checkPUK(t, e.card, newPUK)
	if !hasAudit(t, e, "card.pin.reset") {
		t.Error("no card.pin.reset audit event")
	}
	noSecretsInAudit(t, e, "13572468", oldPUK, newPUK, answers[0].Answer)

	// The policy decides.
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.IssuedCardOps.ResetPIN = false })
	_, err = reset(cardops.ResetPINInput{NewPIN: "11223355", Answers: answers})
	wantCode(t, err, lanyard.EForbidden)
}

// Reset user PIN by an operator: the owner's answers first when the
// policy says Validate answers; a random PIN the policy does not show to
// staff is held for the owner, who sees it once.
func TestResetPINByOperator(t *testing.T) {
	e, id := issuedEnv(t)
	ctx := context.Background()
	answers := e.aliceAnswers(t)
	op := e.operator(t, "olga")
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.Issuance.RandomUserPIN = true
		s.Issuance.RandomPIN = lanyard.RandomPINSettings{Length: 8, Groups: []lanyard.PINCharGroup{lanyard.PINDigits}, ShowToUser: true, MailTo: lanyard.PINMailNobody}
	})
	_, err := e.svc.Cards.ResetPIN(ctx, op, id, cardops.ResetPINInput{})
	wantCode(t, err, lanyard.EInvalid) // the answers
	_, err = e.svc.Cards.ResetPIN(ctx, op, id, cardops.ResetPINInput{NewPIN: "13572468", Answers: answers})
	wantCode(t, err, lanyard.EInvalid) // the policy draws the PIN
	res, err := e.svc.Cards.ResetPIN(ctx, op, id, cardops.ResetPINInput{Answers: answers})
	if err != nil {
		t.Fatal(err)
	}
	if res.RandomPIN != "" || !res.PINHeldForOwner {
		t.Fatalf("the operator's result %+v: want the PIN held for the owner, not shown", res)
	}
	held, err := e.svc.Cards.IssuedPINs(ctx, e.alice)
	if err != nil || len(held) != 1 || held[0].CardID != id || held[0].IssuedBy != "olga" {
		t.Fatalf("alice's held PINs: %v %+v", err, held)
	}
	shown, err := e.svc.Cards.ShowIssuedPIN(ctx, e.alice, id, cardops.ShowIssuedPINInput{OperationID: held[0].OperationID})
	if err != nil {
		t.Fatal(err)
	}
	wantPIN(t, e.card, shown.PIN, firstPIN)
	noSecretsInAudit(t, e, shown.PIN)

	// Without Validate answers no answers are asked; with the
	// administrator permission off, no reset.
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.Issuance.RandomUserPIN = false
		s.Workflow.Administrator.ValidateAnswers = false
	})
	if _, err := e.svc.Cards.ResetPIN(ctx, op, id, cardops.ResetPINInput{NewPIN: "13572468"}); err != nil {
		t.Fatal(err)
	}
	wantPIN(t, e.card, "13572468", shown.PIN)
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.Administrator.ResetUserPIN = false })
	_, err = e.svc.Cards.ResetPIN(ctx, op, id, cardops.ResetPINInput{NewPIN: "11223355"})
	wantCode(t, err, lanyard.EForbidden)
}

// A card pulled, or its reply lost, after any number of APDUs of a reset
// leaves the reset interrupted; the next reset resumes it and finishes:
// the card has the new PIN and a PUK the server holds, and refuses the
// one it had.
func TestResetPINInterruptedAnywhere(t *testing.T) {
	for _, lose := range []bool{false, true} {
		t.Run(fmt.Sprintf("reply-lost-%v", lose), func(t *testing.T) {
			completed, resumed := false, 0
			for after := 1; !completed && after < 100; after++ {
				t.Run(fmt.Sprintf("after-%d-APDUs", after), func(t *testing.T) {
					e, id := issuedEnv(t)
					ctx := context.Background()
					e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.Administrator.ValidateAnswers = false })
					op := e.operator(t, "olga")
					oldPUK, err := e.svc.Cards.CardPUK(ctx, id)
					if err != nil {
						t.Fatal(err)
					}
					if lose {
						e.access.LoseReplyAfter(1, reader, after)
					} else {
						e.access.FailAfter(1, reader, after)
					}
					if _, err := e.svc.Cards.ResetPIN(ctx, op, id, cardops.ResetPINInput{NewPIN: "13572468"}); err == nil {
						completed = true
						return
					}
					if v, _ := e.svc.Cards.GetCard(ctx, e.admin, id); v != nil && len(v.Operations) > 0 &&
						v.Operations[0].Kind == lanyard.OpResetPIN && v.Operations[0].State == lanyard.OpInterrupted {
						resumed++
					}
					if _, err := e.svc.Cards.ResetPIN(ctx, op, id, cardops.ResetPINInput{NewPIN: "11223355"}); err != nil {
						t.Fatal(err)
					}
					wantPIN(t, e.card, "11223355", "")
					newPUK, err := e.svc.Cards.CardPUK(ctx, id)
					if err != nil || newPUK == oldPUK {
						t.Fatalf("the PUK was not rotated: %v", err)
					}
					checkPUK(t, e.card, newPUK)
					if err := pivOf(t, e.card).ChangePUK(ctx, oldPUK, oldPUK); err == nil {
						t.Fatal("the card takes the old PUK")
					}
					v, err := e.svc.Cards.GetCard(ctx, e.admin, id)
					if err != nil {
						t.Fatal(err)
					}
					for _, o := range v.Operations {
						if o.Kind == lanyard.OpResetPIN && o.State != lanyard.OpDone {
							t.Fatalf("reset operation %d left %s", o.ID, o.State)
						}
					}
				})
			}
			if !completed || resumed < 3 {
				t.Fatalf("the reset completed %v, and was resumed after %d interruptions", completed, resumed)
			}
		})
	}
}

// TPM virtual cards and AirCards are PIV cards of Lanyard's own: Change
// PIN and Reset PIN work on them as on a smart card.
func TestPINOperationsOnVirtualCards(t *testing.T) {
	for _, kind := range []lanyard.CardKind{lanyard.KindTPMVirtualCard, lanyard.KindAirCard} {
		t.Run(string(kind), func(t *testing.T) {
			e := newVirtualEnv(t, emu.SoftKeyStore{})
			ctx := context.Background()
			e.alice.Session = true
			wsID := int64(1)
			switch kind {
			case lanyard.KindTPMVirtualCard:
				e.enableTPM(t)
			case lanyard.KindAirCard:
				e.setPolicy(t, func(s *lanyard.PolicySettings) {
					s.AllowedCards = []string{"piv", "aircard"}
					s.Workflow.IssueAirCard = true
					s.Issuance.MaxCardsPerUser = 0
				})
				e.storeWorkstations(t, "pc-1", "pc-2", "air:aircard-service")
				e.access.AddAirCardService(3)
				wsID = 3
			}
			cc, err := e.svc.Cards.CreateVirtualCard(ctx, e.alice, cardops.CreateVirtualInput{WorkstationID: 1, Kind: kind})
			if err != nil {
				t.Fatal(err)
			}
			target := cardops.CardTarget{WorkstationID: cc.WorkstationID, Reader: cc.Reader}
			res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: target, UserPIN: firstPIN})
			if err != nil {
				t.Fatal(err)
			}
			card := e.access.Card(wsID, cc.Reader)
			if _, err := e.svc.Cards.ChangePIN(ctx, e.alice, res.Card.ID, cardops.ChangePINInput{OldPIN: firstPIN, NewPIN: "13572468"}); err != nil {
				t.Fatal(err)
			}
			wantPIN(t, card, "13572468", firstPIN)
			answers := e.aliceAnswers(t)
			oldPUK, _ := e.svc.Cards.CardPUK(ctx, res.Card.ID)
			if _, err := e.svc.Cards.ResetPIN(ctx, e.alice, res.Card.ID, cardops.ResetPINInput{NewPIN: "11223355", Answers: answers}); err != nil {
				t.Fatal(err)
			}
			wantPIN(t, card, "11223355", "13572468")
			newPUK, _ := e.svc.Cards.CardPUK(ctx, res.Card.ID)
			if newPUK == oldPUK {
				t.Fatal("the PUK was not rotated")
			}
			checkPUK(t, card, newPUK)
		})
	}
}
