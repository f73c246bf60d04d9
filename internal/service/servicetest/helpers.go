package servicetest

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Clock is a clock a test sets and moves (Options.Now: Clock.Now), for
// tests whose outcome depends on the time: TOTP codes, token lifetimes.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock that reads t until it is moved.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// WantErr fails the test unless err has the code and its message contains
// msgPart: the refusals a test checks are told apart by both.
func WantErr(tb testing.TB, what string, err error, code, msgPart string) {
	tb.Helper()
	if !lanyard.IsCode(err, code) || !strings.Contains(lanyard.ErrorMessage(err), msgPart) {
		tb.Errorf("%s: got %v, want %s containing %q", what, err, code, msgPart)
	}
}
