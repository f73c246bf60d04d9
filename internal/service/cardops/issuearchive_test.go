package cardops_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/cardtest"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// archiveSecureEmail makes the default secure-email template (slot 9D,
// ECDH P-256 first) an encryption template with archive key.
func archiveSecureEmail(t *testing.T, e *issueEnv) {
	t.Helper()
	keyManagementSecureEmail(t, e, true)
}

// keyManagementSecureEmail makes secure-email a key-management template
// (key encipherment and key agreement), archiving its keys or not.
func keyManagementSecureEmail(t *testing.T, e *issueEnv, archival bool) {
	t.Helper()
	ctx := context.Background()
	tpl, err := e.svc.Catalog.GetTemplate(ctx, "secure-email")
	if err != nil {
		t.Fatal(err)
	}
	tpl.KeyUsage, tpl.KeyArchival = []string{lanyard.KUKeyEncipherment, lanyard.KUKeyAgreement}, archival
	if _, err := e.svc.Catalog.UpdateTemplate(ctx, e.admin, "secure-email", *tpl); err != nil {
		t.Fatal(err)
	}
}

// checkArchived checks that the card's secure-email key is the owner's one
// active archived key: its certificate is the one in slot 9D, the archived
// private key opens to the certified public key, and a key agreement with
// the card's key gives what the archived key gives (what decrypting mail
// encrypted to the certificate needs). Every other archived key of the
// card is discarded, and the audit log names the archival.
func (e *issueEnv) checkArchived(t *testing.T, cardID int64, pin string) {
	t.Helper()
	ctx := context.Background()
	keys, err := e.svc.Archive.Keys(ctx, e.alice.User.ID, "secure-email")
	if err != nil {
		t.Fatal(err)
	}
	var active []*lanyard.ArchivedKey
	for _, k := range keys {
		switch {
		case k.CardID != cardID:
			t.Errorf("archived key %d is for card %d, want %d", k.ID, k.CardID, cardID)
		case k.State == lanyard.ArchivedKeyActive:
			active = append(active, k)
		case k.State != lanyard.ArchivedKeyDiscarded:
			t.Errorf("archived key %d is %s after the issue, want active or discarded", k.ID, k.State)
		}
	}
	if len(active) != 1 {
		t.Fatalf("%d active archived keys of %d, want 1", len(active), len(keys))
	}
	pc := pivOf(t, e.card)
	onCard, err := pc.Certificate(ctx, pivspec.SlotKeyManagement)
	if err != nil {
		t.Fatal(err)
	}
	if onCard.SerialNumber.Text(16) != active[0].CertificateSerial || !bytes.Equal(onCard.RawSubjectPublicKeyInfo, active[0].PublicKey) {
		t.Fatalf("slot 9D holds certificate %x, the archived key's is %s", onCard.SerialNumber, active[0].CertificateSerial)
	}
	var archived *ecdsa.PrivateKey
	if err := e.st.View(ctx, func(tx lanyard.Tx) error {
		_, key, err := e.svc.Archive.OpenTx(tx, active[0].ID)
		if err == nil {
			archived = key.(*ecdsa.PrivateKey)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	mine, err := archived.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.VerifyPIN(ctx, pin); err != nil {
		t.Fatal(err)
	}
	fromCard, err := pc.ECDH(ctx, pivspec.SlotKeyManagement, peer.PublicKey())
	if err != nil {
		t.Fatalf("the card's key does no key agreement: %v", err)
	}
	fromArchive, err := mine.ECDH(peer.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fromCard, fromArchive) {
		t.Fatal("the key on the card is not the archived key: their key agreements differ")
	}
	archivals := 0
	for _, ev := range storetest.CheckAuditChain(t, e.st) {
		if ev.Action == "key.archive" {
			archivals++
		}
	}
	if archivals != len(keys) {
		t.Errorf("%d key.archive events for %d archived keys", archivals, len(keys))
	}
}

// TestIssueCardArchivesEncryptionKey: a template with archive key gets a
// key made on the server, archived, and imported into its slot; the
// logon key is still generated on the card and not archived.
func TestIssueCardArchivesEncryptionKey(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	archiveSecureEmail(t, e)
	setPUKBefore(t, e.card, "11223344")
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), Templates: []string{"secure-email"},
		UserPIN: "24681357", AdminPIN: "11223344"})
	if err != nil {
		t.Fatal(err)
	}
	e.checkIssued(t, res.Card.ID, "24681357", "smartcard-logon", "secure-email")
	e.checkArchived(t, res.Card.ID, "24681357")
	e.namesArchivedKey(t, "cert.issue")
	if keys, err := e.svc.Archive.Keys(ctx, e.alice.User.ID, "smartcard-logon"); err != nil || len(keys) != 0 {
		t.Fatalf("archived logon keys: %d, %v; want none", len(keys), err)
	}
}

// TestIssueCardArchivalInterruptedAnywhereThenContinued: pulled, or its
// reply lost, after any number of APDUs and continued, the card ends with
// exactly one archived (active) key, the one in its slot; the keys of
// interrupted attempts are discarded.
func TestIssueCardArchivalInterruptedAnywhereThenContinued(t *testing.T) {
	archival := func(t *testing.T, e *issueEnv) {
		archiveSecureEmail(t, e)
		e.afterIssue = e.checkArchived
	}
	t.Run("pulled", func(t *testing.T) {
		testIssueInterruptedAnywhere(t, func(a *cardtest.Access, n int) { a.FailAfter(1, reader, n) }, archival)
	})
	t.Run("reply lost", func(t *testing.T) {
		testIssueInterruptedAnywhere(t, func(a *cardtest.Access, n int) { a.LoseReplyAfter(1, reader, n) }, archival)
	})
}

// TestIssueCardArchivalPendingCAApproval: under a documents check the
// archived key waits, pending, with its request; the approved certificate
// is bound to it when Continue card issue records it.
func TestIssueCardArchivalPendingCAApproval(t *testing.T) {
	e := newIssueEnv(t)
	ctx := context.Background()
	res, _ := e.issuePendingArchived(t)
	e.signRequests(t, res)
	for _, cc := range res.Card.Certificates {
		if _, err := e.svc.PKI.ApproveRequest(ctx, e.admin, cc.RequestID, "documents checked"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.svc.Cards.ContinueCardIssue(ctx, e.alice, res.Card.ID, cardops.ContinueInput{CardTarget: e.target()}); err != nil {
		t.Fatal(err)
	}
	e.checkIssued(t, res.Card.ID, "24681357", "smartcard-logon", "secure-email")
	e.checkArchived(t, res.Card.ID, "24681357")
	e.namesArchivedKey(t, "card.issue.step")
}

// issuePendingArchived issues alice's card with an archive-key
// secure-email template under a documents check, so that its key waits,
// archived and pending, with a CA request; it returns the issue and that
// key.
func (e *issueEnv) issuePendingArchived(t *testing.T) (*cardops.IssueCardResult, *lanyard.ArchivedKey) {
	t.Helper()
	ctx := t.Context()
	archiveSecureEmail(t, e)
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Documents.Check = lanyard.DocsCARequest })
	res, err := e.svc.Cards.IssueCard(ctx, e.alice, cardops.IssueCardInput{CardTarget: e.target(), Templates: []string{"secure-email"}, UserPIN: "24681357"})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := e.svc.Archive.Keys(ctx, e.alice.User.ID, "secure-email")
	if err != nil || len(keys) != 1 || keys[0].State != lanyard.ArchivedKeyPending {
		t.Fatalf("archived keys while pending: %+v, %v; want one pending", keys, err)
	}
	return res, keys[0]
}

// namesArchivedKey checks that exactly one action event names alice's
// archived secure-email key: the event of the step that bound it to its
// certificate.
func (e *issueEnv) namesArchivedKey(t *testing.T, action string) {
	t.Helper()
	keys, err := e.svc.Archive.Keys(t.Context(), e.alice.User.ID, "secure-email")
	if err != nil || len(keys) == 0 {
		t.Fatalf("archived keys %+v, %v", keys, err)
	}
	named := 0
	for _, ev := range storetest.CheckAuditChain(t, e.st) {
		if ev.Action == action && bytes.Contains(ev.Details, fmt.Appendf(nil, `"archived_key":%d`, keys[0].ID)) {
			named++
		}
	}
	if named != 1 {
		t.Errorf("%d %s events name archived key %d, want 1", named, action, keys[0].ID)
	}
}
