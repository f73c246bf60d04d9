// Package uitest drives a headless Chromium against a test's own Lanyard
// server: the browser helpers that the tests of internal/web/ui and
// internal/e2e share. It fails the test it is given instead of returning
// errors, so import it from _test.go files only.
package uitest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lanyard-cms/lanyard/internal/web/webtest"
)

// Browser is a headless Chromium driving one test's pages against a real
// server. Everything the page writes to its console (calls, uncaught
// exceptions, the browser's own log, where CSP violations appear) is kept
// and checked when the test ends.
type Browser struct {
	t         *testing.T
	ctx       context.Context
	base      string // the server's URL
	out       string // screenshot folder
	waitLimit time.Duration

	mu       sync.Mutex
	messages []chromedp.ConsoleMessage
}

// Config is what differs between the packages that drive a browser.
type Config struct {
	// ScreenshotArea names the folder of the package's screenshots under
	// OutDir: "ui", "e2e".
	ScreenshotArea string
	// WaitLimit is how long WaitFor waits: longer where the pages wait
	// for a real card stack.
	WaitLimit time.Duration
}

// chromium finds the browser that scripts/test-deps.sh installs.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found: run scripts/test-deps.sh (make test does) to install Debian's chromium")
	return ""
}

// OutDir is where a test's screenshots go: $LANYARD_TEST_OUT/AREA/TEST,
// by default under /tmp/lanyard-test-out. It is never inside the
// repository.
func OutDir(t *testing.T, area string) string {
	base := os.Getenv("LANYARD_TEST_OUT")
	if base == "" {
		base = filepath.Join(os.TempDir(), "lanyard-test-out")
	}
	dir := filepath.Join(base, area, t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Start starts a fresh browser (its own profile, so its own cookies) for
// the server at base; it is stopped, and its console checked, when the
// test ends.
func Start(t *testing.T, base string, cfg Config) *Browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("lang", "en-GB"),
		// Chromium refuses its sandbox as root and cannot build it in
		// containers without user namespaces; it only ever loads this
		// test's own loopback server.
		chromedp.NoSandbox,
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	b := &Browser{t: t, ctx: ctx, base: base, out: OutDir(t, cfg.ScreenshotArea), waitLimit: cfg.WaitLimit}
	if err := chromedp.Do(ctx); err != nil { // starts the browser, with no timeout on its life
		cancel()
		cancelAlloc()
		t.Fatalf("starting Chromium: %v", err)
	}
	msgs := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.messages = append(b.messages, m)
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		b.CheckConsole()
		cancel()
		cancelAlloc()
		<-done
	})
	return b
}

// Run runs actions with a time limit, failing the test with the page's
// state on error.
func (b *Browser) Run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.Shot("failed-" + regexp.MustCompile(`\W+`).ReplaceAllString(what, "-"))
		b.t.Fatalf("%s: %v\nconsole:\n%s", what, err, b.ConsoleText())
	}
}

// Eval evaluates a JavaScript expression.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// WaitFor waits until the expression is truthy. It asks again and again
// from Go rather than polling inside the page, so a navigation in between
// (a login, a redirect) does not end the wait.
func (b *Browser) WaitFor(what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(b.waitLimit)
	var last error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		cancel()
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	b.Shot("failed-" + regexp.MustCompile(`\W+`).ReplaceAllString(what, "-"))
	b.t.Fatalf("waiting for %s (%s): timed out (last error: %v)\nconsole:\n%s", what, expr, last, b.ConsoleText())
}

// Visit opens a page of the site and waits until its scripts settled:
// no status region still says it is loading.
func (b *Browser) Visit(path string) {
	b.t.Helper()
	b.Run("open "+path, chromedp.Navigate(b.base+path))
	b.Settle()
}

// Settle waits until the page is loaded and no status region still says
// it is loading.
func (b *Browser) Settle() {
	b.t.Helper()
	b.WaitFor("page settled", `document.readyState === 'complete' && ![...document.querySelectorAll('[role=status]')].some(e => /^(Loading|Looking|Reading)/.test(e.textContent))`)
}

// Text is the trimmed text of the first element matching sel, "" if none.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	return Eval[string](b, `(document.querySelector(`+JSString(sel)+`)?.textContent ?? '').trim()`)
}

// Path is the path of the page shown.
func (b *Browser) Path() string {
	return Eval[string](b, `location.pathname`)
}

// Focused is the id, or else the tag name, of the focused element.
func (b *Browser) Focused() string {
	return Eval[string](b, `document.activeElement ? (document.activeElement.id || document.activeElement.tagName.toLowerCase()) : ''`)
}

// Shot saves a full-page screenshot.
func (b *Browser) Shot(name string) {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	p := filepath.Join(b.out, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

// Login fills the login form the way a person does, second factor
// included: on a staff account's first login it reads the key the page
// shows to enroll an authenticator app, remembers it for the server and
// login (webtest.RememberTOTP: later logins, in this browser or another,
// type a code), and confirms it with a code; on later logins it types a
// fresh code (waiting for the next 30-second step when this one's code
// was used already). Log a user in whose app a test enrolled otherwise
// only after webtest.RememberTOTP.
func (b *Browser) Login(login, password string) {
	b.t.Helper()
	b.LoginStep(login, password)
	if b.Path() == "/login" {
		b.SecondFactor(login)
	}
	b.Settle()
}

// LoginStep fills the login form's password step and waits for its
// outcome: another page (signed in), the second step, or an error.
func (b *Browser) LoginStep(login, password string) {
	b.t.Helper()
	b.Visit("/login")
	b.Run("log in as "+login,
		chromedp.SendKeys(chromedp.CSS("#login"), login),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
	)
	b.WaitFor("password step done", `location.pathname !== '/login' || !document.querySelector('#factor-form').hidden || document.querySelector('#login-error').textContent !== ''`)
}

// SecondFactor completes the login's second step the page shows: an
// enrollment (its key read and remembered) or a code.
func (b *Browser) SecondFactor(login string) {
	b.t.Helper()
	if Eval[bool](b, `document.querySelector('#factor-form').hidden`) {
		b.t.Fatalf("log in as %s: no second step: %s", login, b.Text("#login-error"))
	}
	if !Eval[bool](b, `document.querySelector('#enroll').hidden`) {
		webtest.RememberTOTP(b.base, login, Eval[string](b, `document.querySelector('#totp-secret').value`))
	} else if !webtest.KnowsTOTP(b.base, login) {
		b.t.Fatalf("log in as %s: the page asks for a code of an authenticator app enrolled outside uitest; call webtest.RememberTOTP first", login)
	}
	for try := 0; ; try++ {
		Eval[string](b, `document.querySelector('#code').value = ''`)
		b.Run("second factor of "+login,
			chromedp.SendKeys(chromedp.CSS("#code"), webtest.TOTPCode(b.t, b.base, login)),
			chromedp.Click(chromedp.CSS("#factor-form button[type=submit]")),
		)
		b.WaitFor("second step done", `location.pathname !== '/login' || document.querySelector('#factor-error').textContent !== ''`)
		// A code of this step used outside TOTPCode (a step-up in the
		// test): the next step's code goes.
		if b.Path() == "/login" && strings.Contains(b.Text("#factor-error"), "already used") && try == 0 {
			continue
		}
		break
	}
	if b.Path() == "/login" {
		b.t.Fatalf("log in as %s: second factor refused: %s", login, b.Text("#factor-error"))
	}
}

// CheckAccessible fails for form controls without a label and for pages
// without exactly one h1.
func (b *Browser) CheckAccessible(page string) {
	b.t.Helper()
	unlabelled := Eval[[]string](b, `[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
		.filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
		.map(e => e.id || e.name || e.outerHTML)`)
	if len(unlabelled) > 0 {
		b.t.Errorf("%s: controls without a label: %v", page, unlabelled)
	}
	if n := Eval[int](b, `document.querySelectorAll('h1').length`); n != 1 {
		b.t.Errorf("%s: %d h1 headings", page, n)
	}
}

// ConsoleText is the console so far, a message a line.
func (b *Browser) ConsoleText() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var sb strings.Builder
	for _, m := range b.messages {
		sb.WriteString("  " + m.String() + " (" + m.Source + " " + m.URL + ")\n")
	}
	return sb.String()
}

// CheckConsole fails the test for CSP violations, uncaught exceptions and
// errors the pages wrote themselves. The browser's network log lines
// ("Failed to load resource" for an API answer of 4xx) are expected: the
// pages show those answers as messages.
func (b *Browser) CheckConsole() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.messages {
		csp := strings.Contains(m.Text, "Content Security Policy") || strings.Contains(m.Text, "CSP violation") || m.Source == "security"
		switch {
		case csp:
			b.t.Errorf("CSP violation: %s (%s)", m.Text, m.URL)
		case m.IsException():
			b.t.Errorf("uncaught exception: %s (%s:%d)", m.Text, m.URL, m.Line)
		case m.Type == chromedp.ConsoleError && m.Source != "network":
			b.t.Errorf("console error: %s (%s %s)", m.Text, m.Source, m.URL)
		}
	}
}

// JSString quotes s as a JavaScript string literal, for building the
// expressions Eval and WaitFor take.
func JSString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`)
	return "'" + r.Replace(s) + "'"
}
