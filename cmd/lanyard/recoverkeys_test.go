package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCardRecoverKeysCLI runs `card recover-keys` against the demo: the
// demo user has no archived keys, which they are told before any step-up
// is asked (the step-up itself is TestRecoverKeysOntoCardByOwner's), an
// administrator needs approved key recovery requests for the user's
// card, and a request that does not exist is not found. Each refusal is
// the server's, through the API route.
func TestCardRecoverKeysCLI(t *testing.T) {
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	stop := startServe(t, bin, data, addr, "--demo", "--agent-listen", freeAddr(t))
	defer stop()
	admin, user, _, password := demoClients(t, bin, data, addr)
	if !strings.Contains(waitConnected(user, "Lanyard demo reader"), "Lanyard demo reader") {
		t.Fatal("the demo card is not connected")
	}
	out := user.must(0, "card", "issue", "--user-pin", "24682468")
	id := strings.TrimSuffix(strings.Fields(out)[1], ":")
	if _, errOut, code := user.run(string(password)+"\n", "card", "recover-keys", id, "--code", "123456"); code != 1 || !strings.Contains(errOut, "no earlier archived keys to put on card") {
		t.Fatalf("card recover-keys by the owner without archived keys: exit %d %s", code, errOut)
	}
	if _, errOut, code := admin.run("", "card", "recover-keys", id); code != 1 || !strings.Contains(errOut, "needs key recovery requests a second person approved") {
		t.Fatalf("card recover-keys by an administrator without requests: exit %d %s", code, errOut)
	}
	if _, errOut, code := admin.run("", "card", "recover-keys", id, "--requests", "4711"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Fatalf("card recover-keys with a request that does not exist: exit %d %s", code, errOut)
	}
	if _, errOut, code := user.run("", "card", "recover-keys", "x"); code == 0 || !strings.Contains(errOut, "not a card ID") {
		t.Fatalf("card recover-keys x: exit %d %s", code, errOut)
	}
}
