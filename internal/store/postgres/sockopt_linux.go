package postgres

import (
	"syscall"
	"time"
)

// setUserTimeout sets TCP_USER_TIMEOUT (RFC 5482; Linux tcp(7)) on TCP
// sockets: data left unacknowledged for d ends the connection. Other
// sockets (a Unix socket to a local server) are left as they are.
func setUserTimeout(d time.Duration) func(network, address string, c syscall.RawConn) error {
	return func(network, _ string, c syscall.RawConn) error {
		if network != "tcp" && network != "tcp4" && network != "tcp6" {
			return nil
		}
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpUserTimeout, int(d.Milliseconds()))
		}); err != nil {
			return err
		}
		return serr
	}
}

// tcpUserTimeout is TCP_USER_TIMEOUT (include/uapi/linux/tcp.h; the
// same on every architecture), which package syscall does not name.
const tcpUserTimeout = 18
