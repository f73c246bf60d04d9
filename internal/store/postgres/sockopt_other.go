//go:build !linux

package postgres

import (
	"syscall"
	"time"
)

// setUserTimeout: TCP_USER_TIMEOUT is Linux's; elsewhere the keepalives
// and the listener's heartbeat do.
func setUserTimeout(time.Duration) func(network, address string, c syscall.RawConn) error {
	return nil
}
