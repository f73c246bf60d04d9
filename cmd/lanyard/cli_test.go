package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cli runs the lanyard binary as a user would and returns stdout, stderr
// and the exit status.
type cli struct {
	t        *testing.T
	bin, dir string
	env      []string
	token    string // the API token in env, when a helper made it
}

func (c *cli) run(stdin string, args ...string) (stdout, stderr string, code int) {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// must runs and fails the test unless the exit status is want.
func (c *cli) must(want int, args ...string) string {
	c.t.Helper()
	out, errOut, code := c.run("", args...)
	if code != want {
		c.t.Fatalf("lanyard %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out
}

func writeCSR(t *testing.T, path string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o600)
}

// TestCLI drives the commands the issue names against a real server:
// users with a password from stdin, scoped tokens, the approval queue
// (exit 3 while pending), JSON output, and clear errors with exit 1.
func TestCLI(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addr := freeAddr(t)
	stop := startServe(t, bin, data, addr)
	defer stop()
	tok, _ := os.ReadFile(filepath.Join(data, "bootstrap-token"))
	admin := &cli{t: t, bin: bin, dir: dir, env: []string{"LANYARD_SERVER=http://" + addr, "LANYARD_TOKEN=" + strings.TrimSpace(string(tok))}}

	// A CA manager with a password read from standard input.
	out, errOut, code := admin.run("a long enough password\n", "user", "create", "carla", "--email", "carla@example.com",
		"--role", "ca_manager", "--role", "user", "--password-stdin", "--output", "json")
	if code != 0 {
		t.Fatalf("user create: %d %s", code, errOut)
	}
	var u struct {
		Login string   `json:"login"`
		Roles []string `json:"roles"`
	}
	if err := json.Unmarshal([]byte(out), &u); err != nil || u.Login != "carla" || len(u.Roles) != 2 {
		t.Fatalf("user create output %q: %v", out, err)
	}
	if strings.Contains(out, "password") {
		t.Fatalf("user output mentions the password: %s", out)
	}
	// Her token, limited in time.
	secret := strings.TrimSpace(admin.must(0, "token", "create", "--user", "carla", "--ttl", "1h"))
	if !strings.HasPrefix(secret, "lyd_") || strings.Contains(secret, "\n") {
		t.Fatalf("token create printed %q", secret)
	}
	carla := &cli{t: t, bin: bin, dir: dir, env: []string{"LANYARD_SERVER=http://" + addr, "LANYARD_TOKEN=" + secret}}

	// The token policy caps every token's lifetime; administrators set it.
	if out := admin.must(0, "token", "settings"); !strings.Contains(out, "2160h") {
		t.Fatalf("token settings: %q", out)
	}
	if _, errOut, code := carla.run("", "token", "settings", "--max-ttl", "8760h"); code != 1 || !strings.Contains(errOut, "administrator") {
		t.Fatalf("token settings by a CA manager: exit %d %q", code, errOut)
	}
	if out := admin.must(0, "token", "settings", "--max-ttl", "720h"); !strings.Contains(out, "720h") {
		t.Fatalf("token settings --max-ttl: %q", out)
	}
	if _, errOut, code := admin.run("", "token", "create", "--ttl", "721h"); code != 1 || !strings.Contains(errOut, "longest token lifetime allowed, 720h") {
		t.Fatalf("token over the cap: exit %d %q", code, errOut)
	}

	// SCIM tokens (administrators): the secret opens /scim/v2/ and
	// stops working once revoked.
	scimSecret := strings.TrimSpace(admin.must(0, "scim", "token", "create", "entra-id"))
	if !strings.HasPrefix(scimSecret, "lys_") || strings.Contains(scimSecret, "\n") {
		t.Fatalf("scim token create printed %q", scimSecret)
	}
	if out := admin.must(0, "scim", "token", "list"); !strings.Contains(out, "entra-id") || strings.Contains(out, scimSecret[12:]) {
		t.Fatalf("scim token list: %q", out)
	}
	if _, errOut, code := carla.run("", "scim", "token", "create", "x"); code != 1 || !strings.Contains(errOut, "administrator") {
		t.Fatalf("scim token create by a CA manager: exit %d %q", code, errOut)
	}
	scimStatus := func() int {
		req, _ := http.NewRequest("GET", "http://"+addr+"/scim/v2/Users", nil)
		req.Header.Set("Authorization", "Bearer "+scimSecret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if st := scimStatus(); st != 200 {
		t.Fatalf("SCIM with a new token: %d", st)
	}
	admin.must(0, "scim", "token", "revoke", "1")
	if st := scimStatus(); st != 401 {
		t.Fatalf("SCIM with a revoked token: %d", st)
	}

	// Key archival (issue 17): archive key only on an encryption
	// template; the key recovery key is the administrators' to see and
	// rotate.
	admin.must(0, "template", "create", "enc", "--key", "rsa2048", "--ku", "key_encipherment", "--eku", "email_protection", "--slot", "9d", "--archive-key")
	if _, errOut, code := admin.run("", "template", "create", "signarc", "--ku", "digital_signature", "--ku", "key_encipherment", "--archive-key"); code != 1 ||
		!strings.Contains(errOut, "archive key is only for encryption") {
		t.Fatalf("template create with archive key on a signing template: exit %d %q", code, errOut)
	}
	if out := admin.must(0, "kra", "status"); !strings.Contains(out, "VERSION") || !strings.Contains(out, "true") {
		t.Fatalf("kra status: %q", out)
	}
	if _, errOut, code := carla.run("", "kra", "rotate"); code != 1 || !strings.Contains(errOut, "administrator") {
		t.Fatalf("kra rotate by a CA manager: exit %d %q", code, errOut)
	}
	if out := admin.must(0, "kra", "rotate"); !strings.Contains(out, "version 2 is current") {
		t.Fatalf("kra rotate: %q", out)
	}

	// Directory sources (issue 18): the bind password from standard
	// input, never shown; administrators only; a directory that cannot
	// be reached is a clear error.
	out, errOut, code = admin.run("bind pass phrase\n", "directory", "add", "corp", "--kind", "openldap", "--url", "ldap://127.0.0.1:1",
		"--bind-dn", "cn=admin,dc=example,dc=test", "--bind-password-stdin", "--base-dn", "dc=example,dc=test", "--interval", "30m")
	if code != 0 || !strings.Contains(out, "bind password:       set") || strings.Contains(out, "pass phrase") {
		t.Fatalf("directory add: exit %d %q %q", code, out, errOut)
	}
	if out := admin.must(0, "directory", "update", "corp", "--leaver-action", "revoke"); !strings.Contains(out, "leaver action:       revoke") ||
		!strings.Contains(out, "bind password:       set") || !strings.Contains(out, "30m0s") {
		t.Fatalf("directory update: %q", out)
	}
	if out := admin.must(0, "directory", "list"); !strings.Contains(out, "corp") || !strings.Contains(out, "never") {
		t.Fatalf("directory list: %q", out)
	}
	if _, errOut, code := admin.run("", "directory", "sync", "corp", "--dry-run"); code != 1 || !strings.Contains(errOut, "unreachable") {
		t.Fatalf("directory sync of an unreachable directory: exit %d %q", code, errOut)
	}
	if _, errOut, code := carla.run("", "directory", "list"); code != 1 || !strings.Contains(errOut, "administrator") {
		t.Fatalf("directory list by a CA manager: exit %d %q", code, errOut)
	}
	if out := admin.must(0, "directory", "delete", "corp"); !strings.Contains(out, "deleted") {
		t.Fatalf("directory delete: %q", out)
	}
	// Key recovery by the owner: the list reaches the server; a key that
	// is not carla's is not found, and no file is left behind.
	if out := carla.must(0, "key", "list", "--template", "enc"); !strings.Contains(out, "CERTIFICATE") {
		t.Fatalf("key list: %q", out)
	}
	p12 := filepath.Join(dir, "recovered.p12")
	if _, errOut, code := carla.run("Recover-Me-2026\na long enough password\n", "key", "recover", "--out", p12, "--code", "123456", "999"); code != 1 ||
		!strings.Contains(errOut, "archived key 999 not found") {
		t.Fatalf("key recover of a key that is not hers: exit %d %q", code, errOut)
	}
	if _, err := os.Stat(p12); !os.IsNotExist(err) {
		t.Fatalf("a refused recovery left %s behind: %v", p12, err)
	}
	// Dual control: a CA manager may not request; the administrator's
	// request for a missing key is not found; approving a missing request
	// is not found; the list answers.
	if _, errOut, code := carla.run("", "key", "recovery", "request", "--reason", "x", "999"); code != 1 || !strings.Contains(errOut, "forbidden") {
		t.Fatalf("key recovery request by a CA manager: exit %d %q", code, errOut)
	}
	if _, errOut, code := admin.run("", "key", "recovery", "request", "--reason", "legal hold", "999"); code != 1 || !strings.Contains(errOut, "archived key 999 not found") {
		t.Fatalf("key recovery request of a missing key: exit %d %q", code, errOut)
	}
	if _, errOut, code := admin.run("pw\n", "key", "recovery", "approve", "--code", "123456", "999"); code != 1 || !strings.Contains(errOut, "key recovery request 999 not found") {
		t.Fatalf("key recovery approve of a missing request: exit %d %q", code, errOut)
	}
	if out := admin.must(0, "key", "recovery", "list", "--state", "pending"); !strings.Contains(out, "REQUESTED BY") {
		t.Fatalf("key recovery list: %q", out)
	}
	if _, errOut, code := admin.run("P\np\n", "key", "recovery", "download", "--out", p12, "--code", "123456", "999"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Fatalf("key recovery download of a missing request: exit %d %q", code, errOut)
	}

	// Which cards still have a shared PUK (issue 13): the filter reaches
	// the server, which refuses a state it does not know.
	if _, errOut, code := admin.run("", "card", "list", "--puk-state", "shared"); code != 1 || !strings.Contains(errOut, "want default, unknown or random") {
		t.Fatalf("card list --puk-state shared: exit %d %q", code, errOut)
	}
	if out := admin.must(0, "card", "list", "--puk-state", "default", "--output", "json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("card list --puk-state default with no card: %q", out)
	}

	// A template that needs approval: issue exits 3 and prints no certificate.
	admin.must(0, "user", "create", "dan", "--email", "dan@example.com", "--name", "Dan")
	admin.must(0, "template", "create", "esign", "--key", "ecp256", "--ku", "digital_signature", "--ku", "content_commitment",
		"--eku", "document_signing", "--ca-approval")
	if !strings.Contains(admin.must(0, "template", "list"), "esign") {
		t.Fatal("template list lacks esign")
	}
	writeCSR(t, filepath.Join(dir, "dan.csr"))
	out, errOut, code = admin.run("", "ca", "issue", "--template", "esign", "--user", "dan", "--csr", "dan.csr")
	if code != exitPending || out != "" || !strings.Contains(errOut, "waits for a CA manager") {
		t.Fatalf("pending issue: exit %d stdout %q stderr %q", code, out, errOut)
	}
	admin.run("", "ca", "issue", "--template", "esign", "--user", "dan", "--csr", "dan.csr")

	var pending []struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal([]byte(carla.must(0, "ca", "pending", "--output", "json")), &pending); err != nil || len(pending) != 2 {
		t.Fatalf("ca pending: %v %+v", err, pending)
	}
	id1, id2 := itoa(pending[0].ID), itoa(pending[1].ID)
	// Only CA managers decide.
	danToken := strings.TrimSpace(admin.must(0, "token", "create", "--user", "dan", "--ttl", "1h"))
	dan := &cli{t: t, bin: bin, dir: dir, env: []string{"LANYARD_SERVER=http://" + addr, "LANYARD_TOKEN=" + danToken}}
	if _, errOut, code := dan.run("", "ca", "approve", id1); code != 1 || !strings.Contains(errOut, "ca_manager") {
		t.Fatalf("approve by a plain user: exit %d %q", code, errOut)
	}
	if _, errOut, code := carla.run("", "ca", "reject", id1, "--comment", "no form"); code != 0 {
		t.Fatalf("reject: %d %s", code, errOut)
	}
	pemOut := carla.must(0, "ca", "approve", id2)
	if _, errOut, code := carla.run("", "ca", "approve", id2); code != 1 || !strings.Contains(errOut, "already issued") {
		t.Fatalf("second approve: exit %d %q", code, errOut)
	}
	block, _ := pem.Decode([]byte(pemOut))
	if block == nil {
		t.Fatalf("approve printed no PEM: %q", pemOut)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || cert.Subject.CommonName != "Dan" {
		t.Fatalf("approved certificate: %v %v", cert, err)
	}
	if !strings.Contains(carla.must(0, "ca", "pending", "--status", "issued"), "esign") {
		t.Fatal("issued requests are not listed")
	}
	// Issue 13: who asked for a request does not approve it; a template
	// kept for card-held keys is refused for a CSR.
	writeCSR(t, filepath.Join(dir, "carla.csr"))
	if _, errOut, code := carla.run("", "ca", "issue", "--template", "esign", "--user", "dan", "--csr", "carla.csr"); code != exitPending {
		t.Fatalf("carla asking for dan: exit %d %s", code, errOut)
	}
	var mine []struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal([]byte(carla.must(0, "ca", "pending", "--output", "json")), &mine); err != nil || len(mine) != 1 {
		t.Fatalf("ca pending: %v %+v", err, mine)
	}
	if _, errOut, code := carla.run("", "ca", "approve", itoa(mine[0].ID)); code != 1 || !strings.Contains(errOut, "you asked for request") {
		t.Fatalf("carla approving her own request: exit %d %q", code, errOut)
	}
	admin.must(0, "template", "update", "esign", "--card-keys-only")
	if !strings.Contains(admin.must(0, "template", "show", "esign", "--output", "json"), `"card_keys_only": true`) {
		t.Fatal("template update --card-keys-only did not switch it on")
	}
	if _, errOut, code := admin.run("", "ca", "issue", "--template", "esign", "--csr", "dan.csr"); code != 1 || !strings.Contains(errOut, "generated on a card") {
		t.Fatalf("a card-keys-only template for a CSR: exit %d %q", code, errOut)
	}
	admin.must(0, "template", "update", "esign", "--card-keys-only=false")
	// Renewal key: new key unless chosen; update switches it without a file.
	if !strings.Contains(admin.must(0, "template", "show", "esign", "--output", "json"), `"renewal_key": "new_key"`) {
		t.Fatal("a new template does not renew with a new key")
	}
	admin.must(0, "template", "update", "esign", "--renewal-key", "reuse_key")
	if !strings.Contains(admin.must(0, "template", "show", "esign", "--output", "json"), `"renewal_key": "reuse_key"`) {
		t.Fatal("template update --renewal-key reuse_key did not switch it")
	}
	if _, errOut, code := admin.run("", "template", "update", "esign", "--renewal-key", "same_key"); code != 1 || !strings.Contains(errOut, `renewal key must be "new_key" or "reuse_key"`) {
		t.Fatalf("bad renewal key: exit %d %q", code, errOut)
	}
	admin.must(0, "template", "create", "reuse", "--renewal-key", "reuse_key")
	if !strings.Contains(admin.must(0, "template", "show", "reuse", "--output", "json"), `"renewal_key": "reuse_key"`) {
		t.Fatal("template create --renewal-key reuse_key")
	}

	// Errors: clear message, exit 1; usage mistakes exit 2.
	if _, errOut, code := carla.run("", "template", "create", "nope"); code != 1 || !strings.Contains(errOut, "administrator") {
		t.Fatalf("forbidden: exit %d %q", code, errOut)
	}
	if _, errOut, code := admin.run("", "ca", "revoke", "zz", "--reason", "key_compromise"); code != 1 || !strings.Contains(errOut, "hexadecimal") {
		t.Fatalf("bad serial: exit %d %q", code, errOut)
	}
	if _, _, code := admin.run("", "ca", "issue", "--template", "esign"); code != 2 {
		t.Fatalf("missing --csr: exit %d", code)
	}
	noToken := &cli{t: t, bin: bin, dir: dir, env: []string{"LANYARD_SERVER=http://" + addr, "LANYARD_TOKEN="}}
	if _, errOut, code := noToken.run("", "template", "list"); code != 1 || !strings.Contains(errOut, "LANYARD_TOKEN") {
		t.Fatalf("no token: exit %d %q", code, errOut)
	}
	if out := admin.must(0, "audit", "verify"); !strings.Contains(out, "intact") {
		t.Fatalf("audit verify: %q", out)
	}
	if !strings.Contains(admin.must(0, "ca", "cert"), "BEGIN CERTIFICATE") {
		t.Fatal("ca cert printed no PEM")
	}

	// Single sign-on providers: the client secret from standard input,
	// sealed, never printed; administrators only.
	out, errOut, code = admin.run("the client secret\n", "oidc", "add", "corp", "--display-name", "Corp SSO", "--issuer", "https://idp.example.test",
		"--client-id", "lanyard", "--client-secret-stdin", "--self-service", "--amr", "hwk", "--amr", "mfa")
	if code != 0 || !strings.Contains(out, "set (sealed)") || !strings.Contains(out, "/login/oidc/corp/callback") || strings.Contains(out, "the client secret") {
		t.Fatalf("oidc add: exit %d %q %q", code, out, errOut)
	}
	if out := admin.must(0, "oidc", "update", "corp", "--jit", "--match", "upn", "--claim", "upn", "--output", "json"); !strings.Contains(out, `"jit": true`) ||
		!strings.Contains(out, `"match_attribute": "upn"`) || strings.Contains(out, "the client secret") {
		t.Fatalf("oidc update: %q", out)
	}
	if out := admin.must(0, "oidc", "list"); !strings.Contains(out, "Corp SSO") {
		t.Fatalf("oidc list: %q", out)
	}
	if _, errOut, code := admin.run("", "oidc", "add", "bad", "--issuer", "http://idp.example.test", "--client-id", "x"); code != 1 || !strings.Contains(errOut, "https") {
		t.Fatalf("oidc add with a plain-http issuer: exit %d %q", code, errOut)
	}
	if _, errOut, code := carla.run("", "oidc", "list"); code != 1 || !strings.Contains(errOut, "administrator") {
		t.Fatalf("oidc list by a CA manager: exit %d %q", code, errOut)
	}
	admin.must(0, "oidc", "delete", "corp")
	if _, _, code := admin.run("", "oidc", "show", "corp"); code != 1 {
		t.Fatalf("oidc show after delete: exit %d", code)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
