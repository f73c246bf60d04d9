package vpcd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"syscall"
)

// ErrNotLoopback is returned for a vpcd address outside loopback when
// [WithRemote] was not given.
var ErrNotLoopback = errors.New("vpcd: address is not on loopback (use WithRemote to allow it)")

// checkAddr validates a vpcd address before any dialling, so that a typo
// fails at once instead of being retried forever.
func checkAddr(addr string, remote bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("vpcd: address %q: %w", addr, err)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return fmt.Errorf("vpcd: address %q: port must be a number from 1 to 65535", addr)
	}
	if host == "" {
		return fmt.Errorf("vpcd: address %q has no host", addr)
	}
	if remote || host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().IsLoopback() {
		return fmt.Errorf("%w: %q", ErrNotLoopback, addr)
	}
	return nil
}

// newDialer returns the dialer for vpcd connections. Unless remote is
// allowed it checks the address actually dialled, after name resolution,
// so that a "localhost" resolving elsewhere cannot carry APDUs off the
// machine.
func newDialer(remote bool) *net.Dialer {
	d := &net.Dialer{Timeout: dialTimeout}
	if !remote {
		d.ControlContext = func(_ context.Context, _, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !ap.Addr().Unmap().IsLoopback() {
				return fmt.Errorf("%w: resolved to %s", ErrNotLoopback, address)
			}
			return nil
		}
	}
	return d
}
