package archive_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/archive"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

// env is a set-up test stack (Setup made KRA key version 1), an owner
// with a card, and an encryption template with archive key.
type env struct {
	arc   *archive.Archive
	store lanyard.Store
	clock *servicetest.Clock
	admin *lanyard.Principal
	owner *lanyard.User
	card  *lanyard.Card
	tpl   *lanyard.Template
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clock := servicetest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	stack := servicetest.New(t, servicetest.Options{Now: clock.Now})
	e := &env{arc: stack.Service.Archive, store: stack.Store, clock: clock, admin: stack.Admin,
		owner: storetest.MustCreateUser(t, stack.Store, "alice")}
	storetest.MustUpdate(t, e.store, func(tx lanyard.Tx) error {
		e.card = storetest.NewCard("e001", e.owner.ID)
		return tx.CreateCard(e.card)
	})
	e.tpl = &lanyard.Template{Name: "encryption", KeyAlgs: []lanyard.KeyAlgorithm{lanyard.ECP256, lanyard.RSA2048},
		KeyUsage: []string{lanyard.KUKeyEncipherment, lanyard.KUKeyAgreement}, ExtKeyUsage: []string{lanyard.EKUEmailProtection}, KeyArchival: true}
	return e
}

func (e *env) request() archive.Request {
	return archive.Request{OwnerID: e.owner.ID, CardID: e.card.ID, Template: e.tpl}
}

// generate archives a key for e's owner, card and template and moves the
// clock on, so that keys archived one after another sort by time.
func (e *env) generate(t *testing.T) (*lanyard.ArchivedKey, crypto.Signer) {
	t.Helper()
	k, key, err := e.arc.Generate(t.Context(), e.admin, e.request())
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Minute)
	return k, key
}

// certFor is a certificate for key's public key, signed by a throw-away
// issuer, with serial.
func certFor(t *testing.T, key crypto.Signer, serial int64) *x509.Certificate {
	t.Helper()
	issuer, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "alice"},
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

// open opens archived key id as recovery will.
func (e *env) open(t *testing.T, id int64) (*lanyard.ArchivedKey, crypto.Signer, error) {
	t.Helper()
	var k *lanyard.ArchivedKey
	var key crypto.Signer
	err := e.store.View(t.Context(), func(tx lanyard.Tx) (err error) { k, key, err = e.arc.OpenTx(tx, id); return })
	return k, key, err
}

// events are the audit events with action.
func (e *env) events(t *testing.T, action string) []*lanyard.AuditEvent {
	t.Helper()
	var out []*lanyard.AuditEvent
	for _, ev := range storetest.CheckAuditChain(t, e.store) {
		if ev.Action == action {
			out = append(out, ev)
		}
	}
	return out
}

// TestArchiveLifecycle: a key generated on the server is archived pending,
// sealed (its encoding appears nowhere in the row) under KRA version 1,
// with one key.archive event that holds no key material; its certificate
// makes it active with the serial bound in, once (the same certificate
// again changes nothing, another key's certificate is refused); it opens
// to the same private key.
func TestArchiveLifecycle(t *testing.T) {
	e := newEnv(t)
	k, key := e.generate(t)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if k.State != lanyard.ArchivedKeyPending || k.KRAVersion != 1 || k.Algorithm != lanyard.ECP256 || k.Template != "encryption" {
		t.Errorf("archived key %+v, want pending ecp256 under KRA version 1", k)
	}
	raw, err := key.(*ecdsa.PrivateKey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(k.SealedKey, der) || bytes.Contains(k.SealedKey, raw) {
		t.Fatal("the sealed key holds the private key in clear")
	}
	evs := e.events(t, "key.archive")
	if len(evs) != 1 || evs[0].ObjectID == "" || evs[0].Actor != e.admin.User.Login {
		t.Fatalf("key.archive events: %+v, want one by the admin", evs)
	}
	for _, field := range []string{"sealed", "private", "key\":"} {
		if strings.Contains(string(evs[0].Details), field) {
			t.Errorf("key.archive details %s name %q", evs[0].Details, field)
		}
	}
	if !strings.Contains(string(evs[0].Details), `"kra_version":1`) {
		t.Errorf("key.archive details %s do not say the KRA version", evs[0].Details)
	}

	cert := certFor(t, key, 0x1f2e)
	if err := e.arc.Certify(t.Context(), e.admin, k.ID, cert); err != nil {
		t.Fatal(err)
	}
	if err := e.arc.Certify(t.Context(), e.admin, k.ID, cert); err != nil {
		t.Fatalf("certify again with the same certificate: %v", err)
	}
	if n := len(e.events(t, "key.certify")); n != 1 {
		t.Errorf("%d key.certify events, want 1", n)
	}
	_, other := e.generate(t)
	err = e.arc.Certify(t.Context(), e.admin, k.ID, certFor(t, other, 0x99))
	servicetest.WantErr(t, "certify with another key's certificate", err, lanyard.EInvalid, "is not for archived key")

	got, opened, err := e.open(t, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != lanyard.ArchivedKeyActive || got.CertificateSerial != "1f2e" {
		t.Errorf("certified key %+v, want active with serial 1f2e", got)
	}
	if !key.(*ecdsa.PrivateKey).Equal(opened) {
		t.Error("the opened key is not the archived one")
	}
}

// TestArchiveRefused: no archive for a template without archive key, for
// a signing or logon template even with the flag set behind the rule's
// back, for a key algorithm the template does not allow, or without an
// owner or card.
func TestArchiveRefused(t *testing.T) {
	e := newEnv(t)
	for name, tc := range map[string]struct {
		edit func(r *archive.Request)
		msg  string
	}{
		"archive key off": {func(r *archive.Request) { t := *r.Template; t.KeyArchival = false; r.Template = &t }, "does not archive its key"},
		"logon template": {func(r *archive.Request) {
			t := *r.Template
			t.KeyUsage, t.ExtKeyUsage = []string{lanyard.KUDigitalSignature, lanyard.KUKeyEncipherment}, []string{lanyard.EKUSmartCardLogon}
			r.Template = &t
		}, "only for encryption"},
		"algorithm not allowed": {func(r *archive.Request) { r.Algorithm = lanyard.RSA4096 }, `does not allow key algorithm "rsa4096"`},
		"no card":               {func(r *archive.Request) { r.CardID = 0 }, "needs an owner, a card and a template"},
	} {
		r := e.request()
		tc.edit(&r)
		_, _, err := e.arc.Generate(t.Context(), e.admin, r)
		servicetest.WantErr(t, name, err, lanyard.EInvalid, tc.msg)
	}
	if evs := e.events(t, "key.archive"); len(evs) != 0 {
		t.Errorf("%d key.archive events after refusals, want none", len(evs))
	}
}

// TestKRARotate: only an administrator rotates; keys archived after a
// rotation are sealed under the new version, and keys archived before
// still open under theirs; the status counts each version's keys; a
// sealed key copied into another row does not open there.
func TestKRARotate(t *testing.T) {
	e := newEnv(t)
	k1, key1 := e.generate(t)
	user := &lanyard.Principal{User: e.owner, Roles: lanyard.Roles{lanyard.RoleUser}}
	_, err := e.arc.RotateKRA(t.Context(), user)
	servicetest.WantErr(t, "rotation by a user", err, lanyard.EForbidden, "administrator")
	v, err := e.arc.RotateKRA(t.Context(), e.admin)
	if err != nil || v != 2 {
		t.Fatalf("rotate: %d, %v; want version 2", v, err)
	}
	k2, key2 := e.generate(t)
	if k2.KRAVersion != 2 {
		t.Errorf("key archived after rotation under version %d, want 2", k2.KRAVersion)
	}
	for _, c := range []struct {
		k   *lanyard.ArchivedKey
		key crypto.Signer
	}{{k1, key1}, {k2, key2}} {
		_, opened, err := e.open(t, c.k.ID)
		if err != nil {
			t.Fatalf("key under KRA version %d: %v", c.k.KRAVersion, err)
		}
		if !c.key.(*ecdsa.PrivateKey).Equal(opened) {
			t.Errorf("key under KRA version %d opened to another key", c.k.KRAVersion)
		}
	}
	status, err := e.arc.KRAStatus(t.Context(), e.admin)
	if err != nil {
		t.Fatal(err)
	}
	if len(status) != 2 || status[0].Version != 2 || status[0].ArchivedKeys != 1 || status[1].ArchivedKeys != 1 {
		t.Errorf("KRA status %+v, want versions 2 and 1 with one key each", status)
	}
	if n := len(e.events(t, "kra.rotate")); n != 1 {
		t.Errorf("%d kra.rotate events, want 1", n)
	}
	// k1's sealed key (same owner, card, template) copied into k3's row
	// with k1's KRA version: its associated data names another
	// public key, so it does not open.
	k3, _ := e.generate(t)
	storetest.MustUpdate(t, e.store, func(tx lanyard.Tx) error {
		return tx.UpdateArchivedKey(&lanyard.ArchivedKey{ID: k3.ID, KRAVersion: k1.KRAVersion, SealedKey: k1.SealedKey, State: k3.State, UpdatedAt: k3.UpdatedAt})
	})
	_, _, err = e.open(t, k3.ID)
	servicetest.WantErr(t, "a sealed key copied into another row", err, lanyard.EInternal, "does not open")
}

// TestDiscardAndHistory: a pending key discarded loses its sealed copy
// and no longer opens, an active one is never discarded; the owner's keys
// of the template list newest first without sealed keys.
func TestDiscardAndHistory(t *testing.T) {
	e := newEnv(t)
	old, oldKey := e.generate(t)
	if err := e.arc.Certify(t.Context(), e.admin, old.ID, certFor(t, oldKey, 7)); err != nil {
		t.Fatal(err)
	}
	cur, curKey := e.generate(t)
	if err := e.arc.Certify(t.Context(), e.admin, cur.ID, certFor(t, curKey, 8)); err != nil {
		t.Fatal(err)
	}
	dropped, _ := e.generate(t)
	if err := e.arc.Discard(t.Context(), e.admin, dropped.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err := e.open(t, dropped.ID)
	servicetest.WantErr(t, "open a discarded key", err, lanyard.EConflict, "discarded")
	err = e.arc.Discard(t.Context(), e.admin, cur.ID)
	servicetest.WantErr(t, "discard an active key", err, lanyard.EConflict, "stays archived")

	keys, err := e.arc.Keys(t.Context(), e.owner.ID, "encryption")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 || keys[0].ID != dropped.ID || keys[1].ID != cur.ID || keys[2].ID != old.ID {
		t.Fatalf("history: %d keys, want the discarded, the current and the old one, newest first", len(keys))
	}
	for _, k := range keys {
		if k.SealedKey != nil {
			t.Errorf("key %d listed with its sealed key", k.ID)
		}
	}
	if keys[0].State != lanyard.ArchivedKeyDiscarded || keys[1].CertificateSerial != "8" || keys[2].CertificateSerial != "7" {
		t.Errorf("history states/serials: %s %s %s", keys[0].State, keys[1].CertificateSerial, keys[2].CertificateSerial)
	}
}
