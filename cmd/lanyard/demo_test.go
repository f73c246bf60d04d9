package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// make run's demo: a newcomer's path from `serve --demo` to an issued
// card, here through the CLI (the browser path is in internal/e2e). The
// demo's agent pairs itself to the demo user, its emulated card shows as
// connected, and `card issue` issues it; after a restart the card is
// still there, issued, and the workstation did not pair again.
func TestDemo(t *testing.T) {
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	agentAddr := freeAddr(t) // kept across the restart: a paired agent keeps its server
	stop := startServe(t, bin, data, addr, "--demo", "--agent-listen", agentAddr)
	op, c, token, password := demoClients(t, bin, data, addr)
	connected := waitConnected(c, "Lanyard demo reader")
	if !strings.Contains(connected, "Lanyard demo reader") || !strings.Contains(connected, "not registered") {
		t.Fatalf("the demo card is not connected:\n%s", connected)
	}
	out := c.must(0, "card", "issue", "--template", "secure-email", "--user-pin", "24682468")
	for _, want := range []string{"issued", "smartcard-logon", "secure-email", "written"} {
		if !strings.Contains(out, want) {
			t.Fatalf("card issue output lacks %q:\n%s", want, out)
		}
	}
	demoSerial := connectedSerial(t, c, "Lanyard demo reader")

	// The demo workstation's TPM (the simulator): a TPM virtual smart
	// card, then a platform credential once the user has an
	// authenticator app, each created and issued from the CLI.
	out = c.must(0, "card", "issue", "--create", "tpm", "--user-pin", "13572468", "--name", "Demo TPM")
	for _, want := range []string{"tpm-virtual-card", "issued", "smartcard-logon", "written"} {
		if !strings.Contains(out, want) {
			t.Fatalf("card issue --create tpm output lacks %q:\n%s", want, out)
		}
	}
	tpmSerial := strings.Fields(strings.SplitN(out, "tpm-virtual-card ", 2)[1])[0]
	tpmSerial = strings.TrimSuffix(tpmSerial, ",")
	if _, errOut, code := c.run("", "card", "issue", "--create", "platform"); code == 0 || !strings.Contains(errOut, "authenticator app") {
		t.Fatalf("a platform credential without an authenticator app: exit %d, %s", code, errOut)
	}
	secret := enrollTOTP(t, "http://"+addr, token)
	out = c.must(0, "card", "issue", "--create", "platform", "--name", "Demo Hello")
	if !strings.Contains(out, "platform-credential") || !strings.Contains(out, "pin_setup") {
		t.Fatalf("card issue --create platform:\n%s", out)
	}
	platformID := strings.TrimSuffix(strings.Fields(out)[1], ":")
	if _, errOut, code := c.run(string(password)+"\n", "card", "pin-setup", platformID, "--code", "000000", "--pin", "24680246"); code == 0 || !strings.Contains(errOut, "wrong") {
		t.Fatalf("pin-setup with a wrong code: exit %d, %s", code, errOut)
	}
	out, errOut, code := c.run(string(password)+"\n", "card", "pin-setup", platformID, "--code", totpAt(t, secret, 30*time.Second), "--pin", "24680246")
	if code != 0 || !strings.Contains(out, "issued") {
		t.Fatalf("pin-setup: exit %d\n%s\n%s", code, out, errOut)
	}

	// An AirCard from the demo workstation: made by the built-in AirCard
	// service, issued there, and connected to the demo workstation.
	out = c.must(0, "card", "issue", "--create", "aircard", "--user-pin", "11223344", "--name", "Demo Air")
	if !strings.Contains(out, "aircard") || !strings.Contains(out, "issued") {
		t.Fatalf("card issue --create aircard:\n%s", out)
	}
	airID := strings.TrimSuffix(strings.Fields(out)[1], ":")
	airSerial := strings.TrimSuffix(strings.Fields(strings.SplitN(out, "aircard ", 2)[1])[0], ",")
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if connected = c.must(0, "card", "list", "--connected"); linesWith(connected, airSerial) == 2 {
			break
		}
	}
	if linesWith(connected, airSerial) != 2 || !strings.Contains(connected, "Lanyard AirCard "+airSerial) {
		t.Fatalf("the AirCard is not connected at the AirCard service and at the demo workstation:\n%s", connected)
	}
	if comps := c.must(0, "card", "computers", airID); !strings.Contains(comps, "demo-workstation") {
		t.Fatalf("card computers:\n%s", comps)
	}
	// lanyard replicas: a single server is a cluster of one, holding the
	// demo workstation's agent and the AirCard service; plain users may
	// not look.
	checkReplicasCLI(t, op, c)

	// An operator's connection code for another computer; the demo sends
	// no e-mail, so --mail says why the code was not sent, and the code is
	// printed all the same.
	out, errOut, code = op.run("", "card", "aircard-code", "--mail", airID)
	if code != 0 || !regexp.MustCompile(`^[A-Z2-7]{5}-[A-Z2-7]{5}\n$`).MatchString(out) || !strings.Contains(errOut, "was not sent") {
		t.Fatalf("card aircard-code --mail: exit %d\n%s\n%s", code, out, errOut)
	}

	// A software store (the guide's "Registry"): the key container
	// password comes on standard input, never as a flag; the PKCS#12
	// file in the demo user's store opens with it and with no other.
	if _, errOut, code := c.run("Demo-Store-1\n", "card", "issue", "--create", "software-user", "--user-pin", "1234"); code == 0 || !strings.Contains(errOut, "no PINs") {
		t.Fatalf("a software store with a PIN flag: exit %d, %s", code, errOut)
	}
	// Smart card logon is for card-held keys only: the store holds the
	// optional secure-email certificate, chosen.
	out, errOut, code = c.run("Demo-Store-1\n", "card", "issue", "--create", "software-user", "--name", "Demo laptop", "--template", "secure-email")
	p12 := filepath.Join(data, "demo-home", ".local", "share", "lanyard", "store", "Demo-laptop.p12")
	if code != 0 || !strings.Contains(out, "software-store") || !strings.Contains(out, p12) || !strings.Contains(errOut, "cannot be reset") {
		t.Fatalf("card issue --create software-user: exit %d\n%s\n%s", code, out, errOut)
	}
	if b, err := exec.Command("openssl", "pkcs12", "-in", p12, "-nokeys", "-passin", "pass:Demo-Store-1").CombinedOutput(); err != nil || !strings.Contains(string(b), "BEGIN CERTIFICATE") {
		t.Fatalf("openssl pkcs12 with the password: %v\n%s", err, b)
	}
	if b, err := exec.Command("openssl", "pkcs12", "-in", p12, "-nokeys", "-passin", "pass:Demo-Store-2").CombinedOutput(); err == nil {
		t.Fatalf("openssl pkcs12 opened the store with a wrong password:\n%s", b)
	}

	log := stop()
	if !strings.Contains(log, strings.TrimSpace(string(password))) || !strings.Contains(log, `log in as "demo"`) {
		t.Fatalf("the demo banner does not give the credentials:\n%s", log)
	}

	addr2 := freeAddr(t)
	stop = startServe(t, bin, data, addr2, "--demo", "--agent-listen", agentAddr)
	defer stop()
	c.env = append(c.env, "LANYARD_SERVER=http://"+addr2)
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if connected = c.must(0, "card", "list", "--connected"); strings.Contains(connected, "issued") {
			break
		}
	}
	if !strings.Contains(connected, "issued") || !strings.Contains(connected, "demo") {
		t.Fatalf("after a restart the demo card is not shown as issued:\n%s", connected)
	}
	if ws := c.must(0, "workstation", "list", "--output", "json"); strings.Count(ws, `"id"`) != 1 {
		t.Fatalf("the demo workstation paired again:\n%s", ws)
	}
	// The virtual cards survived the restart with their keys in the
	// simulator: still connected, still issued.
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if connected = c.must(0, "card", "list", "--connected"); strings.Count(connected, "issued") == 5 {
			break
		}
	}
	if !strings.Contains(connected, tpmSerial) || linesWith(connected, airSerial) != 2 || strings.Count(connected, "issued") != 5 {
		t.Fatalf("after a restart the virtual cards are not all connected and issued:\n%s", connected)
	}
	_, errOut, code = c.run("", "card", "issue", "--card", demoSerial)
	if code == 0 || !strings.Contains(errOut, "already issued") {
		t.Fatalf("issuing the issued demo card again: exit %d, %s", code, errOut)
	}
}

// demoCLI waits for the demo server at addr, with data directory data,
// to write its demo password, and returns a CLI for the demo user with a
// token of theirs (made with the bootstrap token, admin), the token and
// the password.
func demoCLI(t *testing.T, bin, data, addr string) (c *cli, admin, token string, password []byte) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if password, err = os.ReadFile(filepath.Join(data, "demo-password")); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(data, "bootstrap-token"))
	if err != nil {
		t.Fatal(err)
	}
	admin = strings.TrimSpace(string(b))
	c = &cli{t: t, bin: bin, dir: t.TempDir(), env: []string{"LANYARD_SERVER=http://" + addr, "LANYARD_TOKEN=" + admin}}
	token = strings.TrimSpace(c.must(0, "token", "create", "--user", "demo"))
	c.env = append(c.env, "LANYARD_TOKEN="+token)
	return c, admin, token, password
}

// connectedSerial is the serial of the card in reader.
// demoClients waits for the demo server at addr (data: its directory) to
// be set up and returns CLI callers as its administrator (the bootstrap
// token) and as the demo user (a token of theirs), that token, and the
// demo user's password.
func demoClients(t *testing.T, bin, data, addr string) (admin, user *cli, token string, password []byte) {
	t.Helper()
	password = waitFile(t, filepath.Join(data, "demo-password")) // written once the demo user exists
	boot, err := os.ReadFile(filepath.Join(data, "bootstrap-token"))
	if err != nil {
		t.Fatal(err)
	}
	as := func(tok string) *cli {
		return &cli{t: t, bin: bin, dir: t.TempDir(), env: []string{"LANYARD_SERVER=http://" + addr, "LANYARD_TOKEN=" + tok}, token: tok}
	}
	admin = as(strings.TrimSpace(string(boot)))
	token = strings.TrimSpace(admin.must(0, "token", "create", "--user", "demo"))
	return admin, as(token), token, password
}

// waitFile reads path once it exists (at most 10 s): a file the server
// writes as it starts.
func waitFile(t *testing.T, path string) []byte {
	t.Helper()
	var b []byte
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if b, err = os.ReadFile(path); err == nil {
			return b
		}
	}
	t.Fatal(err)
	return nil
}

// waitConnected lists the connected cards until one is in reader (at
// most 15 s) and returns the last listing.
func waitConnected(c *cli, reader string) string {
	c.t.Helper()
	var connected string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if connected = c.must(0, "card", "list", "--connected"); strings.Contains(connected, reader) {
			break
		}
	}
	return connected
}

func connectedSerial(t *testing.T, c *cli, reader string) string {
	t.Helper()
	var cards []struct{ Reader, Serial string }
	if err := json.Unmarshal([]byte(c.must(0, "card", "list", "--connected", "--output", "json")), &cards); err != nil {
		t.Fatal(err)
	}
	for _, k := range cards {
		if k.Reader == reader {
			return k.Serial
		}
	}
	t.Fatalf("no card in %q", reader)
	return ""
}

// enrollTOTP enrolls and confirms an authenticator app for the token's
// user through the API, as the Self-Service page does, and returns its
// secret.
func enrollTOTP(t *testing.T, server, token string) string {
	t.Helper()
	do := func(method, path, body string, out any) {
		req, err := http.NewRequest(method, server+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatal(err)
			}
		}
	}
	var setup struct{ Secret string }
	do("POST", "/api/v1/me/totp", "", &setup)
	do("POST", "/api/v1/me/totp/confirm", `{"code":"`+totpAt(t, setup.Secret, 0)+`"}`, nil)
	return setup.Secret
}

// totpAt is the authenticator app's code d from now.
func totpAt(t *testing.T, secret string, d time.Duration) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, time.Now().Add(d), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// The documents check "certificate form" from the command line, on the
// demo's card: the issue goes pending, the user downloads the form and
// uploads it signed, a document officer approves it, and card continue
// writes the certificate.
func TestDocumentsCLI(t *testing.T) {
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	stop := startServe(t, bin, data, addr, "--demo", "--agent-listen", freeAddr(t))
	defer stop()
	var admin []byte
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err = os.Stat(filepath.Join(data, "demo-password")); err == nil {
			break
		}
	}
	if admin, err = os.ReadFile(filepath.Join(data, "bootstrap-token")); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	as := func(token string) *cli {
		return &cli{t: t, bin: bin, dir: dir, env: []string{"LANYARD_SERVER=http://" + addr, "LANYARD_TOKEN=" + token}}
	}
	adm := as(strings.TrimSpace(string(admin)))
	demo := as(strings.TrimSpace(adm.must(0, "token", "create", "--user", "demo")))
	adm.must(0, "user", "create", "olga", "--email", "olga@example.test", "--role", "document_officer")
	officer := as(strings.TrimSpace(adm.must(0, "token", "create", "--user", "olga")))

	// The demo policy, with the certificate form to be approved.
	var pol map[string]any
	if err := json.Unmarshal([]byte(adm.must(0, "policy", "show", "demo", "--output", "json")), &pol); err != nil {
		t.Fatal(err)
	}
	pol["settings"].(map[string]any)["documents"].(map[string]any)["check"] = "certificate_form"
	b, _ := json.Marshal(pol)
	if err := os.WriteFile(filepath.Join(dir, "policy.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	adm.must(0, "policy", "update", "demo", "--file", "policy.json")

	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if strings.Contains(demo.must(0, "card", "list", "--connected"), "Lanyard demo reader") {
			break
		}
	}
	out, errOut, code := demo.run("", "card", "issue", "--user-pin", "24682468")
	if code != exitPending || !strings.Contains(out, "Card issue pending") || !strings.Contains(out, "valid") {
		t.Fatalf("card issue: exit %d\n%s\n%s", code, out, errOut)
	}
	docs := demo.must(0, "document", "list", "--output", "json")
	id := jsonField(t, docs, "id")
	demo.must(0, "document", "form", id, "--out", "form.pdf")
	form, err := os.ReadFile(filepath.Join(dir, "form.pdf"))
	if err != nil || !strings.HasPrefix(string(form), "%PDF-") {
		t.Fatalf("the form is not a PDF: %v", err)
	}
	// Printed, signed and scanned back: any real PDF will do here.
	if up := demo.must(0, "document", "upload", id, "form.pdf"); !strings.Contains(up, "uploaded") {
		t.Fatalf("upload:\n%s", up)
	}
	if _, errOut, code := demo.run("", "document", "approve", id); code == 0 || !strings.Contains(errOut, "document_officer") {
		t.Fatalf("the owner approved their own document: exit %d %s", code, errOut)
	}
	officer.must(1, "document", "reject", id) // a rejection needs a comment
	if dec := officer.must(0, "document", "approve", id, "--comment", "signature checked"); !strings.Contains(dec, "approved") {
		t.Fatalf("approve:\n%s", dec)
	}
	cards := demo.must(0, "card", "list", "--output", "json")
	cardID := jsonField(t, cards, "id")
	if done := demo.must(0, "card", "continue", cardID); !strings.Contains(done, "issued") || !strings.Contains(done, "written") {
		t.Fatalf("card continue:\n%s", done)
	}

	// The same card, cleared, under the two other modes: the request
	// approved in the CA, then both.
	adm.must(0, "user", "create", "carl", "--email", "carl@example.test", "--role", "ca_manager")
	caManager := as(strings.TrimSpace(adm.must(0, "token", "create", "--user", "carl")))
	setCheck := func(check string) {
		t.Helper()
		pol["settings"].(map[string]any)["documents"].(map[string]any)["check"] = check
		b, _ := json.Marshal(pol)
		if err := os.WriteFile(filepath.Join(dir, "policy.json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		adm.must(0, "policy", "update", "demo", "--file", "policy.json")
	}
	// signDocs uploads the demo user's documents of kind that await
	// upload (the form itself stands for the signed copy); approve: a
	// document officer approves each.
	signDocs := func(kind string, approve bool) {
		t.Helper()
		var docs []map[string]any
		if err := json.Unmarshal([]byte(demo.must(0, "document", "list", "--state", "awaiting_upload", "--output", "json")), &docs); err != nil {
			t.Fatal(err)
		}
		for _, d := range docs {
			if d["kind"] != kind {
				continue
			}
			id := strconv.FormatFloat(d["id"].(float64), 'f', 0, 64)
			demo.must(0, "document", "form", id, "--out", "form-"+id+".pdf")
			demo.must(0, "document", "upload", id, "form-"+id+".pdf")
			if approve {
				officer.must(0, "document", "approve", id)
			}
		}
	}
	for _, check := range []string{"certificate_request", "both"} {
		if out := demo.must(0, "card", "clear", cardID); !strings.Contains(out, "clean") {
			t.Fatalf("%s: card clear:\n%s", check, out)
		}
		setCheck(check)
		out, errOut, code := demo.run("", "card", "issue", "--user-pin", "24682468")
		if code != exitPending || !strings.Contains(out, "pending") {
			t.Fatalf("%s: card issue: exit %d\n%s\n%s", check, code, out, errOut)
		}
		var reqs []map[string]any
		if err := json.Unmarshal([]byte(caManager.must(0, "ca", "pending", "--output", "json")), &reqs); err != nil || len(reqs) == 0 {
			t.Fatalf("%s: ca pending: %v %v", check, err, reqs)
		}
		// The CA approves once the signed certificate request form is
		// uploaded.
		signDocs("certificate_request", false)
		for _, r := range reqs {
			caManager.must(0, "ca", "approve", strconv.FormatFloat(r["id"].(float64), 'f', 0, 64))
		}
		if check == "both" {
			// Still pending: the certificate form waits for its officer.
			if out := demo.must(exitPending, "card", "continue", cardID); !strings.Contains(out, "pending") {
				t.Fatalf("both: continue before the form:\n%s", out)
			}
			signDocs("certificate_form", true)
		}
		if done := demo.must(0, "card", "continue", cardID); !strings.Contains(done, "issued") || !strings.Contains(done, "written") {
			t.Fatalf("%s: card continue:\n%s", check, done)
		}
	}
}

// jsonField returns the first value of "key": in a JSON document, as text.
func jsonField(t *testing.T, doc, key string) string {
	t.Helper()
	i := strings.Index(doc, `"`+key+`":`)
	if i < 0 {
		t.Fatalf("no %q in %s", key, doc)
	}
	v := strings.TrimLeft(doc[i+len(key)+3:], " ")
	end := strings.IndexAny(v, ",}\n")
	return strings.Trim(v[:end], `"`)
}

// linesWith counts the lines of s that contain sub.
func linesWith(s, sub string) int {
	n := 0
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			n++
		}
	}
	return n
}
