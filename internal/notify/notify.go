// Package notify delivers Lanyard's e-mail notifications (issue #5). It
// renders each notification from the administrators' templates
// (text/template), queues it in the store's durable outbox with its body
// sealed, and a worker delivers the outbox over SMTP (STARTTLS, implicit
// TLS, or plain for test servers) with exponential backoff and jitter
// between attempts. A message that cannot be delivered ends failed and
// stays visible in the console; nothing is dropped silently.
//
// Mailer implements service.Notifier (what card workflows send) and
// web.Notifications (what administrators manage, on apiv1 types). Bodies — a random
// PIN is one — are never logged and never stored in clear.
package notify

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/seal"
	"github.com/lanyard-cms/lanyard/internal/service"
)

// Defaults of Config. Eight attempts with waits from 10 minutes doubling
// up to 8 hours span roughly half a day to a day, depending on the jitter.
const (
	DefaultMaxAttempts = 8
	DefaultBackoff     = 10 * time.Minute
	DefaultMaxBackoff  = 8 * time.Hour
	DefaultPoll        = 10 * time.Second
	DefaultLease       = 5 * time.Minute
	DefaultTimeout     = time.Minute
	defaultBatch       = 20
)

// Config holds a Mailer's dependencies. Store, Sealer, Now and Rand are
// required.
type Config struct {
	Store  lanyard.Store
	Sealer seal.Sealer
	Now    func() time.Time
	Rand   io.Reader // jitter and Message-IDs
	Log    *slog.Logger
	// BaseURL is Lanyard's public address, for the links in mails.
	BaseURL string
	// MaxAttempts is how many deliveries are tried before a message is
	// failed.
	MaxAttempts int
	// Backoff is the wait after the first failed attempt; each further
	// failure doubles it, up to MaxBackoff. The actual wait is drawn
	// between half and all of it, so that a fleet does not retry in step.
	Backoff, MaxBackoff time.Duration
	// Poll is how often the worker looks for due messages; queueing a
	// message wakes it at once.
	Poll time.Duration
	// Lease is how long a claimed message belongs to the worker that
	// claimed it unless renewed; a worker that dies leaves it to be
	// claimed again after. The worker renews the claim of the message
	// it is delivering every third of the lease, so a delivery may take
	// longer (up to Timeout).
	Lease time.Duration
	// Timeout bounds one delivery, from dialling to QUIT.
	Timeout time.Duration
	// RootCAs verifies SMTP servers' certificates; nil uses the system's.
	RootCAs *x509.CertPool
	// Hostname is the name given in EHLO; default os.Hostname.
	Hostname string
}

// Mailer queues and delivers e-mail notifications.
type Mailer struct {
	cfg  Config
	log  *slog.Logger
	wake chan struct{}
}

var _ service.Notifier = (*Mailer)(nil)

// New checks cfg, fills in defaults and returns a Mailer. Run delivers.
func New(cfg Config) (*Mailer, error) {
	if cfg.Store == nil || cfg.Sealer == nil || cfg.Now == nil || cfg.Rand == nil {
		return nil, errors.New("notify: Store, Sealer, Now and Rand are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.MaxBackoff < cfg.Backoff {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.Backoff)
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Hostname == "" {
		if h, err := os.Hostname(); err == nil && h != "" {
			cfg.Hostname = h
		} else {
			cfg.Hostname = "localhost"
		}
	}
	return &Mailer{cfg: cfg, log: cfg.Log, wake: make(chan struct{}, 1)}, nil
}

// clock is the Mailer's time, as the store keeps it.
func (m *Mailer) clock() time.Time { return m.cfg.Now().UTC().Truncate(time.Microsecond) }

// Wake makes a running worker look for due messages now.
func (m *Mailer) Wake() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// event builds an audit event attributed to p (nil: the system).
func (m *Mailer) event(p *lanyard.Principal, action, objectType, objectID string, details map[string]any) *lanyard.AuditEvent {
	e := &lanyard.AuditEvent{
		Time: m.clock(), Action: action, ObjectType: objectType, ObjectID: objectID,
		Details: lanyard.AuditDetails(details), Actor: "system",
	}
	if p != nil && p.User != nil && p.User.Login != "" {
		e.Actor, e.RemoteAddr = p.User.Login, p.RemoteAddr
	}
	return e
}

// update runs fn and appends the event it returns, in one transaction.
func (m *Mailer) update(ctx context.Context, fn func(tx lanyard.Tx) (*lanyard.AuditEvent, error)) error {
	return m.cfg.Store.Update(ctx, func(tx lanyard.Tx) error {
		ev, err := fn(tx)
		if err != nil {
			return err
		}
		return tx.AppendAudit(ev)
	})
}
