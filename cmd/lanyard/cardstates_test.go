package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The card state commands on the demo's emulated card, as its user and
// an administrator run them: disable (the connected card shows as
// disabled, Issue refuses it, the CRL lists its certificates on hold as
// openssl reads it), enable (the CRL no longer lists them), revoke as
// lost with the card absent, withdraw refused until the connected card
// is cleared, then withdraw to stock.
func TestCardStatesCLI(t *testing.T) {
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	stop := startServe(t, bin, data, addr, "--demo", "--agent-listen", freeAddr(t))
	defer stop()
	admin, user, _, _ := demoClients(t, bin, data, addr)
	if !strings.Contains(waitConnected(user, "Lanyard demo reader"), "Lanyard demo reader") {
		t.Fatal("the demo card is not connected")
	}
	out := user.must(0, "card", "issue", "--user-pin", "24682468")
	if !strings.Contains(out, "issued") || !strings.Contains(out, "Allowed operations:") || !strings.Contains(out, "disable") {
		t.Fatalf("card issue:\n%s", out)
	}
	id := strings.TrimSuffix(strings.Fields(out)[1], ":")
	// The Card Monitor's content status (issue 17): a new card's
	// certificates are far from expiry.
	if out := user.must(0, "card", "list", "--content-status", "none"); linesWith(out, "none") != 1 {
		t.Fatalf("card list --content-status none:\n%s", out)
	}
	if out := user.must(0, "card", "list", "--content-status", "managed_expiring", "--output", "json"); strings.TrimSpace(out) != "[]" {
		t.Fatalf("card list --content-status managed_expiring:\n%s", out)
	}
	if _, errOut, code := user.run("", "card", "list", "--content-status", "soon"); code != 1 || !strings.Contains(errOut, "managed_expiring") {
		t.Fatalf("card list --content-status soon: exit %d %s", code, errOut)
	}

	out = user.must(0, "card", "disable", id)
	if !strings.Contains(out, "disabled") || !strings.Contains(out, "on hold") || !strings.Contains(out, "Allowed operations: enable, revoke") {
		t.Fatalf("card disable:\n%s", out)
	}
	if linesWith(user.must(0, "card", "list", "--connected"), "disabled") != 1 {
		t.Fatalf("the connected card is not shown disabled:\n%s", user.must(0, "card", "list", "--connected"))
	}
	if _, errOut, code := user.run("", "card", "issue", "--user-pin", "24682468"); code != 1 || !strings.Contains(errOut, "a disabled card cannot be issued") {
		t.Fatalf("card issue of a disabled card: exit %d %s", code, errOut)
	}
	if crl := crlText(t, addr); !strings.Contains(crl, "Certificate Hold") {
		t.Fatalf("the CRL does not list the held certificate:\n%s", crl)
	}
	var card struct {
		Certificates []struct{ Serial string } `json:"certificates"`
	}
	if err := json.Unmarshal([]byte(user.must(0, "card", "show", id, "--output", "json")), &card); err != nil || len(card.Certificates) == 0 {
		t.Fatalf("card show: %v %+v", err, card)
	}
	serial := card.Certificates[0].Serial
	if st := ocspText(t, admin, addr, serial); !strings.Contains(st, ": revoked") || !strings.Contains(st, "Reason: certificateHold") {
		t.Fatalf("openssl ocsp on the held certificate:\n%s", st)
	}
	out = user.must(0, "card", "enable", id)
	if !strings.Contains(out, "issued") || strings.Contains(out, "on hold") {
		t.Fatalf("card enable:\n%s", out)
	}
	if crl := crlText(t, addr); strings.Contains(crl, "Certificate Hold") || strings.Contains(crl, "Serial Number") {
		t.Fatalf("the CRL still lists the released certificate:\n%s", crl)
	}
	if st := ocspText(t, admin, addr, serial); !strings.Contains(st, ": good") {
		t.Fatalf("openssl ocsp on the released certificate:\n%s", st)
	}

	if _, errOut, code := user.run("", "card", "revoke", id); code != 1 || !strings.Contains(errOut, "--reason is required") {
		t.Fatalf("card revoke without a reason: exit %d %s", code, errOut)
	}
	if _, errOut, code := user.run("", "card", "revoke", id, "--reason", "misplaced"); code != 1 || !strings.Contains(errOut, "use lost, compromised") {
		t.Fatalf("card revoke --reason misplaced: exit %d %s", code, errOut)
	}
	out = user.must(0, "card", "revoke", id, "--reason", "lost", "--comment", "left on a train")
	if !strings.Contains(out, "revoked (lost)") {
		t.Fatalf("card revoke:\n%s", out)
	}
	if crl := crlText(t, addr); !strings.Contains(crl, "Key Compromise") {
		t.Fatalf("the CRL does not list the certificate revoked for key compromise:\n%s", crl)
	}
	if !strings.Contains(admin.must(0, "card", "list"), "revoked (lost)") {
		t.Fatalf("card list does not show the reason:\n%s", admin.must(0, "card", "list"))
	}
	if _, errOut, code := user.run("", "card", "withdraw", id); code != 1 || !strings.Contains(errOut, "not allowed") {
		t.Fatalf("card withdraw by the user: exit %d %s", code, errOut)
	}
	if _, errOut, code := admin.run("", "card", "withdraw", id); code != 1 || !strings.Contains(errOut, "clear it first") {
		t.Fatalf("card withdraw before clear: exit %d %s", code, errOut)
	}
	out = user.must(0, "card", "clear", id)
	if !strings.Contains(out, "revoked (lost)") || strings.Contains(out, " written ") {
		t.Fatalf("card clear:\n%s", out)
	}
	out = admin.must(0, "card", "withdraw", id, "--to", "stock")
	if first := strings.SplitN(out, "\n", 2)[0]; !strings.HasSuffix(first, ", clean, owner ") {
		t.Fatalf("card withdraw --to stock:\n%s", out)
	}
}

// crlText is the built-in CA's CRL, fetched from its distribution point,
// as `openssl crl -text` prints it.
func crlText(t *testing.T, addr string) string {
	t.Helper()
	r, err := http.Get("http://" + addr + "/crl/builtin.crl")
	if err != nil {
		t.Fatal(err)
	}
	der, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil || r.StatusCode != http.StatusOK {
		t.Fatalf("fetching the CRL: %v %s", err, r.Status)
	}
	path := filepath.Join(t.TempDir(), "ca.crl")
	if err := os.WriteFile(path, der, 0o600); err != nil {
		t.Fatal(err)
	}
	text, err := exec.Command("openssl", "crl", "-inform", "DER", "-in", path, "-noout", "-text").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl crl: %v %s", err, text)
	}
	return string(text)
}

// ocspText asks the server's OCSP responder about the certificate serial
// with `openssl ocsp` and returns what it prints.
func ocspText(t *testing.T, admin *cli, addr, serial string) string {
	t.Helper()
	dir := t.TempDir()
	var cert struct {
		PEM string `json:"pem"`
	}
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/certificates/"+serial, nil)
	req.Header.Set("Authorization", "Bearer "+admin.token)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	if err := json.NewDecoder(r.Body).Decode(&cert); err != nil || cert.PEM == "" {
		t.Fatalf("certificate %s: %v %s", serial, err, r.Status)
	}
	chain := admin.must(0, "ca", "cert")
	issuer := chain[:strings.Index(chain, "-----END CERTIFICATE-----")+len("-----END CERTIFICATE-----")] + "\n"
	leafPath, issuerPath := filepath.Join(dir, "leaf.pem"), filepath.Join(dir, "issuer.pem")
	if err := os.WriteFile(leafPath, []byte(cert.PEM), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(issuerPath, []byte(issuer), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("openssl", "ocsp", "-issuer", issuerPath, "-cert", leafPath, "-url", "http://"+addr+"/ocsp",
		"-CAfile", issuerPath, "-no_nonce", "-partial_chain").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl ocsp: %v\n%s", err, out)
	}
	return string(out)
}
