package directory

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// conn is one LDAP connection that ctx closes: a cancelled sync stops at
// once, whatever request is outstanding.
type conn struct {
	l    *ldap.Conn
	addr string
	stop func() bool
}

func (c *conn) Close() {
	c.stop()
	c.l.Close()
}

// tlsConfig verifies the server's certificate against cfg.CAPEM (or the
// system roots) for the URL's host name (RFC 4513 3.1.3: the server's
// identity is checked against the name the client used).
func tlsConfig(cfg *Config, host string) *tls.Config {
	tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if len(cfg.CAPEM) > 0 {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(cfg.CAPEM)
		tc.RootCAs = pool
	}
	return tc
}

// dial connects (TLS from the first byte for ldaps://, StartTLS when
// configured) without binding. cfg has been validated.
func dial(ctx context.Context, cfg *Config) (*conn, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "389"
		if u.Scheme == "ldaps" {
			port = "636"
		}
	}
	addr := net.JoinHostPort(host, port)
	dctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("connecting to %s: %w", addr, ctx.Err())
		}
		return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, addr, err)
	}
	tc := tlsConfig(cfg, host)
	isTLS := false
	if u.Scheme == "ldaps" {
		t := tls.Client(raw, tc)
		if err := t.HandshakeContext(dctx); err != nil {
			raw.Close()
			return nil, classifyDial(ctx, addr, err)
		}
		raw, isTLS = t, true
	}
	l := ldap.NewConn(raw, isTLS)
	l.Start()
	l.SetTimeout(cfg.Timeout)
	c := &conn{l: l, addr: addr}
	c.stop = context.AfterFunc(ctx, func() { l.Close() })
	if cfg.StartTLS {
		if err := l.StartTLS(tc); err != nil {
			c.Close()
			if isTLSError(err) || ldap.IsErrorWithCode(err, ldap.LDAPResultProtocolError) || ldap.IsErrorWithCode(err, ldap.LDAPResultUnavailable) {
				return nil, fmt.Errorf("%w: %s: StartTLS: %v", ErrTLS, addr, err)
			}
			return nil, classifyDial(ctx, addr, err)
		}
	}
	return c, nil
}

// isTLSError reports a certificate or handshake failure.
func isTLSError(err error) bool {
	var (
		verr *tls.CertificateVerificationError
		uerr x509.UnknownAuthorityError
		herr x509.HostnameError
		cerr x509.CertificateInvalidError
		aerr tls.AlertError
		rerr tls.RecordHeaderError
	)
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) ||
		errors.As(err, &cerr) || errors.As(err, &aerr) || errors.As(err, &rerr) ||
		strings.Contains(err.Error(), "tls: ")
}

func classifyDial(ctx context.Context, addr string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("connecting to %s: %w", addr, ctx.Err())
	}
	if isTLSError(err) {
		return fmt.Errorf("%w: %s: %v", ErrTLS, addr, err)
	}
	return fmt.Errorf("%w: %s: %v", ErrUnreachable, addr, err)
}

// opErr wraps the error of a request: ctx's error when it was cancelled
// (the connection was closed under the request), ErrUnreachable when the
// connection broke, else the LDAP error with what was being done.
func (c *conn) opErr(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	if ldap.IsErrorWithCode(err, ldap.ErrorNetwork) {
		return fmt.Errorf("%w: %s: %s: %v", ErrUnreachable, c.addr, what, err)
	}
	return fmt.Errorf("directory %s: %s: %w", c.addr, what, err)
}

// connect dials and binds as the service account.
func connect(ctx context.Context, cfg *Config) (*conn, error) {
	c, err := dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := c.l.Bind(cfg.BindDN, cfg.BindPassword); err != nil {
		c.Close()
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return nil, fmt.Errorf("%w: %s as %q", ErrServiceBind, c.addr, cfg.BindDN)
		}
		return nil, c.opErr(ctx, "service bind", err)
	}
	return c, nil
}
