//go:build integration

package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/clustertest"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

// TestClusterCardRoutesFromOtherReplica runs every card route of the API
// that reaches a card through replica B while the workstation's agent is
// connected to replica A, in the order of a card's life: Issue card, Change
// PIN, online unblock (Reset PIN with the owner's answers), Update card
// contents (an optional template added), Replace card (the help desk,
// approved, then Continue card issue on the new card), Revoke and clear;
// then a software store, a TPM virtual card (created and issued) and a
// platform credential (created, issued, Set up PIN with password and
// authenticator code) on the same workstation. Each route must answer as it does on the replica
// holding the agent; the card checked with OpenSC at the end holds what
// the server recorded.
func TestClusterCardRoutesFromOtherReplica(t *testing.T) {
	k := newCluster(t, clustertest.Options{})
	ctx := context.Background()
	gusTok := k.user("gus")
	olgaTok := k.user("olga", lanyard.RoleOperator)
	carlTok := k.user("carl", lanyard.RoleCAManager)
	gus, olga, carl := as(k.B, gusTok), as(k.B, olgaTok), as(k.B, carlTok)
	k.setPolicy(func(set map[string]any) {
		section(section(set, "workflow"), "issued_card_operations")["update"] = true
		set["allowed_card_types"] = []string{"piv", "software-store", "tpm-virtual-card", "platform-credential"}
		section(set, "issuance")["max_cards_per_user"] = 0
	})
	if _, err := k.admin.Do(ctx, "PUT", "/api/v1/features", apiv1.Features{TPMVirtualCard: true, PlatformCredential: true}, nil); err != nil {
		t.Fatal(err)
	}
	var answers []apiv1.SecretAnswerInput
	for i, q := range identity.SecretQuestions[:3] {
		answers = append(answers, apiv1.SecretAnswerInput{Question: q, Answer: "answer " + itoa(int64(i))})
	}
	if _, err := gus.Do(ctx, "PUT", "/api/v1/me/secret-questions", apiv1.SecretAnswersInput{Answers: answers}, nil); err != nil {
		t.Fatal(err)
	}

	// The TPM virtual card goes to the second vpcd slot, the platform
	// credential, once the PIV cards are out, to the first.
	slot2 := k.secondSlot()
	k.pairAt(k.A, k.A.AgentURL, "gus", clustertest.AgentOptions{
		TPM: "simulator:" + t.TempDir() + "/tpm-seed", VPCD: []string{slot2, k.vpcd}, SoftwareStores: true})
	first := newVCard(t)
	k.insert(first)
	k.waitCard(k.A, first.serial)

	var cardID, newID int64
	var second *vcard
	pin := "24682468"
	var route string
	// mustForward fails the test with err, explaining a request the
	// replica without the agent did not forward.
	mustForward := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s through replica B (agent on replica A): %v%s\n%s", route, err, notForwarded(err), k.c.Describe())
		}
	}
	steps := []struct {
		route string
		run   func(t *testing.T)
	}{
		{"POST /issue", func(t *testing.T) {
			var res apiv1.IssueCardResult
			_, err := gus.Post(ctx, "/api/v1/issue", apiv1.IssueCardInput{CardTarget: k.target(), UserPIN: pin}, &res)
			mustForward(t, err)
			if res.Card == nil || res.Card.State != lanyard.CardIssued {
				t.Fatalf("the issue left the card %+v", res.Card)
			}
			cardID = res.Card.ID
		}},
		{"POST /cards/{id}/pin-change", func(t *testing.T) {
			_, err := gus.Post(ctx, "/api/v1/cards/"+itoa(cardID)+"/pin-change", apiv1.PINChangeInput{WorkstationID: k.ws, Reader: k.reader, OldPIN: pin, NewPIN: "11112222"}, nil)
			mustForward(t, err)
			pin = "11112222"
		}},
		{"POST /cards/{id}/pin-reset", func(t *testing.T) {
			_, err := gus.Post(ctx, "/api/v1/cards/"+itoa(cardID)+"/pin-reset", apiv1.PINResetInput{WorkstationID: k.ws, Reader: k.reader, NewPIN: "11223355", Answers: answers}, nil)
			mustForward(t, err)
			pin = "11223355"
		}},
		{"POST /cards/{id}/update", func(t *testing.T) {
			var res apiv1.UpdateCardResult
			_, err := gus.Post(ctx, "/api/v1/cards/"+itoa(cardID)+"/update", apiv1.UpdateCardInput{UpdateTarget: apiv1.UpdateTarget{WorkstationID: k.ws, Reader: k.reader}, Templates: []string{"secure-email"}}, &res)
			mustForward(t, err)
			if res.State != "done" {
				t.Fatalf("the update ended %s, want done: %+v", res.State, res.Slots)
			}
		}},
		{"POST /cards/{id}/replace", func(t *testing.T) {
			k.pull(first)
			k.waitCard(k.A, "")
			second = newVCard(t)
			k.insert(second)
			k.waitCard(k.A, second.serial)
			pin = "13571357"
			var rep apiv1.ReplaceCardResult
			_, err := olga.Post(ctx, "/api/v1/cards/"+itoa(cardID)+"/replace", apiv1.ReplaceCardInput{Reason: "lost", WorkstationID: k.ws, Reader: k.reader, UserPIN: pin}, &rep)
			mustForward(t, err)
			if rep.Card == nil {
				t.Fatalf("replace answered no card: %+v", rep)
			}
			newID = rep.Card.ID
			for _, c := range rep.Card.Certificates {
				if c.RequestID != 0 {
					if _, err := carl.Post(ctx, "/api/v1/requests/"+itoa(c.RequestID)+"/approve", apiv1.Decision{Comment: "lost card"}, nil); err != nil {
						t.Fatal(err)
					}
				}
			}
		}},
		{"POST /cards/{id}/continue", func(t *testing.T) {
			var done apiv1.IssueCardResult
			_, err := olga.Post(ctx, "/api/v1/cards/"+itoa(newID)+"/continue", apiv1.ContinueInput{CardTarget: k.target(), UserPIN: pin}, &done)
			mustForward(t, err)
			if done.State != string(lanyard.CardIssued) {
				t.Fatalf("the replacement card is %s, want issued", done.State)
			}
		}},
		{"OpenSC signs with the replacement", func(t *testing.T) {
			k.agent.Stop()
			tk := openToken(t, k.reader)
			var slots []string
			for _, c := range k.cardView(newID).Certificates {
				slots = append(slots, c.Slot)
			}
			k.checkIssued(tk, newID, pin, slots...)
			k.agent.Restart()
			k.waitReader(k.A)
		}},
		{"POST /cards/{id}/revoke-clear", func(t *testing.T) {
			var v apiv1.CardView
			_, err := gus.Post(ctx, "/api/v1/cards/"+itoa(newID)+"/revoke-clear", apiv1.ClearInput{CardTarget: k.target()}, &v)
			mustForward(t, err)
			if got := k.cardView(newID); got.State == lanyard.CardIssued {
				t.Fatalf("after revoke and clear the card is %s", got.State)
			}
		}},
		{"POST /software-stores", func(t *testing.T) {
			var res apiv1.SoftwareStoreResult
			_, err := gus.Post(ctx, "/api/v1/software-stores", apiv1.SoftwareStoreInput{WorkstationID: k.ws, Scope: lanyard.ScopeMachine, Name: "cluster", Password: "Cluster-Store-19", Templates: []string{"secure-email"}}, &res)
			mustForward(t, err)
			if len(res.Files) != 1 || res.Card == nil || res.Card.State != lanyard.CardIssued {
				t.Fatalf("software store: %+v", res)
			}
			checkPKCS12(t, res.Files[0].Path, "Cluster-Store-19")
		}},
		{"POST /virtual-cards, then POST /issue", func(t *testing.T) {
			var vc apiv1.ConnectedCard
			_, err := gus.Post(ctx, "/api/v1/virtual-cards", apiv1.CreateVirtualInput{WorkstationID: k.ws, Kind: lanyard.KindTPMVirtualCard, Name: "Laptop"}, &vc)
			mustForward(t, err)
			var res apiv1.IssueCardResult
			_, err = gus.Post(ctx, "/api/v1/issue", apiv1.IssueCardInput{CardTarget: apiv1.CardTarget{WorkstationID: vc.WorkstationID, Reader: vc.Reader}, UserPIN: "97531864"}, &res)
			mustForward(t, err)
			if res.Card == nil || res.Card.State != lanyard.CardIssued {
				t.Fatalf("the TPM virtual card after its issue: %+v", res.Card)
			}
		}},
		{"POST /cards/{id}/pin-setup (platform credential)", func(t *testing.T) {
			k.pull(second)
			k.waitCard(k.A, "")
			secret := enrollAuthenticator(t, gus)
			var pc apiv1.ConnectedCard
			_, err := gus.Post(ctx, "/api/v1/virtual-cards", apiv1.CreateVirtualInput{WorkstationID: k.ws, Kind: lanyard.KindPlatformCredential, Name: "Hello"}, &pc)
			mustForward(t, err)
			target := apiv1.CardTarget{WorkstationID: pc.WorkstationID, Reader: pc.Reader}
			var res apiv1.IssueCardResult
			_, err = gus.Post(ctx, "/api/v1/issue", apiv1.IssueCardInput{CardTarget: target}, &res)
			mustForward(t, err)
			_, err = gus.Post(ctx, "/api/v1/cards/"+itoa(res.Card.ID)+"/pin-setup", apiv1.PINSetupInput{CardTarget: target, Password: password, Code: codeAt(t, secret, 30*time.Second), PIN: "24681357"}, nil)
			mustForward(t, err)
			if got := k.cardView(res.Card.ID); got.State != lanyard.CardIssued {
				t.Fatalf("the platform credential after Set up PIN is %s, want issued", got.State)
			}
		}},
	}
	// One card's life in order: each step needs the one before, so the
	// first failure ends the test (no subtests: the stack's helpers fail
	// the test itself).
	for _, st := range steps {
		route = st.route
		t.Logf("%s through replica B", route)
		st.run(t)
	}
}
