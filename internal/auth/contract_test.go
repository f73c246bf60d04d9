package auth_test

import (
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/auth/throttletest"
)

// TestThrottleContract runs the throttle contract on the in-memory
// backend; internal/store/storetest runs it on each database.
func TestThrottleContract(t *testing.T) {
	throttletest.Run(t, func(t *testing.T, now func() time.Time, lim auth.Limits) *auth.Throttle {
		th, err := auth.NewThrottle(now, lim)
		if err != nil {
			t.Fatal(err)
		}
		return th
	}, throttletest.Options{})
}

// BenchmarkThrottleAttempt: a login attempt on the throttle in memory,
// to compare with the databases' (internal/store/...).
func BenchmarkThrottleAttempt(b *testing.B) {
	th, err := auth.NewThrottle(time.Now, auth.DefaultLimits())
	if err != nil {
		b.Fatal(err)
	}
	throttletest.BenchmarkAttempts(b, th)
}
