package vpcd

import (
	"net"
	"syscall"
)

// quickAck asks Linux to acknowledge the next incoming segments at once
// (TCP_QUICKACK, tcp(7)). vpcd writes a message's 2-byte length and its
// payload in two send calls with Nagle's algorithm on, so the payload
// waits for the length's ACK; with delayed ACKs that costs ~40 ms per
// APDU. The option is not sticky, so it is set before every read.
func quickAck(c stream) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	raw.Control(func(fd uintptr) {
		syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}
