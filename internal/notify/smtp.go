package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
)

// permanentError is an SMTP reply that will not change on retry
// (RFC 5321 4.2.1: 5yz is a permanent negative completion).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// classify marks 5yz replies permanent; everything else (connection
// failures, 4yz, TLS problems) is worth another attempt.
func classify(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return &permanentError{err}
	}
	return err
}

// send delivers one message over a new SMTP connection.
func (m *Mailer) send(ctx context.Context, cfg smtpConfig, to []string, msg []byte) (err error) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	addr := net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port))
	roots := m.cfg.RootCAs
	if cfg.rootCAs != nil {
		roots = cfg.rootCAs
	}
	tlsConf := &tls.Config{ServerName: cfg.host, RootCAs: roots, MinVersion: tls.VersionTLS12}
	var conn net.Conn
	dialer := &net.Dialer{Timeout: m.cfg.Timeout}
	if cfg.security == apiv1.SMTPTLS {
		conn, err = (&tls.Dialer{NetDialer: dialer, Config: tlsConf}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", addr, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, cfg.host)
	if err != nil {
		conn.Close()
		return classify(fmt.Errorf("greeting from %s: %w", addr, err))
	}
	defer c.Close()
	if err := c.Hello(m.cfg.Hostname); err != nil {
		return classify(fmt.Errorf("EHLO: %w", err))
	}
	if cfg.security == apiv1.SMTPStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("%s does not offer STARTTLS", addr)
		}
		if err := c.StartTLS(tlsConf); err != nil {
			return classify(fmt.Errorf("STARTTLS: %w", err))
		}
	}
	if cfg.username != "" {
		if cfg.security == apiv1.SMTPNone {
			return &permanentError{errors.New("refusing to send the SMTP password without TLS")}
		}
		// PLAIN (RFC 4616), only ever over TLS: smtp.PlainAuth checks.
		if err := c.Auth(smtp.PlainAuth("", cfg.username, cfg.password, cfg.host)); err != nil {
			return classify(fmt.Errorf("AUTH: %w", err))
		}
	}
	if err := c.Mail(cfg.from.Address); err != nil {
		return classify(fmt.Errorf("MAIL FROM: %w", err))
	}
	for _, r := range to {
		if err := c.Rcpt(r); err != nil {
			return classify(fmt.Errorf("RCPT TO %s: %w", r, err))
		}
	}
	w, err := c.Data()
	if err != nil {
		return classify(fmt.Errorf("DATA: %w", err))
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("sending the message: %w", err)
	}
	if err := w.Close(); err != nil {
		return classify(fmt.Errorf("end of DATA: %w", err))
	}
	// The message is accepted; a failed QUIT changes nothing.
	_ = c.Quit()
	return nil
}
