package cardops_test

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

const newStorePassword = "NewStore-pass-2"

// storeUpdateEnv is newSoftEnv with a clock: alice's user store "Work"
// (document-signing, 730 days, and secure-email, 365 days) is issued 355
// days before now, then the clock moves 350 days on, so that secure-email
// expires within the renewal window and document-signing does not.
type storeUpdateEnv struct {
	*issueEnv
	clock *servicetest.Clock
	store *cardops.SoftwareStoreResult
}

func newStoreUpdateEnv(t *testing.T) *storeUpdateEnv {
	t.Helper()
	clock := servicetest.NewClock(time.Now().Add(-355 * day))
	e := &storeUpdateEnv{clock: clock, issueEnv: newIssueEnvFrom(t, &issueEnv{opts: servicetest.Options{Now: clock.Now, CANow: clock.Now}})}
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.AllowedCards, s.Issuance.MaxCardsPerUser = []string{"piv", "software-store"}, 10
		s.Certificates = lanyard.CertificateSettings{Required: []string{"smartcard-logon", "document-signing"}, Optional: []string{"secure-email"}}
		s.Workflow.IssuedCardOps.Update = true
	})
	e.setPrompt(t, "document-signing", true)
	ws := e.access.Workstation(1)
	ws.SoftStores, ws.StoreDir = []string{lanyard.ScopeMachine, lanyard.ScopeUser}, t.TempDir()
	res, err := e.svc.Cards.IssueSoftwareStore(context.Background(), e.alice, cardops.SoftwareStoreInput{WorkstationID: 1, Scope: lanyard.ScopeUser,
		Name: "Work", Password: storePassword, Templates: []string{"secure-email"}})
	if err != nil {
		t.Fatal(err)
	}
	e.store = res
	return e
}

// oldFile is the store's file and certificate of template.
func (e *storeUpdateEnv) oldFile(t *testing.T, template string) cardops.SoftwareStoreFile {
	t.Helper()
	for _, f := range e.store.Files {
		if f.Template == template {
			return f
		}
	}
	t.Fatalf("no file of %s in %+v", template, e.store.Files)
	return cardops.SoftwareStoreFile{}
}

// cert is the record of serial.
func (e *storeUpdateEnv) cert(t *testing.T, serial string) *lanyard.Certificate {
	t.Helper()
	var c *lanyard.Certificate
	storetest.MustView(t, e.st, func(tx lanyard.Tx) (err error) {
		c, err = tx.CertificateBySerial("builtin", serial)
		return err
	})
	return c
}

// refusedStoreReissue asserts that the re-issue fails with code and
// text, and changed nothing: no audit event, no file, the store's
// certificates as they were.
func (e *storeUpdateEnv) refusedStoreReissue(t *testing.T, p *lanyard.Principal, in cardops.StoreReissueInput, code, text string) {
	t.Helper()
	before, files, certs := auditCount(t, e.issueEnv), e.access.SoftwareStores(), e.certStates(t)
	_, err := e.svc.Cards.ReissueSoftwareStore(context.Background(), p, e.store.Card.ID, in)
	if !lanyard.IsCode(err, code) || !strings.Contains(err.Error(), text) {
		t.Fatalf("re-issue: %v, want %s containing %q", err, code, text)
	}
	if n := auditCount(t, e.issueEnv); n != before {
		t.Errorf("a refused re-issue wrote %d audit events", n-before)
	}
	if n := e.access.SoftwareStores(); n != files {
		t.Errorf("a refused re-issue wrote %d files", n-files)
	}
	if now := e.certStates(t); now != certs {
		t.Errorf("a refused re-issue changed the store's certificates: %s, was %s", now, certs)
	}
}

// certStates is the store's certificates and their states, in one line.
func (e *storeUpdateEnv) certStates(t *testing.T) string {
	t.Helper()
	var out []string
	storetest.MustView(t, e.st, func(tx lanyard.Tx) error {
		certs, err := tx.ListCertificates(lanyard.CertFilter{CardID: e.store.Card.ID})
		for _, c := range certs {
			out = append(out, c.Serial+" "+string(c.Status))
		}
		return err
	})
	slices.Sort(out)
	return strings.Join(out, "; ")
}

// TestReissueSoftwareStore: a store whose secure-email certificate is
// due is re-issued: the new file opens with the new password and holds a
// new key and a new certificate, the old certificate is revoked
// superseded and its file left in place, document-signing (not due) is
// kept; refusals before change nothing; the password is in no record.
func TestReissueSoftwareStore(t *testing.T) {
	e := newStoreUpdateEnv(t)
	ctx := context.Background()
	good := cardops.StoreReissueInput{WorkstationID: 1, Password: newStorePassword}

	// Not due yet.
	e.refusedStoreReissue(t, e.alice, good, lanyard.EConflict, "is up to date")
	e.clock.Add(350 * day)

	v, err := e.svc.Cards.GetCard(ctx, e.alice, e.store.Card.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Update == nil || !v.Update.Due || len(v.Update.Changes) != 1 || v.Update.Changes[0].Template != "secure-email" || v.Update.Changes[0].Action != issuance.ActionRenew {
		t.Fatalf("the store's update state %+v, want secure-email due", v.Update)
	}

	// The password follows the policy's rules, as at issue.
	for pw, text := range map[string]string{"": "password is required", "Short-1": "8 to 128", "alllowercase9": "mix at least 3"} {
		in := good
		in.Password = pw
		e.refusedStoreReissue(t, e.alice, in, lanyard.EInvalid, text)
	}
	// Another workstation, no permission, staff, disabled.
	in := good
	in.WorkstationID = 2
	e.refusedStoreReissue(t, e.alice, in, lanyard.EInvalid, "is on workstation 1")
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.IssuedCardOps.Update = false })
	e.refusedStoreReissue(t, e.alice, good, lanyard.EForbidden, "not allowed to use Update card")
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.IssuedCardOps.Update = true })
	// Staff re-issuing alice's store would need the CA's second person,
	// which a store cannot wait for (as for its issue).
	e.refusedStoreReissue(t, e.admin, good, lanyard.EForbidden, "second person")
	if _, err := e.svc.Cards.DisableCard(ctx, e.admin, e.store.Card.ID); err != nil {
		t.Fatal(err)
	}
	e.refusedStoreReissue(t, e.alice, good, lanyard.EConflict, "a disabled card cannot be issued, updated or unblocked")
	if _, err := e.svc.Cards.EnableCard(ctx, e.admin, e.store.Card.ID); err != nil {
		t.Fatal(err)
	}

	res, err := e.svc.Cards.ReissueSoftwareStore(ctx, e.alice, e.store.Card.ID, good)
	if err != nil {
		t.Fatal(err)
	}
	old := e.oldFile(t, "secure-email")
	if len(res.Files) != 1 {
		t.Fatalf("files %+v, want secure-email only", res.Files)
	}
	f := res.Files[0]
	if f.Template != "secure-email" || f.Action != issuance.ActionRenew || f.OldSerial != old.Certificate || f.NewSerial == "" || f.OldPath != old.Path {
		t.Errorf("re-issued %+v (old %+v)", f, old)
	}
	if f.Path == old.Path || !strings.HasSuffix(f.Path, "/user/alice/Work.secure-email-"+e.clock.Now().Format("20060102")+".p12") {
		t.Errorf("new file %s (old %s)", f.Path, old.Path)
	}
	cert := e.checkStore(t, f.Path, newStorePassword)
	if serialHexOf(cert) != f.NewSerial {
		t.Errorf("the new file holds certificate %s, want %s", serialHexOf(cert), f.NewSerial)
	}
	oldCert := e.checkStore(t, old.Path, storePassword) // left in place
	if cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(oldCert.PublicKey) {
		t.Error("the new certificate certifies the old key")
	}
	if c := e.cert(t, old.Certificate); c.Status != lanyard.CertRevoked || c.Reason != lanyard.ReasonSuperseded {
		t.Errorf("old certificate %s: %s %s, want revoked superseded", c.Serial, c.Status, c.Reason)
	}
	if c := e.cert(t, f.NewSerial); c.Status != lanyard.CertWritten || c.CardID != e.store.Card.ID {
		t.Errorf("new certificate %+v", c)
	}
	if c := e.cert(t, e.oldFile(t, "document-signing").Certificate); c.Status != lanyard.CertWritten {
		t.Errorf("document-signing (not due) is %s", c.Status)
	}
	if res.Card.State != lanyard.CardIssued || res.Card.Update == nil || res.Card.Update.Due {
		t.Errorf("after the re-issue the store is %s, update %+v", res.Card.State, res.Card.Update)
	}
	ops := res.Card.Operations
	if ops[0].Kind != lanyard.OpReissueStore || ops[0].State != lanyard.OpDone || ops[0].ID != res.OperationID {
		t.Errorf("operation %+v", ops[0])
	}

	// The audit log: one event per change, never the password; nor the
	// operation record.
	j, _ := json.Marshal(e.allAudit(t))
	for _, action := range []string{`"card.update.start"`, `"cert.supersede"`, `"card.update"`} {
		if !bytes.Contains(j, []byte(action)) {
			t.Errorf("no %s event", action)
		}
	}
	v, err = e.svc.Cards.GetCard(ctx, e.alice, e.store.Card.ID)
	if err != nil {
		t.Fatal(err)
	}
	vj, _ := json.Marshal(v)
	if bytes.Contains(j, []byte(newStorePassword)) || bytes.Contains(vj, []byte(newStorePassword)) {
		t.Error("the audit log or the card's records contain the password")
	}
	// Up to date now.
	e.refusedStoreReissue(t, e.alice, good, lanyard.EConflict, "is up to date")
}

// TestReissueSoftwareStoreFailure: when the agent cannot write the new
// file, no old certificate is revoked (the store goes on with it); the
// certificate issued for the lost key is revoked; the operation failed
// and the store stays issued; re-issuing again works.
func TestReissueSoftwareStoreFailure(t *testing.T) {
	e := newStoreUpdateEnv(t)
	ctx := context.Background()
	e.clock.Add(350 * day)
	ws := e.access.Workstation(1)
	ws.FailStore = lanyard.Errorf(lanyard.EUnavailable, "the workstation's agent disconnected")
	_, err := e.svc.Cards.ReissueSoftwareStore(ctx, e.alice, e.store.Card.ID, cardops.StoreReissueInput{Password: newStorePassword})
	if !lanyard.IsCode(err, lanyard.EUnavailable) || !strings.Contains(err.Error(), "re-issue it again") {
		t.Fatalf("failed re-issue: %v", err)
	}
	old := e.oldFile(t, "secure-email")
	if c := e.cert(t, old.Certificate); c.Status != lanyard.CertWritten {
		t.Errorf("old certificate after a failed re-issue: %s %s, want written", c.Status, c.Reason)
	}
	if _, err := os.Stat(old.Path); err != nil {
		t.Error(err)
	}
	v, err := e.svc.Cards.GetCard(ctx, e.alice, e.store.Card.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.State != lanyard.CardIssued || v.Operations[0].Kind != lanyard.OpReissueStore || v.Operations[0].State != lanyard.OpFailed {
		t.Fatalf("after the failure: %s, %+v", v.State, v.Operations[0])
	}
	var lost *cardops.CardCertificate
	for _, c := range v.Certificates {
		if c.Serial != old.Certificate && c.Template == "secure-email" {
			lost = c
		}
	}
	if lost == nil || lost.Status != lanyard.CertRevoked {
		t.Fatalf("the certificate of the lost key: %+v", lost)
	}
	if c := e.cert(t, lost.Serial); c.Reason != lanyard.ReasonCessationOfOperation {
		t.Errorf("the certificate of the lost key is revoked for %s", c.Reason)
	}
	if v.Update == nil || !v.Update.Due {
		t.Errorf("update state after the failure %+v, want still due", v.Update)
	}
	ws.FailStore = nil
	res, err := e.svc.Cards.ReissueSoftwareStore(ctx, e.alice, e.store.Card.ID, cardops.StoreReissueInput{Password: newStorePassword})
	if err != nil {
		t.Fatalf("re-issuing again: %v", err)
	}
	if len(res.Files) != 1 || res.Files[0].OldSerial != old.Certificate {
		t.Errorf("files %+v", res.Files)
	}
}

// TestReissueSoftwareStoreRemoves: once the policy no longer names
// secure-email, the re-issue revokes its certificate (superseded) and
// writes no file; the old file stays; no password is needed for that.
func TestReissueSoftwareStoreRemoves(t *testing.T) {
	e := newStoreUpdateEnv(t)
	ctx := context.Background()
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Certificates.Optional = nil })
	files := e.access.SoftwareStores()
	res, err := e.svc.Cards.ReissueSoftwareStore(ctx, e.alice, e.store.Card.ID, cardops.StoreReissueInput{})
	if err != nil {
		t.Fatal(err)
	}
	old := e.oldFile(t, "secure-email")
	if len(res.Files) != 1 || res.Files[0].Action != issuance.ActionRemove || res.Files[0].OldSerial != old.Certificate || res.Files[0].NewSerial != "" ||
		res.Files[0].OldPath != old.Path || res.Files[0].Path != "" {
		t.Fatalf("files %+v", res.Files)
	}
	if c := e.cert(t, old.Certificate); c.Status != lanyard.CertRevoked || c.Reason != lanyard.ReasonSuperseded {
		t.Errorf("removed certificate: %s %s", c.Status, c.Reason)
	}
	if n := e.access.SoftwareStores(); n != files {
		t.Errorf("a removal wrote %d files", n-files)
	}
	if _, err := os.Stat(old.Path); err != nil {
		t.Error(err)
	}
	if c := e.cert(t, e.oldFile(t, "document-signing").Certificate); c.Status != lanyard.CertWritten {
		t.Errorf("document-signing is %s", c.Status)
	}
}
