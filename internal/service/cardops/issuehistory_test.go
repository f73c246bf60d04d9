package cardops_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// issueArchived issues alice's card in the first reader with the
// secure-email template archiving its key.
func (e *issueEnv) issueArchived(t *testing.T) *cardops.IssueCardResult {
	t.Helper()
	archiveSecureEmail(t, e)
	setPUKBefore(t, e.card, "11223344")
	res, err := e.svc.Cards.IssueCard(context.Background(), e.alice, cardops.IssueCardInput{CardTarget: e.target(), Templates: []string{"secure-email"},
		UserPIN: "24681357", AdminPIN: "11223344"})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// checkRetired checks that card c holds, in its retired slots from 82 up,
// exactly the archived keys want (newest first) with their certificates,
// counted by the Key History Object: each slot's key agrees on an ECDH
// secret as the archived key does.
func (e *issueEnv) checkRetired(t *testing.T, c *emu.Card, pin string, want []*lanyard.ArchivedKey) {
	t.Helper()
	ctx := context.Background()
	pc := pivOf(t, c)
	h, err := personalize.ReadKeyHistory(ctx, pc)
	if err != nil || h.OnCard != len(want) {
		t.Fatalf("key history %+v (%v), want %d keys on the card", h, err, len(want))
	}
	if err := pc.VerifyPIN(ctx, pin); err != nil {
		t.Fatal(err)
	}
	for i, k := range want {
		slot, _ := pivspec.RetiredSlot(i + 1)
		cert, err := pc.Certificate(ctx, slot)
		if err != nil || cert.SerialNumber.Text(16) != k.CertificateSerial {
			t.Fatalf("slot %s holds %v (%v), want the certificate %s of archived key %d", slot, cert, err, k.CertificateSerial, k.ID)
		}
		var archived *ecdsa.PrivateKey
		storetest.MustView(t, e.st, func(tx lanyard.Tx) error {
			_, key, err := e.svc.Archive.OpenTx(tx, k.ID)
			if err == nil {
				archived = key.(*ecdsa.PrivateKey)
			}
			return err
		})
		peer, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		fromCard, err := pc.ECDH(ctx, slot, peer.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		mine, _ := archived.ECDH()
		if fromArchive, _ := mine.ECDH(peer.PublicKey()); !bytes.Equal(fromCard, fromArchive) {
			t.Fatalf("slot %s does not hold archived key %d", slot, k.ID)
		}
	}
}

// recoveries returns the key.recover events of recoveries onto card id.
func (e *issueEnv) recoveries(t *testing.T, id int64) []*lanyard.AuditEvent {
	t.Helper()
	var out []*lanyard.AuditEvent
	for _, ev := range storetest.CheckAuditChain(t, e.st) {
		if ev.Action == "key.recover" && ev.ObjectType == "card" && ev.ObjectID == formatID(id) {
			out = append(out, ev)
		}
	}
	return out
}

// TestReplacementRecoversArchivedKeys: alice's card is issued with an
// archived secure-email key, then lost and replaced for good by operator
// olga with her key recovery request adam approved (dual control). The
// replacement waits for the CA, and the new card holds no earlier key
// while it waits; once approved, Continue card issue gives it a new
// archived key in 9D and the old card's key in retired slot 82 with the
// key history counting it, so mail encrypted to the old certificate
// still opens; the recovery is one key.recover event naming the card, the
// key and the request, which is used. The first card's issue had no
// earlier key, and recovered nothing.
func TestReplacementRecoversArchivedKeys(t *testing.T) {
	e := newStepUpEnv(t)
	ctx := context.Background()
	old, oldKeys := e.firstCard(t), e.keys
	if h, err := personalize.ReadKeyHistory(ctx, pivOf(t, e.card)); err != nil || h.OnCard != 0 || len(e.recoveries(t, old.ID)) != 0 {
		t.Fatalf("the first card's key history %+v (%v): want no earlier key", h, err)
	}
	target, op, req, res := e.replaceWithRequest(t, old.ID)
	if res.State != string(lanyard.CardPending) {
		t.Fatalf("olga's replacement is %s, want pending", res.State)
	}
	noRetiredKeys(t, e.access.Card(2, secondReader))
	done := e.approveAndContinue(t, op, res.IssueCardResult, target)
	newCard := e.access.Card(2, secondReader)
	keys, err := e.svc.Archive.Keys(ctx, e.alice.User.ID, "secure-email")
	if err != nil {
		t.Fatal(err)
	}
	var current *lanyard.ArchivedKey
	for _, k := range keys {
		if k.CardID == done.Card.ID && k.State == lanyard.ArchivedKeyActive {
			current = k
		}
	}
	if current == nil {
		t.Fatalf("the new card has no active archived key: %+v", keys)
	}
	onCard, err := pivOf(t, newCard).Certificate(ctx, pivspec.SlotKeyManagement)
	if err != nil || onCard.SerialNumber.Text(16) != current.CertificateSerial {
		t.Fatalf("9D of the new card holds %v (%v), want its new archived key's certificate", onCard, err)
	}
	e.checkRetired(t, newCard, "13572468", oldKeys)
	evs := e.recoveries(t, done.Card.ID)
	if len(evs) != 1 || !bytes.Contains(evs[0].Details, fmt.Appendf(nil, `"archived_keys":[%d]`, oldKeys[0].ID)) || !bytes.Contains(evs[0].Details, []byte(`"slot":"82"`)) ||
		!bytes.Contains(evs[0].Details, fmt.Appendf(nil, `"requests":[%d]`, req)) {
		t.Fatalf("key.recover events of the new card: %+v", evs)
	}
	if done.RecoverableKeys != 0 || done.RecoveryNote != "" {
		t.Errorf("the new card holds every earlier key, yet the result says %d (%q)", done.RecoverableKeys, done.RecoveryNote)
	}
	r, err := e.svc.Archive.RecoveryRequests(ctx, op, "")
	if err != nil || len(r) != 1 || r[0].State != lanyard.KeyRecoveryDownloaded {
		t.Fatalf("olga's request after the replacement: %+v, %v; want used (downloaded)", r, err)
	}
}

// replaceWithRequest has operator olga replace alice's card oldID for
// good with a fresh card in the second reader (its target returned) and
// her key recovery request adam approved.
func (e *recoverKeysEnv) replaceWithRequest(t *testing.T, oldID int64) (cardops.CardTarget, *lanyard.Principal, int64, *cardops.ReplaceCardResult) {
	t.Helper()
	target := e.second(t)
	op := e.operator(t, "olga")
	req := e.approvedRequest(t, op)
	res, err := e.svc.Cards.ReplaceCard(context.Background(), op, oldID, cardops.ReplaceCardInput{Reason: lanyard.CardLost, CardTarget: target, UserPIN: "13572468",
		Recovery: &cardops.HistoryAuthority{Requests: []int64{req}}})
	if err != nil {
		t.Fatal(err)
	}
	return target, op, req, res
}

// firstCard is alice's card in the first reader, as she sees it.
func (e *recoverKeysEnv) firstCard(t *testing.T) *cardops.CardView {
	t.Helper()
	cards, err := e.svc.Cards.ListCards(context.Background(), e.alice, lanyard.CardFilter{})
	if err != nil || len(cards) != 1 {
		t.Fatalf("alice's cards %+v, %v", cards, err)
	}
	return cards[0]
}

// noRetiredKeys checks that card c's key history counts no retired key
// and that its first retired slot holds neither a key nor a certificate.
func noRetiredKeys(t *testing.T, c *emu.Card) {
	t.Helper()
	ctx := context.Background()
	pc := pivOf(t, c)
	if h, err := personalize.ReadKeyHistory(ctx, pc); err != nil || h.OnCard != 0 {
		t.Fatalf("key history %+v (%v), want no retired key", h, err)
	}
	if _, err := pc.Certificate(ctx, pivspec.SlotRetiredFirst); err == nil {
		t.Fatal("retired slot 82 holds a certificate")
	}
	if _, err := pc.Metadata(ctx, pivspec.SlotRetiredFirst.Ref()); !errors.Is(err, piv.ErrNotFound) {
		t.Fatalf("GET METADATA of retired slot 82: %v, want no key", err)
	}
}

// TestReplacementWithoutAuthorityGetsNoKeys: operator olga replaces
// alice's card for good with a PIN she chose and no authority for alice's
// earlier keys (the exploit of a replacement putting them on a card staff
// control): the new card never gets them, neither before the CA approval
// nor after, and the result and the card view say one earlier key can be
// put on it with Recover keys onto card.
func TestReplacementWithoutAuthorityGetsNoKeys(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	old := e.issueArchived(t)
	target := e.second(t)
	op := e.operator(t, "olga")
	res, err := e.svc.Cards.ReplaceCard(ctx, op, old.Card.ID, cardops.ReplaceCardInput{Reason: lanyard.CardLost, CardTarget: target, UserPIN: "13572468"})
	if err != nil {
		t.Fatal(err)
	}
	newCard := e.access.Card(2, secondReader)
	noRetiredKeys(t, newCard)
	done := e.approveAndContinue(t, op, res.IssueCardResult, target)
	noRetiredKeys(t, newCard)
	if len(e.recoveries(t, done.Card.ID)) != 0 {
		t.Fatal("a key.recover event without a recovery")
	}
	if done.RecoverableKeys != 1 || !strings.Contains(done.RecoveryNote, "1 earlier encryption key can be put on this card: Recover keys onto card") {
		t.Fatalf("the result says %d (%q), want 1 earlier key to recover", done.RecoverableKeys, done.RecoveryNote)
	}
	v, err := e.svc.Cards.GetCard(ctx, e.alice, done.Card.ID)
	if err != nil || v.RecoverableKeys != 1 {
		t.Fatalf("alice's view of the new card: %d recoverable (%v), want 1", v.RecoverableKeys, err)
	}
}

// TestReplacementRejectedNeverGetsKeys: olga replaces alice's card with
// her approved request, and the CA manager rejects the new card's
// requests: the card never held alice's earlier key, and the request is
// not used.
func TestReplacementRejectedNeverGetsKeys(t *testing.T) {
	e := newStepUpEnv(t)
	ctx := context.Background()
	old := e.firstCard(t)
	target, op, _, res := e.replaceWithRequest(t, old.ID)
	for _, c := range res.Card.Certificates {
		if c.RequestID != 0 {
			if _, err := e.svc.PKI.RejectRequest(ctx, e.admin, c.RequestID, "identity not proven"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := e.svc.Cards.ContinueCardIssue(ctx, op, res.Card.ID, cardops.ContinueInput{CardTarget: target}); err == nil {
		t.Fatal("a rejected replacement continued")
	}
	noRetiredKeys(t, e.access.Card(2, secondReader))
	if len(e.recoveries(t, res.Card.ID)) != 0 {
		t.Fatal("a key.recover event for a rejected replacement")
	}
	r, err := e.svc.Archive.RecoveryRequests(ctx, op, "")
	if err != nil || len(r) != 1 || r[0].State != lanyard.KeyRecoveryApproved {
		t.Fatalf("olga's request: %+v, %v; want still approved (unused)", r, err)
	}
}

// TestIssueHistoryAuthorityRefused: a wrong step-up of alice's, or
// olga's request that nobody approved, refuses the issue or replacement
// before anything is written: the old card stays issued, no replacement
// is recorded, the new card is untouched.
func TestIssueHistoryAuthorityRefused(t *testing.T) {
	e := newStepUpEnv(t)
	ctx := context.Background()
	old := e.firstCard(t)
	target := e.second(t)
	op := e.operator(t, "olga")
	req, err := e.svc.Archive.RequestRecovery(ctx, op, e.keys[0].ID, "alice's card is lost")
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Cards.ReplaceCard(ctx, op, old.ID, cardops.ReplaceCardInput{Reason: lanyard.CardLost, CardTarget: target, UserPIN: "13572468",
		Recovery: &cardops.HistoryAuthority{Requests: []int64{req.ID}}})
	if !lanyard.IsCode(err, lanyard.EConflict) {
		t.Fatalf("a replacement with a pending request: %v, want conflict", err)
	}
	_, err = e.svc.Cards.ReplaceCard(ctx, op, old.ID, cardops.ReplaceCardInput{Reason: lanyard.CardLost, CardTarget: target, UserPIN: "13572468",
		Recovery: &cardops.HistoryAuthority{AccountPassword: accountPassword, Code: e.code(t)}})
	if !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Fatalf("olga with a password: %v, want forbidden", err)
	}
	_, err = e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: target, Templates: []string{"secure-email"}, UserPIN: "13572468",
		Recovery: &cardops.HistoryAuthority{AccountPassword: accountPassword, Code: "000000"}})
	if err == nil {
		t.Fatal("a wrong authenticator code issued a card")
	}
	if len(e.replacements(t, old.ID)) != 0 {
		t.Fatal("a refused replacement was recorded")
	}
	if v, err := e.svc.Cards.GetCard(ctx, e.alice, old.ID); err != nil || v.State != lanyard.CardIssued {
		t.Fatalf("the old card after refused replacements: %+v, %v", v, err)
	}
	if cards, err := e.svc.Cards.ListCards(ctx, e.alice, lanyard.CardFilter{}); err != nil || len(cards) != 1 {
		t.Fatalf("alice's cards after refused issues: %d, %v", len(cards), err)
	}
}

// TestSpareCardWithoutStepUpGetsNoKeys: alice (a session without her
// step-up) issues a spare card with the secure-email template: it gets a
// new archived key and none of her earlier ones, and says one can be put
// on it; with her step-up a second spare card gets it.
func TestSpareCardWithoutStepUpGetsNoKeys(t *testing.T) {
	e := newStepUpEnv(t)
	ctx := context.Background()
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Issuance.MaxCardsPerUser = 0 })
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.second(t), Templates: []string{"secure-email"}, UserPIN: "13572468"})
	if err != nil {
		t.Fatal(err)
	}
	noRetiredKeys(t, e.access.Card(2, secondReader))
	if res.RecoverableKeys != 1 {
		t.Fatalf("the spare card's result says %d recoverable keys (%q), want 1", res.RecoverableKeys, res.RecoveryNote)
	}
	e.access.Add(t, 3, e.alice.User.ID, "third reader")
	res, err = e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: cardops.CardTarget{WorkstationID: 3, Reader: "third reader"},
		Templates: []string{"secure-email"}, UserPIN: "13572468", Recovery: e.stepUp(t)})
	if err != nil {
		t.Fatal(err)
	}
	if res.RecoverableKeys != 0 || len(e.recoveries(t, res.Card.ID)) != 1 {
		t.Fatalf("the card issued with the step-up: %d recoverable, %d recoveries", res.RecoverableKeys, len(e.recoveries(t, res.Card.ID)))
	}
}

// TestTemporaryReplacementRecoveryResumedAnywhere: alice's temporary card is
// pulled (its last reply lost) while her earlier key goes into its retired
// slots, after the recovery was recorded; Continue card issue writes the
// recorded key into the same slot, without a second key.recover event,
// and the card ends with the old key in 82 and the key history counting
// one. The interruption point is searched for: the first APDU count at
// which the issue stops having recorded keys_recovering, the whole
// replacement again for each APDU: a sequential sweep like the
// Test…Anywhere ones, so `make unit` runs it with them, without the race
// detector (Makefile).
func TestTemporaryReplacementRecoveryResumedAnywhere(t *testing.T) {
	ctx := context.Background()
	type attempt struct {
		e       *issueEnv
		oldKeys []*lanyard.ArchivedKey
		newCard int64
		step    string
	}
	try := func(n int) attempt {
		e := newStepUpEnv(t)
		e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.IssuedCardOps.TemporaryReplacement = true })
		old, oldKeys := e.firstCard(t), e.keys
		target := e.second(t)
		e.access.LoseReplyAfter(2, secondReader, n)
		_, err := e.svc.Cards.ReplaceCard(ctx, e.alice, old.ID, cardops.ReplaceCardInput{Kind: lanyard.ReplaceTemporary, CardTarget: target,
			Templates: []string{"smartcard-logon", "secure-email"}, UserPIN: "13572468", Recovery: e.stepUp(t)})
		a := attempt{e: e.issueEnv, oldKeys: oldKeys}
		links := e.replacements(t, old.Card.ID)
		if err == nil || len(links) == 0 {
			return a // done, or refused before it started
		}
		a.newCard = links[0].NewCardID
		storetest.MustView(t, e.st, func(tx lanyard.Tx) error {
			ops, err := tx.ListOperations(lanyard.OperationFilter{CardID: a.newCard, Kind: lanyard.OpIssue})
			if err == nil && len(ops) > 0 {
				a.step = ops[0].Step
			}
			return err
		})
		return a
	}
	var a attempt
	for n := 1; ; n++ {
		if n > 400 {
			t.Fatal("no interruption point found after keys_recovering")
		}
		if a = try(n); a.step == "keys_recovering" {
			break
		}
	}
	e := a.e
	if len(e.recoveries(t, a.newCard)) != 1 {
		t.Fatal("the recovery is not on record before the card got the keys")
	}
	res, err := e.svc.Cards.ContinueCardIssue(ctx, e.alice, a.newCard, cardops.ContinueInput{CardTarget: cardops.CardTarget{WorkstationID: 2, Reader: secondReader}, UserPIN: "13572468"})
	if err != nil {
		t.Fatal(err)
	}
	if res.State != string(lanyard.CardIssued) {
		t.Fatalf("continued temporary card is %s", res.State)
	}
	e.checkRetired(t, e.access.Card(2, secondReader), "13572468", a.oldKeys)
	if n := len(e.recoveries(t, a.newCard)); n != 1 {
		t.Errorf("%d key.recover events after Continue card issue, want 1", n)
	}
}

// TestTemporaryLogonCardGetsArchivedKeys: a temporary card with the
// policy's required logon template only (no encryption template, so no
// new archived key) still gets alice's archived key in slot 82 while her
// card is missing, and slot 9D stays empty.
func TestTemporaryLogonCardGetsArchivedKeys(t *testing.T) {
	e := newStepUpEnv(t)
	ctx := context.Background()
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.IssuedCardOps.TemporaryReplacement = true })
	old, keys := e.firstCard(t), e.keys
	res, err := e.svc.Cards.ReplaceCard(ctx, e.alice, old.ID, cardops.ReplaceCardInput{Kind: lanyard.ReplaceTemporary, CardTarget: e.second(t), UserPIN: "13572468",
		Recovery: e.stepUp(t)})
	if err != nil {
		t.Fatal(err)
	}
	if got := templatesOf(res.Card); len(got) != 1 || got[0] != "smartcard-logon" {
		t.Fatalf("temporary card's templates %v, want smartcard-logon only", got)
	}
	temp := e.access.Card(2, secondReader)
	if _, err := pivOf(t, temp).Certificate(ctx, pivspec.SlotKeyManagement); err == nil {
		t.Fatal("the temporary card has a key management certificate")
	}
	e.checkRetired(t, temp, "13572468", keys)
}
