//go:build integration

package e2e

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/agent/agenttpm"
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/web/uitest"
)

// openVirtualStep opens Your cards afresh (its lists are read on load)
// and clicks the Issue button of the virtual card kind: the card name
// step.
func (b *browser) openVirtualStep(kind lanyard.CardKind) {
	b.t.Helper()
	b.Visit("/")
	button := `#virtual button[data-kind="` + string(kind) + `"]`
	b.WaitFor("the Issue button of "+string(kind), `document.querySelector(`+uitest.JSString(button)+`)`)
	b.Run("Issue "+string(kind), chromedp.Click(button))
	b.WaitFor("the card name step", `document.querySelector('#virtual-form')`)
}

// issueCreatedBefore is the guide's "select a card created before" in
// Chromium: from Your cards, the kind's Issue button, a card name, the
// radio of the card created earlier (serial), Next, the Issue card dialog
// on that card with a User PIN, Issue. It returns the dialog's result.
// noNew, when set, is why no new card can be made: the step must say so
// and offer only the card created before.
func (b *browser) issueCreatedBefore(kind lanyard.CardKind, serial, name, noNew string) string {
	b.t.Helper()
	b.openVirtualStep(kind)
	b.CheckAccessible("card name step with a card created before")
	b.Shot(string(kind) + "-created-before-choice")
	if got := b.Text("#virtual-form"); strings.Count(got, serial+" (created before)") != 1 || b.exists("#virtual-old-1") {
		b.t.Fatalf("the card name step %q does not offer the card %s created before once, as the only one", got, serial)
	}
	if noNew != "" {
		if got := b.Text("#virtual-form"); !strings.Contains(got, "Not possible now: "+noNew) {
			b.t.Errorf("the card name step %q does not say why no new card can be made (%s)", got, noNew)
		}
		if !uitest.Eval[bool](b.Browser, `document.querySelector('#virtual-new').disabled && document.querySelector('#virtual-old-0').checked`) {
			b.t.Error("the step offers a new card that cannot be made, or does not preselect the card created before")
		}
	}
	b.Run("name the card and choose the one created before",
		chromedp.SendKeys("#virtual-name", name), chromedp.Click("#virtual-old-0"), chromedp.Click("#virtual-create"))
	b.WaitFor("the Issue card form on the card created before", `document.querySelector('#issue-form') || document.querySelector('#issue-body .error')`)
	// Issued at the user's workstation (an AirCard too: the AirCard
	// service shows it in a reader of its own as well).
	if got := b.Text("#issue-body"); !strings.Contains(got, serial) || !strings.Contains(got, "at e2e-pc.") {
		b.t.Fatalf("the Issue card dialog %q is not about the card %s at e2e-pc", got, serial)
	}
	b.Run("User PIN", chromedp.SendKeys("#user-pin", "13572468"), chromedp.SendKeys("#user-pin2", "13572468"))
	b.Run("Issue", chromedp.Click(`#issue-form button[type=submit]`))
	b.WaitFor("the card issued", `(document.querySelector('#issue-result-title')?.textContent || '') === 'Card issued' || document.querySelector('#issue-form .error[role=alert]')?.textContent`)
	b.Shot(string(kind) + "-created-before-issued")
	return b.Text("#issue-body")
}

// checkIssuedOnto checks that the issue went onto the card created
// before: it is issued under the name given in the dialog, and the user
// has no other card of its kind.
func (s *stack) checkIssuedOnto(owner string, id int64, kind lanyard.CardKind, name string) {
	s.t.Helper()
	v := s.cardView(id)
	if v.State != lanyard.CardIssued || v.Name != name || v.Owner != owner {
		s.t.Errorf("the card created before is %s, named %q, owned by %q; want issued, %q, %s", v.State, v.Name, v.Owner, name, owner)
	}
	var cards []*apiv1.CardView
	if err := s.admin.Get(context.Background(), "/api/v1/cards?q="+owner, &cards); err != nil {
		s.t.Fatal(err)
	}
	for _, c := range cards {
		if c.ID != id && c.Kind == kind {
			s.t.Errorf("the issue created another %s: card %d (%s)", kind, c.ID, c.Serial)
		}
	}
}

// TestBrowserIssueTPMCreatedBefore: a TPM virtual smart card created
// earlier through the API, not issued, is offered in Issue TPM virtual
// smart card as created before; the user picks it, names it and issues
// onto it, and no second card is made in the TPM. The workstation has one
// virtual reader slot, which that card fills: a new card cannot be made,
// and the card created before is still offered (it was not: the Issue
// button was replaced by the reason).
func TestBrowserIssueTPMCreatedBefore(t *testing.T) {
	s := newStack(t)
	s.slots = []string{s.vpcd}
	seed := filepath.Join(t.TempDir(), "tpm.seed")
	s.newTPM = func() agent.TPM { return agenttpm.Open("simulator:"+seed, nil) }
	tia, _ := s.user("tia")
	ctx := context.Background()
	if _, err := s.admin.Do(ctx, http.MethodPut, "/api/v1/features", apiv1.Features{TPMVirtualCard: true}, nil); err != nil {
		t.Fatal(err)
	}
	allowVirtualCards(t, s.admin)
	s.pair("tia")
	s.waitState("reporting a usable TPM", func(st lanyard.WorkstationState) bool { return st.TPM != nil && st.TPM.Usable })

	var made apiv1.ConnectedCard
	if _, err := tia.Post(ctx, "/api/v1/virtual-cards", apiv1.CreateVirtualInput{WorkstationID: s.ws, Kind: lanyard.KindTPMVirtualCard}, &made); err != nil {
		t.Fatal(err)
	}
	s.waitState("showing the TPM card created before", func(st lanyard.WorkstationState) bool {
		for _, r := range st.Readers {
			if r.Present && r.Serial == made.Serial {
				return true
			}
		}
		return false
	})

	b := mustBrowser(t, s.srv.URL)
	b.Login("tia", password)
	if got := b.issueCreatedBefore(lanyard.KindTPMVirtualCard, made.Serial, "Work TPM", "workstation e2e-pc has no free reader slot for another virtual card"); !strings.Contains(got, "Card issued") {
		t.Fatalf("issuing onto the TPM card created before: %q", got)
	}
	s.checkIssuedOnto("tia", made.CardID, lanyard.KindTPMVirtualCard, "Work TPM")
	if st, err := agent.QueryStatus(s.agentDir); err != nil || len(st.VirtualCards) != 1 {
		t.Errorf("the agent holds %+v (%v), want the one card created before", st.VirtualCards, err)
	}
}

// TestBrowserIssueAirCardCreatedBefore: the user creates an AirCard in
// Issue AirCard and cancels the Issue card dialog that follows; the
// AirCard stays, clean. Issue AirCard then offers it as created before
// beside Create a new AirCard; the user picks it, names it and issues
// onto it, and the AirCard service holds no second AirCard.
func TestBrowserIssueAirCardCreatedBefore(t *testing.T) {
	s := newStack(t)
	s.slots = []string{s.vpcd}
	s.user("ida")
	s.setPolicy(allowAirCards)
	air := s.startAirService(t.TempDir(), "aircard-service", true)
	s.pair("ida")

	b := mustBrowser(t, s.srv.URL)
	b.Login("ida", password)
	b.openVirtualStep(lanyard.KindAirCard)
	b.Run("Create a new AirCard", chromedp.Click("#virtual-create"))
	b.WaitFor("the Issue card form", `document.querySelector('#issue-form')`)
	b.Run("Cancel", chromedp.Click(`#issue-form .buttons button[type=button]`))
	b.WaitFor("dialog closed", `!document.querySelector('#issue-dialog').open`)

	var cards []*apiv1.CardView
	if err := mustClientFor(t, s, "ida").Get(context.Background(), "/api/v1/cards", &cards); err != nil || len(cards) != 1 || cards[0].State != lanyard.CardClean {
		t.Fatalf("after the cancelled dialog ida's cards are %+v (%v), want one clean AirCard", cards, err)
	}
	made := cards[0]
	s.waitAirCard(s.ws, made.Serial, true)

	if got := b.issueCreatedBefore(lanyard.KindAirCard, made.Serial, "Travel card", ""); !strings.Contains(got, "Card issued") {
		t.Fatalf("issuing onto the AirCard created before: %q", got)
	}
	s.checkIssuedOnto("ida", made.ID, lanyard.KindAirCard, "Travel card")
	if list := air.host.Serials(); len(list) != 1 {
		t.Errorf("the AirCard service holds %v, want only the AirCard created before", list)
	}
}
