package cardops_test

import (
	"context"
	"crypto/x509"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/lanyard-cms/lanyard/internal/cardperm"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

// RFC 5280 (5.3.1) reason codes the replacement tests expect.
const (
	reasonKeyCompromise  = 1
	reasonSuperseded     = 4
	reasonCertificateHld = 6
)

const secondReader = "second reader"

// second puts a fresh card in a second reader (workstation 2, alice's)
// and returns its target.
func (e *issueEnv) second(t *testing.T) cardops.CardTarget {
	t.Helper()
	e.access.Add(t, 2, e.alice.User.ID, secondReader)
	return cardops.CardTarget{WorkstationID: 2, Reader: secondReader}
}

// readyToReplace is the start of most replacement tests: the logon
// template puts its certificates on hold when a card is disabled, alice's
// card is issued with both templates, a fresh card waits in the second
// reader (its target returned), and olga is an operator.
func (e *issueEnv) readyToReplace(t *testing.T) (*cardops.CardView, map[string]*cardops.CardCertificate, cardops.CardTarget, *lanyard.Principal) {
	t.Helper()
	e.setHold(t, "smartcard-logon", true)
	card, certs := e.issueTwo(t)
	return card, certs, e.second(t), e.operator(t, "olga")
}

// resolve has p say whether the original card id was found (or lost)
// and returns the outcome.
func (e *issueEnv) resolve(t *testing.T, p *lanyard.Principal, id int64, found bool) *cardops.ResolveReplacementResult {
	t.Helper()
	out, err := e.svc.Cards.ResolveReplacement(context.Background(), p, id, cardops.ResolveReplacementInput{Found: found})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkIssuedSecond is checkIssued on the card in the second reader.
func (e *issueEnv) checkIssuedSecond(t *testing.T, cardID int64, pin string, wantTemplates ...string) {
	t.Helper()
	first := e.card
	e.card = e.access.Card(2, secondReader)
	defer func() { e.card = first }()
	e.checkIssued(t, cardID, pin, wantTemplates...)
}

// approveAndContinue approves, as the administrator, the CA requests a
// replacement card's issue on the owner's behalf waits for (four eyes),
// and continues the issue as p.
func (e *issueEnv) approveAndContinue(t *testing.T, p *lanyard.Principal, res *cardops.IssueCardResult, target cardops.CardTarget) *cardops.IssueCardResult {
	t.Helper()
	ctx := context.Background()
	for _, c := range res.Card.Certificates {
		if c.RequestID != 0 {
			if _, err := e.svc.PKI.ApproveRequest(ctx, e.admin, c.RequestID, "replacement checked"); err != nil {
				t.Fatal(err)
			}
		}
	}
	done, err := e.svc.Cards.ContinueCardIssue(ctx, p, res.Card.ID, cardops.ContinueInput{CardTarget: target})
	if err != nil {
		t.Fatal(err)
	}
	if done.State != string(lanyard.CardIssued) {
		t.Fatalf("continued replacement card is %s, want issued", done.State)
	}
	return done
}

// replacements reads the links card id takes part in.
func (e *issueEnv) replacements(t *testing.T, id int64) []*lanyard.CardReplacement {
	t.Helper()
	var out []*lanyard.CardReplacement
	if err := e.st.View(context.Background(), func(tx lanyard.Tx) (err error) { out, err = tx.CardReplacementsOf(id); return }); err != nil {
		t.Fatal(err)
	}
	return out
}

// leaf is a certificate of the card as the CA issued it.
func (e *issueEnv) leaf(t *testing.T, c *cardops.CardCertificate) *x509.Certificate {
	t.Helper()
	rec, _, err := e.svc.PKI.GetCertificate(context.Background(), e.admin, c.CA, c.Serial)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func formatID(id int64) string { return strconv.FormatInt(id, 10) }

func templatesOf(v *cardops.CardView) []string {
	var out []string
	for _, c := range v.Certificates {
		out = append(out, c.Template)
	}
	slices.Sort(out)
	return out
}

// A permanent replacement by an operator revokes the lost card (every
// certificate keyCompromise, on the CRL and in OCSP) and issues the new
// card to its owner with the old card's templates, in one card.replace
// event; both cards show the link. Issued on the owner's behalf, the new
// card's certificates wait for a CA manager (four eyes): the link is
// pending until Continue card issue finishes it.
func TestReplacePermanent(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	old, certs, target, op := e.readyToReplace(t)

	res, err := e.svc.Cards.ReplaceCard(ctx, op, old.ID, cardops.ReplaceCardInput{Reason: lanyard.CardLost, CardTarget: target, UserPIN: "13572468", Comment: "left on the train"})
	if err != nil {
		t.Fatal(err)
	}
	if res.State != string(lanyard.CardPending) || res.Old.State != lanyard.CardRevoked || res.Old.RevocationReason != lanyard.CardLost {
		t.Fatalf("new card %s, old card %s (%s); want pending, revoked (lost)", res.State, res.Old.State, res.Old.RevocationReason)
	}
	if res.Replacement.State != lanyard.ReplacementPending {
		t.Errorf("link %s while the new card waits, want pending", res.Replacement.State)
	}
	for _, c := range certs {
		if r := e.revocationOf(t, c.CA, c.Serial); !r.onCRL || r.crlReason != reasonKeyCompromise || r.ocsp != ocsp.Revoked || r.ocspWhy != reasonKeyCompromise {
			t.Errorf("old card's %s certificate: %+v, want revoked keyCompromise on the CRL and in OCSP", c.Template, r)
		}
	}
	done := e.approveAndContinue(t, op, res.IssueCardResult, target)
	e.checkIssuedSecond(t, done.Card.ID, "13572468", "smartcard-logon", "secure-email")
	newCard := e.cardOf(t, res.Card.ID)
	if got := templatesOf(newCard); !slices.Equal(got, []string{"secure-email", "smartcard-logon"}) {
		t.Errorf("new card's templates %v, want the old card's", got)
	}
	for _, c := range newCard.Certificates {
		if r := e.revocationOf(t, c.CA, c.Serial); r.onCRL || r.ocsp != ocsp.Good {
			t.Errorf("new card's %s certificate: %+v, want good", c.Template, r)
		}
	}
	r := e.replacements(t, old.ID)[0]
	if r.Kind != lanyard.ReplacePermanent || r.State != lanyard.ReplacementActive || r.OldCardID != old.ID || r.NewCardID != res.Card.ID || r.Reason != lanyard.CardLost {
		t.Fatalf("link %+v, want permanent, active, old → new, lost", r)
	}
	oldView := e.cardOf(t, old.ID)
	if oldView.ReplacedBy == nil || oldView.ReplacedBy.NewSerial != newCard.Serial || newCard.Replaces == nil || newCard.Replaces.OldSerial != oldView.Serial {
		t.Errorf("the cards do not show the link: old %+v, new %+v", oldView.ReplacedBy, newCard.Replaces)
	}
	if newCard.OwnerID != e.alice.User.ID {
		t.Errorf("new card's owner %d, want alice", newCard.OwnerID)
	}
	var replace *lanyard.AuditEvent
	for _, ev := range e.allAudit(t) {
		if ev.Action == "card.replace" {
			if replace != nil {
				t.Error("two card.replace events")
			}
			replace = ev
		}
		if ev.Action == "card.issue.start" && ev.ObjectID == formatID(res.Card.ID) {
			t.Error("the replacement's issue start has an event of its own: it is card.replace")
		}
	}
	if replace == nil || replace.ObjectID != formatID(old.ID) {
		t.Fatalf("card.replace event %+v", replace)
	}
}

// A temporary replacement in Self-Service disables the original (its
// certificates on hold per template) and issues a temporary card with the
// required templates and the policy's short validity. The original is
// then only resolved: found, the temporary card is revoked (superseded)
// and the original enabled, its certificates off hold.
func TestReplaceTemporaryFound(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.Workflow.IssuedCardOps.TemporaryReplacement = true
		s.Workflow.TemporaryCardValidityDays = 7
	})
	e.setHold(t, "smartcard-logon", true)
	e.setHold(t, "secure-email", false)
	orig, certs := e.issueTwo(t)
	target := e.second(t)

	res, err := e.svc.Cards.ReplaceCard(ctx, e.alice, orig.ID, cardops.ReplaceCardInput{Kind: lanyard.ReplaceTemporary, CardTarget: target, UserPIN: "13572468"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Old.State != lanyard.CardDisabled || res.Replacement.Kind != lanyard.ReplaceTemporary || res.Replacement.Reason != lanyard.CardLost {
		t.Fatalf("original %s, link %+v; want disabled, temporary, lost", res.Old.State, res.Replacement)
	}
	temp := e.cardOf(t, res.Card.ID)
	if got := templatesOf(temp); !slices.Equal(got, []string{"smartcard-logon"}) {
		t.Errorf("temporary card's templates %v, want the required one", got)
	}
	e.checkIssuedSecond(t, temp.ID, "13572468", "smartcard-logon")
	for _, c := range temp.Certificates {
		if l := e.leaf(t, c); l.NotAfter.Sub(l.NotBefore) > 7*24*time.Hour+time.Hour {
			t.Errorf("temporary %s certificate valid %v, want at most the policy's 7 days", c.Template, l.NotAfter.Sub(l.NotBefore))
		}
	}
	logon, mail := certs["smartcard-logon"], certs["secure-email"]
	if r := e.revocationOf(t, logon.CA, logon.Serial); !r.onCRL || r.crlReason != reasonCertificateHld || r.ocsp != ocsp.Revoked {
		t.Errorf("original's logon certificate: %+v, want on hold", r)
	}
	if r := e.revocationOf(t, mail.CA, mail.Serial); r.onCRL || r.ocsp != ocsp.Good {
		t.Errorf("original's e-mail certificate: %+v, want good (its template does not hold)", r)
	}
	own, err := e.svc.Cards.GetCard(ctx, e.alice, orig.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(own.AllowedOperations, []cardperm.Op{cardperm.ResolveReplacement}) {
		t.Errorf("alice's operations on the original: %v, want only its resolution", own.AllowedOperations)
	}
	// Enabling the original alone would leave the temporary card in use.
	if _, err := e.svc.Cards.EnableCard(ctx, e.alice, orig.ID); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Errorf("enable the original of a temporary replacement: %v, want forbidden", err)
	}
	tempOwn, err := e.svc.Cards.GetCard(ctx, e.alice, temp.ID)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(tempOwn.AllowedOperations, cardperm.ReplaceTemporary) || slices.Contains(tempOwn.AllowedOperations, cardperm.Replace) {
		t.Errorf("the temporary card is offered a replacement: %v", tempOwn.AllowedOperations)
	}

	out := e.resolve(t, e.alice, orig.ID, true)
	if out.Original.State != lanyard.CardIssued || out.Temporary.State != lanyard.CardRevoked || out.Temporary.RevocationReason != lanyard.CardSuperseded ||
		out.Replacement.State != lanyard.ReplacementEnded {
		t.Fatalf("after found: original %s, temporary %s (%s), link %s", out.Original.State, out.Temporary.State, out.Temporary.RevocationReason, out.Replacement.State)
	}
	if r := e.revocationOf(t, logon.CA, logon.Serial); r.onCRL || r.ocsp != ocsp.Good {
		t.Errorf("original's logon certificate after found: %+v, want off hold", r)
	}
	for _, c := range temp.Certificates {
		if r := e.revocationOf(t, c.CA, c.Serial); !r.onCRL || r.crlReason != reasonSuperseded || r.ocsp != ocsp.Revoked {
			t.Errorf("temporary %s certificate after found: %+v, want revoked superseded", c.Template, r)
		}
	}
	if got := e.auditActions(t, "card.replace"); !slices.Equal(got, []string{"card.replace", "card.replace.found"}) {
		t.Errorf("events %v", got)
	}
	// Nothing left to resolve.
	if _, err := e.svc.Cards.ResolveReplacement(ctx, e.alice, orig.ID, cardops.ResolveReplacementInput{Found: true}); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Errorf("resolving again: %v, want a conflict", err)
	}
}

// Not found: the original is revoked (lost: keyCompromise) and the
// temporary card, asked from its own side, becomes the owner's permanent
// card, its short-lived certificates still good. The temporary card is
// issued by an operator: its certificates, approved by a CA manager
// later, get the short validity too.
func TestReplaceTemporaryNotFound(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	orig, certs, target, op := e.readyToReplace(t)
	res, err := e.svc.Cards.ReplaceCard(ctx, op, orig.ID, cardops.ReplaceCardInput{Kind: lanyard.ReplaceTemporary, CardTarget: target, UserPIN: "13572468",
		Templates: []string{"smartcard-logon", "secure-email"}})
	if err != nil {
		t.Fatal(err)
	}
	e.approveAndContinue(t, op, res.IssueCardResult, target)
	temp := e.cardOf(t, res.Card.ID)
	if got := templatesOf(temp); !slices.Equal(got, []string{"secure-email", "smartcard-logon"}) {
		t.Errorf("temporary card's templates %v, want both chosen", got)
	}
	for _, c := range temp.Certificates {
		if l := e.leaf(t, c); l.NotAfter.Sub(l.NotBefore) > lanyard.DefaultTemporaryCardValidityDays*24*time.Hour+time.Hour {
			t.Errorf("temporary %s certificate valid %v, want the default %d days", c.Template, l.NotAfter.Sub(l.NotBefore), lanyard.DefaultTemporaryCardValidityDays)
		}
	}
	out := e.resolve(t, op, temp.ID, false)
	if out.Original.State != lanyard.CardRevoked || out.Original.RevocationReason != lanyard.CardLost || out.Temporary.State != lanyard.CardIssued ||
		out.Replacement.Kind != lanyard.ReplacePermanent {
		t.Fatalf("after not found: original %s (%s), temporary %s, link %s", out.Original.State, out.Original.RevocationReason, out.Temporary.State, out.Replacement.Kind)
	}
	for _, c := range certs {
		if r := e.revocationOf(t, c.CA, c.Serial); !r.onCRL || r.crlReason != reasonKeyCompromise || r.ocsp != ocsp.Revoked {
			t.Errorf("original's %s certificate: %+v, want revoked keyCompromise", c.Template, r)
		}
	}
	for _, c := range temp.Certificates {
		if r := e.revocationOf(t, c.CA, c.Serial); r.onCRL || r.ocsp != ocsp.Good {
			t.Errorf("kept card's %s certificate: %+v, want good", c.Template, r)
		}
	}
	kept := e.cardOf(t, temp.ID)
	if !slices.Contains(kept.AllowedOperations, cardperm.Replace) || kept.Replaces == nil || kept.Replaces.Kind != lanyard.ReplacePermanent {
		t.Errorf("the kept card is not the owner's permanent card: operations %v, link %+v", kept.AllowedOperations, kept.Replaces)
	}
}

// Refusals change nothing: not allowed by the policy or the role, the
// card as its own replacement, a new card that is someone else's, a bad
// reason, a card in the wrong state.
func TestReplaceRefused(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	old, _ := e.issueTwo(t)
	target := e.second(t)
	bob, err := e.svc.Identity.CreateUser(ctx, e.admin, identity.UserInput{Login: "bob", UPN: ptr("bob@example.test"), Email: ptr("bob@example.test")})
	if err != nil {
		t.Fatal(err)
	}
	e.access.Add(t, 3, bob.ID, "bob's reader")
	bobP := &lanyard.Principal{User: bob, Roles: bob.Roles}
	if _, err := e.svc.Cards.IssueCard(ctx, bobP, cardops.IssueCardInput{CardTarget: cardops.CardTarget{WorkstationID: 3, Reader: "bob's reader"}}); err != nil {
		t.Fatal(err)
	}
	op := e.operator(t, "olga")
	before := e.cardOf(t, old.ID)
	events := len(e.allAudit(t))
	for _, tc := range []struct {
		name string
		p    *lanyard.Principal
		in   cardops.ReplaceCardInput
		want string
	}{
		{"owner: permanent replacement is staff's", e.alice, cardops.ReplaceCardInput{Reason: lanyard.CardLost, CardTarget: target}, lanyard.EForbidden},
		{"owner: temporary not allowed by the policy", e.alice, cardops.ReplaceCardInput{Kind: lanyard.ReplaceTemporary, CardTarget: target}, lanyard.EForbidden},
		{"another user", bobP, cardops.ReplaceCardInput{Reason: lanyard.CardLost, CardTarget: target}, lanyard.ENotFound},
		{"the card itself", op, cardops.ReplaceCardInput{Reason: lanyard.CardLost, CardTarget: e.target()}, lanyard.EInvalid},
		{"bob's card", op, cardops.ReplaceCardInput{Reason: lanyard.CardLost, CardTarget: cardops.CardTarget{WorkstationID: 3, Reader: "bob's reader"}}, lanyard.EConflict},
		{"reason superseded", op, cardops.ReplaceCardInput{Reason: lanyard.CardSuperseded, CardTarget: target}, lanyard.EInvalid},
		{"no reason", op, cardops.ReplaceCardInput{CardTarget: target}, lanyard.EInvalid},
		{"kind unknown", op, cardops.ReplaceCardInput{Kind: "forever", Reason: lanyard.CardLost, CardTarget: target}, lanyard.EInvalid},
		{"no new card", op, cardops.ReplaceCardInput{Reason: lanyard.CardLost}, lanyard.EInvalid},
		{"template not in the policy", op, cardops.ReplaceCardInput{Kind: lanyard.ReplaceTemporary, CardTarget: target, Templates: []string{"nope"}}, lanyard.EInvalid},
	} {
		_, err := e.svc.Cards.ReplaceCard(ctx, tc.p, old.ID, tc.in)
		if !lanyard.IsCode(err, tc.want) {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}
	if all := e.allAudit(t); len(all) != events {
		for _, ev := range all[events:] {
			t.Errorf("a refusal wrote audit event %s %s", ev.Action, ev.Details)
		}
	}
	after := e.cardOf(t, old.ID)
	if after.State != lanyard.CardIssued || !after.UpdatedAt.Equal(before.UpdatedAt) || after.ReplacedBy != nil {
		t.Errorf("the old card changed: %s, link %+v", after.State, after.ReplacedBy)
	}
	for _, c := range after.Certificates {
		if r := e.revocationOf(t, c.CA, c.Serial); r.onCRL || r.ocsp != ocsp.Good {
			t.Errorf("old card's %s certificate: %+v, want good", c.Template, r)
		}
	}
	if _, err := e.svc.Cards.ResolveReplacement(ctx, op, old.ID, cardops.ResolveReplacementInput{Found: true}); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Errorf("resolving a card never replaced: %v, want a conflict", err)
	}
	// A revoked card is replaced for good only (TestReplaceRevokedCard):
	// no temporary card stands in for it.
	if _, err := e.svc.Cards.RevokeCard(ctx, op, old.ID, cardops.RevokeCardInput{Reason: lanyard.CardDamaged}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Cards.ReplaceCard(ctx, op, old.ID, cardops.ReplaceCardInput{Kind: lanyard.ReplaceTemporary, Reason: lanyard.CardLost, CardTarget: target}); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Errorf("a temporary replacement of a revoked card: %v, want a conflict", err)
	}
	if links := e.replacements(t, old.ID); len(links) != 0 {
		t.Errorf("links recorded by refusals: %+v", links)
	}
}

// The temporary card may be an AirCard, made for the owner at the AirCard
// service and bound to her workstation, when the policy allows AirCards;
// its certificate has the short validity too.
func TestReplaceTemporaryWithAirCard(t *testing.T) {
	e := newVirtualEnv(t, nil)
	ctx := context.Background()
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.AllowedCards = []string{"piv", "aircard"}
		s.Workflow.IssueAirCard = true
		s.Workflow.IssuedCardOps.TemporaryReplacement = true
	})
	e.storeWorkstations(t, "pc-1", "air:aircard-service")
	orig, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	e.access.AddAirCardService(3)
	res, err := e.svc.Cards.ReplaceCard(ctx, e.alice, orig.Card.ID, cardops.ReplaceCardInput{Kind: lanyard.ReplaceTemporary, AirCard: true,
		CardTarget: cardops.CardTarget{WorkstationID: 1}, UserPIN: "13572468"})
	if err != nil {
		t.Fatal(err)
	}
	temp := e.cardOf(t, res.Card.ID)
	if temp.Kind != lanyard.KindAirCard || temp.State != lanyard.CardIssued || res.Old.State != lanyard.CardDisabled {
		t.Fatalf("temporary card %s %s, original %s; want an issued AirCard, the original disabled", temp.Kind, temp.State, res.Old.State)
	}
	for _, c := range temp.Certificates {
		if l := e.leaf(t, c); l.NotAfter.Sub(l.NotBefore) > lanyard.DefaultTemporaryCardValidityDays*24*time.Hour+time.Hour {
			t.Errorf("temporary AirCard's %s certificate valid %v", c.Template, l.NotAfter.Sub(l.NotBefore))
		}
	}
	if _, err := e.svc.Cards.ReplaceCard(ctx, e.alice, temp.ID, cardops.ReplaceCardInput{Kind: lanyard.ReplaceTemporary, AirCard: true,
		CardTarget: cardops.CardTarget{WorkstationID: 1}}); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Errorf("replacing the temporary card: %v, want forbidden", err)
	}
}

// A new card pulled in the middle of its issue: the original stays
// disabled and the link pending, the error says so, and Continue card
// issue finishes the temporary card and makes the link active.
func TestReplaceInterruptedThenContinued(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.IssuedCardOps.TemporaryReplacement = true })
	orig, _ := e.issueTwo(t)
	target := e.second(t)
	e.access.FailAfter(2, secondReader, 14)
	_, err := e.svc.Cards.ReplaceCard(ctx, e.alice, orig.ID, cardops.ReplaceCardInput{Kind: lanyard.ReplaceTemporary, CardTarget: target, UserPIN: "13572468"})
	if !lanyard.IsCode(err, lanyard.EUnavailable) || !strings.Contains(err.Error(), "replaced (pending) by the new card, whose issue stopped") {
		t.Fatalf("replacement with the new card pulled: %v", err)
	}
	links := e.replacements(t, orig.ID)
	if len(links) != 1 || links[0].State != lanyard.ReplacementPending {
		t.Fatalf("links after the interruption: %+v", links)
	}
	if v := e.cardOf(t, orig.ID); v.State != lanyard.CardDisabled {
		t.Fatalf("the original after the interruption: %s", v.State)
	}
	res, err := e.svc.Cards.ContinueCardIssue(ctx, e.alice, links[0].NewCardID, cardops.ContinueInput{CardTarget: target, UserPIN: "13572468"})
	if err != nil {
		t.Fatal(err)
	}
	e.checkIssuedSecond(t, res.Card.ID, "13572468", "smartcard-logon")
	if links = e.replacements(t, orig.ID); links[0].State != lanyard.ReplacementActive {
		t.Errorf("link after Continue card issue: %s, want active", links[0].State)
	}
}

// A lost temporary card is revoked like any card (lost: keyCompromise);
// the original stays disabled, and Original found then enables it, the
// temporary card staying revoked as lost.
func TestReplaceTemporaryCardLost(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.IssuedCardOps.TemporaryReplacement = true })
	e.setHold(t, "smartcard-logon", true)
	orig, certs := e.issueTwo(t)
	res, err := e.svc.Cards.ReplaceCard(ctx, e.alice, orig.ID, cardops.ReplaceCardInput{Kind: lanyard.ReplaceTemporary, CardTarget: e.second(t), UserPIN: "13572468"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Cards.RevokeCard(ctx, e.alice, res.Card.ID, cardops.RevokeCardInput{Reason: lanyard.CardLost}); err != nil {
		t.Fatal(err)
	}
	if v := e.cardOf(t, orig.ID); v.State != lanyard.CardDisabled || !slices.Equal(v.AllowedOperations, []cardperm.Op{cardperm.ResolveReplacement}) {
		t.Fatalf("the original after its temporary card was revoked: %s %v", v.State, v.AllowedOperations)
	}
	out := e.resolve(t, e.alice, orig.ID, true)
	if out.Original.State != lanyard.CardIssued || out.Temporary.State != lanyard.CardRevoked || out.Temporary.RevocationReason != lanyard.CardLost {
		t.Fatalf("after found: original %s, temporary %s (%s)", out.Original.State, out.Temporary.State, out.Temporary.RevocationReason)
	}
	logon := certs["smartcard-logon"]
	if r := e.revocationOf(t, logon.CA, logon.Serial); r.onCRL || r.ocsp != ocsp.Good {
		t.Errorf("the original's logon certificate: %+v, want off hold", r)
	}
	for _, c := range out.Temporary.Certificates {
		if r := e.revocationOf(t, c.CA, c.Serial); r.crlReason != reasonKeyCompromise || r.ocsp != ocsp.Revoked {
			t.Errorf("the lost temporary card's %s certificate: %+v, want revoked keyCompromise", c.Template, r)
		}
	}
}

// A card revoked as lost (on the phone, the card absent) is replaced when
// its owner gets a new one: the revocation and its reason stand, the new
// card is issued for the owner and linked to it, and the card is not
// replaced a second time.
func TestReplaceRevokedCard(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	old, certs := e.issueTwo(t)
	target := e.second(t)
	op := e.operator(t, "olga")
	if _, err := e.svc.Cards.RevokeCard(ctx, op, old.ID, cardops.RevokeCardInput{Reason: lanyard.CardLost}); err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Cards.ReplaceCard(ctx, op, old.ID, cardops.ReplaceCardInput{Reason: lanyard.CardDamaged, CardTarget: target, UserPIN: "13572468"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Old.State != lanyard.CardRevoked || res.Old.RevocationReason != lanyard.CardLost {
		t.Errorf("old card %s (%s), want still revoked as lost", res.Old.State, res.Old.RevocationReason)
	}
	for _, c := range certs {
		if r := e.revocationOf(t, c.CA, c.Serial); r.crlReason != reasonKeyCompromise || r.ocsp != ocsp.Revoked {
			t.Errorf("old card's %s certificate: %+v, want still revoked keyCompromise", c.Template, r)
		}
	}
	done := e.approveAndContinue(t, op, res.IssueCardResult, target)
	e.checkIssuedSecond(t, done.Card.ID, "13572468", "smartcard-logon", "secure-email")
	if links := e.replacements(t, old.ID); len(links) != 1 || links[0].State != lanyard.ReplacementActive || links[0].NewCardID != res.Card.ID {
		t.Fatalf("links %+v, want one active link to the new card", links)
	}
	v := e.cardOf(t, old.ID)
	if slices.Contains(v.AllowedOperations, cardperm.Replace) {
		t.Errorf("a card replaced for good still offers %v", v.AllowedOperations)
	}
	if _, err := e.svc.Cards.ReplaceCard(ctx, op, old.ID, cardops.ReplaceCardInput{Reason: lanyard.CardLost, CardTarget: target}); !lanyard.IsCode(err, lanyard.EConflict) {
		t.Errorf("replacing a card a second time: %v, want a conflict", err)
	}
}
