package cardops_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/cardperm"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/cardtest"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// caRequests sets the documents check to CA requests (after the issue:
// the issue itself went through without approvals).
func (e *updateEnv) caRequests(t *testing.T) {
	t.Helper()
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Documents.Check = lanyard.DocsCARequest })
}

// pendingUpdate starts an update that waits for the CA, uploads alice's
// signed request forms and returns the result and the request IDs.
func (e *updateEnv) pendingUpdate(t *testing.T) (*cardops.UpdateCardResult, []int64) {
	t.Helper()
	ctx := context.Background()
	e.caRequests(t)
	res, err := e.update(t, cardops.UpdateCardInput{})
	if err != nil {
		t.Fatal(err)
	}
	if res.State != "pending" || res.Card.State != lanyard.CardIssued {
		t.Fatalf("update %s, card %s; want pending, the card still issued", res.State, res.Card.State)
	}
	for _, s := range res.Slots {
		if s.Status != "pending" || s.NewSerial != "" {
			t.Fatalf("slot %+v, want pending", s)
		}
	}
	var reqs []int64
	for _, cc := range res.Card.Certificates {
		if cc.RequestID != 0 && cc.Status == lanyard.CertPending {
			reqs = append(reqs, cc.RequestID)
		}
	}
	if len(reqs) != 2 {
		t.Fatalf("%d pending requests in the card view, want 2", len(reqs))
	}
	docs, err := e.svc.Documents.CardDocuments(ctx, e.alice, e.cardID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range docs {
		if d.Kind == lanyard.DocCertificateRequest && d.State == lanyard.DocAwaitingUpload {
			if _, err := e.svc.Documents.UploadDocument(ctx, e.alice, d.ID, signedPDF); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d request forms to sign, want 2", n)
	}
	// While the update waits, the card keeps its old certificates.
	for slot, old := range e.old {
		if c := e.cert(t, old.Serial); c.Status != lanyard.CertWritten {
			t.Fatalf("old certificate of %s is %s while the update waits", slot, c.Status)
		}
	}
	return res, reqs
}

// An update under a documents check waits for the CA: the card stays
// issued with its old certificates; a second person (a CA manager)
// approves, and Continue card update finishes it.
func TestUpdateCardPendingCAApprovalThenContinued(t *testing.T) {
	e := newUpdateEnv(t, nil, nil)
	ctx := context.Background()
	res, reqs := e.pendingUpdate(t)
	// Not yet: Continue leaves it pending.
	again, err := e.svc.Cards.ContinueCardUpdate(ctx, e.alice, e.cardID, e.target())
	if err != nil || again.State != "pending" {
		t.Fatalf("continue before approval: %v %+v", err, again)
	}
	if _, err := e.svc.PKI.ApproveRequest(ctx, e.alice, reqs[0], "mine"); err == nil {
		t.Fatal("alice approved her own card's request")
	}
	for _, id := range reqs {
		if _, err := e.svc.PKI.ApproveRequest(ctx, e.admin, id, "documents checked"); err != nil {
			t.Fatal(err)
		}
	}
	done, err := e.svc.Cards.ContinueCardUpdate(ctx, e.alice, e.cardID, e.target())
	if err != nil {
		t.Fatal(err)
	}
	if done.State != "done" || done.OperationID != res.OperationID {
		t.Fatalf("continued update: %+v", done)
	}
	e.checkUpdated(t, "9a", "9d")
	want := []string{"update_pending alice@example.test", "update_approved alice@example.test", "updated alice@example.test"}
	if got := e.mail.sent(); !slices.Equal(got, want) {
		t.Fatalf("notifications %v, want %v", got, want)
	}
}

// A rejected request fails the update at Continue; the old certificates
// stay valid on the card, and the card can be updated again.
func TestUpdateCardRejected(t *testing.T) {
	e := newUpdateEnv(t, nil, nil)
	ctx := context.Background()
	_, reqs := e.pendingUpdate(t)
	if _, err := e.svc.PKI.RejectRequest(ctx, e.admin, reqs[0], "not this time"); err != nil {
		t.Fatal(err)
	}
	if got := e.mail.sent(); !slices.Contains(got, "update_rejected alice@example.test") {
		t.Fatalf("notifications %v, want the rejection", got)
	}
	_, err := e.svc.Cards.ContinueCardUpdate(ctx, e.alice, e.cardID, e.target())
	wantCode(t, err, lanyard.EConflict)
	if !strings.Contains(err.Error(), "not this time") || !strings.Contains(err.Error(), "update the card again") {
		t.Fatalf("continue after the rejection: %v", err)
	}
	v := e.view(t)
	if v.State != lanyard.CardIssued || v.Update.Unfinished != nil {
		t.Fatalf("after the rejection: card %s, unfinished %+v", v.State, v.Update.Unfinished)
	}
	for slot, old := range e.old {
		if c := e.cert(t, old.Serial); c.Status != lanyard.CertWritten {
			t.Fatalf("old certificate of %s is %s after the rejection, want written", slot, c.Status)
		}
	}
	// The other request was withdrawn, not left for a CA manager.
	var other *lanyard.CertRequest
	if err := e.st.View(ctx, func(tx lanyard.Tx) (err error) { other, err = tx.RequestByID(reqs[1]); return }); err != nil {
		t.Fatal(err)
	}
	if other.Status != lanyard.RequestRejected {
		t.Fatalf("the other request is %s, want withdrawn", other.Status)
	}
	if e.audit(t, "card.update.fail", formatID(e.cardID)) != 1 {
		t.Fatal("no card.update.fail event")
	}
}

// Cancel card update (administrators) ends a pending update without the
// card: requests withdrawn, certificates issued for it but not in use
// revoked (cessation of operation), the old ones untouched.
func TestCancelCardUpdate(t *testing.T) {
	e := newUpdateEnv(t, nil, nil)
	ctx := context.Background()
	_, reqs := e.pendingUpdate(t)
	// Approved (a certificate issued) but not yet written.
	res, err := e.svc.PKI.ApproveRequest(ctx, e.admin, reqs[0], "ok")
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Cards.CancelCardUpdate(ctx, e.alice, e.cardID, cardops.CancelUpdateInput{Comment: "mine"})
	wantCode(t, err, lanyard.EForbidden)
	v, err := e.svc.Cards.CancelCardUpdate(ctx, e.admin, e.cardID, cardops.CancelUpdateInput{Comment: "wrong templates"})
	if err != nil {
		t.Fatal(err)
	}
	if v.Update == nil || v.Update.Unfinished != nil || !v.Update.Due {
		t.Fatalf("after cancel: %+v, want no unfinished update (and still due)", v.Update)
	}
	issued := e.cert(t, res.Certificate.Serial)
	if issued.Status != lanyard.CertRevoked || issued.Reason != lanyard.ReasonCessationOfOperation {
		t.Fatalf("the approved certificate is %s (%s), want revoked (cessation of operation)", issued.Status, issued.ReasonName)
	}
	var other *lanyard.CertRequest
	if err := e.st.View(ctx, func(tx lanyard.Tx) (err error) { other, err = tx.RequestByID(reqs[1]); return }); err != nil {
		t.Fatal(err)
	}
	if other.Status != lanyard.RequestRejected {
		t.Fatalf("the other request is %s, want withdrawn", other.Status)
	}
	for slot, old := range e.old {
		if c := e.cert(t, old.Serial); c.Status != lanyard.CertWritten {
			t.Fatalf("old certificate of %s is %s after the cancel, want written", slot, c.Status)
		}
	}
	if got := e.mail.sent(); !slices.Equal(got, []string{"update_pending alice@example.test", "update_cancelled alice@example.test"}) {
		t.Fatalf("notifications %v", got)
	}
	if e.audit(t, "card.update.cancel", formatID(e.cardID)) != 1 {
		t.Fatal("no card.update.cancel event")
	}
	_, err = e.svc.Cards.CancelCardUpdate(ctx, e.admin, e.cardID, cardops.CancelUpdateInput{})
	wantCode(t, err, lanyard.EConflict)
	// The card is updated afresh (the documents check off again).
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Documents.Check = lanyard.DocsNone })
	if _, err := e.update(t, cardops.UpdateCardInput{}); err != nil {
		t.Fatal(err)
	}
	e.checkUpdated(t, "9a", "9d")
}

// Cancel is refused once a new key may be in use in its slot: here a card
// that cannot move keys, pulled after its new key was generated in place
// (rekeying recorded); Continue card update finishes it.
func TestCancelCardUpdateRefusedOnceInUse(t *testing.T) {
	ctx := context.Background()
	for after := 1; after < 100; after++ {
		e := newUpdateEnv(t, []emu.Option{emu.WithoutMoveKey()}, nil)
		e.access.FailAfter(1, reader, after)
		if _, err := e.update(t, cardops.UpdateCardInput{AcceptKeyLoss: true}); err == nil {
			t.Fatal("the update finished before any key was replaced in place")
		}
		v := e.view(t)
		if v.Update.Unfinished == nil || !strings.Contains(string(v.Update.Unfinished.Data), `"rekeying"`) {
			continue
		}
		_, err := e.svc.Cards.CancelCardUpdate(ctx, e.admin, e.cardID, cardops.CancelUpdateInput{Comment: "stop"})
		wantCode(t, err, lanyard.EConflict)
		if !strings.Contains(err.Error(), "continue the update with the card") {
			t.Fatalf("cancel once in use: %v", err)
		}
		if _, err := e.svc.Cards.ContinueCardUpdate(ctx, e.alice, e.cardID, e.target()); err != nil {
			t.Fatal(err)
		}
		e.checkUpdated(t, "9a", "9d")
		return
	}
	t.Fatal("no interruption left the update rekeying")
}

// Revoking the card while its update waits fails the update and
// withdraws its requests.
func TestRevokeCardDuringPendingUpdate(t *testing.T) {
	e := newUpdateEnv(t, nil, nil)
	ctx := context.Background()
	_, reqs := e.pendingUpdate(t)
	if _, err := e.svc.Cards.RevokeCard(ctx, e.admin, e.cardID, cardops.RevokeCardInput{Reason: lanyard.CardLost}); err != nil {
		t.Fatal(err)
	}
	v := e.view(t)
	if v.State != lanyard.CardRevoked || v.Update != nil {
		t.Fatalf("after revoke: %s, update %+v", v.State, v.Update)
	}
	for _, op := range v.Operations {
		if op.Kind == lanyard.OpUpdate && op.State != lanyard.OpFailed {
			t.Fatalf("update operation %s after the card was revoked", op.State)
		}
	}
	for _, id := range reqs {
		var r *lanyard.CertRequest
		if err := e.st.View(ctx, func(tx lanyard.Tx) (err error) { r, err = tx.RequestByID(id); return }); err != nil {
			t.Fatal(err)
		}
		if r.Status != lanyard.RequestRejected {
			t.Fatalf("request %d is %s after the card was revoked", id, r.Status)
		}
	}
	_, err := e.svc.Cards.ContinueCardUpdate(ctx, e.alice, e.cardID, e.target())
	wantCode(t, err, lanyard.EConflict)
}

// Refusals, with the messages the user sees.
func TestUpdateCardRefused(t *testing.T) {
	ctx := context.Background()
	t.Run("up to date", func(t *testing.T) {
		e := newUpdateEnv(t, nil, nil)
		e.clock.Add(-350 * day) // back to the issue: nothing expires soon
		_, err := e.update(t, cardops.UpdateCardInput{})
		wantCode(t, err, lanyard.EConflict)
		if !strings.Contains(err.Error(), "is up to date") {
			t.Fatalf("got %v", err)
		}
		if v := e.view(t); v.Update == nil || v.Update.Due {
			t.Fatalf("card view %+v, want not due", v.Update)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		e := newUpdateEnv(t, nil, nil)
		if _, err := e.svc.Cards.DisableCard(ctx, e.admin, e.cardID); err != nil {
			t.Fatal(err)
		}
		_, err := e.update(t, cardops.UpdateCardInput{})
		wantCode(t, err, lanyard.EConflict)
		if !strings.Contains(err.Error(), "a disabled card cannot be issued, updated or unblocked; enable it first") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("revoked", func(t *testing.T) {
		e := newUpdateEnv(t, nil, nil)
		if _, err := e.svc.Cards.RevokeCard(ctx, e.admin, e.cardID, cardops.RevokeCardInput{Reason: lanyard.CardLost}); err != nil {
			t.Fatal(err)
		}
		_, err := e.update(t, cardops.UpdateCardInput{})
		wantCode(t, err, lanyard.EConflict)
		if !strings.Contains(err.Error(), "is revoked and cannot be updated") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no permission", func(t *testing.T) {
		e := newUpdateEnv(t, nil, nil)
		e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.IssuedCardOps.Update = false })
		_, err := e.update(t, cardops.UpdateCardInput{})
		wantCode(t, err, lanyard.EForbidden)
		if v := e.view(t); hasOp(v, string(cardperm.Update)) {
			t.Fatalf("alice may %v without the permission", v.AllowedOperations)
		}
	})
	t.Run("staff only renew not due", func(t *testing.T) {
		e := newUpdateEnv(t, nil, nil)
		_, err := e.update(t, cardops.UpdateCardInput{Renew: []string{"smartcard-logon"}})
		wantCode(t, err, lanyard.EForbidden)
	})
	t.Run("no MOVE, key loss not accepted", func(t *testing.T) {
		e := newUpdateEnv(t, []emu.Option{emu.WithoutMoveKey()}, nil)
		o, err := e.svc.Cards.UpdateOptions(ctx, e.alice, e.target(), e.cardID)
		if err != nil {
			t.Fatal(err)
		}
		if len(o.Cautions) != 1 || o.Slots[0].Staged {
			t.Fatalf("options on a card that cannot move keys: %+v", o.UpdateOptions)
		}
		_, err = e.update(t, cardops.UpdateCardInput{})
		wantCode(t, err, lanyard.EInvalid)
	})
}

// A policy change: document-signing becomes required and secure-email
// leaves the policy. The update adds 9C, removes 9D (certificate and
// key) and revokes its certificate as superseded; 9A is renewed.
func TestUpdateCardPolicyChange(t *testing.T) {
	e := newUpdateEnv(t, nil, nil)
	ctx := context.Background()
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.Certificates.Required = []string{"smartcard-logon", "document-signing"}
		s.Certificates.Optional = nil
	})
	res, err := e.update(t, cardops.UpdateCardInput{})
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]issuance.SlotAction{}
	for _, s := range res.Slots {
		actions[s.Slot] = s.Action
		if s.Status != "done" {
			t.Fatalf("slot %+v not done", s)
		}
	}
	if actions["9a"] != issuance.ActionRenew || actions["9c"] != issuance.ActionAdd || actions["9d"] != issuance.ActionRemove {
		t.Fatalf("actions %v", actions)
	}
	e.checkIssued(t, e.cardID, updatePIN, "smartcard-logon", "document-signing")
	gone := e.cert(t, e.old["9d"].Serial)
	if gone.Status != lanyard.CertRevoked || gone.Reason != lanyard.ReasonSuperseded {
		t.Fatalf("removed certificate: %s (%s)", gone.Status, gone.ReasonName)
	}
	pc := pivOf(t, e.card)
	slot, _ := personalize.ParseSlot("9d")
	if _, err := pc.Certificate(ctx, slot); !errors.Is(err, piv.ErrNotFound) {
		t.Fatalf("9D still holds a certificate: %v", err)
	}
	if _, err := pc.Metadata(ctx, slot.Ref()); !errors.Is(err, piv.ErrNotFound) {
		t.Fatalf("9D still holds a key: %v", err)
	}
	var rec struct {
		Update struct {
			Superseded map[string]string `json:"superseded"`
		} `json:"update"`
	}
	v := e.view(t)
	for _, op := range v.Operations {
		if op.Kind == lanyard.OpUpdate {
			if err := json.Unmarshal(op.Data, &rec); err != nil {
				t.Fatal(err)
			}
		}
	}
	if s, ok := rec.Update.Superseded[e.old["9d"].Serial]; !ok || s != "" {
		t.Fatalf("superseded %v", rec.Update.Superseded)
	}
	if rec.Update.Superseded[e.old["9a"].Serial] == "" {
		t.Fatalf("superseded %v, want 9a's", rec.Update.Superseded)
	}
}

var _ = cardtest.New

// arrival is alice's card arriving in her workstation's reader.
func (e *updateEnv) arrival(t *testing.T) lanyard.CardArrival {
	t.Helper()
	v := e.view(t)
	return lanyard.CardArrival{WorkstationID: 1, Reader: lanyard.Reader{Name: reader, Serial: v.Serial, ATR: e.card.ATR(), Present: true}}
}

// Update card contents automatically when the card is connected: off, no
// card session; on and due, the card is updated as its owner asking,
// recorded with the system as actor; on and not due, no APDU; a card
// whose automatic update failed is left alone for the backoff.
func TestUpdateCardAutomaticallyOnConnect(t *testing.T) {
	ctx := context.Background()
	apdus := func(e *updateEnv) int64 { _, n := e.access.CardTime(); return n }
	t.Run("off", func(t *testing.T) {
		e := newUpdateEnv(t, nil, nil)
		before := apdus(e)
		ran, err := e.svc.Cards.AutoUpdateNow(ctx, e.arrival(t))
		if ran || err != nil || apdus(e) != before {
			t.Fatalf("policy off: ran %v, %v, %d APDUs", ran, err, apdus(e)-before)
		}
	})
	t.Run("on, due", func(t *testing.T) {
		e := newUpdateEnv(t, nil, func(s *lanyard.PolicySettings) { s.Workflow.AutoUpdateOnConnect = true })
		// Not even the owner's permission is needed: the policy's switch is.
		e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.IssuedCardOps.Update = false })
		ran, err := e.svc.Cards.AutoUpdateNow(ctx, e.arrival(t))
		if !ran || err != nil {
			t.Fatalf("ran %v, %v", ran, err)
		}
		e.checkUpdated(t, "9a", "9d")
		// The agent showed "updating card contents" meanwhile, then the
		// card's state again.
		told := e.access.Told()
		if len(told) != 2 || told[0].State != agentproto.CardStateUpdating || told[1].State != lanyard.CardIssued || told[0].Serial != e.view(t).Serial || told[0].WorkstationID != 1 {
			t.Fatalf("the agent was told %+v, want updating, then issued", told)
		}
		var evs []*lanyard.AuditEvent
		if err := e.st.View(ctx, func(tx lanyard.Tx) (err error) {
			evs, err = tx.ListAudit(lanyard.AuditFilter{Action: "card.update", ObjectID: formatID(e.cardID)})
			return
		}); err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || evs[0].Actor != "system" {
			t.Fatalf("card.update events %+v, want one by system", evs)
		}
		// Up to date now: the next arrival costs no APDU.
		before := apdus(e)
		if ran, err := e.svc.Cards.AutoUpdateNow(ctx, e.arrival(t)); ran || err != nil || apdus(e) != before {
			t.Fatalf("not due: ran %v, %v, %d APDUs", ran, err, apdus(e)-before)
		}
	})
	t.Run("on, not due", func(t *testing.T) {
		e := newUpdateEnv(t, nil, func(s *lanyard.PolicySettings) { s.Workflow.AutoUpdateOnConnect = true })
		e.clock.Add(-350 * day)
		before := apdus(e)
		if ran, err := e.svc.Cards.AutoUpdateNow(ctx, e.arrival(t)); ran || err != nil || apdus(e) != before {
			t.Fatalf("not due: ran %v, %v, %d APDUs", ran, err, apdus(e)-before)
		}
	})
	t.Run("interrupted, continued at the next arrival", func(t *testing.T) {
		e := newUpdateEnv(t, nil, func(s *lanyard.PolicySettings) { s.Workflow.AutoUpdateOnConnect = true })
		e.access.FailAfter(1, reader, 30)
		if ran, err := e.svc.Cards.AutoUpdateNow(ctx, e.arrival(t)); !ran || err == nil {
			t.Fatalf("pulled: ran %v, %v", ran, err)
		}
		if v := e.view(t); v.Update.Unfinished == nil || v.Update.Unfinished.State != lanyard.OpInterrupted {
			t.Fatalf("after the pulled update: %+v", v.Update)
		}
		// An interrupted update is not a failed one: no backoff.
		if ran, err := e.svc.Cards.AutoUpdateNow(ctx, e.arrival(t)); !ran || err != nil {
			t.Fatalf("next arrival: ran %v, %v", ran, err)
		}
		e.checkUpdated(t, "9a", "9d")
	})
	t.Run("failed, backoff", func(t *testing.T) {
		// A card that cannot move keys would lose secure-email's old
		// decryption key: that needs someone to accept it, so the
		// automatic update fails, and is not tried at every connection.
		e := newUpdateEnv(t, []emu.Option{emu.WithoutMoveKey()}, func(s *lanyard.PolicySettings) { s.Workflow.AutoUpdateOnConnect = true })
		if ran, err := e.svc.Cards.AutoUpdateNow(ctx, e.arrival(t)); !ran || !lanyard.IsCode(err, lanyard.EInvalid) {
			t.Fatalf("ran %v, %v; want refused (key loss not accepted)", ran, err)
		}
		before := apdus(e)
		if ran, err := e.svc.Cards.AutoUpdateNow(ctx, e.arrival(t)); ran || err != nil || apdus(e) != before {
			t.Fatalf("within the backoff: ran %v, %v, %d APDUs", ran, err, apdus(e)-before)
		}
		e.clock.Add(2 * time.Hour)
		if ran, _ := e.svc.Cards.AutoUpdateNow(ctx, e.arrival(t)); !ran {
			t.Fatal("not tried again after the backoff")
		}
	})
}

// An update left running by a server that stopped is interrupted by the
// next server's recovery, not failed, and Continue card update finishes
// it.
func TestUpdateCardServerRestart(t *testing.T) {
	e := newUpdateEnv(t, nil, nil)
	ctx := context.Background()
	e.access.FailAfter(1, reader, 25)
	if _, err := e.update(t, cardops.UpdateCardInput{}); err == nil {
		t.Fatal("the update survived the card leaving")
	}
	storetest.MustUpdate(t, e.st, func(tx lanyard.Tx) error {
		ops, err := tx.ListOperations(lanyard.OperationFilter{CardID: e.cardID, Kind: lanyard.OpUpdate})
		if err != nil {
			return err
		}
		prev := ops[0].UpdatedAt
		ops[0].State, ops[0].Error = lanyard.OpRunning, ""
		return tx.UpdateOperation(ops[0], prev)
	})
	e.svc.Close()
	e.st.Close()
	e.start(t)
	n, err := e.svc.Cards.RecoverOperations(ctx, 0)
	if err != nil || n != 1 {
		t.Fatalf("RecoverOperations: %d %v, want 1", n, err)
	}
	if v := e.view(t); v.Update.Unfinished == nil || v.Update.Unfinished.State != lanyard.OpInterrupted {
		t.Fatalf("after recovery: %+v, want the update interrupted", v.Update)
	}
	if e.audit(t, "card.update.interrupt", formatID(e.cardID)) != 2 {
		t.Fatal("recovery did not record card.update.interrupt")
	}
	if _, err := e.svc.Cards.ContinueCardUpdate(ctx, e.alice, e.cardID, e.target()); err != nil {
		t.Fatal(err)
	}
	e.checkUpdated(t, "9a", "9d")
}

// A temporary replacement card is renewed within the policy's temporary
// validity, as it was issued: an update does not turn it into a card
// for a year.
func TestUpdateTemporaryCardKeepsItsBound(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.Workflow.IssuedCardOps.TemporaryReplacement = true
		s.Workflow.IssuedCardOps.Update = true
		s.Workflow.TemporaryCardValidityDays = 7
	})
	orig, _ := e.issueTwo(t)
	target := e.second(t)
	res, err := e.svc.Cards.ReplaceCard(ctx, e.alice, orig.ID, cardops.ReplaceCardInput{Kind: lanyard.ReplaceTemporary, CardTarget: target, UserPIN: "13572468"})
	if err != nil {
		t.Fatal(err)
	}
	// Valid for 7 days: within the 30-day renewal window at once.
	up, err := e.svc.Cards.UpdateCard(ctx, e.alice, cardops.UpdateCardInput{CardTarget: target})
	if err != nil {
		t.Fatal(err)
	}
	if up.State != "done" || len(up.Slots) != 1 || up.Slots[0].NewSerial == "" {
		t.Fatalf("update of the temporary card: %+v", up)
	}
	temp := e.cardOf(t, res.Card.ID)
	for _, c := range temp.Certificates {
		if c.Serial != up.Slots[0].NewSerial {
			continue
		}
		if l := e.leaf(t, c); l.NotAfter.Sub(l.NotBefore) > 7*24*time.Hour+time.Hour {
			t.Fatalf("renewed temporary certificate valid %v, want at most the policy's 7 days", l.NotAfter.Sub(l.NotBefore))
		}
		return
	}
	t.Fatal("the renewed certificate is not on the temporary card's view")
}

// An update cancelled after its new certificate was written to the
// staging slot (not yet moved in) leaves it there; Revoke and clear
// deletes it with the card's other certificates.
func TestClearDeletesStagedCertificate(t *testing.T) {
	ctx := context.Background()
	for after := 1; after < 100; after++ {
		e := newUpdateEnv(t, nil, nil)
		e.access.FailAfter(1, reader, after)
		if _, err := e.update(t, cardops.UpdateCardInput{}); err == nil {
			t.Fatal("the update finished before a staged certificate was written")
		}
		v := e.view(t)
		if v.Update.Unfinished == nil {
			continue
		}
		var rec struct {
			Written map[string]bool `json:"written"`
			Update  struct {
				Stage   map[string]string `json:"stage"`
				Swapped map[string]bool   `json:"swapped"`
			} `json:"update"`
		}
		if err := json.Unmarshal(v.Update.Unfinished.Data, &rec); err != nil {
			t.Fatal(err)
		}
		if !rec.Written["9a"] || rec.Update.Swapped["9a"] {
			continue
		}
		staged, _ := personalize.ParseSlot(rec.Update.Stage["9a"])
		if _, err := pivOf(t, e.card).Certificate(ctx, staged); err != nil {
			t.Fatalf("staging slot %s holds no certificate: %v", rec.Update.Stage["9a"], err)
		}
		if _, err := e.svc.Cards.CancelCardUpdate(ctx, e.admin, e.cardID, cardops.CancelUpdateInput{Comment: "stop"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Cards.RevokeAndClearCard(ctx, e.alice, e.cardID, cardops.ClearInput{CardTarget: e.target()}); err != nil {
			t.Fatal(err)
		}
		if _, err := pivOf(t, e.card).Certificate(ctx, staged); !errors.Is(err, piv.ErrNotFound) {
			t.Fatalf("staging slot %s still holds a certificate after the clear: %v", rec.Update.Stage["9a"], err)
		}
		return
	}
	t.Fatal("no interruption left a staged certificate")
}
