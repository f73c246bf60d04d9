//go:build integration

package sso_test

import (
	"crypto/rand"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/auth"
)

type randReader struct{}

func (randReader) Read(b []byte) (int, error) { return rand.Read(b) }

func mustThrottle(t *testing.T) *auth.Throttle {
	th, err := auth.NewThrottle(time.Now, auth.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	return th
}
