package aircard_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/aircard"
	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
)

// softhsmDir holds the SoftHSM2 configuration and tokens of this test
// process (SOFTHSM2_CONF points there), so the tests share nothing with
// the machine's tokens.
var softhsmDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "aircard-softhsm-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	softhsmDir = dir
	tokens := filepath.Join(dir, "tokens")
	conf := filepath.Join(dir, "softhsm2.conf")
	os.Mkdir(tokens, 0o700)
	os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"), 0o600)
	os.Setenv("SOFTHSM2_CONF", conf)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// softhsmModule finds SoftHSM2's PKCS#11 module (Debian package softhsm2,
// installed by scripts/card-deps.sh); the test fails without it.
func softhsmModule(tb testing.TB) string {
	tb.Helper()
	candidates := []string{
		"/usr/lib/softhsm/libsofthsm2.so",
		"/usr/local/lib/softhsm/libsofthsm2.so",
		"/usr/lib64/softhsm/libsofthsm2.so",
		"/usr/lib64/pkcs11/libsofthsm2.so",
		"/opt/homebrew/lib/softhsm/libsofthsm2.so",
	}
	multi, _ := filepath.Glob("/usr/lib/*/softhsm/libsofthsm2.so")
	for _, p := range append(candidates, multi...) {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	tb.Fatal("SoftHSM2's libsofthsm2.so not found: run scripts/card-deps.sh (Debian package softhsm2)")
	return ""
}

var tokenSeq atomic.Int64

// newToken initializes a new SoftHSM2 token with user PIN pin and returns
// its label.
func newToken(tb testing.TB, pin string) string {
	tb.Helper()
	if _, err := exec.LookPath("softhsm2-util"); err != nil {
		tb.Fatal("softhsm2-util not found: run scripts/card-deps.sh (Debian package softhsm2)")
	}
	label := fmt.Sprintf("aircard-test-%d-%d", os.Getpid(), tokenSeq.Add(1))
	out, err := exec.Command("softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", "5678", "--pin", pin).CombinedOutput()
	if err != nil {
		tb.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return label
}

// hsmSpec returns the KEK spec of key label in a new token; the PIN is in
// an environment variable.
func hsmSpec(tb testing.TB, key string) string {
	tb.Helper()
	token := newToken(tb, "1234")
	tb.Setenv("AIRCARD_TEST_PIN", "1234")
	return fmt.Sprintf("pkcs11:module=%s;token=%s;key=%s;pin-env=AIRCARD_TEST_PIN", softhsmModule(tb), token, key)
}

// openKEK opens spec and closes the KEK at the end of the test.
func openKEK(tb testing.TB, spec string) aircard.KEK {
	tb.Helper()
	k, err := aircard.OpenKEK(spec)
	if err != nil {
		tb.Fatalf("OpenKEK(%s): %v", spec, err)
	}
	tb.Cleanup(func() { closeKEK(k) })
	return k
}

func closeKEK(k aircard.KEK) {
	if c, ok := k.(interface{ Close() error }); ok {
		c.Close()
	}
}

func fileKEK(tb testing.TB) aircard.KEK {
	tb.Helper()
	return openKEK(tb, "file:"+filepath.Join(tb.TempDir(), "kek"))
}

// logBuffer is a slog handler's output, safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// openHost opens a host on dir and closes it at the end of the test; log
// receives its log.
func openHost(tb testing.TB, dir string, kek aircard.KEK, log *logBuffer) *aircard.Host {
	tb.Helper()
	var l *slog.Logger
	if log != nil {
		l = slog.New(slog.NewTextHandler(log, nil))
	}
	h, err := aircard.Open(dir, kek, l)
	if err != nil {
		tb.Fatalf("aircard.Open: %v", err)
	}
	tb.Cleanup(func() { h.Close() })
	return h
}

func create(tb testing.TB, h *aircard.Host) string {
	tb.Helper()
	s, err := h.Create()
	if err != nil {
		tb.Fatalf("Create: %v", err)
	}
	return s
}

// connect connects to the card with serial and returns a PIV client on
// the connection, with the application selected.
func connect(tb testing.TB, h *aircard.Host, serial string) (*piv.Card, agent.Card) {
	tb.Helper()
	conn, err := h.Connect(aircard.ReaderName(serial), true)
	if err != nil {
		tb.Fatalf("Connect: %v", err)
	}
	tb.Cleanup(func() { conn.Close() })
	c, err := piv.New(apdu.TransportFunc(conn.Transmit), piv.Config{Rand: rand.Reader})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := c.Select(context.Background()); err != nil {
		tb.Fatalf("SELECT: %v", err)
	}
	return c, conn
}
