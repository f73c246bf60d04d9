package cardops_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

const storePassword = "TiaStore-pass"

// newSoftEnv is an issue env whose policy allows software stores and
// requires smartcard-logon (card keys only: never in a software store) and
// document-signing, the latter prompting for a key container password,
// with alice's workstation 1 writing both scopes into a temporary
// directory.
func newSoftEnv(t *testing.T) *issueEnv {
	t.Helper()
	e := newIssueEnv(t)
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.AllowedCards, s.Issuance.MaxCardsPerUser = []string{"piv", "software-store"}, 10
		s.Certificates = lanyard.CertificateSettings{Required: []string{"smartcard-logon", "document-signing"}, Optional: []string{"secure-email"}}
	})
	e.setPrompt(t, "document-signing", true)
	ws := e.access.Workstation(1)
	ws.SoftStores, ws.StoreDir = []string{lanyard.ScopeMachine, lanyard.ScopeUser}, t.TempDir()
	return e
}

func (e *issueEnv) setPrompt(t *testing.T, name string, prompt bool) {
	t.Helper()
	ctx := context.Background()
	tpl, err := e.svc.Catalog.GetTemplate(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	tpl.PromptKeyPassword = prompt
	if _, err := e.svc.Catalog.UpdateTemplate(ctx, e.admin, name, *tpl); err != nil {
		t.Fatal(err)
	}
}

func (e *issueEnv) softOptions(t *testing.T, p *lanyard.Principal) map[string]cardops.SoftwareStoreOption {
	t.Helper()
	opts, err := e.svc.Cards.SoftwareStoreOptions(context.Background(), p, "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]cardops.SoftwareStoreOption{}
	for _, o := range opts {
		out[o.Scope] = o
	}
	return out
}

// allAudit returns every audit event.
func (e *issueEnv) allAudit(t *testing.T) []*lanyard.AuditEvent {
	t.Helper()
	var evs []*lanyard.AuditEvent
	storetest.MustView(t, e.st, func(tx lanyard.Tx) (err error) {
		evs, err = tx.ListAudit(lanyard.AuditFilter{Limit: 100000})
		return err
	})
	return evs
}

// TestSoftwareStoreRefusals: each rule refuses with its reason, and a
// refused issue changes nothing: no card, no certificate, no audit event,
// no file.
func TestSoftwareStoreRefusals(t *testing.T) {
	e := newSoftEnv(t)
	ctx := context.Background()
	ws := e.access.Workstation(1)
	issue := func(p *lanyard.Principal, in cardops.SoftwareStoreInput) error {
		t.Helper()
		before := auditCount(t, e)
		_, err := e.svc.Cards.IssueSoftwareStore(ctx, p, in)
		if err == nil {
			t.Fatalf("issued %+v", in)
		}
		if n := auditCount(t, e); n != before {
			t.Errorf("a refused issue wrote %d audit events", n-before)
		}
		if n := e.access.SoftwareStores(); n != 0 {
			t.Errorf("a refused issue wrote %d stores", n)
		}
		return err
	}
	good := cardops.SoftwareStoreInput{WorkstationID: 1, Scope: lanyard.ScopeUser, Name: "Work", Password: storePassword}

	// Password rules: the template prompts, so the password is required,
	// and it follows the policy's rules (8 characters of 3 kinds).
	for pw, part := range map[string]string{"": "password is required", "Short-1": "8 to 128", "alllowercase9": "mix at least 3"} {
		in := good
		in.Password = pw
		if err := issue(e.alice, in); !lanyard.IsCode(err, lanyard.EInvalid) || !strings.Contains(err.Error(), part) {
			t.Errorf("password %q: %v", pw, err)
		}
	}
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Issuance.KeyPassword.MinClasses = 4 })
	if err := issue(e.alice, good); !strings.Contains(err.Error(), "mix at least 4") {
		t.Errorf("four classes: %v", err)
	}
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Issuance.KeyPassword.MinClasses = 3 })

	for name, c := range map[string]struct {
		change func()
		undo   func()
		code   string
		part   string
	}{
		"card type not allowed": {
			func() { e.setPolicy(t, func(s *lanyard.PolicySettings) { s.AllowedCards = []string{"piv"} }) },
			func() {
				e.setPolicy(t, func(s *lanyard.PolicySettings) { s.AllowedCards = []string{"piv", "software-store"} })
			},
			lanyard.EForbidden, "allows no card type of kind software store"},
		"no issue permission": {
			func() { e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.IssueCard = false }) },
			func() { e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Workflow.IssueCard = true }) },
			lanyard.EForbidden, "does not allow you to issue cards"},
		"agent without software stores": {
			func() { ws.SoftStores = nil },
			func() { ws.SoftStores = []string{lanyard.ScopeMachine, lanyard.ScopeUser} },
			lanyard.EUnavailable, "does not write software stores"},
		"template needs approval": {
			func() {
				e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Documents.Check = lanyard.DocsCARequest })
			},
			func() { e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Documents.Check = lanyard.DocsNone }) },
			lanyard.EConflict, "a software store cannot wait for"},
	} {
		c.change()
		if err := issue(e.alice, good); !lanyard.IsCode(err, c.code) || !strings.Contains(err.Error(), c.part) {
			t.Errorf("%s: %v", name, err)
		}
		if o := e.softOptions(t, e.alice)[lanyard.ScopeUser]; o.Available || !strings.Contains(o.Reason, c.part) {
			t.Errorf("%s: option %+v", name, o)
		}
		c.undo()
	}

	// The machine store needs an agent running as root.
	ws.SoftStores = []string{lanyard.ScopeUser}
	in := good
	in.Scope = lanyard.ScopeMachine
	if err := issue(e.alice, in); !lanyard.IsCode(err, lanyard.EUnavailable) || !strings.Contains(err.Error(), "cannot write the machine store") {
		t.Errorf("machine store of a non-root agent: %v", err)
	}
	o := e.softOptions(t, e.alice)
	if o[lanyard.ScopeMachine].Available || !o[lanyard.ScopeUser].Available || o[lanyard.ScopeUser].Offer == nil || !o[lanyard.ScopeUser].Offer.PasswordRequired {
		t.Errorf("options %+v", o)
	}
	ws.SoftStores = []string{lanyard.ScopeMachine, lanyard.ScopeUser}

	// Another user, another's workstation, an unknown scope.
	bob := e.newUser(t, "bob")
	if err := issue(bob, good); !lanyard.IsCode(err, lanyard.ENotFound) {
		t.Errorf("bob on alice's workstation: %v", err)
	}
	in = good
	in.User = "bob"
	if err := issue(e.alice, in); !lanyard.IsCode(err, lanyard.EForbidden) {
		t.Errorf("alice issuing for bob: %v", err)
	}
	// Issue 13: staff issuing a software store on alice's behalf would
	// need a second person's approval, which a store cannot wait for; a
	// template an administrator keeps for card-held keys is not offered.
	in = good
	in.User = "alice"
	if err := issue(e.admin, in); !lanyard.IsCode(err, lanyard.EForbidden) || !strings.Contains(err.Error(), "second person") {
		t.Errorf("staff issuing a software store for alice: %v", err)
	}
	mail, err := e.svc.Catalog.GetTemplate(ctx, "secure-email")
	if err != nil {
		t.Fatal(err)
	}
	mail.CardKeysOnly = true
	if _, err := e.svc.Catalog.UpdateTemplate(ctx, e.admin, mail.Name, *mail); err != nil {
		t.Fatal(err)
	}
	in = good
	in.Templates = []string{"secure-email"}
	if err := issue(e.alice, in); !lanyard.IsCode(err, lanyard.EForbidden) || !strings.Contains(err.Error(), "only keys generated on a card") {
		t.Errorf("a card-keys-only optional template in a software store: %v", err)
	}
	if o := e.softOptions(t, e.alice)[lanyard.ScopeUser].Offer; o == nil || len(o.Optional) != 0 || len(o.Required) != 1 || o.Required[0].Name != "document-signing" {
		t.Errorf("offer with card-only templates: %+v", o)
	}
	mail.CardKeysOnly = false
	if _, err := e.svc.Catalog.UpdateTemplate(ctx, e.admin, mail.Name, *mail); err != nil {
		t.Fatal(err)
	}
	in = good
	in.Scope = "domain"
	if err := issue(e.alice, in); !lanyard.IsCode(err, lanyard.EInvalid) {
		t.Errorf("unknown scope: %v", err)
	}

	// The maximum number of cards per user counts software stores.
	e.setPolicy(t, func(s *lanyard.PolicySettings) { s.Issuance.MaxCardsPerUser = 1 })
	if _, err := e.svc.Cards.IssueSoftwareStore(ctx, e.alice, good); err != nil {
		t.Fatal(err)
	}
	before := auditCount(t, e)
	if _, err := e.svc.Cards.IssueSoftwareStore(ctx, e.alice, good); !lanyard.IsCode(err, lanyard.EConflict) || !strings.Contains(err.Error(), "at most 1 card") {
		t.Errorf("over the maximum: %v", err)
	}
	if n := auditCount(t, e); n != before {
		t.Errorf("a refused issue wrote %d audit events", n-before)
	}
}

// TestIssueSoftwareStore: a user store and a machine store with two
// certificates; each file opens with the key container password and not
// with another, holds the certificate's own key and its chain to the
// built-in CA; the card and its certificates are recorded; no audit event
// carries the password.
func TestIssueSoftwareStore(t *testing.T) {
	e := newSoftEnv(t)
	ctx := context.Background()
	res, err := e.svc.Cards.IssueSoftwareStore(ctx, e.alice, cardops.SoftwareStoreInput{WorkstationID: 1, Scope: lanyard.ScopeUser, Name: "Work laptop", Password: storePassword})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Card
	if c.State != lanyard.CardIssued || c.CardType != "software-store" || !strings.HasPrefix(c.Serial, "SW-") || c.Owner != "alice" || c.Name != "Work laptop" || c.WorkstationID != 1 {
		t.Fatalf("card %+v", c.Card)
	}
	if len(res.Files) != 1 || len(c.Certificates) != 1 || c.Certificates[0].Status != lanyard.CertWritten || res.Files[0].Certificate != c.Certificates[0].Serial {
		t.Fatalf("files %+v, certificates %+v", res.Files, c.Certificates)
	}
	if !strings.HasSuffix(res.Files[0].Path, "/user/alice/Work-laptop.p12") {
		t.Errorf("user store path %s", res.Files[0].Path)
	}
	cert := e.checkStore(t, res.Files[0].Path, storePassword)
	if cert.Subject.CommonName != "Alice Example" || serialHexOf(cert) != c.Certificates[0].Serial {
		t.Errorf("the store's certificate %s (%s)", cert.Subject, serialHexOf(cert))
	}

	// The machine store, with an optional template chosen; no template
	// prompts now, and the policy does not always ask: the password may
	// be empty, but one given still follows the rules.
	e.setPrompt(t, "document-signing", false)
	in := cardops.SoftwareStoreInput{WorkstationID: 1, Scope: lanyard.ScopeMachine, Templates: []string{"secure-email"}, Password: "weak"}
	if _, err := e.svc.Cards.IssueSoftwareStore(ctx, e.alice, in); !lanyard.IsCode(err, lanyard.EInvalid) {
		t.Fatalf("a weak optional password: %v", err)
	}
	in.Password = "Machine-Pass-7"
	res, err = e.svc.Cards.IssueSoftwareStore(ctx, e.alice, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 2 || len(res.Card.Certificates) != 2 {
		t.Fatalf("machine store files %+v", res.Files)
	}
	for _, f := range res.Files {
		if !strings.Contains(f.Path, "/machine/"+res.Card.Serial+"."+f.Template+".p12") {
			t.Errorf("machine store path %s", f.Path)
		}
		e.checkStore(t, f.Path, "Machine-Pass-7")
	}
	res, err = e.svc.Cards.IssueSoftwareStore(ctx, e.alice, cardops.SoftwareStoreInput{WorkstationID: 1, Scope: lanyard.ScopeUser, Name: "nopass"})
	if err != nil {
		t.Fatalf("a store without a password where none is required: %v", err)
	}
	e.checkStore(t, res.Files[0].Path, "")

	// The audit log: the events of an issue, and never the password.
	j, _ := json.Marshal(e.allAudit(t))
	for _, secret := range []string{storePassword, "Machine-Pass-7"} {
		if bytes.Contains(j, []byte(secret)) {
			t.Errorf("the audit log contains the password %q", secret)
		}
	}
	for _, action := range []string{`"card.issue.start"`, `"cert.issue"`, `"cert.write"`, `"card.issue"`} {
		if !bytes.Contains(j, []byte(action)) {
			t.Errorf("no %s event", action)
		}
	}
	// Nor the operation record.
	v, err := e.svc.Cards.GetCard(ctx, e.alice, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if j, _ := json.Marshal(v); bytes.Contains(j, []byte(storePassword)) || len(v.Operations) != 1 || v.Operations[0].State != lanyard.OpDone {
		t.Errorf("card view %s", j)
	}
}

func serialHexOf(c *x509.Certificate) string { return c.SerialNumber.Text(16) }

// checkStore opens a store file with password, checks that it refuses
// another, that its key is the certificate's and that the certificate
// chains to the built-in CA, and returns the certificate.
func (e *issueEnv) checkStore(t *testing.T, path, password string) *x509.Certificate {
	t.Helper()
	pfx, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	key, cert, chain, err := pkcs12.DecodeChain(pfx, password)
	if err != nil {
		t.Fatalf("%s with its password: %v", path, err)
	}
	if _, _, _, err := pkcs12.DecodeChain(pfx, password+"x"); err == nil {
		t.Errorf("%s opened with a wrong password", path)
	}
	if !cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.(crypto.Signer).Public()) {
		t.Errorf("%s: the key is not the certificate's", path)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for i, c := range chain {
		if i == len(chain)-1 {
			roots.AddCert(c)
		} else {
			inter.AddCert(c)
		}
	}
	if len(chain) == 0 || !strings.Contains(chain[len(chain)-1].Subject.CommonName, "Root") {
		t.Errorf("%s: chain %v does not end at the built-in root", path, chain)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Errorf("%s: %v", path, err)
	}
	return cert
}

// TestSoftwareStoreFailure: when the agent cannot write the store, the
// certificate issued for the lost key is revoked, the operation failed
// and the record revoked, in one transaction; the user issues again.
func TestSoftwareStoreFailure(t *testing.T) {
	e := newSoftEnv(t)
	ctx := context.Background()
	ws := e.access.Workstation(1)
	ws.FailStore = lanyard.Errorf(lanyard.EUnavailable, "the workstation's agent disconnected")
	_, err := e.svc.Cards.IssueSoftwareStore(ctx, e.alice, cardops.SoftwareStoreInput{WorkstationID: 1, Scope: lanyard.ScopeUser, Password: storePassword})
	if !lanyard.IsCode(err, lanyard.EUnavailable) || !strings.Contains(err.Error(), "issue it again") {
		t.Fatalf("failed store: %v", err)
	}
	cards, err := e.svc.Cards.ListCards(ctx, e.alice, lanyard.CardFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var sw *cardops.CardView
	for _, c := range cards {
		if c.CardType == "software-store" {
			sw, _ = e.svc.Cards.GetCard(ctx, e.alice, c.ID)
		}
	}
	if sw == nil || sw.State != lanyard.CardRevoked || len(sw.Certificates) != 1 || sw.Certificates[0].Status != lanyard.CertRevoked ||
		len(sw.Operations) != 1 || sw.Operations[0].State != lanyard.OpFailed {
		t.Fatalf("after the failure: %+v", sw)
	}
	ws.FailStore = nil
	if _, err := e.svc.Cards.IssueSoftwareStore(ctx, e.alice, cardops.SoftwareStoreInput{WorkstationID: 1, Scope: lanyard.ScopeUser, Password: storePassword}); err != nil {
		t.Fatalf("issuing again: %v", err)
	}
}
