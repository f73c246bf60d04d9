package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCardReissueStoreCLI: `lanyard card reissue-store ID` with the
// demo's agent. The demo user's store holds secure-email; nothing is due,
// so the re-issue says the store is up to date. Once the administrator
// lets secure-email take P-384 keys only, the re-issue (the key
// container password on standard input) writes a new file beside the
// old one, which openssl opens with the new password, and says the old
// certificate was revoked and its file left in place.
func TestCardReissueStoreCLI(t *testing.T) {
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	stop := startServe(t, bin, data, addr, "--demo", "--agent-listen", freeAddr(t))
	defer stop()
	admin, user, _, _ := demoClients(t, bin, data, addr)
	waitConnected(user, "Lanyard demo reader")
	out := user.must(0, "card", "issue", "--create", "software-user", "--name", "Store", "--template", "secure-email")
	id := strings.TrimSuffix(strings.Fields(out)[1], ":")
	store := filepath.Join(data, "demo-home", ".local", "share", "lanyard", "store")

	if _, errOut, code := user.run("Demo-Store-2\n", "card", "reissue-store", id); code != 1 || !strings.Contains(errOut, "is up to date") {
		t.Fatalf("card reissue-store of an up-to-date store: exit %d %s", code, errOut)
	}
	if _, errOut, code := user.run("", "card", "reissue-store", "x"); code == 0 || !strings.Contains(errOut, "not a card ID") {
		t.Fatalf("card reissue-store x: exit %d %s", code, errOut)
	}

	var tpl map[string]any
	if err := json.Unmarshal([]byte(admin.must(0, "template", "show", "secure-email")), &tpl); err != nil {
		t.Fatal(err)
	}
	tpl["key_algorithms"] = []string{"ecp384"}
	file := filepath.Join(t.TempDir(), "tpl.json")
	b, _ := json.Marshal(tpl)
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	admin.must(0, "template", "update", "secure-email", "--file", file)
	if out := user.must(0, "card", "show", id); !strings.Contains(out, "Update: due: secure-email secure-email renew (template_changed) (lanyard card reissue-store "+id+")") {
		t.Fatalf("card show of a store due:\n%s", out)
	}

	out, errOut, code := user.run("Demo-Store-2\n", "card", "reissue-store", id)
	m := regexp.MustCompile(`(?m)^secure-email: [0-9a-f]+ in (\S+\.p12), replacing [0-9a-f]+ \(revoked, superseded\); its old file (\S+) is left in place$`).FindStringSubmatch(out)
	if code != 0 || m == nil || !strings.Contains(errOut, "Key container password") {
		t.Fatalf("card reissue-store: exit %d\n%s\n%s", code, out, errOut)
	}
	if filepath.Dir(m[1]) != store || m[2] != filepath.Join(store, "Store.p12") || m[1] == m[2] {
		t.Errorf("new file %s, old file %s", m[1], m[2])
	}
	if b, err := exec.Command("openssl", "pkcs12", "-in", m[1], "-nokeys", "-passin", "pass:Demo-Store-2").CombinedOutput(); err != nil || !strings.Contains(string(b), "BEGIN CERTIFICATE") {
		t.Fatalf("openssl pkcs12 of the new file with the new password: %v\n%s", err, b)
	}
	if b, err := exec.Command("openssl", "pkcs12", "-in", m[1], "-nokeys", "-passin", "pass:Demo-Store-1").CombinedOutput(); err == nil {
		t.Fatalf("openssl pkcs12 opened the new file with another password:\n%s", b)
	}
}
