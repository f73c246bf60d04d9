//go:build integration

package notify_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/notify"
	"github.com/lanyard-cms/lanyard/internal/notify/mailpittest"
	"github.com/lanyard-cms/lanyard/internal/seal"
	"github.com/lanyard-cms/lanyard/internal/store/postgres"
	"github.com/lanyard-cms/lanyard/internal/store/postgres/pgtest"
)

// slowSMTP is a TCP proxy in front of an SMTP server that holds back the
// server's reply to the end of a message's DATA (RFC 5321 4.1.1.4: the
// "250 OK" after <CRLF>.<CRLF>) for delay: a slow server that has the
// message but has not said so.
type slowSMTP struct {
	ln       net.Listener
	upstream string
	delay    time.Duration
	wg       sync.WaitGroup
}

func startSlowSMTP(t *testing.T, upstream string, delay time.Duration) *slowSMTP {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &slowSMTP{ln: ln, upstream: upstream, delay: delay}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.relay(c) })
		}
	})
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *slowSMTP) relay(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer server.Close()
	var dataEnds atomic.Int32 // <CRLF>.<CRLF> seen from the client
	go func() {
		defer server.Close()
		buf, tail := make([]byte, 32<<10), []byte{}
		for {
			n, err := client.Read(buf)
			if n > 0 {
				seen := append(tail, buf[:n]...)
				dataEnds.Add(int32(bytes.Count(seen, []byte("\r\n.\r\n"))))
				tail = append([]byte{}, seen[max(0, len(seen)-4):]...)
				if _, err := server.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	buf, delayed := make([]byte, 32<<10), int32(0)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			if d := dataEnds.Load(); d > delayed {
				delayed = d
				time.Sleep(p.delay)
			}
			if _, err := client.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// TestSlowSMTPSendsOnce: two replicas' outbox workers (a store pool each
// on one PostgreSQL schema) deliver through an SMTP server that answers
// each message's DATA only after three leases have passed. A worker
// keeps renewing the claim of the message it is sending, and one that
// lost a claim neither sends nor records it, so every message arrives
// exactly once (counted in mailpit) and is recorded sent once.
func TestSlowSMTPSendsOnce(t *testing.T) {
	env := mailpittest.MustEnv(t)
	smtpAddr := mailpittest.FreeAddr(t)
	api, _ := env.Start(t, smtpAddr)
	const lease = 300 * time.Millisecond
	proxy := startSlowSMTP(t, smtpAddr, 3*lease)
	url := pgtest.FreshSchema(t)
	key := make([]byte, seal.KeySize)
	rand.Read(key)
	sealer, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	var stores []lanyard.Store
	worker := func() *notify.Mailer {
		st, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		stores = append(stores, st)
		m, err := notify.New(notify.Config{Store: st, Sealer: sealer, Now: time.Now, Rand: rand.Reader, BaseURL: "https://lanyard.example.com",
			Backoff: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Timeout: 10 * time.Second, Poll: 50 * time.Millisecond, Lease: lease})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := worker(), worker()
	host, port := mailpittest.HostPort(t, proxy.ln.Addr().String())
	if _, err := a.PutMailSettings(t.Context(), admin, apiv1.MailSettingsInput{
		Enabled: true, Host: host, Port: port, Security: apiv1.SMTPNone, From: "Lanyard <lanyard@example.com>"}); err != nil {
		t.Fatal(err)
	}
	var to []string
	for i := range 4 {
		to = append(to, addr(t, "user"+string(rune('a'+i))))
		if _, err := a.SendTestMail(t.Context(), admin, to[i]); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for _, m := range []*notify.Mailer{a, b} {
		wg.Go(func() { m.Run(ctx) })
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		sent, err := a.ListMail(t.Context(), lanyard.MailFilter{State: lanyard.MailSent})
		if err != nil {
			t.Fatal(err)
		}
		if len(sent) == len(to) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages sent after 30 s", len(sent), len(to))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(4 * lease) // a second send in flight would land meanwhile
	cancel()
	wg.Wait()
	for _, rcpt := range to {
		if got := mailpittest.Find(t, api, rcpt); len(got) != 1 {
			t.Errorf("%s received %d messages, want 1", rcpt, len(got))
		}
	}
	h := &harness{store: stores[0], mailer: a}
	if sent := h.audit(t, "mail.sent"); len(sent) != len(to) {
		t.Errorf("%d mail.sent events, want %d", len(sent), len(to))
	}
}
