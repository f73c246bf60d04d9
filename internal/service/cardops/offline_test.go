package cardops_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/unblockcode"
)

var aliceAnswers = []cardops.SecretAnswer{
	{Question: identity.SecretQuestions[0], Answer: "Rex"},
	{Question: identity.SecretQuestions[1], Answer: "Ghent"},
	{Question: identity.SecretQuestions[2], Answer: "Elm Street"},
}

// offlineEnv is alice's issued card with her PIN blocked, her secret
// answers set, and an operator.
func offlineEnv(t *testing.T) (*issueEnv, *lanyard.Principal, int64, *piv.Card) {
	t.Helper()
	return offlineEnvFrom(t, &issueEnv{})
}

func offlineEnvFrom(t *testing.T, e *issueEnv) (*issueEnv, *lanyard.Principal, int64, *piv.Card) {
	t.Helper()
	e = newIssueEnvFrom(t, e)
	ctx := context.Background()
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	olivia := helpDesk(t, e)
	pc := pivOf(t, e.card)
	blockPIN(t, pc, "24681357")
	return e, olivia, res.Card.ID, pc
}

// helpDesk sets alice's secret answers and returns operator olivia.
func helpDesk(t *testing.T, e *issueEnv) *lanyard.Principal {
	t.Helper()
	ctx := context.Background()
	in := identity.SecretAnswersInput{}
	for _, a := range aliceAnswers {
		in.Answers = append(in.Answers, identity.SecretAnswerInput{Question: a.Question, Answer: a.Answer})
	}
	if _, err := e.svc.Identity.SetMySecretAnswers(ctx, e.alice, in); err != nil {
		t.Fatal(err)
	}
	roles := lanyard.Roles{lanyard.RoleUser, lanyard.RoleOperator}
	op, err := e.svc.Identity.CreateUser(ctx, e.admin, identity.UserInput{Login: "olivia", Roles: &roles})
	if err != nil {
		t.Fatal(err)
	}
	return &lanyard.Principal{User: op, Roles: op.Roles, Session: true}
}

// blockPIN blocks the PIN of pc, whose PIN is pin, with wrong tries.
func blockPIN(t *testing.T, pc *piv.Card, pin string) {
	t.Helper()
	ctx := context.Background()
	for range 3 {
		_ = pc.VerifyPIN(ctx, "11111111")
	}
	if err := pc.VerifyPIN(ctx, pin); !errors.Is(err, piv.ErrBlocked) {
		t.Fatalf("PIN not blocked: %v", err)
	}
}

func challengeOf(t *testing.T, pc *piv.Card) (string, uint16) {
	t.Helper()
	ch, err := pc.UnblockChallenge(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return unblockcode.Encode(unblockcode.Challenge, ch.Payload), unblockcode.UnpackChallenge(ch.Payload).Counter
}

// The help desk reads the challenge from the phone, checks the answers,
// reads back the response; the card takes it with the new PIN, which the
// server never sees. The same challenge is not answered twice.
func TestOfflineUnblockByOperator(t *testing.T) {
	e, olivia, id, pc := offlineEnv(t)
	ctx := context.Background()
	code, counter := challengeOf(t, pc)

	if _, err := e.svc.Cards.OfflineUnblock(ctx, olivia, id, cardops.OfflineUnblockInput{Challenge: code}); !lanyard.IsCode(err, lanyard.EInvalid) {
		t.Fatalf("without the answers the policy asks for: %v", err)
	}
	wrong := append([]cardops.SecretAnswer(nil), aliceAnswers...)
	wrong[1].Answer = "Bruges"
	if _, err := e.svc.Cards.OfflineUnblock(ctx, olivia, id, cardops.OfflineUnblockInput{Challenge: code, Answers: wrong}); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Fatalf("wrong answers: %v", err)
	}
	res, err := e.svc.Cards.OfflineUnblock(ctx, olivia, id, cardops.OfflineUnblockInput{Challenge: code, Answers: aliceAnswers})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := unblockcode.Decode(unblockcode.Response, res.Response)
	if err != nil {
		t.Fatalf("response %q: %v", res.Response, err)
	}
	if err := pc.UnblockWithResponse(ctx, counter, resp, "97531864"); err != nil {
		t.Fatalf("the card refused the server's response: %v", err)
	}
	if err := pc.VerifyPIN(ctx, "97531864"); err != nil {
		t.Fatalf("the new PIN: %v", err)
	}
	// Asked again (the call dropped before the user wrote it down): the
	// same response, which the card no longer takes; one record, two
	// audit events.
	again, err := e.svc.Cards.OfflineUnblock(ctx, olivia, id, cardops.OfflineUnblockInput{Challenge: code, Answers: aliceAnswers})
	if err != nil || again.Response != res.Response {
		t.Fatalf("the same challenge again: %+v, %v; want the same response", again, err)
	}
	if err := pc.UnblockWithResponse(ctx, counter, resp, "11223344"); !errors.Is(err, piv.ErrNoChallenge) {
		t.Fatalf("the used response a second time: %v, want ErrNoChallenge", err)
	}
	var recs []*lanyard.OfflineUnblock
	if err := e.st.View(ctx, func(tx lanyard.Tx) (err error) { recs, err = tx.OfflineUnblocksOf(id); return }); err != nil || len(recs) != 1 {
		t.Fatalf("records: %d, %v", len(recs), err)
	}
	evs, err := e.svc.Audit.ListAudit(ctx, lanyard.AuditFilter{Action: "card.offline_unblock"})
	if err != nil || len(evs) != 2 {
		t.Fatalf("audit: %v, %d events", err, len(evs))
	}
	var d map[string]any
	if err := json.Unmarshal(evs[0].Details, &d); err != nil || d["channel"] != "console" || d["answers_checked"] != true || d["scheme"] != "lanyard-mac" {
		t.Fatalf("audit details %s", evs[0].Details)
	}
	for _, secret := range []string{res.Response, "97531864", "Rex", "Ghent"} {
		if strings.Contains(string(evs[0].Details), secret) {
			t.Fatalf("the audit event holds %q: %s", secret, evs[0].Details)
		}
	}
}

// The owner asks in Self-Service, answering the questions herself.
func TestOfflineUnblockByOwner(t *testing.T) {
	e, _, id, pc := offlineEnv(t)
	ctx := context.Background()
	code, counter := challengeOf(t, pc)
	if _, err := e.svc.Cards.OfflineUnblock(ctx, e.alice, id, cardops.OfflineUnblockInput{Challenge: code}); !lanyard.IsCode(err, lanyard.EInvalid) {
		t.Fatalf("owner without answers: %v", err)
	}
	res, err := e.svc.Cards.OfflineUnblock(ctx, e.alice, id, cardops.OfflineUnblockInput{Challenge: code, Answers: aliceAnswers})
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := unblockcode.Decode(unblockcode.Response, res.Response)
	if err := pc.UnblockWithResponse(ctx, counter, resp, "97531864"); err != nil {
		t.Fatal(err)
	}
}

func TestOfflineUnblockRefused(t *testing.T) {
	e, olivia, id, pc := offlineEnv(t)
	ctx := context.Background()
	code, _ := challengeOf(t, pc)
	ask := func(p *lanyard.Principal, challenge string) error {
		_, err := e.svc.Cards.OfflineUnblock(ctx, p, id, cardops.OfflineUnblockInput{Challenge: challenge, Answers: aliceAnswers})
		return err
	}
	t.Run("mistyped", func(t *testing.T) {
		typo := []byte(code)
		typo[0] ^= 1
		if err := ask(olivia, string(typo)); !lanyard.IsCode(err, lanyard.EInvalid) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("another card's challenge", func(t *testing.T) {
		p, _ := unblockcode.Decode(unblockcode.Challenge, code)
		f := unblockcode.UnpackChallenge(p)
		f.CardTag ^= 1
		other, _ := f.Pack()
		if err := ask(olivia, unblockcode.Encode(unblockcode.Challenge, other)); !lanyard.IsCode(err, lanyard.EInvalid) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("a scheme the card does not have", func(t *testing.T) {
		p, _ := unblockcode.Decode(unblockcode.Challenge, code)
		f := unblockcode.UnpackChallenge(p)
		f.Scheme = unblockcode.SchemePIVPUK
		other, _ := f.Pack()
		if err := ask(olivia, unblockcode.Encode(unblockcode.Challenge, other)); !lanyard.IsCode(err, lanyard.EInvalid) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("another user", func(t *testing.T) {
		u, err := e.svc.Identity.CreateUser(ctx, e.admin, identity.UserInput{Login: "mallory"})
		if err != nil {
			t.Fatal(err)
		}
		if err := ask(&lanyard.Principal{User: u, Roles: u.Roles, Session: true}, code); !lanyard.IsCode(err, lanyard.ENotFound) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("policy without the permission", func(t *testing.T) {
		e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.Administrator.UnblockOffline = false })
		defer e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.Administrator.UnblockOffline = true })
		if err := ask(olivia, code); !lanyard.IsCode(err, lanyard.EForbidden) {
			t.Fatalf("%v", err)
		}
	})
	t.Run("disabled card", func(t *testing.T) {
		setCardState(t, e, id, lanyard.CardDisabled)
		defer setCardState(t, e, id, lanyard.CardIssued)
		if err := ask(olivia, code); !lanyard.IsCode(err, lanyard.EConflict) {
			t.Fatalf("%v", err)
		}
	})
	// None of the refusals spent anything: the challenge still works.
	if err := ask(olivia, code); err != nil {
		t.Fatalf("after the refusals: %v", err)
	}
}

func setCardState(t *testing.T, e *issueEnv, id int64, st lanyard.CardState) {
	t.Helper()
	err := e.st.Update(context.Background(), func(tx lanyard.Tx) error {
		c, err := tx.CardByID(id)
		if err != nil {
			return err
		}
		c.State = st
		return tx.UpdateCard(c)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Remote Self-Service: the owner proved who they are with their answers
// at sign-in, so none are asked again; the request is recorded as rss.
func TestOfflineUnblockRemoteSelfService(t *testing.T) {
	e, _, id, pc := offlineEnv(t)
	ctx := context.Background()
	code, counter := challengeOf(t, pc)
	rss := &lanyard.Principal{User: e.alice.User, Roles: lanyard.Roles{lanyard.RoleUser}, RemoteSelfService: true}
	res, err := e.svc.Cards.OfflineUnblock(ctx, rss, id, cardops.OfflineUnblockInput{Challenge: code})
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := unblockcode.Decode(unblockcode.Response, res.Response)
	if err := pc.UnblockWithResponse(ctx, counter, resp, "97531864"); err != nil {
		t.Fatal(err)
	}
	var recs []*lanyard.OfflineUnblock
	if err := e.st.View(ctx, func(tx lanyard.Tx) (err error) { recs, err = tx.OfflineUnblocksOf(id); return }); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Channel != "rss" || !recs[0].AnswersChecked {
		t.Fatalf("record %+v", recs)
	}
	// Someone else's card through Remote Self-Service: not found.
	u, err := e.svc.Identity.CreateUser(ctx, e.admin, identity.UserInput{Login: "rob"})
	if err != nil {
		t.Fatal(err)
	}
	code, _ = challengeOf(t, pc)
	other := &lanyard.Principal{User: u, Roles: lanyard.Roles{lanyard.RoleUser}, RemoteSelfService: true}
	if _, err := e.svc.Cards.OfflineUnblock(ctx, other, id, cardops.OfflineUnblockInput{Challenge: code}); !lanyard.IsCode(err, lanyard.ENotFound) {
		t.Fatalf("another user's card through RSS: %v", err)
	}
}

// The owner is told of an offline unblock response and of a PIN reset
// (a reset or response they did not ask for is someone with their card
// and their answers); a response asked for again is not told twice.
func TestOfflineUnblockAndResetNotifyOwner(t *testing.T) {
	m := &stateMail{}
	e, olivia, id, pc := offlineEnvFrom(t, &issueEnv{opts: servicetest.Options{Notifier: m}})
	ctx := context.Background()
	code, _ := challengeOf(t, pc)
	for range 2 {
		if _, err := e.svc.Cards.OfflineUnblock(ctx, olivia, id, cardops.OfflineUnblockInput{Challenge: code, Answers: aliceAnswers}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.Cards.ResetPIN(ctx, e.alice, id, cardops.ResetPINInput{CardTarget: e.target(), NewPIN: "86420864", Answers: aliceAnswers}); err != nil {
		t.Fatal(err)
	}
	want := []string{"offline_unblock : alice@example.test", "pin_reset : alice@example.test"}
	if !slices.Equal(m.sent, want) {
		t.Errorf("notifications %q, want %q", m.sent, want)
	}
}

// An operator's wrong reading of the owner's answers is audited under the
// operator's name and address, not the owner's (review of issue 16, L2),
// and counts on the operator's address in the throttle.
func TestWrongAnswersByOperatorAudited(t *testing.T) {
	e, olivia, id, pc := offlineEnv(t)
	ctx := context.Background()
	code, _ := challengeOf(t, pc)
	olivia.RemoteAddr = "192.0.2.77"
	wrong := append([]cardops.SecretAnswer(nil), aliceAnswers...)
	wrong[0].Answer = "Fido"
	if _, err := e.svc.Cards.OfflineUnblock(ctx, olivia, id, cardops.OfflineUnblockInput{Challenge: code, Answers: wrong}); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Fatalf("wrong answers: %v", err)
	}
	evs, err := e.svc.Audit.ListAudit(ctx, lanyard.AuditFilter{Action: "user.secret_answers.fail"})
	if err != nil || len(evs) != 1 {
		t.Fatalf("audit: %v, %d events", err, len(evs))
	}
	if evs[0].Actor != "olivia" || evs[0].RemoteAddr != "192.0.2.77" || evs[0].ObjectID != "alice" {
		t.Errorf("the failure is audited as actor %q from %q on %q, want olivia from 192.0.2.77 on alice", evs[0].Actor, evs[0].RemoteAddr, evs[0].ObjectID)
	}
}
