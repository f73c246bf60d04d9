package e2e

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
)

// This file follows internal/web/ui/browser_helpers_test.go.

// browser is a headless Chromium driving one test's pages against a real
// server. Everything the page writes to its console (calls, uncaught
// exceptions, the browser's own log, where CSP violations appear) is kept
// and checked when the test ends.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string // the server's URL
	out  string // screenshot folder

	mu       sync.Mutex
	messages []chromedp.ConsoleMessage
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

// mustBrowser starts a fresh browser (its own profile, so its own
// cookies) for s.
func mustBrowser(t *testing.T, base string) *browser {
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
	b := &browser{t: t, ctx: ctx, base: base, out: outDir(t)}
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
		b.checkConsole()
		cancel()
		cancelAlloc()
		<-done
	})
	return b
}

// run runs actions with a time limit, failing the test with the page's
// state on error.
func (b *browser) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.shot("failed-" + regexp.MustCompile(`\W+`).ReplaceAllString(what, "-"))
		b.t.Fatalf("%s: %v\nconsole:\n%s", what, err, b.consoleText())
	}
}

// eval evaluates a JavaScript expression.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// waitFor waits until the expression is truthy. It asks again and again
// from Go rather than polling inside the page, so a navigation in between
// (a login, a redirect) does not end the wait.
func (b *browser) waitFor(what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
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
	b.shot("failed-" + regexp.MustCompile(`\W+`).ReplaceAllString(what, "-"))
	b.t.Fatalf("waiting for %s (%s): timed out (last error: %v)\nconsole:\n%s", what, expr, last, b.consoleText())
}

// visit opens a page of the site and waits until its scripts settled:
// no status region still says it is loading.
func (b *browser) visit(path string) {
	b.t.Helper()
	b.run("open "+path, chromedp.Navigate(b.base+path))
	b.settle()
}

func (b *browser) settle() {
	b.t.Helper()
	b.waitFor("page settled", `document.readyState === 'complete' && ![...document.querySelectorAll('[role=status]')].some(e => /^(Loading|Looking|Reading)/.test(e.textContent))`)
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return eval[string](b, `(document.querySelector(`+jsString(sel)+`)?.textContent ?? '').trim()`)
}

func (b *browser) path() string {
	return eval[string](b, `location.pathname`)
}

func (b *browser) focused() string {
	return eval[string](b, `document.activeElement ? (document.activeElement.id || document.activeElement.tagName.toLowerCase()) : ''`)
}

// shot saves a full-page screenshot.
func (b *browser) shot(name string) {
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

// login fills the login form the way a person does.
func (b *browser) login(login, password string) {
	b.t.Helper()
	b.visit("/login")
	b.run("log in as "+login,
		chromedp.SendKeys(chromedp.CSS("#login"), login),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-form button[type=submit]")),
	)
	b.waitFor("signed in", `location.pathname !== '/login'`)
	b.settle()
}

// checkAccessible fails for form controls without a label and for pages
// without exactly one h1.
func (b *browser) checkAccessible(page string) {
	b.t.Helper()
	unlabelled := eval[[]string](b, `[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
		.filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby'))
		.map(e => e.id || e.name || e.outerHTML)`)
	if len(unlabelled) > 0 {
		b.t.Errorf("%s: controls without a label: %v", page, unlabelled)
	}
	if n := eval[int](b, `document.querySelectorAll('h1').length`); n != 1 {
		b.t.Errorf("%s: %d h1 headings", page, n)
	}
}

func (b *browser) consoleText() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var sb strings.Builder
	for _, m := range b.messages {
		sb.WriteString("  " + m.String() + " (" + m.Source + " " + m.URL + ")\n")
	}
	return sb.String()
}

// checkConsole fails the test for CSP violations, uncaught exceptions and
// errors the pages wrote themselves. The browser's network log lines
// ("Failed to load resource" for an API answer of 4xx) are expected: the
// pages show those answers as messages.
func (b *browser) checkConsole() {
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

func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`)
	return "'" + r.Replace(s) + "'"
}
