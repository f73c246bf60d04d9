//go:build integration

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/clustertest"
	"github.com/lanyard-cms/lanyard/internal/notify/mailpittest"
)

// TestClusterSlowSMTPEachMailOnce has both replicas' outbox workers
// deliver to one slow SMTP server: mailpit behind a relay that holds back
// every reply of the server for a while (a delivery takes seconds). Mail
// queued alternately through A and B, so that both workers wake and
// claim, reaches each recipient exactly once.
func TestClusterSlowSMTPEachMailOnce(t *testing.T) {
	k := newClusterNoCard(t)
	env := mailpittest.MustEnv(t)
	smtp := mailpittest.FreeAddr(t)
	api, stop := env.StartSecure(t, smtp)
	t.Cleanup(stop)
	slow := slowRelay(t, smtp, 50*time.Millisecond)
	_, port := mailpittest.HostPort(t, slow)
	ctx := context.Background()
	in := apiv1.MailSettingsInput{Enabled: true, Host: "localhost", Port: port, Security: apiv1.SMTPStartTLS, CA: env.CAPEM(t), From: "Lanyard <lanyard@example.com>"}
	if _, err := k.admin.Do(ctx, "PUT", "/api/v1/notifications/settings", in, nil); err != nil {
		t.Fatalf("PUT /notifications/settings: %v", err)
	}
	const n = 4
	for i := range n {
		r := k.c.Replicas[i%2]
		if _, err := r.Admin().Post(ctx, "/api/v1/notifications/test", apiv1.TestMailInput{To: fmt.Sprintf("rcpt%d@example.com", i)}, nil); err != nil {
			t.Fatalf("queueing a test mail through replica %s: %v", clustertest.Name(r.Index), err)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for i := 0; i < n; {
		got := mailpittest.Find(t, api, fmt.Sprintf("rcpt%d@example.com", i))
		if len(got) > 1 {
			t.Fatalf("rcpt%d@example.com received %d copies of the test mail, want 1", i, len(got))
		}
		if len(got) == 1 {
			i++
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("rcpt%d@example.com received nothing within 60 s", i)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// A worker that sent one a second time would do it within a few
	// slow deliveries.
	time.Sleep(1500 * time.Millisecond)
	for i := range n {
		if got := mailpittest.Find(t, api, fmt.Sprintf("rcpt%d@example.com", i)); len(got) != 1 {
			t.Errorf("rcpt%d@example.com received %d copies of the test mail, want 1", i, len(got))
		}
	}
}

// slowRelay listens on a free loopback port and relays each connection to
// target, holding back every chunk the server sends by delay: an SMTP
// server slow to answer each command (TLS passes through untouched).
func slowRelay(t *testing.T, target string, delay time.Duration) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				s, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer s.Close()
				go func() { io.Copy(s, c); s.(*net.TCPConn).CloseWrite() }()
				buf := make([]byte, 32*1024)
				for {
					n, err := s.Read(buf)
					if n > 0 {
						time.Sleep(delay)
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().String()
}
