//go:build integration

package ui_test

import (
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/web/uitest"
)

// browser is a headless Chromium driving one test's pages.
type browser = uitest.Browser

// mustBrowser starts a fresh browser (its own profile, so its own
// cookies) for s.
func mustBrowser(t *testing.T, s *site) *browser {
	t.Helper()
	return uitest.Start(t, s.srv.URL, uitest.Config{ScreenshotArea: "ui", WaitLimit: 15 * time.Second})
}
