//go:build integration

package e2e

import (
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/web/uitest"
)

// browser is a headless Chromium (uitest.Browser) with this package's own
// steps as methods (issue_browser_test.go, documents_*_test.go).
type browser struct {
	*uitest.Browser
	t *testing.T
}

// mustBrowser starts a fresh browser (its own profile, so its own
// cookies) for the server at base. Its waits get 30 s, twice the ui
// tests': the pages here wait for work on the real card stack.
func mustBrowser(t *testing.T, base string) *browser {
	t.Helper()
	return &browser{Browser: uitest.Start(t, base, uitest.Config{ScreenshotArea: "e2e", WaitLimit: 30 * time.Second}), t: t}
}
