package web_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"path/filepath"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/archive"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
)

// TestKeyRecoverAPI: over HTTP, alice (password, authenticator app, an
// active archived key) lists her keys and recovers hers: a PKCS #12
// attachment, not cached, that opens with her password to her key;
// without the step-up she gets none.
func TestKeyRecoverAPI(t *testing.T) {
	ctx := context.Background()
	clock := servicetest.NewClock(time.Date(2026, 3, 1, 9, 0, 12, 0, time.UTC))
	st, err := sqlitetest.Open(ctx, filepath.Join(t.TempDir(), "lanyard.db"))
	if err != nil {
		t.Fatal(err)
	}
	s := webtest.StartWith(t, st, webtest.Options{Now: clock.Now})
	e := &env{t: t, url: s.URL, admin: s.AdminToken, svc: s.Service, store: st, srv: s.Web}
	pw := "correct horse battery staple"
	e.must(201, "POST", "/api/v1/users", e.admin, map[string]any{"login": "alice", "email": "alice@example.com", "display_name": "Alice", "password": pw})
	var tok apiv1.NewToken
	e.must(201, "POST", "/api/v1/tokens", e.admin, map[string]any{"user": "alice", "ttl": "1h"}).json(&tok)
	alice := tok.Secret
	var setup apiv1.TOTPSetup
	e.must(201, "POST", "/api/v1/me/totp", alice, nil).json(&setup)
	code := func() string {
		c, err := totp.GenerateCodeCustom(setup.Secret, clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	e.must(200, "POST", "/api/v1/me/totp/confirm", alice, map[string]any{"code": code()})
	clock.Add(30 * time.Second)

	owner := e.storedUser("alice")
	tpl := &lanyard.Template{Name: "encryption", CA: "builtin", KeyAlgs: []lanyard.KeyAlgorithm{lanyard.ECP256}, KeyUsage: []string{lanyard.KUKeyAgreement}, KeyArchival: true}
	var card *lanyard.Card
	storetest.MustUpdate(t, st, func(tx lanyard.Tx) error {
		card = storetest.NewCard("e001", owner.ID)
		return tx.CreateCard(card)
	})
	sys := &lanyard.Principal{User: &lanyard.User{Login: "test"}}
	k, key, err := s.Service.Archive.Generate(ctx, sys, archive.Request{OwnerID: owner.ID, CardID: card.ID, Template: tpl})
	if err != nil {
		t.Fatal(err)
	}
	cert := selfIssued(t, key)
	storetest.MustUpdate(t, st, func(tx lanyard.Tx) error {
		if err := tx.CreateTemplate(tpl); err != nil {
			return err
		}
		return tx.CreateCertificate(lanyard.ManagedCertificate(cert, tpl, owner, clock.Now()))
	})
	if err := s.Service.Archive.Certify(ctx, sys, k.ID, cert); err != nil {
		t.Fatal(err)
	}

	var keys []apiv1.ArchivedKey
	e.must(200, "GET", "/api/v1/me/archived-keys?template=encryption", alice, nil).json(&keys)
	if len(keys) != 1 || keys[0].ID != k.ID || keys[0].State != "active" {
		t.Fatalf("archived keys %+v", keys)
	}
	path := "/api/v1/me/archived-keys/" + itoa(k.ID) + "/recover"
	if r := e.do("POST", path, alice, map[string]any{"password": "Recover-Me-2026", "account_password": pw}); r.status != 400 && r.status != 401 && r.status != 403 {
		t.Fatalf("recover without a code: %d %s", r.status, r.body)
	}
	r := e.must(200, "POST", path, alice, map[string]any{"password": "Recover-Me-2026", "account_password": pw, "code": code()})
	if ct, cc, cd := r.header.Get("Content-Type"), r.header.Get("Cache-Control"), r.header.Get("Content-Disposition"); ct != "application/x-pkcs12" || cc != "private, no-store" || cd != `attachment; filename=encryption-`+itoa(k.ID)+`.p12` {
		t.Errorf("recover headers: Content-Type %q, Cache-Control %q, Content-Disposition %q", ct, cc, cd)
	}
	got, gotCert, _, err := pkcs12.DecodeChain(r.body, "Recover-Me-2026")
	if err != nil {
		t.Fatal(err)
	}
	if !key.(interface{ Equal(crypto.PrivateKey) bool }).Equal(got) || !gotCert.Equal(cert) {
		t.Error("the PKCS #12 file holds another key or certificate")
	}
}

// selfIssued is a certificate for key's public key from a throw-away
// issuer.
func selfIssued(t *testing.T, key crypto.Signer) *x509.Certificate {
	t.Helper()
	issuer, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(0x4711), Subject: pkix.Name{CommonName: "alice"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageKeyAgreement}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), issuer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
