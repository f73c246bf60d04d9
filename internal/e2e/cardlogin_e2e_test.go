//go:build integration

package e2e

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/web"
)

// TestCardLoginCurl is smart card sign-in with a card Lanyard issued
// (issue 18, "Done when": smart card sign-in with curl). Gus's card is
// issued on the emulator in the vpcd reader; the server's handler is
// then served on an HTTPS listener with the TLS configuration of
// `lanyard serve --tls-cert/--tls-key`. curl, with OpenSSL's pkcs11
// engine (libp11) driving OpenSC's PKCS#11 module through pcscd, signs
// the TLS handshake with the card's logon key after the PIN and posts to
// /api/v1/session/card: the answer is gus's session, whose cookie then
// reads gus's session and his Self-Service page. Disabled by the help
// desk (its logon certificate on hold), the card is refused with the
// reason; revoked, too.
func TestCardLoginCurl(t *testing.T) {
	engine := pkcs11Engine(t)
	s := newStack(t)
	gus, _ := s.user("gus")
	s.pair("gus")
	s.insert(newVCard(t))
	const pin = "24682468"
	// The default policy: the smartcard-logon certificate in 9a. Then
	// the agent stops, so that OpenSC has the card to itself.
	res := s.issueFor(gus, pin)
	s.agent.stop(t)
	tk := openToken(t, s.reader)
	serial := tokenSerial(t, tk)

	hs := httptest.NewUnstartedServer(s.srv.Web.Handler())
	hs.TLS = web.ListenerTLSConfig()
	hs.Config.ConnContext = s.srv.Web.ConnContext
	hs.StartTLS()
	t.Cleanup(hs.Close)
	dir := t.TempDir()
	serverCA := filepath.Join(dir, "server.pem")
	writePEM(t, serverCA, hs.Certificate().Raw)
	conf := filepath.Join(dir, "openssl.cnf")
	if err := os.WriteFile(conf, []byte(`openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = `+engine+`
MODULE_PATH = `+tk.module+`
init = 0
`), 0o600); err != nil {
		t.Fatal(err)
	}
	jar := filepath.Join(dir, "cookies")
	// RFC 7512 URIs of the logon slot's (9a) certificate and key on this
	// card; the key's carries the PIN.
	obj := "pkcs11:serial=" + serial + ";id=%" + pkcs11IDs["9a"]
	curl := func(card bool, method, path string) (int, string) {
		t.Helper()
		args := []string{"-sS", "--cacert", serverCA, "-b", jar, "-c", jar, "-X", method, "-w", "\n%{http_code}", hs.URL + path}
		if card {
			args = append([]string{"--engine", "pkcs11", "--cert-type", "ENG", "--cert", obj + ";type=cert",
				"--key-type", "ENG", "--key", obj + ";type=private;pin-value=" + pin}, args...)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "curl", args...)
		cmd.Env = append(tk.env, "OPENSSL_CONF="+conf)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("curl %s %s: %v\n%s", method, path, err, out)
		}
		i := strings.LastIndexByte(string(out), '\n')
		n, err := strconv.Atoi(strings.TrimSpace(string(out[i+1:])))
		if i < 0 || err != nil {
			t.Fatalf("curl %s %s printed no status:\n%s", method, path, out)
		}
		return n, string(out[:i])
	}

	if code, body := curl(true, "POST", "/api/v1/session/card"); code != 201 || !strings.Contains(body, `"login":"gus"`) {
		t.Fatalf("curl signing in with gus's card: %d %s", code, body)
	}
	if code, body := curl(false, "GET", "/api/v1/session"); code != 200 || !strings.Contains(body, `"login":"gus"`) || !strings.Contains(body, `"second_factor_at"`) {
		t.Fatalf("the card session: %d %s", code, body)
	}
	if code, body := curl(false, "GET", "/"); code != 200 || !strings.Contains(body, "Your cards") {
		t.Fatalf("Self-Service with the card session: %d %.300s", code, body)
	}
	if code, body := curl(false, "POST", "/api/v1/session/card"); code != 401 || !strings.Contains(body, "no card certificate was presented") {
		t.Errorf("curl without the card: %d %s", code, body)
	}

	ctx := context.Background()
	id := itoa(res.Card.ID)
	if _, err := s.admin.Post(ctx, "/api/v1/cards/"+id+"/disable", nil, nil); err != nil {
		t.Fatal(err)
	}
	if code, body := curl(true, "POST", "/api/v1/session/card"); code != 401 || !strings.Contains(body, "the card is disabled") {
		t.Errorf("curl with the disabled card: %d %s", code, body)
	}
	if _, err := s.admin.Post(ctx, "/api/v1/cards/"+id+"/revoke", apiv1.RevokeCardInput{Reason: "lost"}, nil); err != nil {
		t.Fatal(err)
	}
	if code, body := curl(true, "POST", "/api/v1/session/card"); code != 401 || !strings.Contains(body, "the certificate is revoked") {
		t.Errorf("curl with the revoked card: %d %s", code, body)
	}
}

// pkcs11Engine finds libp11's OpenSSL 3 engine (Debian
// libengine-pkcs11-openssl).
func pkcs11Engine(t *testing.T) string {
	t.Helper()
	for _, pat := range []string{"/usr/lib/*-linux-gnu*/engines-3/pkcs11.so", "/usr/lib64/engines-3/pkcs11.so", "/usr/lib/engines-3/pkcs11.so"} {
		if m, _ := filepath.Glob(pat); len(m) > 0 {
			return m[0]
		}
	}
	t.Fatal("OpenSSL's pkcs11 engine (engines-3/pkcs11.so) not found: run scripts/card-deps.sh (make test does)")
	return ""
}

// tokenSerial is the PKCS#11 token serial of the card in tk's slot, so
// that the URIs name this card and no other reader's.
func tokenSerial(t *testing.T, tk *token) string {
	t.Helper()
	out := tk.run("-L")
	i := strings.Index(out, "("+tk.slot+")")
	if i < 0 {
		t.Fatalf("pkcs11-tool -L does not list slot %s:\n%s", tk.slot, out)
	}
	m := regexp.MustCompile(`serial num\s*:\s*(\S+)`).FindStringSubmatch(out[i:])
	if m == nil {
		t.Fatalf("no token serial in slot %s:\n%s", tk.slot, out)
	}
	return m[1]
}
