package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
	var password []byte
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if password, err = os.ReadFile(filepath.Join(data, "demo-password")); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	admin, err := os.ReadFile(filepath.Join(data, "bootstrap-token"))
	if err != nil {
		t.Fatal(err)
	}
	c := &cli{t: t, bin: bin, dir: t.TempDir(), env: []string{"LANYARD_SERVER=http://" + addr, "LANYARD_TOKEN=" + strings.TrimSpace(string(admin))}}
	token := strings.TrimSpace(c.must(0, "token", "create", "--user", "demo"))
	c.env = append(c.env, "LANYARD_TOKEN="+token)

	var connected string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if connected = c.must(0, "card", "list", "--connected"); strings.Contains(connected, "Lanyard demo reader") {
			break
		}
	}
	if !strings.Contains(connected, "Lanyard demo reader") || !strings.Contains(connected, "not registered") {
		t.Fatalf("the demo card is not connected:\n%s", connected)
	}
	out := c.must(0, "card", "issue", "--template", "secure-email", "--user-pin", "24682468")
	for _, want := range []string{"issued", "smartcard-logon", "secure-email", "written"} {
		if !strings.Contains(out, want) {
			t.Fatalf("card issue output lacks %q:\n%s", want, out)
		}
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
	_, errOut, code := c.run("", "card", "issue")
	if code == 0 || !strings.Contains(errOut, "already issued") {
		t.Fatalf("issuing the issued demo card again: exit %d, %s", code, errOut)
	}
}
