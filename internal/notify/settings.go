package notify

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/mail"
	"strconv"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

const (
	settingsKey = "mail.settings"
	passwordAAD = "mail-smtp-password"
)

// stored is the settings row: the password sealed under the master key.
type stored struct {
	Enabled  bool   `json:"enabled"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Security string `json:"security"`
	Username string `json:"username,omitempty"`
	Password []byte `json:"password,omitempty"` // sealed
	From     string `json:"from"`
	CA       string `json:"ca,omitempty"` // extra trusted CA certificates, PEM
}

func (st *stored) view() *apiv1.MailSettings {
	return &apiv1.MailSettings{
		Enabled: st.Enabled, Host: st.Host, Port: st.Port, Security: st.Security,
		Username: st.Username, PasswordSet: len(st.Password) > 0, From: st.From, CA: st.CA,
	}
}

// loadSettings reads the settings; unset means off, STARTTLS on port 587.
func loadSettings(tx lanyard.Tx) (*stored, error) {
	st := &stored{Port: 587, Security: apiv1.SMTPStartTLS}
	b, err := tx.Setting(settingsKey)
	if lanyard.IsCode(err, lanyard.ENotFound) || (err == nil && len(b) == 0) {
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, st); err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "the stored e-mail settings are corrupt")
	}
	return st, nil
}

// MailSettings returns the SMTP settings without the password.
func (m *Mailer) MailSettings(ctx context.Context) (*apiv1.MailSettings, error) {
	var st *stored
	if err := m.cfg.Store.View(ctx, func(tx lanyard.Tx) (err error) { st, err = loadSettings(tx); return }); err != nil {
		return nil, err
	}
	return st.view(), nil
}

// defaultPort is the usual port of each kind of security.
func defaultPort(security string) int {
	switch security {
	case apiv1.SMTPTLS:
		return 465
	case apiv1.SMTPNone:
		return 25
	}
	return 587
}

// checkSettings validates in and returns it normalised.
func checkSettings(in apiv1.MailSettingsInput) (apiv1.MailSettingsInput, error) {
	in.Host, in.Username, in.From = strings.TrimSpace(in.Host), strings.TrimSpace(in.Username), strings.TrimSpace(in.From)
	in.Security = strings.ToLower(strings.TrimSpace(in.Security))
	if in.Security == "" {
		in.Security = apiv1.SMTPStartTLS
	}
	switch in.Security {
	case apiv1.SMTPStartTLS, apiv1.SMTPTLS, apiv1.SMTPNone:
	default:
		return in, lanyard.Errorf(lanyard.EInvalid, "security must be starttls, tls or none, not %q", in.Security)
	}
	if in.Port == 0 {
		in.Port = defaultPort(in.Security)
	}
	if in.Port < 1 || in.Port > 65535 {
		return in, lanyard.Errorf(lanyard.EInvalid, "port must be between 1 and 65535")
	}
	if len(in.Host) > 253 || strings.ContainsAny(in.Host, " /\\@\r\n\t") {
		return in, lanyard.Errorf(lanyard.EInvalid, "host must be a host name or an IP address")
	}
	if in.Enabled && in.Host == "" {
		return in, lanyard.Errorf(lanyard.EInvalid, "the SMTP host is required when notifications are on")
	}
	if in.From != "" {
		a, err := mail.ParseAddress(in.From)
		if err != nil {
			return in, lanyard.Errorf(lanyard.EInvalid, "from must be an e-mail address such as Lanyard <lanyard@example.com>")
		}
		in.From = a.String()
	} else if in.Enabled {
		return in, lanyard.Errorf(lanyard.EInvalid, "the from address is required when notifications are on")
	}
	if len(in.Username) > 256 || strings.ContainsAny(in.Username, "\r\n") {
		return in, lanyard.Errorf(lanyard.EInvalid, "username is limited to 256 characters on one line")
	}
	if len(in.Password) > 1024 {
		return in, lanyard.Errorf(lanyard.EInvalid, "password is limited to 1024 characters")
	}
	if in.Security == apiv1.SMTPNone && (in.Username != "" || in.Password != "") {
		return in, lanyard.Errorf(lanyard.EInvalid, "authentication needs TLS: choose starttls or tls, or leave username and password empty")
	}
	in.CA = strings.TrimSpace(in.CA)
	if in.CA != "" {
		if err := checkCA(in.CA); err != nil {
			return in, err
		}
	}
	return in, nil
}

// maxCA bounds the extra CA certificates: a few certificates, not a
// bundle of every public root.
const maxCA = 64 << 10

// checkCA checks the extra CA certificates of the settings: PEM
// certificates that parse, and nothing else (a private key pasted by
// mistake is refused rather than stored).
func checkCA(pemText string) error {
	if len(pemText) > maxCA {
		return lanyard.Errorf(lanyard.EInvalid, "the CA certificates are limited to %d KiB", maxCA>>10)
	}
	rest, n := []byte(pemText), 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return lanyard.Errorf(lanyard.EInvalid, "the CA field holds a %s; give only certificates (PEM, BEGIN CERTIFICATE)", b.Type)
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			return lanyard.Errorf(lanyard.EInvalid, "CA certificate %d does not parse: %v", n+1, err)
		}
		n++
	}
	if n == 0 || len(bytes.TrimSpace(rest)) > 0 {
		return lanyard.Errorf(lanyard.EInvalid, "the CA field must hold PEM certificates (-----BEGIN CERTIFICATE-----) and nothing else")
	}
	return nil
}

// PutMailSettings replaces the SMTP settings. An empty password keeps
// the stored one, so a form that never shows it can be saved again.
func (m *Mailer) PutMailSettings(ctx context.Context, p *lanyard.Principal, in apiv1.MailSettingsInput) (*apiv1.MailSettings, error) {
	in, err := checkSettings(in)
	if err != nil {
		return nil, err
	}
	var sealed []byte
	if in.Password != "" {
		if sealed, err = m.cfg.Sealer.Seal([]byte(in.Password), []byte(passwordAAD)); err != nil {
			return nil, lanyard.Wrap(lanyard.EInternal, err, "cannot seal the SMTP password")
		}
	}
	var out *stored
	err = m.update(ctx, func(tx lanyard.Tx) (*lanyard.AuditEvent, error) {
		old, err := loadSettings(tx)
		if err != nil {
			return nil, err
		}
		st := &stored{Enabled: in.Enabled, Host: in.Host, Port: in.Port, Security: in.Security, Username: in.Username, From: in.From, Password: old.Password, CA: in.CA}
		switch {
		case sealed != nil:
			st.Password = sealed
		case in.ClearPassword:
			st.Password = nil
		}
		if in.Security == apiv1.SMTPNone && len(st.Password) > 0 {
			return nil, lanyard.Errorf(lanyard.EInvalid, "authentication needs TLS: choose starttls or tls, or clear the stored password")
		}
		b, err := json.Marshal(st)
		if err != nil {
			return nil, lanyard.Wrap(lanyard.EInternal, err, "cannot encode the e-mail settings")
		}
		if err := tx.PutSetting(settingsKey, b); err != nil {
			return nil, err
		}
		out = st
		return m.event(p, "mail.settings", "setting", settingsKey, map[string]any{
			"enabled": st.Enabled, "host": st.Host, "port": strconv.Itoa(st.Port), "security": st.Security,
			"username": st.Username, "from": st.From, "password_changed": sealed != nil || (in.ClearPassword && len(old.Password) > 0),
			"ca_changed": st.CA != old.CA,
		}), nil
	})
	if err != nil {
		return nil, err
	}
	m.Wake() // queued messages may be deliverable now
	return out.view(), nil
}

// smtpConfig is what one delivery pass needs, the password opened.
type smtpConfig struct {
	host, security, username, password string
	port                               int
	from                               *mail.Address
	rootCAs                            *x509.CertPool // nil: Config.RootCAs
}

// deliveryConfig reads the settings for the worker; ok is false while
// notifications are off or incomplete, and messages then wait.
func (m *Mailer) deliveryConfig(ctx context.Context) (cfg smtpConfig, ok bool, err error) {
	var st *stored
	if err := m.cfg.Store.View(ctx, func(tx lanyard.Tx) (err error) { st, err = loadSettings(tx); return }); err != nil {
		return cfg, false, err
	}
	if !st.Enabled || st.Host == "" || st.From == "" {
		return cfg, false, nil
	}
	from, err := mail.ParseAddress(st.From)
	if err != nil {
		return cfg, false, lanyard.Wrap(lanyard.EInternal, err, "the stored from address does not parse")
	}
	cfg = smtpConfig{host: st.Host, port: st.Port, security: st.Security, username: st.Username, from: from}
	if st.CA != "" {
		if cfg.rootCAs, err = m.trusted(st.CA); err != nil {
			return cfg, false, err
		}
	}
	if len(st.Password) > 0 {
		pw, err := m.cfg.Sealer.Open(st.Password, []byte(passwordAAD))
		if err != nil {
			return cfg, false, lanyard.Wrap(lanyard.EInternal, err, "the SMTP password cannot be opened (another master key?)")
		}
		cfg.password = string(pw)
	}
	return cfg, true, nil
}

// trusted is the pool that verifies SMTP servers with extra CAs: the
// Mailer's roots (Config.RootCAs, else the system's) and the settings' CA
// certificates.
func (m *Mailer) trusted(extra string) (*x509.CertPool, error) {
	var pool *x509.CertPool
	if m.cfg.RootCAs != nil {
		pool = m.cfg.RootCAs.Clone()
	} else if sys, err := x509.SystemCertPool(); err == nil {
		pool = sys
	} else {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM([]byte(extra)) {
		return nil, lanyard.Errorf(lanyard.EInternal, "the stored CA certificates of the e-mail settings do not parse")
	}
	return pool, nil
}
