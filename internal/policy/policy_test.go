package policy

import (
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Names of the templates and card types Defaults refers to, as a store
// seeded for a first start would hold them.
var (
	knownTemplates = []string{"smartcard-logon", "secure-email", "document-signing", "code-signing"}
	knownCardTypes = []string{"piv", "tpm", "aircard"}
)

// mustPolicy returns a valid policy with default settings assigned to
// everyone; tests change one thing at a time.
func mustPolicy(tb testing.TB) *lanyard.Policy {
	tb.Helper()
	p := &lanyard.Policy{
		Name:        "default",
		Priority:    100,
		Settings:    Defaults(),
		Assignments: []lanyard.Assignment{{Kind: lanyard.AssignEveryone}},
	}
	if err := Validate(p, knownTemplates, knownCardTypes); err != nil {
		tb.Fatalf("base policy invalid: %v", err)
	}
	return p
}

// wantError checks that err is an *lanyard.Error with code and a message
// containing msg.
func wantError(tb testing.TB, err error, code, msg string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("err = nil, want %s containing %q", code, msg)
	}
	if got := lanyard.ErrorCode(err); got != code {
		tb.Fatalf("code = %q (%v), want %q", got, err, code)
	}
	if got := lanyard.ErrorMessage(err); !strings.Contains(got, msg) {
		tb.Fatalf("message = %q, want it to contain %q", got, msg)
	}
}
