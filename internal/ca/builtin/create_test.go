package builtin_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/ca/builtin"
	"github.com/lanyard-cms/lanyard/internal/ca/catest"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func auditEvents(tb testing.TB, st lanyard.Store) []*lanyard.AuditEvent {
	tb.Helper()
	var evs []*lanyard.AuditEvent
	err := st.View(context.Background(), func(tx lanyard.Tx) error {
		var err error
		evs, err = tx.ListAudit(lanyard.AuditFilter{})
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return evs
}

func TestCreateAndReopen(t *testing.T) {
	st, sealer := catest.NewStore(), catest.NewSealer(t)
	now := time.Date(2026, 4, 1, 9, 0, 0, 123_456_789, time.UTC)
	c := mustNew(t, config(st, sealer, fixedClock(now), nil))
	issuing, root := mustChain(t, c)

	// Root: self-signed, 20 years, pathlen 1; issuing: 10 years, pathlen 0.
	if err := root.CheckSignatureFrom(root); err != nil {
		t.Fatalf("root is not self-signed: %v", err)
	}
	if err := issuing.CheckSignatureFrom(root); err != nil {
		t.Fatalf("issuing CA is not signed by the root: %v", err)
	}
	nb := now.Add(-time.Minute).Truncate(time.Second)
	checks := []struct {
		c        *x509.Certificate
		subject  string
		pathLen  int
		years    int
		ku       x509.KeyUsage
		zeroPath bool
	}{
		{root, "CN=Lanyard Root CA,O=Lanyard", 1, 20, x509.KeyUsageCertSign | x509.KeyUsageCRLSign, false},
		{issuing, "CN=Lanyard Issuing CA,O=Lanyard", 0, 10, x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature, true},
	}
	for _, ck := range checks {
		if ck.c.Subject.String() != ck.subject || !ck.c.IsCA || !ck.c.BasicConstraintsValid ||
			ck.c.MaxPathLen != ck.pathLen || ck.c.MaxPathLenZero != ck.zeroPath || ck.c.KeyUsage != ck.ku {
			t.Errorf("%s: CA=%v pathlen=%d zero=%v ku=%b", ck.c.Subject, ck.c.IsCA, ck.c.MaxPathLen, ck.c.MaxPathLenZero, ck.c.KeyUsage)
		}
		if !ck.c.NotBefore.Equal(nb) || !ck.c.NotAfter.Equal(nb.AddDate(ck.years, 0, 0)) {
			t.Errorf("%s: validity %v .. %v", ck.subject, ck.c.NotBefore, ck.c.NotAfter)
		}
		if lanyard.KeyAlgorithmOf(ck.c.PublicKey) != lanyard.ECP256 {
			t.Errorf("%s: key %T, want the default ecp256", ck.subject, ck.c.PublicKey)
		}
		if len(ck.c.SubjectKeyId) == 0 {
			t.Errorf("%s: no subject key identifier", ck.subject)
		}
	}
	if !bytes.Equal(issuing.AuthorityKeyId, root.SubjectKeyId) {
		t.Error("issuing AKI does not name the root's key")
	}

	// The stored record and the sealed root key.
	var rec *lanyard.CARecord
	var sealedRoot []byte
	err := st.View(t.Context(), func(tx lanyard.Tx) error {
		var err error
		if rec, err = tx.CAByName("builtin"); err != nil {
			return err
		}
		sealedRoot, err = tx.Setting("ca/builtin/root-key")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Kind != "builtin" || !bytes.Equal(rec.CertDER, issuing.Raw) || len(rec.ChainDER) != 2 ||
		!bytes.Equal(rec.ChainDER[1], root.Raw) || !rec.CreatedAt.Equal(now.Truncate(time.Microsecond)) {
		t.Errorf("record = %+v", rec)
	}
	rootDER, err := sealer.Open(sealedRoot, []byte("ca-key:builtin:root"))
	if err != nil {
		t.Fatalf("root key does not open with its AAD: %v", err)
	}
	rootKey, err := x509.ParsePKCS8PrivateKey(rootDER)
	if err != nil {
		t.Fatal(err)
	}
	if signer, ok := rootKey.(crypto.Signer); !ok || !signer.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(root.PublicKey) {
		t.Error("sealed root key does not match the root certificate")
	}
	if _, err := sealer.Open(sealedRoot, []byte("ca-key:builtin:issuing")); err == nil {
		t.Error("root key opens under the issuing key's AAD")
	}
	if _, err := sealer.Open(rec.SealedKey, []byte("ca-key:builtin:issuing")); err != nil {
		t.Errorf("issuing key does not open with its AAD: %v", err)
	}

	// One audit event, with what was created and no secret.
	evs := auditEvents(t, st)
	if len(evs) != 1 {
		t.Fatalf("%d audit events, want 1", len(evs))
	}
	ev := evs[0]
	if ev.Action != "ca.create" || ev.ObjectType != "ca" || ev.ObjectID != "builtin" || ev.Actor != "system" ||
		!ev.Time.Equal(now.Truncate(time.Microsecond)) || ev.Time.Location() != time.UTC {
		t.Errorf("audit event = %+v", ev)
	}
	var details map[string]string
	if err := json.Unmarshal(ev.Details, &details); err != nil {
		t.Fatal(err)
	}
	// Exactly these fields: public facts only, so a secret cannot slip in
	// without this test changing.
	want := map[string]string{
		"kind":              "builtin",
		"key_algorithm":     "ecp256",
		"root_subject":      root.Subject.String(),
		"root_sha256":       sha256Hex(root.Raw),
		"issuing_subject":   issuing.Subject.String(),
		"issuing_sha256":    sha256Hex(issuing.Raw),
		"issuing_not_after": issuing.NotAfter.UTC().Format(time.RFC3339),
	}
	if !maps.Equal(details, want) {
		t.Errorf("audit details = %v\nwant %v", details, want)
	}

	// Reopen: same chain, same key (a certificate from the reopened CA
	// verifies under the first one's chain), no second event.
	again := mustNew(t, config(st, sealer, time.Now, nil))
	issuing2, root2 := mustChain(t, again)
	if !bytes.Equal(issuing2.Raw, issuing.Raw) || !bytes.Equal(root2.Raw, root.Raw) {
		t.Fatal("reopened CA has a different chain")
	}
	leaf := mustSign(t, again, logonTemplate(), leafKey(t, lanyard.ECP256).Public())
	if err := leaf.CheckSignatureFrom(issuing); err != nil {
		t.Fatalf("reopened CA signs with another key: %v", err)
	}
	if n := len(auditEvents(t, st)); n != 1 {
		t.Fatalf("%d audit events after reopening, want 1", n)
	}
	if !bytes.Equal(again.ChainPEM(), append(pemCert(issuing), pemCert(root)...)) {
		t.Error("ChainPEM is not issuing then root")
	}
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func TestReopenRefuses(t *testing.T) {
	st, sealer := catest.NewStore(), catest.NewSealer(t)
	mustNew(t, config(st, sealer, time.Now, nil))

	_, err := builtin.New(t.Context(), config(st, catest.NewSealer(t), time.Now, nil))
	mustCode(t, err, lanyard.EUnavailable) // another master key
	if !strings.Contains(lanyard.ErrorMessage(err), "master key") {
		t.Errorf("message %q should point at the master key", lanyard.ErrorMessage(err))
	}
	_, err = builtin.New(t.Context(), config(st, sealer, time.Now, map[string]string{"key_algorithm": "rsa2048"}))
	mustCode(t, err, lanyard.EInvalid) // the CA exists with ecp256 keys
	if _, err := builtin.New(t.Context(), config(st, sealer, time.Now, map[string]string{"key_algorithm": "ecp256"})); err != nil {
		t.Errorf("matching explicit algorithm: %v", err)
	}
}

func TestConfigRefused(t *testing.T) {
	st, sealer := catest.NewStore(), catest.NewSealer(t)
	for name, mod := range map[string]func(*ca.Config){
		"bad name":          func(c *ca.Config) { c.Name = "a/b" },
		"no store":          func(c *ca.Config) { c.Store = nil },
		"no sealer":         func(c *ca.Config) { c.Sealer = nil },
		"no clock":          func(c *ca.Config) { c.Now = nil },
		"no rand":           func(c *ca.Config) { c.Rand = nil },
		"relative base URL": func(c *ca.Config) { c.BaseURL = "/lanyard" },
		"ftp base URL":      func(c *ca.Config) { c.BaseURL = "ftp://x" },
		"unknown option":    func(c *ca.Config) { c.Options = map[string]string{"key_algo": "ecp256"} },
		"unknown algorithm": func(c *ca.Config) { c.Options = map[string]string{"key_algorithm": "ed25519"} },
	} {
		cfg := config(st, sealer, time.Now, nil)
		mod(&cfg)
		if _, err := builtin.New(t.Context(), cfg); !lanyard.IsCode(err, lanyard.EInvalid) {
			t.Errorf("%s: error = %v, want %s", name, err, lanyard.EInvalid)
		}
	}
	if n := len(auditEvents(t, st)); n != 0 {
		t.Errorf("refused configurations left %d audit events", n)
	}
}

func TestKindConflict(t *testing.T) {
	st := catest.NewStore()
	err := st.Update(t.Context(), func(tx lanyard.Tx) error {
		return tx.CreateCA(&lanyard.CARecord{Name: "builtin", Kind: "stepca"})
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = builtin.New(t.Context(), config(st, catest.NewSealer(t), time.Now, nil))
	mustCode(t, err, lanyard.EConflict)
}

// racingStore lets another process create the CA between New's lookup and
// its own CreateCA, the window two replicas starting at once share.
type racingStore struct {
	lanyard.Store
	once  sync.Once
	other func()
}

func (s *racingStore) Update(ctx context.Context, fn func(lanyard.Tx) error) error {
	s.once.Do(s.other)
	return s.Store.Update(ctx, fn)
}

func TestCreateRace(t *testing.T) {
	st, sealer := catest.NewStore(), catest.NewSealer(t)
	var winner *builtin.CA
	racing := &racingStore{Store: st, other: func() { winner = mustNew(t, config(st, sealer, time.Now, nil)) }}
	loser := mustNew(t, config(racing, sealer, time.Now, nil))
	if winner == nil {
		t.Fatal("the other process did not run")
	}
	if !bytes.Equal(winner.ChainPEM(), loser.ChainPEM()) {
		t.Fatal("two processes starting at once created two CAs")
	}
	if n := len(auditEvents(t, st)); n != 1 {
		t.Fatalf("%d audit events, want 1", n)
	}

	// And with real goroutines.
	st2 := catest.NewStore()
	cas := make([]*builtin.CA, 8)
	var wg sync.WaitGroup
	errs := make([]error, len(cas))
	for i := range cas {
		wg.Go(func() { cas[i], errs[i] = builtin.New(context.Background(), config(st2, sealer, time.Now, nil)) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range cas[1:] {
		if !bytes.Equal(c.ChainPEM(), cas[0].ChainPEM()) {
			t.Fatal("concurrent starts created different CAs")
		}
	}
	if n := len(auditEvents(t, st2)); n != 1 {
		t.Fatalf("%d audit events after concurrent starts, want 1", n)
	}
}

func TestRegistered(t *testing.T) {
	c, err := ca.New(t.Context(), "builtin", config(catest.NewStore(), catest.NewSealer(t), time.Now, nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(ca.CRLSigner); !ok {
		t.Error("builtin CA is not a CRLSigner")
	}
	if _, ok := c.(ca.OCSPSigner); !ok {
		t.Error("builtin CA is not an OCSPSigner")
	}
	if c.Name() != "builtin" {
		t.Errorf("name = %q", c.Name())
	}
	if c, err := ca.New(t.Context(), "builtin", ca.Config{}); c != nil || err == nil {
		t.Errorf("bad config: CA %v (non-nil interface?) err %v", c, err)
	}
}

func TestNamedCASubjects(t *testing.T) {
	cfg := config(catest.NewStore(), catest.NewSealer(t), time.Now, map[string]string{"key_algorithm": "ecp384"})
	cfg.Name = "staff"
	c := mustNew(t, cfg)
	issuing, root := mustChain(t, c)
	if issuing.Subject.CommonName != "Lanyard Issuing CA (staff)" || root.Subject.CommonName != "Lanyard Root CA (staff)" {
		t.Errorf("subjects %q %q", issuing.Subject, root.Subject)
	}
	if lanyard.KeyAlgorithmOf(root.PublicKey) != lanyard.ECP384 || lanyard.KeyAlgorithmOf(issuing.PublicKey) != lanyard.ECP384 {
		t.Error("key_algorithm=ecp384 not applied")
	}
	leaf := mustSign(t, c, &lanyard.Template{
		Name: "t", ValidityDays: 1, KeyAlgs: []lanyard.KeyAlgorithm{lanyard.ECP256},
		KeyUsage: []string{lanyard.KUDigitalSignature}, Subject: lanyard.SubjectSpec{CommonName: "{login}"},
	}, leafKey(t, lanyard.ECP256).Public())
	if leaf.CRLDistributionPoints[0] != baseURL+"/crl/staff.crl" || leaf.IssuingCertificateURL[0] != baseURL+"/ca/staff.crt" {
		t.Errorf("URLs %v %v", leaf.CRLDistributionPoints, leaf.IssuingCertificateURL)
	}
}
