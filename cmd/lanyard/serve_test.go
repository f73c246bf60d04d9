package main

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildBinary compiles lanyard once for the tests that run it as users do.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "lanyard")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startServe runs `lanyard serve` and returns its stderr once it is ready.
func startServe(t *testing.T, bin, data, addr string, extra ...string) (stop func() string) {
	t.Helper()
	_, stop = startServeEnv(t, bin, data, addr, nil, extra...)
	return stop
}

// startServeEnv is startServe with more environment variables, and it
// returns the server's process too.
func startServeEnv(t *testing.T, bin, data, addr string, env []string, extra ...string) (proc *os.Process, stop func() string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if len(extra) == 0 {
		// Not the default 127.0.0.1:8443, which other servers may hold.
		extra = []string{"--agent-listen", freeAddr(t)}
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"serve", "--data", data, "--listen", addr}, extra...)...)
	cmd.Env = append(append(os.Environ(), "LANYARD_MASTER_KEY="), env...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if r, err := http.Get("http://" + addr + "/readyz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cmd.Process, func() string {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cancel()
			<-done
		}
		cancel()
		var b strings.Builder
		for l := range lines {
			b.WriteString(l + "\n")
		}
		return b.String()
	}
}

func TestServeFirstStartWritesBootstrapTokenSafely(t *testing.T) {
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	addr := freeAddr(t)
	stop := startServe(t, bin, data, addr)

	tokenFile := filepath.Join(data, "bootstrap-token")
	st, err := os.Stat(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("bootstrap-token mode %v, want 0600", st.Mode().Perm())
	}
	raw, _ := os.ReadFile(tokenFile)
	token := strings.TrimSpace(string(raw))
	if !strings.HasPrefix(token, "lyd_") {
		t.Fatalf("token file holds %q", token)
	}
	if mk, _ := os.Stat(filepath.Join(data, "master.key")); mk == nil || mk.Mode().Perm() != 0o600 {
		t.Fatalf("master.key missing or not 0600")
	}
	// The token works as an administrator token.
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/session", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("whoami with bootstrap token: %v %v", resp, err)
	}
	resp.Body.Close()
	log := stop()
	if strings.Contains(log, token) {
		t.Fatal("the bootstrap token appears in the server's output")
	}
	if !strings.Contains(log, tokenFile) {
		t.Fatalf("the server did not print where the token is:\n%s", log)
	}
	master, _ := os.ReadFile(filepath.Join(data, "master.key"))
	if strings.Contains(log, strings.TrimSpace(string(master))) {
		t.Fatal("the master key appears in the server's output")
	}

	// A second start keeps the installation: same token file, no new token.
	addr2 := freeAddr(t)
	stop2 := startServe(t, bin, data, addr2)
	log2 := stop2()
	raw2, _ := os.ReadFile(tokenFile)
	if string(raw2) != string(raw) || strings.Contains(log2, "First start") {
		t.Fatalf("second start changed the bootstrap token or claimed a first start:\n%s", log2)
	}
}
