package notify

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/jobs"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Run delivers the outbox until ctx ends: a pass at start, then one every
// Poll and whenever a message is queued. Run returns once the delivery in
// progress has been recorded.
func (m *Mailer) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.Poll)
	defer t.Stop()
	for {
		n, err := m.DeliverDue(ctx)
		if err != nil && ctx.Err() == nil {
			m.log.Error("e-mail delivery pass failed", "err", err)
		}
		if n == defaultBatch && err == nil {
			continue // more may be due
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.wake:
		}
	}
}

// DeliverDue claims the messages that are due and tries each once,
// returning how many it tried. While notifications are off or the
// settings are incomplete, messages wait and nothing is tried.
func (m *Mailer) DeliverDue(ctx context.Context) (int, error) {
	cfg, ok, err := m.deliveryConfig(ctx)
	if err != nil || !ok {
		return 0, err
	}
	var batch []*lanyard.MailMessage
	now := m.clock()
	claim := newClaim()
	if err := m.cfg.Store.Update(ctx, func(tx lanyard.Tx) (err error) {
		batch, err = tx.ClaimMail(claim, now, now.Add(m.cfg.Lease), defaultBatch)
		return
	}); err != nil {
		return 0, err
	}
	for i, msg := range batch {
		if ctx.Err() != nil {
			// Shutting down: the rest wait for their lease to end and are
			// claimed again, by this replica after a restart or another.
			return i, ctx.Err()
		}
		m.deliver(ctx, cfg, claim, msg)
	}
	return len(batch), nil
}

// newClaim is a claim's token: 128 random bits.
func newClaim() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// hold renews msg's claim now and then every third of the lease while
// its delivery runs (jobs.Hold: each renewal bounded by a third of the
// lease), and returns the context the delivery runs in: it ends when the
// claim is lost, and a third of the lease plus the clock skew before the
// claim as last renewed runs out should renewals fail or hang, so that a
// worker never goes on sending a message another worker may be sending.
// EConflict when the claim is lost already: the message is not tried.
func (m *Mailer) hold(ctx context.Context, claim string, msg *lanyard.MailMessage) (context.Context, func(), error) {
	renew := func(ctx context.Context) error {
		return m.cfg.Store.Update(ctx, func(tx lanyard.Tx) error {
			return tx.RenewMailClaim(msg.ID, claim, m.clock().Add(m.cfg.Lease))
		})
	}
	since := time.Now()
	rctx, cancel := context.WithTimeout(ctx, m.cfg.Lease/3)
	err := renew(rctx)
	cancel()
	if err != nil {
		return nil, nil, err
	}
	hctx, stop := jobs.Hold(ctx, since, m.cfg.Lease, jobs.DefaultClockSkew, renew)
	return hctx, stop, nil
}

// deliver tries msg once and records the outcome. Only the end of a
// message's life (sent or failed) is an audit event; the attempts in
// between are recorded on the row (attempts, next attempt, last error).
//
// The body leaves the outbox with the message: a sent message keeps only
// its metadata (recipients, kind, subject, times, state), and so does a
// message carrying a secret that failed for good; a failed message
// without one keeps its body for Retry.
func (m *Mailer) deliver(ctx context.Context, cfg smtpConfig, claim string, msg *lanyard.MailMessage) {
	// The claim is checked and renewed before the attempt and kept while
	// it runs: a message whose lease ran out while this worker delivered
	// the batch's earlier ones may be another worker's by now.
	hctx, release, err := m.hold(ctx, claim, msg)
	if lanyard.IsCode(err, lanyard.EConflict) {
		m.log.Info("e-mail left to the worker that claimed it since", "id", msg.ID)
		return
	}
	if err != nil {
		m.log.Error("renewing an e-mail's claim failed; it is tried again when its lease ends", "id", msg.ID, "err", err)
		return
	}
	secret, err := m.attempt(hctx, cfg, msg)
	if cause := context.Cause(hctx); cause != nil && ctx.Err() == nil {
		// The claim was lost or could not be renewed in time. The
		// outcome is recorded all the same if the claim still holds (the
		// fenced write below): a message the server accepted before the
		// delivery stopped must not be sent again.
		m.log.Warn("e-mail delivery stopped: its claim was lost or could not be renewed", "id", msg.ID, "err", err, "cause", cause)
	}
	release()
	now := m.clock()
	msg.UpdatedAt = now
	var ev *lanyard.AuditEvent
	var perm *permanentError
	discard := false
	switch {
	case err == nil:
		msg.State, msg.SentAt, msg.NextAttemptAt, msg.LastError = lanyard.MailSent, now, time.Time{}, ""
		discard = true
		ev = m.event(nil, "mail.sent", "mail", idString(msg.ID), map[string]any{"kind": msg.Kind, "to": msg.To, "attempts": msg.Attempts})
		m.log.Info("e-mail sent", "id", msg.ID, "kind", msg.Kind, "attempts", msg.Attempts)
	case errors.As(err, &perm) || msg.Attempts >= m.cfg.MaxAttempts:
		msg.State, msg.NextAttemptAt, msg.LastError = lanyard.MailFailed, time.Time{}, errorText(err)
		discard = secret
		ev = m.event(nil, "mail.failed", "mail", idString(msg.ID), map[string]any{"kind": msg.Kind, "to": msg.To, "attempts": msg.Attempts, "error": msg.LastError,
			"content_discarded": discard})
		m.log.Error("e-mail failed for good", "id", msg.ID, "kind", msg.Kind, "attempts", msg.Attempts, "err", msg.LastError, "content_discarded", discard)
	default:
		msg.State, msg.LastError = lanyard.MailQueued, errorText(err)
		msg.NextAttemptAt = now.Add(m.backoff(msg.Attempts))
		m.log.Warn("e-mail delivery failed; will retry", "id", msg.ID, "kind", msg.Kind, "attempts", msg.Attempts, "next", msg.NextAttemptAt, "err", msg.LastError)
	}
	// The outcome is recorded even when ctx ended during the attempt, so
	// that a sent message is never sent again.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	werr := m.cfg.Store.Update(wctx, func(tx lanyard.Tx) error {
		// Recorded only under this claim (the fence), the row held.
		if err := tx.RenewMailClaim(msg.ID, claim, now); err != nil {
			return err
		}
		if err := tx.UpdateMail(msg); err != nil {
			return err
		}
		if discard {
			if err := tx.ClearMailContent(msg.ID); err != nil {
				return err
			}
		}
		if ev == nil {
			return nil
		}
		return tx.AppendAudit(ev)
	})
	switch {
	case lanyard.IsCode(werr, lanyard.EConflict):
		// Another worker claimed it meanwhile; its outcome is that one's
		// (the only outcome not recorded).
		m.log.Warn("e-mail delivery not recorded: its claim was lost", "id", msg.ID)
	case werr != nil:
		// The lease runs out and the message is claimed again.
		m.log.Error("recording an e-mail delivery failed", "id", msg.ID, "err", werr)
	}
}

// attempt opens the sealed content, composes and sends it, and says
// whether the message carries a secret. A secret is never sent without
// TLS: with security "none" such a message fails at once, visibly, and
// nothing is sent.
func (m *Mailer) attempt(ctx context.Context, cfg smtpConfig, msg *lanyard.MailMessage) (secret bool, err error) {
	secret = secretKinds[msg.Kind]
	plain, err := m.cfg.Sealer.Open(msg.Content, []byte(contentAAD))
	if err != nil {
		return secret, &permanentError{errors.New("the message content cannot be opened (sealed under another master key?)")}
	}
	defer clear(plain)
	var c content
	if err := json.Unmarshal(plain, &c); err != nil {
		return secret, &permanentError{errors.New("the message content is corrupt")}
	}
	secret = secret || len(c.Attachments) > 0
	if secret && cfg.security == apiv1.SMTPNone {
		return secret, &permanentError{errPlainSecret}
	}
	var random [16]byte
	if _, err := io.ReadFull(m.cfg.Rand, random[:]); err != nil {
		return secret, err
	}
	raw, err := compose(cfg.from, msg.To, msg.Subject, &c, m.cfg.Now(), messageID(random[:], cfg.from))
	if err != nil {
		return secret, &permanentError{err}
	}
	defer clear(raw)
	return secret, m.send(ctx, cfg, msg.To, raw)
}

// secretKinds are the notifications whose body is a secret: a random
// PIN, an AirCard connection code. A message with attachments (a signed
// document) carries one too.
var secretKinds = map[string]bool{KindRandomPIN: true, KindAirCardCode: true}

// errPlainSecret is the outbox's reason for refusing a secret over a
// connection without TLS.
var errPlainSecret = errors.New("not sent: this message carries a PIN, a code or a document, which Lanyard sends only over TLS; " +
	"the SMTP settings use security none: choose starttls or tls (a private CA goes in the settings' CA certificates). " +
	"The message is discarded; send it again from where it came")

// backoff is the wait after the attempts-th failed attempt: Backoff
// doubled for each earlier failure, at most MaxBackoff, drawn uniformly
// between half and all of it (jitter).
func (m *Mailer) backoff(attempts int) time.Duration {
	d := m.cfg.Backoff
	for i := 1; i < attempts && d < m.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, m.cfg.MaxBackoff)
	var b [8]byte
	if _, err := io.ReadFull(m.cfg.Rand, b[:]); err != nil {
		return d
	}
	half := d / 2
	return half + time.Duration(binary.BigEndian.Uint64(b[:])%uint64(half+1))
}

// errorText is what the outbox shows of a failed attempt: the SMTP
// server's reply or the connection error, on one line, bounded. It never
// contains the body: nothing of it reaches the errors of send.
func errorText(err error) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}
