package notify_test

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"path/filepath"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/notify"
	"github.com/lanyard-cms/lanyard/internal/seal"
	"github.com/lanyard-cms/lanyard/internal/store/postgres"
	"github.com/lanyard-cms/lanyard/internal/store/postgres/pgtest"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite/sqlitetest"
)

var admin = &lanyard.Principal{User: &lanyard.User{Login: "root", DisplayName: "Root Admin"}, Roles: lanyard.Roles{lanyard.RoleAdministrator}}

type harness struct {
	store  lanyard.Store
	mailer *notify.Mailer
}

// newStoreHarness is a harness without the test SMTP servers: settings
// and templates, no delivery.
func newStoreHarness(t *testing.T, engine string, roots *x509.CertPool, tweak func(*notify.Config)) *harness {
	t.Helper()
	var st lanyard.Store
	var err error
	if engine == "postgres" {
		st, err = postgres.Open(t.Context(), pgtest.FreshSchema(t))
	} else {
		st, err = sqlitetest.Open(t.Context(), filepath.Join(t.TempDir(), "lanyard.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key := make([]byte, seal.KeySize)
	rand.Read(key)
	sealer, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := notify.Config{
		Store: st, Sealer: sealer, Now: time.Now, Rand: rand.Reader, BaseURL: "https://lanyard.example.com",
		Backoff: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Timeout: 5 * time.Second, Poll: 50 * time.Millisecond,
		RootCAs: roots,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	m, err := notify.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{store: st, mailer: m}
}

// TestSettingsKeepThePasswordSecret: the password is sealed at rest,
// never returned, kept when a form saves without it, and cleared on
// request; authentication without TLS is refused.
func TestSettingsKeepThePasswordSecret(t *testing.T) {
	h := newStoreHarness(t, "sqlite", nil, nil)
	ctx := t.Context()
	in := apiv1.MailSettingsInput{Enabled: true, Host: "smtp.example.com", Security: "starttls", Username: "lanyard", Password: "s3cret-pw", From: "lanyard@example.com"}
	got, err := h.mailer.PutMailSettings(ctx, admin, in)
	if err != nil {
		t.Fatal(err)
	}
	if !got.PasswordSet || got.Port != 587 || got.From != "<lanyard@example.com>" {
		t.Errorf("settings %+v", got)
	}
	err = h.store.View(ctx, func(tx lanyard.Tx) error {
		b, err := tx.Setting("mail.settings")
		if bytes.Contains(b, []byte("s3cret-pw")) {
			t.Errorf("the password is stored in clear: %s", b)
		}
		evs, _ := tx.ListAudit(lanyard.AuditFilter{Action: "mail.settings"})
		for _, e := range evs {
			if bytes.Contains(e.Details, []byte("s3cret")) {
				t.Errorf("audit details hold the password")
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	in.Password, in.Port = "", 2525
	if got, err = h.mailer.PutMailSettings(ctx, admin, in); err != nil || !got.PasswordSet || got.Port != 2525 {
		t.Fatalf("saving without a password: %+v, %v", got, err)
	}
	in.ClearPassword = true
	if got, err = h.mailer.PutMailSettings(ctx, admin, in); err != nil || got.PasswordSet {
		t.Fatalf("clearing the password: %+v, %v", got, err)
	}
	for what, bad := range map[string]apiv1.MailSettingsInput{
		"auth without TLS": {Enabled: true, Host: "h", Security: "none", Username: "u", Password: "p", From: "a@example.com"},
		"unknown security": {Enabled: true, Host: "h", Security: "ssl3", From: "a@example.com"},
		"no host":          {Enabled: true, Security: "tls", From: "a@example.com"},
		"bad from":         {Enabled: true, Host: "h", From: "lanyard"},
		"bad port":         {Enabled: true, Host: "h", Port: 70000, From: "a@example.com"},
		"bad host":         {Enabled: true, Host: "h/x", From: "a@example.com"},
		"CA not PEM":       {Enabled: true, Host: "h", From: "a@example.com", CA: "MIIB..."},
		"CA with a key":    {Enabled: true, Host: "h", From: "a@example.com", CA: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"},
		"CA that is junk":  {Enabled: true, Host: "h", From: "a@example.com", CA: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"},
	} {
		if _, err := h.mailer.PutMailSettings(ctx, admin, bad); !lanyard.IsCode(err, lanyard.EInvalid) {
			t.Errorf("%s: %v", what, err)
		}
	}
}
