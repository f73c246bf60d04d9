// Package mailpittest connects tests to the real SMTP servers that
// scripts/mailpit-test.sh starts (mailpit, github.com/axllent/mailpit) and
// reads the delivered mail through mailpit's REST API. `make test` sets
// LANYARD_TEST_SMTP; without it the tests fail, they never skip.
package mailpittest

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// EnvVar names the variable that `make test` fills with the output of
// scripts/mailpit-test.sh.
const EnvVar = "LANYARD_TEST_SMTP"

// Env is where the test SMTP servers are.
type Env struct {
	SMTP, API               string // plain SMTP host:port, its API URL
	StartTLS, StartTLSAPI   string // STARTTLS + AUTH required
	TLS, TLSAPI             string // implicit TLS + AUTH required
	CA                      string // the test CA that signed the servers' certificate (PEM file)
	Cert, Key               string // the servers' certificate and key (PEM files), for StartSecure
	User, Password, Mailpit string // AUTH credentials; the mailpit binary
}

// MustEnv reads EnvVar, failing the test when it is missing.
func MustEnv(tb testing.TB) *Env {
	tb.Helper()
	v := os.Getenv(EnvVar)
	if v == "" {
		tb.Fatalf("%s is not set: run `make test`, or export %s=$(scripts/mailpit-test.sh)", EnvVar, EnvVar)
	}
	kv := map[string]string{}
	for _, f := range strings.Fields(v) {
		k, val, _ := strings.Cut(f, "=")
		kv[k] = val
	}
	e := &Env{SMTP: kv["smtp"], API: kv["api"], StartTLS: kv["starttls"], StartTLSAPI: kv["starttls_api"], TLS: kv["tls"], TLSAPI: kv["tls_api"],
		CA: kv["ca"], Cert: kv["cert"], Key: kv["key"], User: kv["user"], Password: kv["password"], Mailpit: kv["bin"]}
	if e.Cert == "" && e.Key == "" && e.CA != "" {
		// An earlier script's self-signed certificate: its own CA, its
		// key beside it.
		e.Cert, e.Key = e.CA, filepath.Join(filepath.Dir(e.CA), "key.pem")
	}
	if e.SMTP == "" || e.API == "" || e.StartTLS == "" || e.TLS == "" || e.CA == "" || e.Mailpit == "" {
		tb.Fatalf("%s=%q lacks smtp, api, starttls, tls, ca or bin: is it the output of scripts/mailpit-test.sh?", EnvVar, v)
	}
	return e
}

// RootCAs trusts the servers' certificate.
func (e *Env) RootCAs(tb testing.TB) *x509.CertPool {
	tb.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(e.CAPEM(tb))) {
		tb.Fatalf("%s holds no certificate", e.CA)
	}
	return pool
}

// CAPEM is the test CA's certificate (PEM), for the notification
// settings' CA certificates.
func (e *Env) CAPEM(tb testing.TB) string {
	tb.Helper()
	b, err := os.ReadFile(e.CA)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// HostPort splits host:port.
func HostPort(tb testing.TB, addr string) (string, int) {
	tb.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		tb.Fatal(err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		tb.Fatal(err)
	}
	return h, n
}

// Address is a mailbox as mailpit shows it.
type Address struct{ Name, Address string }

// Attachment is an attached file's description.
type Attachment struct {
	PartID, FileName, ContentType string
	Size                          int
}

// Message is one delivered message.
type Message struct {
	ID, MessageID, Subject string
	From                   Address
	To                     []Address
	Text, HTML             string
	Attachments            []Attachment
}

// Recipients lists the To addresses.
func (m *Message) Recipients() []string {
	out := make([]string, len(m.To))
	for i, a := range m.To {
		out[i] = a.Address
	}
	return out
}

func getJSON(ctx context.Context, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		return fmt.Errorf("GET %s: %s: %s", u, res.Status, b)
	}
	return json.NewDecoder(res.Body).Decode(v)
}

// Find returns the messages to address that api has, oldest first.
func Find(tb testing.TB, api, to string) []*Message {
	tb.Helper()
	var list struct{ Messages []struct{ ID string } }
	q := url.Values{"query": {`to:"` + to + `"`}}
	if err := getJSON(tb.Context(), api+"/api/v1/search?"+q.Encode(), &list); err != nil {
		tb.Fatal(err)
	}
	var out []*Message
	for i := len(list.Messages) - 1; i >= 0; i-- { // the API lists newest first
		var m Message
		if err := getJSON(tb.Context(), api+"/api/v1/message/"+list.Messages[i].ID, &m); err != nil {
			tb.Fatal(err)
		}
		out = append(out, &m)
	}
	return out
}

// Wait waits until api holds n messages to address and returns them.
func Wait(tb testing.TB, api, to string, n int) []*Message {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := Find(tb, api, to)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s holds %d messages to %s after 10 s, want %d", api, len(got), to, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Part returns the bytes of one part (an attachment) of a message.
func Part(tb testing.TB, api, id, part string) []byte {
	tb.Helper()
	req, err := http.NewRequestWithContext(tb.Context(), "GET", api+"/api/v1/message/"+id+"/part/"+part, nil)
	if err != nil {
		tb.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 {
		tb.Fatalf("part %s of %s: %v %s", part, id, err, res.Status)
	}
	return b
}

// FreeAddr returns a loopback address nothing listens on (yet).
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Start runs a private plain mailpit on smtpAddr until the test ends or
// stop is called, and returns its API URL.
func (e *Env) Start(tb testing.TB, smtpAddr string) (api string, stop func()) {
	tb.Helper()
	return e.start(tb, smtpAddr)
}

// StartSecure is Start with STARTTLS required (the test CA's certificate, no
// AUTH): what mail carrying a PIN, a code or a document needs.
func (e *Env) StartSecure(tb testing.TB, smtpAddr string) (api string, stop func()) {
	tb.Helper()
	if e.Cert == "" || e.Key == "" {
		tb.Fatalf("%s lacks cert and key: rerun scripts/mailpit-test.sh", EnvVar)
	}
	return e.start(tb, smtpAddr, "--smtp-tls-cert", e.Cert, "--smtp-tls-key", e.Key, "--smtp-require-starttls")
}

func (e *Env) start(tb testing.TB, smtpAddr string, args ...string) (api string, stop func()) {
	tb.Helper()
	apiAddr := FreeAddr(tb)
	cmd := exec.Command(e.Mailpit, append([]string{"--smtp", smtpAddr, "--listen", apiAddr, "--smtp-disable-rdns", "--disable-version-check", "--quiet"}, args...)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting mailpit: %v", err)
	}
	done := false
	stop = func() {
		if !done {
			done = true
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	tb.Cleanup(stop)
	api = "http://" + apiAddr
	deadline := time.Now().Add(10 * time.Second)
	for {
		var v any
		if getJSON(tb.Context(), api+"/api/v1/messages?limit=1", &v) == nil {
			if c, err := net.DialTimeout("tcp", smtpAddr, time.Second); err == nil {
				c.Close()
				return api, stop
			}
		}
		if time.Now().After(deadline) {
			stop()
			tb.Fatalf("mailpit on %s did not start in 10 s", smtpAddr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
