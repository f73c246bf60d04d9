package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestWorkstationCLI pairs a real `lanyard agent` (over pcscd) with a
// real `lanyard serve` through `lanyard workstation approve`, checks the
// listing and `lanyard agent status`, then revokes it: the agent is
// refused and exits.
func TestWorkstationCLI(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addr, agentAddr := freeAddr(t), freeAddr(t)
	stop := startServe(t, bin, data, addr, "--agent-listen", agentAddr)
	defer stop()
	tok, _ := os.ReadFile(filepath.Join(data, "bootstrap-token"))
	admin := &cli{t: t, bin: bin, dir: dir, env: []string{"LANYARD_SERVER=http://" + addr, "LANYARD_TOKEN=" + strings.TrimSpace(string(tok))}}

	state := filepath.Join(dir, "agent")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := filepath.Join(dir, "store")
	agent := exec.CommandContext(ctx, bin, "agent", "--server", "https://"+agentAddr, "--state", state, "--store-dir", store)
	stderr, _ := agent.StderrPipe()
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	codes := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`Pairing code: ([A-Z2-7]{5}-[A-Z2-7]{5})`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case codes <- m[1]:
				default:
				}
			}
		}
		exited <- agent.Wait()
	}()
	var code string
	select {
	case code = <-codes:
	case err := <-exited:
		t.Fatalf("the agent exited before showing a code: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("no pairing code within 15 s")
	}
	if _, errOut, c := admin.run("", "workstation", "approve", "ZZZZZ-ZZZZZ"); c != 1 || !strings.Contains(errOut, "not_found") {
		t.Errorf("approving a wrong code: exit %d, %s", c, errOut)
	}
	if out := admin.must(0, "workstation", "approve", code); !strings.Contains(out, "paired") {
		t.Errorf("approve printed %q", out)
	}
	var ws []struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
		Online bool   `json:"online"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		json.Unmarshal([]byte(admin.must(0, "workstation", "list", "--output", "json")), &ws)
		if len(ws) == 1 && ws[0].Online {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the workstation is not online: %+v", ws)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out := admin.must(0, "agent", "status", "--state", state); !strings.Contains(out, "connected:") || !strings.Contains(out, "yes, since") ||
		!regexp.MustCompile(`software store machine: +`+regexp.QuoteMeta(store)+`\n`).MatchString(out) ||
		!regexp.MustCompile(`software store user: +~/\.local/share/lanyard/store\n`).MatchString(out) {
		t.Errorf("agent status:\n%s", out)
	}
	admin.must(0, "workstation", "revoke", "1")
	select {
	case err := <-exited:
		if err == nil {
			t.Error("the revoked agent exited with status 0")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the revoked agent still runs")
	}
	if out := admin.must(0, "agent", "status", "--state", state); !strings.Contains(out, "not running") {
		t.Errorf("agent status after exit:\n%s", out)
	}
}
