//go:build integration

package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// built is cmd/lanyard, built once for all the package's tests (a build
// takes seconds) into a directory TestMain removes.
var built struct {
	once     sync.Once
	dir, bin string
	out      []byte
	err      error
}

// lanyardBinary returns the lanyard binary, building it on first use.
// needPIVTool fails t when yubico-piv-tool, which the card tests check
// the cards with, is not installed.
func needPIVTool(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("yubico-piv-tool"); err != nil {
		t.Fatal("yubico-piv-tool is missing (scripts/card-deps.sh installs it; make test runs it)")
	}
}

// pivToolAndBinary is needPIVTool, then lanyardBinary: the start of the
// tests that run the lanyard command line against a card.
func pivToolAndBinary(t *testing.T) string {
	t.Helper()
	needPIVTool(t)
	return lanyardBinary(t)
}

func lanyardBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "lanyard-e2e-"); built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "lanyard")
		built.out, built.err = exec.Command("go", "build", "-o", built.bin, "../../cmd/lanyard").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build ./cmd/lanyard: %v\n%s", built.err, built.out)
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

// lanyardCLI runs the lanyard binary as one user.
type lanyardCLI struct {
	t   *testing.T
	bin string
	env []string
}

// runStdin runs the lanyard binary with stdin on its standard input.
func (c *lanyardCLI) runStdin(stdin string, want int, args ...string) (stdout, stderr string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = append(os.Environ(), c.env...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatal(err)
	}
	if code != want {
		c.t.Fatalf("lanyard %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out.String(), errb.String())
	}
	return out.String(), errb.String()
}

func (c *lanyardCLI) run(want int, args ...string) (stdout, stderr string) {
	c.t.Helper()
	return c.runStdin("", want, args...)
}

// TestCLIIssueCard issues a user's connected card with the lanyard binary:
// `card list --connected` shows it unregistered, `card issue --user-pin
// --template secure-email` issues the required and the chosen template,
// `card list` shows the card; OpenSC then finds both certificates and
// signs with the PIN given on the command line.
func TestCLIIssueCard(t *testing.T) {
	bin := lanyardBinary(t)
	s := newStack(t)
	_, tok := s.user("gus")
	s.pair("gus")
	c := newVCard(t)
	s.insert(c)
	cli := &lanyardCLI{t: t, bin: bin, env: []string{"LANYARD_SERVER=" + s.srv.URL, "LANYARD_TOKEN=" + tok}}

	out, _ := cli.run(0, "card", "list", "--connected")
	if !regexp.MustCompile(`e2e-pc\s+` + regexp.QuoteMeta(s.reader) + `\s+` + c.serial + `\s+piv\s+not registered`).MatchString(out) {
		t.Errorf("card list --connected:\n%s", out)
	}

	const pin = "24682468"
	out, errOut := cli.run(0, "card", "issue", "--user-pin", pin, "--template", "secure-email")
	t.Logf("lanyard card issue:\n%s%s", out, errOut)
	m := regexp.MustCompile(`(?m)^Card (\d+): piv ` + c.serial + `, issued, owner gus$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("card issue printed:\n%s", out)
	}
	for _, re := range []string{`(?m)^\s+9a\s+smartcard-logon\s+written\s+managed\s+CN=User gus`, `(?m)^\s+9d\s+secure-email\s+written\s+managed\s+CN=User gus`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("card issue output lacks %s:\n%s", re, out)
		}
	}
	if strings.Contains(out+errOut, "User PIN:") || strings.Contains(out+errOut, pin) {
		t.Errorf("card issue printed a PIN:\n%s%s", out, errOut)
	}
	if !strings.Contains(errOut, "secret questions") {
		t.Errorf("card issue does not mention the secret questions:\n%s", errOut)
	}

	out, _ = cli.run(0, "card", "list")
	if !regexp.MustCompile(`(?m)^` + m[1] + `\s+` + c.serial + `\s+piv\s+issued\s+gus\s+2\s+\d{4}-\d\d-\d\d`).MatchString(out) {
		t.Errorf("card list:\n%s", out)
	}
	// A second issue of the same card is refused with a reason.
	_, errOut = cli.run(1, "card", "issue", "--user-pin", pin)
	t.Logf("issuing the issued card again: %s", strings.TrimSpace(errOut))

	s.agent.stop(t)
	tk := openToken(t, s.reader)
	s.checkIssued(tk, s.cardBySerial(c.serial).ID, pin, "9a", "9d")
}
