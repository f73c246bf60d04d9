//go:build integration

package notify_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
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

// quitSMTP is a TCP proxy in front of an SMTP server that, once the
// client sends QUIT (RFC 5321 4.1.1.10: the message was accepted
// before), calls onQuit and then holds the server's replies back for
// delay. It notes when the client's side of the connection closed.
type quitSMTP struct {
	ln       net.Listener
	upstream string
	delay    time.Duration
	onQuit   func()
	closedAt atomic.Pointer[time.Time]
	wg       sync.WaitGroup
}

func startQuitSMTP(t *testing.T, upstream string, delay time.Duration, onQuit func()) *quitSMTP {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &quitSMTP{ln: ln, upstream: upstream, delay: delay, onQuit: onQuit}
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

func (p *quitSMTP) relay(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer server.Close()
	var quit atomic.Bool
	go func() {
		defer server.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				if !quit.Load() && bytes.Contains(buf[:n], []byte("QUIT\r\n")) {
					p.onQuit()
					quit.Store(true)
				}
				if _, err := server.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				now := time.Now()
				p.closedAt.Store(&now)
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			if quit.Load() {
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

// TestHangingRenewalStopsDeliveryAndRecords: while a message is being
// delivered, its outbox row is locked by another transaction, so the
// worker's claim renewals hang. The delivery stops (its connection
// closed) before the claim's lease runs out, and, the SMTP server having
// accepted the message already, the outcome is recorded under the claim
// once the row is free: the message is sent once, not again when the
// lease ends.
func TestHangingRenewalStopsDeliveryAndRecords(t *testing.T) {
	env := mailpittest.MustEnv(t)
	smtpAddr := mailpittest.FreeAddr(t)
	api, _ := env.Start(t, smtpAddr)
	const lease = 600 * time.Millisecond
	url := pgtest.FreshSchema(t)
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var locked sync.WaitGroup
	lockRow := func() {
		// The row locked as a hanging connection would hold it, for
		// three leases.
		tx, err := db.BeginTx(context.Background(), nil)
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := tx.Exec(`SELECT id FROM mail_outbox FOR UPDATE`); err != nil {
			t.Error(err)
		}
		locked.Go(func() { time.Sleep(3 * lease); tx.Rollback() })
	}
	proxy := startQuitSMTP(t, smtpAddr, 5*lease, lockRow)
	key := make([]byte, seal.KeySize)
	rand.Read(key)
	sealer, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	st, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	m, err := notify.New(notify.Config{Store: st, Sealer: sealer, Now: time.Now, Rand: rand.Reader, BaseURL: "https://lanyard.example.com",
		Backoff: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Timeout: 10 * time.Second, Poll: 50 * time.Millisecond, Lease: lease})
	if err != nil {
		t.Fatal(err)
	}
	host, port := mailpittest.HostPort(t, proxy.ln.Addr().String())
	if _, err := m.PutMailSettings(t.Context(), admin, apiv1.MailSettingsInput{
		Enabled: true, Host: host, Port: port, Security: apiv1.SMTPNone, From: "Lanyard <lanyard@example.com>"}); err != nil {
		t.Fatal(err)
	}
	to := addr(t, "lapse")
	if _, err := m.SendTestMail(t.Context(), admin, to); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if n, err := m.DeliverDue(t.Context()); n != 1 || err != nil {
		t.Fatalf("DeliverDue: %d, %v", n, err)
	}
	locked.Wait()
	closed := proxy.closedAt.Load()
	if closed == nil || closed.Sub(start) >= lease {
		t.Errorf("the delivery's connection was closed at %v, want before the %v lease ran out", closed, lease)
	}
	sent, err := m.ListMail(t.Context(), lanyard.MailFilter{State: lanyard.MailSent})
	if err != nil {
		t.Fatal(err)
	}
	if len(sent) != 1 {
		t.Fatalf("%d messages recorded sent, want 1", len(sent))
	}
	// Nothing is due again: another pass a lease later sends nothing.
	time.Sleep(lease)
	if n, err := m.DeliverDue(t.Context()); n != 0 || err != nil {
		t.Fatalf("a second pass: %d, %v", n, err)
	}
	if got := mailpittest.Find(t, api, to); len(got) != 1 {
		t.Errorf("%s received %d messages, want 1", to, len(got))
	}
}
