package lanyard_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func TestErrorf(t *testing.T) {
	e := lanyard.Errorf(lanyard.EInvalid, "card type %q: %d retries", "piv", 0)
	if e.Code != lanyard.EInvalid || e.Message != `card type "piv": 0 retries` || e.Err != nil {
		t.Fatalf("Errorf = %+v", e)
	}
	if got, want := e.Error(), `invalid: card type "piv": 0 retries`; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if e.Unwrap() != nil {
		t.Fatalf("Unwrap() = %v, want nil", e.Unwrap())
	}
	if got := lanyard.Errorf(lanyard.ENotFound, "no such user"); got.Message != "no such user" {
		t.Fatalf("Errorf without args: message %q", got.Message)
	}
}

func TestWrap(t *testing.T) {
	cause := errors.New("dial tcp 10.0.0.7:9000: connection refused")
	e := lanyard.Wrap(lanyard.EUnavailable, cause, "the CA is not reachable")
	if e.Code != lanyard.EUnavailable || e.Message != "the CA is not reachable" || e.Err != cause {
		t.Fatalf("Wrap = %+v", e)
	}
	if e.Unwrap() != cause || !errors.Is(e, cause) {
		t.Fatal("the cause is not in the chain")
	}
	if strings.Contains(e.Message, "10.0.0.7") {
		t.Fatal("the cause leaked into the user-safe message")
	}
	want := "unavailable: the CA is not reachable: dial tcp 10.0.0.7:9000: connection refused"
	if got := e.Error(); got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
	if got, want := lanyard.Wrap(lanyard.EInternal, nil, "oops").Error(), "internal: oops"; got != want {
		t.Fatalf("Wrap with nil cause: Error() = %q, want %q", got, want)
	}
}

func TestErrorCodeAndMessage(t *testing.T) {
	secret := errors.New("pq: password authentication failed for user lanyard_admin")
	conflict := lanyard.Errorf(lanyard.EConflict, "template %q exists", "vpn")
	notFound := lanyard.Wrap(lanyard.ENotFound, secret, "no such card")
	tests := []struct {
		name    string
		err     error
		code    string
		message string
	}{
		{"nil", nil, "", ""},
		{"Errorf", conflict, lanyard.EConflict, `template "vpn" exists`},
		{"Wrap", notFound, lanyard.ENotFound, "no such card"},
		{"fmt.Errorf %w", fmt.Errorf("create template: %w", conflict), lanyard.EConflict, `template "vpn" exists`},
		{"twice wrapped", fmt.Errorf("api: %w", fmt.Errorf("store: %w", notFound)), lanyard.ENotFound, "no such card"},
		{"errors.Join", errors.Join(io.EOF, conflict), lanyard.EConflict, `template "vpn" exists`},
		{"outermost wins", lanyard.Wrap(lanyard.EForbidden, conflict, "not yours"), lanyard.EForbidden, "not yours"},
		{"fmt.Errorf %v loses the code", fmt.Errorf("create template: %v", conflict), lanyard.EInternal, "internal error"},
		{"plain error", secret, lanyard.EInternal, "internal error"},
		{"wrapped plain error", fmt.Errorf("query: %w", secret), lanyard.EInternal, "internal error"},
		{"context.Canceled", context.Canceled, lanyard.EInternal, "internal error"},
		{"io.EOF", io.EOF, lanyard.EInternal, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lanyard.ErrorCode(tt.err); got != tt.code {
				t.Errorf("ErrorCode = %q, want %q", got, tt.code)
			}
			msg := lanyard.ErrorMessage(tt.err)
			if msg != tt.message {
				t.Errorf("ErrorMessage = %q, want %q", msg, tt.message)
			}
			if strings.Contains(msg, "password") || strings.Contains(msg, "lanyard_admin") {
				t.Errorf("ErrorMessage leaked internals: %q", msg)
			}
		})
	}
}

func TestIsCode(t *testing.T) {
	conflict := lanyard.Errorf(lanyard.EConflict, "taken")
	tests := []struct {
		name string
		err  error
		code string
		want bool
	}{
		{"nil never matches", nil, "", false},
		{"nil is not internal", nil, lanyard.EInternal, false},
		{"same code", conflict, lanyard.EConflict, true},
		{"other code", conflict, lanyard.ENotFound, false},
		{"empty code", conflict, "", false},
		{"wrapped with %w", fmt.Errorf("op: %w", conflict), lanyard.EConflict, true},
		{"wrapped with %w, other code", fmt.Errorf("op: %w", conflict), lanyard.EInternal, false},
		{"plain error is internal", errors.New("boom"), lanyard.EInternal, true},
		{"plain error is not invalid", errors.New("boom"), lanyard.EInvalid, false},
		{"Wrap of plain error", lanyard.Wrap(lanyard.ERateLimited, errors.New("boom"), "slow down"), lanyard.ERateLimited, true},
		{"pending approval", lanyard.Errorf(lanyard.EPendingApproval, "queued"), lanyard.EPendingApproval, true},
	}
	for _, tt := range tests {
		if got := lanyard.IsCode(tt.err, tt.code); got != tt.want {
			t.Errorf("%s: IsCode(%v, %q) = %v, want %v", tt.name, tt.err, tt.code, got, tt.want)
		}
	}
}

// TestErrorCodesDistinct guards the stable strings API clients rely on.
func TestErrorCodesDistinct(t *testing.T) {
	codes := map[string]string{
		lanyard.EInvalid: "invalid", lanyard.ENotFound: "not_found", lanyard.EConflict: "conflict",
		lanyard.EUnauthenticated: "unauthenticated", lanyard.EForbidden: "forbidden",
		lanyard.ERateLimited: "rate_limited", lanyard.ETooLarge: "too_large",
		lanyard.EInvalidCSR: "invalid_csr", lanyard.EKeyNotAllowed: "key_not_allowed",
		lanyard.EUnavailable: "unavailable", lanyard.EInternal: "internal",
		lanyard.EPendingApproval:      "pending_approval",
		lanyard.ESecondFactorRequired: "second_factor_required", lanyard.EStepUpFailed: "step_up_failed",
	}
	if len(codes) != 14 {
		t.Fatalf("%d distinct codes, want 14", len(codes))
	}
	for got, want := range codes {
		if got != want {
			t.Errorf("code %q, want %q", got, want)
		}
	}
}
