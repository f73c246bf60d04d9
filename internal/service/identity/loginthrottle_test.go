package identity_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

// TestLoginThrottleKeysIPv6: IPv6 clients are throttled per /64, the
// block one client usually holds; IPv4 clients per address.
func TestLoginThrottleKeysIPv6(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{"2001:db8:1:2:aaaa::1", "ip:2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:fffe", "ip:2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "ip:2001:db8:1:3::/64"},
		{"fe80::1%eth0", "ip:fe80::/64"},
		{"192.0.2.10", "ip:192.0.2.10"},
		{"::ffff:192.0.2.10", "ip:192.0.2.10"},
		{"not an address", "ip:not an address"},
	} {
		keys := identity.LoginThrottleKeys("olga", tc.remote)
		if len(keys) != 2 || keys[0] != "login:olga" || keys[1] != tc.want {
			t.Errorf("LoginThrottleKeys(%q) = %q, want [login:olga %s]", tc.remote, keys, tc.want)
		}
	}
}

// TestLoginThrottleIPv6Block: wrong guesses from ever new addresses of
// one IPv6 /64 lock that block.
func TestLoginThrottleIPv6Block(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	for i := range auth.DefaultLimits().MaxFailures {
		_, err := e.svc.Identity.Login(ctx, fmt.Sprint("nobody", i), "wrong", fmt.Sprintf("2001:db8:7:7::%x", i+1))
		wantErr(t, "a guess", err, lanyard.EUnauthenticated, "wrong")
	}
	_, err := e.svc.Identity.Login(ctx, "alice", totpPassword, "2001:db8:7:7::ffff")
	wantErr(t, "a new address in the same /64", err, lanyard.ERateLimited, "try again")
	if _, err := e.svc.Identity.Login(ctx, "alice", totpPassword, "2001:db8:7:8::1"); err != nil {
		t.Fatalf("another /64: %v", err)
	}
}

// TestOverlongPasswordNotCounted: a password over auth.MaxPasswordInput
// is answered like a wrong one (login) or refused as invalid (step-up)
// before the throttle and the hash: a flood of them neither locks the
// account nor costs a check.
func TestOverlongPasswordNotCounted(t *testing.T) {
	e := newTOTPEnv(t)
	ctx := context.Background()
	long := strings.Repeat("p", auth.MaxPasswordInput+1)
	for range 2 * auth.DefaultLimits().MaxFailures {
		_, err := e.svc.Identity.Login(ctx, "alice", long, remote)
		wantErr(t, "login with an overlong password", err, lanyard.EUnauthenticated, "wrong login or password")
	}
	if _, err := e.svc.Identity.Login(ctx, "alice", totpPassword, remote); err != nil {
		t.Fatalf("the right password after overlong ones: %v", err)
	}
	e.enroll(t, e.alice)
	for range 2 * auth.DefaultLimits().MaxFailures {
		err := e.svc.Identity.VerifySecondFactor(ctx, e.alice, long, "123456")
		wantErr(t, "step-up with an overlong password", err, lanyard.EInvalid, "at most")
	}
	if _, err := e.svc.Identity.Login(ctx, "alice", totpPassword, remote); err != nil {
		t.Fatalf("the right password after overlong step-ups: %v", err)
	}
}
