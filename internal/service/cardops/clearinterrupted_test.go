package cardops_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// TestClearAfterInterruptedHistoryWriteAnywhere: alice's spare card issue, with
// her earlier archived key recovered onto it, is interrupted (the card
// pulled) while the earlier key is being written, after slot 82 got its
// certificate. Revoke and clear of the card then leaves no earlier key
// behind the default PIN: slot 82 no longer agrees a key as alice's
// archived key does. Before the fix the Key History Object was written
// last, still counted 0, and the clear took the card for one without
// retired keys. The interruption point is searched for: the whole issue
// again for each APDU until the card is pulled inside the history write,
// a sequential sweep like the Test…Anywhere ones, so `make unit` runs it
// with them, without the race detector (Makefile).
func TestClearAfterInterruptedHistoryWriteAnywhere(t *testing.T) {
	ctx := context.Background()
	for n := 1; n < 600; n++ {
		e := newStepUpEnv(t)
		e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Issuance.MaxCardsPerUser = 0 })
		k0 := e.keys[0]
		target := e.second(t)
		e.access.LoseReplyAfter(2, secondReader, n)
		_, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: target, Templates: []string{"secure-email"}, UserPIN: "13572468", Recovery: e.stepUp(t)})
		if err == nil {
			t.Fatalf("the issue finished with the card pulled after %d APDUs", n)
		}
		var op *lanyard.Operation
		storetest.MustView(t, e.st, func(tx lanyard.Tx) error {
			ops, err := tx.ListOperations(lanyard.OperationFilter{Kind: lanyard.OpIssue, Unfinished: true})
			if err == nil && len(ops) > 0 {
				op = ops[0]
			}
			return err
		})
		if op == nil || op.Step != "keys_recovering" {
			continue
		}
		card := e.access.Card(2, secondReader)
		pc := pivOf(t, card)
		if _, err := pc.Certificate(ctx, pivspec.SlotRetiredFirst); err != nil {
			continue // the earlier key not written yet
		}
		if _, err := e.svc.Cards.RevokeAndClearCard(ctx, e.admin, op.CardID, cardops.ClearInput{CardTarget: target}); err != nil {
			t.Fatalf("Revoke and clear: %v", err)
		}
		pc = pivOf(t, card)
		if err := pc.VerifyPIN(ctx, pivspec.DefaultPIN); err != nil {
			t.Fatalf("the cleared card refuses the default PIN: %v", err)
		}
		var archived *ecdsa.PrivateKey
		storetest.MustView(t, e.st, func(tx lanyard.Tx) error {
			_, key, err := e.svc.Archive.OpenTx(tx, k0.ID)
			if err == nil {
				archived = key.(*ecdsa.PrivateKey)
			}
			return err
		})
		peer, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		fromCard, err := pc.ECDH(ctx, pivspec.SlotRetiredFirst, peer.PublicKey())
		if err != nil {
			return // no key in 82 at all
		}
		mine, err := archived.ECDH()
		if err != nil {
			t.Fatal(err)
		}
		fromArchive, err := mine.ECDH(peer.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(fromCard, fromArchive) {
			t.Fatalf("after Revoke and clear, slot 82 still holds alice's archived key %d, usable with the default PIN", k0.ID)
		}
		return
	}
	t.Fatal("no interruption point found")
}
