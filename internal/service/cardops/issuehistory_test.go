package cardops_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/personalize"
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
// archived secure-email key, then lost and replaced for good by an
// operator. The new card gets a new archived key in 9D and the old
// card's key in retired slot 82 with the key history counting it, so
// mail encrypted to the old certificate still opens; the recovery is one
// key.recover event naming the card and the key. The first card's issue
// had no earlier key, and recovered nothing.
func TestReplacementRecoversArchivedKeys(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	old := e.issueArchived(t)
	if h, err := personalize.ReadKeyHistory(ctx, pivOf(t, e.card)); err != nil || h.OnCard != 0 || len(e.recoveries(t, old.Card.ID)) != 0 {
		t.Fatalf("the first card's key history %+v (%v): want no earlier key", h, err)
	}
	oldKeys, err := e.svc.Archive.Keys(ctx, e.alice.User.ID, "secure-email")
	if err != nil || len(oldKeys) != 1 || oldKeys[0].State != lanyard.ArchivedKeyActive {
		t.Fatalf("archived keys after the first issue: %+v, %v", oldKeys, err)
	}
	target := e.second(t)
	op := e.operator(t, "olga")
	res, err := e.svc.Cards.ReplaceCard(ctx, op, old.Card.ID, cardops.ReplaceCardInput{Reason: lanyard.CardLost, CardTarget: target, UserPIN: "13572468"})
	if err != nil {
		t.Fatal(err)
	}
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
	if len(evs) != 1 || !bytes.Contains(evs[0].Details, fmt.Appendf(nil, `"archived_keys":[%d]`, oldKeys[0].ID)) || !bytes.Contains(evs[0].Details, []byte(`"slot":"82"`)) {
		t.Fatalf("key.recover events of the new card: %+v", evs)
	}
}

// TestTemporaryReplacementRecoveryResumed: alice's temporary card is
// pulled (its last reply lost) while her earlier key goes into its retired
// slots, after the recovery was recorded; Continue card issue writes the
// recorded key into the same slot, without a second key.recover event,
// and the card ends with the old key in 82 and the key history counting
// one. The interruption point is searched for: the first APDU count at
// which the issue stops having recorded keys_recovering.
func TestTemporaryReplacementRecoveryResumed(t *testing.T) {
	ctx := context.Background()
	type attempt struct {
		e       *issueEnv
		oldKeys []*lanyard.ArchivedKey
		newCard int64
		step    string
	}
	try := func(n int) attempt {
		e := newIssueEnv(t)
		e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.IssuedCardOps.TemporaryReplacement = true })
		old := e.issueArchived(t)
		oldKeys, err := e.svc.Archive.Keys(ctx, e.alice.User.ID, "secure-email")
		if err != nil {
			t.Fatal(err)
		}
		target := e.second(t)
		e.access.LoseReplyAfter(2, secondReader, n)
		_, err = e.svc.Cards.ReplaceCard(ctx, e.alice, old.Card.ID, cardops.ReplaceCardInput{Kind: lanyard.ReplaceTemporary, CardTarget: target,
			Templates: []string{"smartcard-logon", "secure-email"}, UserPIN: "13572468"})
		a := attempt{e: e, oldKeys: oldKeys}
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
	e := newIssueEnv(t)
	ctx := context.Background()
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.IssuedCardOps.TemporaryReplacement = true })
	old := e.issueArchived(t)
	keys, err := e.svc.Archive.Keys(ctx, e.alice.User.ID, "secure-email")
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Cards.ReplaceCard(ctx, e.alice, old.Card.ID, cardops.ReplaceCardInput{Kind: lanyard.ReplaceTemporary, CardTarget: e.second(t), UserPIN: "13572468"})
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
