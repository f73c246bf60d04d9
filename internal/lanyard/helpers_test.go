package lanyard_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// checkInvalid fails tb unless err matches want: want == "" expects nil;
// otherwise err must be a *lanyard.Error with code EInvalid whose message
// contains want, so that a table row proves which check refused the input.
func checkInvalid(tb testing.TB, err error, want string) {
	tb.Helper()
	if want == "" {
		if err != nil {
			tb.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		tb.Fatalf("accepted; want an error containing %q", want)
	}
	var le *lanyard.Error
	if !errors.As(err, &le) {
		tb.Fatalf("error %v (%T) is not a *lanyard.Error", err, err)
	}
	if le.Code != lanyard.EInvalid {
		tb.Fatalf("code = %q, want %q (error %v)", le.Code, lanyard.EInvalid, err)
	}
	if !strings.Contains(le.Message, want) {
		tb.Fatalf("message %q does not contain %q", le.Message, want)
	}
}
