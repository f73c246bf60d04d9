package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// built is the lanyard binary, compiled once for all the package's tests
// that run it as users do (a build is seconds of linking; fifteen tests
// run it) into a directory TestMain removes.
var built struct {
	once     sync.Once
	dir, bin string
	out      []byte
	err      error
}

// buildBinary returns the lanyard binary, building it on first use.
func buildBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "lanyard-cmd-test-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "lanyard")
		built.out, built.err = exec.Command("go", "build", "-o", built.bin, ".").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build: %v\n%s", built.err, built.out)
	}
	return built.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
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

// The first-start token lives 24 hours (--bootstrap-ttl changes it), and
// revoking it with `lanyard token revoke` deletes its file on the server.
func TestBootstrapTokenLifetimeAndRevocation(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	tokens := func(data, addr string) (*cli, []lanyard.APIToken) {
		t.Helper()
		raw, err := os.ReadFile(filepath.Join(data, "bootstrap-token"))
		if err != nil {
			t.Fatal(err)
		}
		c := &cli{t: t, bin: bin, dir: dir, env: []string{"LANYARD_SERVER=http://" + addr, "LANYARD_TOKEN=" + strings.TrimSpace(string(raw))}}
		var toks []lanyard.APIToken
		if err := json.Unmarshal([]byte(c.must(0, "token", "list", "--output", "json")), &toks); err != nil || len(toks) != 1 {
			t.Fatalf("token list: %v %+v", err, toks)
		}
		return c, toks
	}

	data, addr := filepath.Join(dir, "data"), freeAddr(t)
	stop := startServe(t, bin, data, addr)
	admin, toks := tokens(data, addr)
	if life := toks[0].ExpiresAt.Sub(toks[0].CreatedAt); life != 24*time.Hour {
		t.Errorf("the bootstrap token lives %s, want 24h", life)
	}
	admin.must(0, "token", "revoke", strconv.FormatInt(toks[0].ID, 10))
	if _, err := os.Stat(filepath.Join(data, "bootstrap-token")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("bootstrap-token after its revocation: %v", err)
	}
	if _, _, code := admin.run("", "token", "list"); code == 0 {
		t.Error("the revoked bootstrap token still works")
	}
	if log := stop(); !strings.Contains(log, "deleted the bootstrap token file") {
		t.Errorf("the server did not log the deletion:\n%s", log)
	}

	data2, addr2 := filepath.Join(dir, "data2"), freeAddr(t)
	stop2 := startServe(t, bin, data2, addr2, "--agent-listen", freeAddr(t), "--bootstrap-ttl", "90m")
	defer stop2()
	if _, toks := tokens(data2, addr2); toks[0].ExpiresAt.Sub(toks[0].CreatedAt) != 90*time.Minute {
		t.Errorf("--bootstrap-ttl 90m: the token lives %s", toks[0].ExpiresAt.Sub(toks[0].CreatedAt))
	}

	// Above 90 days the token policy would refuse the token at the first
	// start: the flag is refused before.
	for _, bad := range []string{"0", "-1h", "forever", "100000h", "2161h", "8760h"} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := exec.CommandContext(ctx, bin, "serve", "--data", filepath.Join(dir, "bad"), "--listen", freeAddr(t), "--bootstrap-ttl", bad).CombinedOutput()
		cancel()
		if err == nil {
			t.Errorf("serve --bootstrap-ttl %s started:\n%s", bad, out)
		} else if bad != "forever" && !strings.Contains(string(out), "--bootstrap-ttl "+bad) {
			t.Errorf("serve --bootstrap-ttl %s: not refused for the flag:\n%s", bad, out)
		}
	}
	if _, err := parseServe([]string{"--bootstrap-ttl", "2160h"}); err != nil {
		t.Errorf("--bootstrap-ttl of 90 days: %v", err)
	}
}

// Issue 13 items 8 and 12: what serve's edge flags turn into. Secure
// cookies and HSTS follow --url's scheme unless --secure-cookies says
// otherwise; --trust-proxy is a shorthand for a proxy on this host.
func TestServeEdgeFlags(t *testing.T) {
	t.Setenv("LANYARD_URL", "")
	t.Setenv("LANYARD_TRUSTED_PROXIES", "")
	for _, tc := range []struct {
		args    []string
		secure  bool
		proxies string
	}{
		{[]string{"--url", "http://127.0.0.1:8080"}, false, ""},
		{[]string{"--url", "https://cms.example.org"}, true, ""},
		{[]string{"--url", "HTTPS://cms.example.org", "--secure-cookies=false"}, false, ""},
		{[]string{"--url", "http://cms.example.org", "--secure-cookies"}, true, ""},
		{[]string{"--trusted-proxies", "127.0.0.1/32,10.0.0.0/8"}, false, "127.0.0.1/32 10.0.0.0/8"},
		{[]string{"--trust-proxy"}, false, "127.0.0.0/8 ::1/128"},
		{[]string{"--trust-proxy", "--trusted-proxies", "192.0.2.10"}, false, "192.0.2.10/32 127.0.0.0/8 ::1/128"},
	} {
		c, err := parseServe(tc.args)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		secure, proxies, err := c.edge()
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		var got []string
		for _, n := range proxies {
			got = append(got, n.String())
		}
		if secure != tc.secure || strings.Join(got, " ") != tc.proxies {
			t.Errorf("%v: secure %v, proxies %q; want %v, %q", tc.args, secure, got, tc.secure, tc.proxies)
		}
	}
	c, _ := parseServe([]string{"--trusted-proxies", "10.0.0.0/33"})
	if _, _, err := c.edge(); err == nil {
		t.Error("a bad --trusted-proxies range was accepted")
	}
}

// The --trusted-proxies help suggests single proxy addresses, not a range
// such as 10.0.0.0/8: with clients inside the range, the rightmost-trusted
// strategy would take an address a client wrote itself.
func TestTrustedProxiesHelpNamesProxiesOnly(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	_, perr := parseServe([]string{"-h"})
	os.Stderr = stderr
	w.Close()
	out, _ := io.ReadAll(r)
	_, help, _ := strings.Cut(string(out), "-trusted-proxies string")
	help, _, _ = strings.Cut(help, "\n  -")
	if perr == nil || help == "" {
		t.Fatalf("serve -h: %v\n%s", perr, out)
	}
	if strings.Contains(help, "/8") || strings.Contains(help, "/16") || !strings.Contains(help, "List only the proxies") {
		t.Errorf("--trusted-proxies help: %s", help)
	}
}
