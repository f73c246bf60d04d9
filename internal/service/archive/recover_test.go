package archive_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/notify"
	"github.com/lanyard-cms/lanyard/internal/seal"
	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/service/archive"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
	"github.com/lanyard-cms/lanyard/internal/store/storetest"
)

const (
	accountPassword = "correct horse battery staple"
	filePassword    = "Recover-Me-2026" // 15 characters, 4 classes
)

// recoverEnv is a stack with a mail outbox, alice (a user with a password
// and a confirmed authenticator app, as have olga and adam, her policy asking 12 characters and
// 3 classes of key container passwords), an encryption template on the
// builtin CA, and one active archived key of hers with its certificate.
type recoverEnv struct {
	stack   *servicetest.Stack
	arc     *archive.Archive
	clock   *servicetest.Clock
	alice   *lanyard.Principal
	bob     *lanyard.Principal
	olga    *lanyard.Principal // an operator
	adam    *lanyard.Principal // an administrator
	secrets map[string]string  // authenticator secrets by login
	key     *lanyard.ArchivedKey
	private crypto.Signer
	cert    *x509.Certificate
}

func newRecoverEnv(t *testing.T) *recoverEnv { return newRecoverEnvOn(t, nil) }

// newRecoverEnvOn is newRecoverEnv on st (nil: a new SQLite store).
func newRecoverEnvOn(t *testing.T, st lanyard.Store) *recoverEnv {
	t.Helper()
	ctx := t.Context()
	clock := servicetest.NewClock(time.Date(2026, 3, 1, 9, 0, 12, 0, time.UTC)) // 12 s into a TOTP step
	stack := servicetest.New(t, servicetest.Options{Now: clock.Now, Store: st,
		NewNotifier: func(st lanyard.Store, s *seal.AESGCM) service.Notifier {
			m, err := notify.New(notify.Config{Store: st, Sealer: s, Now: clock.Now, Rand: rand.Reader, BaseURL: servicetest.DefaultBaseURL})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.PutMailSettings(ctx, &lanyard.Principal{User: &lanyard.User{Login: "admin"}}, apiv1.MailSettingsInput{
				Enabled: true, Host: "127.0.0.1", Port: 1, Security: apiv1.SMTPNone, From: "Lanyard <lanyard@example.com>"}); err != nil {
				t.Fatal(err)
			}
			return m
		}})
	e := &recoverEnv{stack: stack, arc: stack.Service.Archive, clock: clock}
	mk := func(login string, roles ...lanyard.Role) *lanyard.Principal {
		return e.user(t, login, login+"@example.com", roles...)
	}
	e.alice, e.bob, e.olga, e.adam = mk("alice"), mk("bob"), mk("olga", lanyard.RoleOperator), mk("adam", lanyard.RoleAdministrator)
	e.secrets = map[string]string{}
	for _, p := range []*lanyard.Principal{e.alice, e.olga, e.adam} {
		setup, err := stack.Service.Identity.BeginTOTPEnrollment(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		e.secrets[p.User.Login] = setup.Secret
		if _, err := stack.Service.Identity.ConfirmTOTP(ctx, p, e.codeOf(t, p)); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Add(identity.TOTPPeriod) // the next step's code is unused
	tpl := &lanyard.Template{Name: "encryption", CA: stack.CA.Name(), KeyAlgs: []lanyard.KeyAlgorithm{lanyard.RSA2048},
		KeyUsage: []string{lanyard.KUKeyEncipherment}, ExtKeyUsage: []string{lanyard.EKUEmailProtection}, KeyArchival: true, ValidityDays: 365,
		Subject: lanyard.SubjectSpec{CommonName: "{login}", SANEmail: true}}
	pol := storetest.NewPolicy("alice-policy", 10)
	pol.Settings.Issuance.KeyPassword = lanyard.KeyPasswordSettings{MinLength: 12, MinClasses: 3}
	var card *lanyard.Card
	storetest.MustUpdate(t, stack.Store, func(tx lanyard.Tx) error {
		card = storetest.NewCard("e001", e.alice.User.ID)
		if err := tx.CreateCard(card); err != nil {
			return err
		}
		if err := tx.CreatePolicy(pol); err != nil {
			return err
		}
		return tx.CreateTemplate(tpl)
	})
	k, key, err := e.arc.Generate(ctx, stack.Admin, archive.Request{OwnerID: e.alice.User.ID, CardID: card.ID, Template: tpl})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := stack.CA.Sign(ctx, &ca.SignRequest{Template: tpl, User: e.alice.User, PublicKey: key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	storetest.MustUpdate(t, stack.Store, func(tx lanyard.Tx) error {
		return tx.CreateCertificate(lanyard.ManagedCertificate(cert, tpl, e.alice.User, clock.Now()))
	})
	if err := e.arc.Certify(ctx, stack.Admin, k.ID, cert); err != nil {
		t.Fatal(err)
	}
	e.key, e.private, e.cert = k, key, cert
	return e
}

// user creates an account with the test password, e-mail address mail
// and roles besides user.
func (e *recoverEnv) user(t *testing.T, login, mail string, roles ...lanyard.Role) *lanyard.Principal {
	t.Helper()
	pw, rs := accountPassword, append(lanyard.Roles{lanyard.RoleUser}, roles...)
	u, err := e.stack.Service.Identity.CreateUser(t.Context(), e.stack.Admin, identity.UserInput{Login: login, Password: &pw, Email: &mail, Roles: &rs})
	if err != nil {
		t.Fatal(err)
	}
	return &lanyard.Principal{User: u, Roles: u.Roles, RemoteAddr: "192.0.2.10"}
}

// code is alice's authenticator code now.
func (e *recoverEnv) code(t *testing.T) string { return e.codeOf(t, e.alice) }

// codeOf is p's authenticator code now, computed apart from the service.
func (e *recoverEnv) codeOf(t *testing.T, p *lanyard.Principal) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(e.secrets[p.User.Login], e.clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *recoverEnv) input(t *testing.T, password string) archive.RecoverInput {
	return archive.RecoverInput{KeyID: e.key.ID, Password: password, AccountPassword: accountPassword, Code: e.code(t)}
}

// audit returns the audit events with action, after checking the chain.
func (e *recoverEnv) audit(t *testing.T, action string) []*lanyard.AuditEvent {
	t.Helper()
	var out []*lanyard.AuditEvent
	for _, ev := range storetest.CheckAuditChain(t, e.stack.Store) {
		if ev.Action == action {
			out = append(out, ev)
		}
	}
	return out
}

// mail returns the queued messages of kind.
func (e *recoverEnv) mail(t *testing.T, kind string) []*lanyard.MailMessage {
	t.Helper()
	var out []*lanyard.MailMessage
	storetest.MustView(t, e.stack.Store, func(tx lanyard.Tx) error {
		ms, err := tx.ListMail(lanyard.MailFilter{Limit: 1000})
		for _, m := range ms {
			if m.Kind == kind {
				out = append(out, m)
			}
		}
		return err
	})
	return out
}

// TestRecoverOwnKey: alice recovers her active archived key with her
// password and authenticator code; the PKCS #12 file opens with the
// password she chose to her private key, certificate and the CA chain;
// one key.recover event (no key, no password) and one notice to her.
func TestRecoverOwnKey(t *testing.T) { recoverOwn(t, newRecoverEnv(t)) }

func recoverOwn(t *testing.T, e *recoverEnv) {
	got, err := e.arc.RecoverOwn(t.Context(), e.alice, e.input(t, filePassword))
	if err != nil {
		t.Fatal(err)
	}
	if got.Key.ID != e.key.ID || got.Key.SealedKey != nil {
		t.Errorf("recovered key %+v, want key %d without its sealed key", got.Key, e.key.ID)
	}
	key, cert, chain, err := pkcs12.DecodeChain(got.PFX, filePassword)
	if err != nil {
		t.Fatal(err)
	}
	if !e.private.(interface{ Equal(crypto.PrivateKey) bool }).Equal(key) || !cert.Equal(e.cert) {
		t.Error("the PKCS #12 file holds another key or certificate")
	}
	if len(chain) == 0 || chain[0].CheckSignature(e.cert.SignatureAlgorithm, e.cert.RawTBSCertificate, e.cert.Signature) != nil {
		t.Errorf("the PKCS #12 file's chain (%d certificates) does not hold the issuing CA", len(chain))
	}
	if _, _, _, err := pkcs12.DecodeChain(got.PFX, "Another-Password-1"); err == nil {
		t.Error("the PKCS #12 file opens with another password")
	}
	evs := e.audit(t, "key.recover")
	if len(evs) != 1 || evs[0].Actor != "alice" || evs[0].ObjectID != strconv.FormatInt(e.key.ID, 10) {
		t.Fatalf("key.recover events %+v, want one by alice", evs)
	}
	d := string(evs[0].Details)
	if strings.Contains(d, filePassword) || strings.Contains(d, accountPassword) || !strings.Contains(d, `"notified":true`) || !strings.Contains(d, e.key.CertificateSerial) {
		t.Errorf("key.recover details %s: want the serial and notified, never a password", d)
	}
	if ms := e.mail(t, notify.KindKeyRecovered); len(ms) != 1 || ms[0].To[0] != "alice@example.com" {
		t.Errorf("key_recovered notices %+v, want one to alice", ms)
	}
	opensslProof(t, got.PFX)
}

// opensslProof: OpenSSL reads the file with its password, the key in it
// matches the certificate's public key, and data encrypted to the
// certificate with openssl cms decrypts with the recovered key.
func opensslProof(t *testing.T, pfx []byte) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is needed (make test installs it: scripts/test-deps.sh)")
	}
	dir := t.TempDir()
	f := func(name string) string { return filepath.Join(dir, name) }
	run := func(args ...string) []byte {
		t.Helper()
		out, err := exec.Command("openssl", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	if err := os.WriteFile(f("key.p12"), pfx, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f("msg.txt"), []byte("secret minutes of the board\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The file's key derivation is costly to guess at offline.
	if info := run("pkcs12", "-in", f("key.p12"), "-passin", "pass:"+filePassword, "-info", "-noout"); !bytes.Contains(info, []byte("Iteration 600000")) {
		t.Errorf("openssl pkcs12 -info: %s; want 600000 iterations", info)
	}
	run("pkcs12", "-in", f("key.p12"), "-passin", "pass:"+filePassword, "-nodes", "-nocerts", "-out", f("key.pem"))
	run("pkcs12", "-in", f("key.p12"), "-passin", "pass:"+filePassword, "-clcerts", "-nokeys", "-out", f("cert.pem"))
	keyPub := run("pkey", "-in", f("key.pem"), "-pubout")
	certPub := run("x509", "-in", f("cert.pem"), "-noout", "-pubkey")
	if !bytes.Equal(keyPub, certPub) {
		t.Fatalf("openssl: the key's public key\n%s\ndiffers from the certificate's\n%s", keyPub, certPub)
	}
	run("cms", "-encrypt", "-binary", "-aes256", "-in", f("msg.txt"), "-out", f("msg.cms"), "-outform", "DER", f("cert.pem"))
	run("cms", "-decrypt", "-in", f("msg.cms"), "-inform", "DER", "-inkey", f("key.pem"), "-recip", f("cert.pem"), "-out", f("msg.out"))
	if out, _ := os.ReadFile(f("msg.out")); string(out) != "secret minutes of the board\n" {
		t.Fatalf("openssl cms decrypted %q", out)
	}
}

// TestRecoverOwnKeyRefusals: someone else's key is not found; a password
// below the policy, a missing step-up, a pending or discarded key are
// refused; none writes a key.recover event nor a notice.
func TestRecoverOwnKeyRefusals(t *testing.T) {
	e := newRecoverEnv(t)
	ctx := context.Background()
	_, err := e.arc.RecoverOwn(ctx, e.bob, e.input(t, filePassword))
	servicetest.WantErr(t, "bob recovering alice's key", err, lanyard.ENotFound, "not found")
	_, err = e.arc.RecoverOwn(ctx, e.alice, e.input(t, "short-1A"))
	servicetest.WantErr(t, "a short password", err, lanyard.EInvalid, "12 to")
	_, err = e.arc.RecoverOwn(ctx, e.alice, e.input(t, "alllowercaseletters"))
	servicetest.WantErr(t, "a one-class password", err, lanyard.EInvalid, "")
	_, err = e.arc.RecoverOwn(ctx, e.alice, e.input(t, ""))
	servicetest.WantErr(t, "no password", err, lanyard.EInvalid, "required")
	in := e.input(t, filePassword)
	in.Code = "000000"
	_, err = e.arc.RecoverOwn(ctx, e.alice, in)
	servicetest.WantErr(t, "a wrong code", err, lanyard.EStepUpFailed, "")
	in = e.input(t, filePassword)
	in.AccountPassword = "not my password at all"
	_, err = e.arc.RecoverOwn(ctx, e.alice, in)
	servicetest.WantErr(t, "a wrong account password", err, lanyard.EStepUpFailed, "wrong password")
	pending := e.pendingKey(t)
	in = e.input(t, filePassword)
	in.KeyID = pending.ID
	_, err = e.arc.RecoverOwn(ctx, e.alice, in)
	servicetest.WantErr(t, "a pending key", err, lanyard.EConflict, "pending")
	if err := e.arc.Discard(ctx, e.stack.Admin, pending.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.arc.RecoverOwn(ctx, e.alice, in)
	servicetest.WantErr(t, "a discarded key", err, lanyard.EConflict, "discarded")
	if evs := e.audit(t, "key.recover"); len(evs) != 0 {
		t.Errorf("refusals wrote key.recover events %+v", evs)
	}
	if ms := e.mail(t, notify.KindKeyRecovered); len(ms) != 0 {
		t.Errorf("refusals queued notices %+v", ms)
	}
}

// pendingKey archives another key of alice's, left pending (no
// certificate).
func (e *recoverEnv) pendingKey(t *testing.T) *lanyard.ArchivedKey {
	t.Helper()
	k, _, err := e.arc.Generate(t.Context(), e.stack.Admin, archive.Request{OwnerID: e.alice.User.ID, CardID: e.key.CardID,
		Template: &lanyard.Template{Name: "encryption", KeyAlgs: []lanyard.KeyAlgorithm{lanyard.RSA2048}, KeyUsage: []string{lanyard.KUKeyEncipherment}, KeyArchival: true}})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestRecoverAfterTemplateGone: recovery needs neither the template nor
// its current CA. With the template pointed at another CA, and then
// deleted, alice still recovers her key with its certificate and the
// chain of the CA that issued it.
func TestRecoverAfterTemplateGone(t *testing.T) {
	e := newRecoverEnv(t)
	check := func(what string) {
		t.Helper()
		got, err := e.arc.RecoverOwn(t.Context(), e.alice, e.input(t, filePassword))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		_, cert, chain, err := pkcs12.DecodeChain(got.PFX, filePassword)
		if err != nil || !cert.Equal(e.cert) || len(chain) == 0 {
			t.Fatalf("%s: the PKCS #12 file holds another certificate or no chain (%d, %v)", what, len(chain), err)
		}
		e.clock.Add(identity.TOTPPeriod) // a fresh code for the next step-up
	}
	storetest.MustUpdate(t, e.stack.Store, func(tx lanyard.Tx) error {
		tpl, err := tx.TemplateByName("encryption")
		if err != nil {
			return err
		}
		tpl.CA = "another-ca"
		return tx.UpdateTemplate(tpl)
	})
	check("template on another CA")
	storetest.MustUpdate(t, e.stack.Store, func(tx lanyard.Tx) error { return tx.DeleteTemplate("encryption") })
	check("template deleted")
}
