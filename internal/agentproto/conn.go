package agentproto

import (
	"errors"
	"io"
	"sync"
	"time"
)

// DefaultHeartbeat is how often each side pings. A peer silent for
// three heartbeats (15 s) is taken for dead.
const DefaultHeartbeat = 5 * time.Second

// ErrPeerSilent is the read error after the peer said nothing for three
// heartbeats.
var ErrPeerSilent = errors.New("agentproto: the peer sent nothing for three heartbeats")

// Conn is one side of an upgraded connection: framed reads and writes,
// pings every heartbeat, and a watchdog that closes the connection when
// the peer falls silent. Send is safe for concurrent use; Recv is for one
// goroutine.
//
// A server keeps thousands of these open (one per workstation; issue 7's
// target is 10,000 idle AirCards), so an idle Conn costs no goroutine of
// its own: pings and the watchdog are timers, and reads go straight to
// the connection, whose TLS layer buffers already.
type Conn struct {
	rwc io.ReadWriteCloser
	r   io.Reader

	wmu sync.Mutex // one frame at a time

	mu       sync.Mutex
	silent   bool
	closed   bool
	done     chan struct{}
	watchdog *time.Timer
	pinger   *time.Timer
	every    time.Duration
	timeout  time.Duration
}

// NewConn wraps rwc, reading frames from r (nil: from rwc; a server that
// took the connection over from net/http passes what was buffered ahead
// of it followed by rwc), and starts pinging every heartbeat (<= 0:
// DefaultHeartbeat).
func NewConn(rwc io.ReadWriteCloser, r io.Reader, heartbeat time.Duration) *Conn {
	if heartbeat <= 0 {
		heartbeat = DefaultHeartbeat
	}
	if r == nil {
		r = rwc
	}
	c := &Conn{rwc: rwc, r: r, done: make(chan struct{}), every: heartbeat, timeout: 3 * heartbeat}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watchdog = time.AfterFunc(c.timeout, func() {
		c.mu.Lock()
		c.silent = true
		c.mu.Unlock()
		c.Close()
	})
	c.pinger = time.AfterFunc(heartbeat, c.ping)
	return c
}

// ping sends one ping and arms the next, on the timer's goroutine.
func (c *Conn) ping() {
	if c.Send(&Message{Type: TypePing}) != nil {
		c.Close()
		return
	}
	c.mu.Lock()
	if !c.closed {
		c.pinger.Reset(c.every)
	}
	c.mu.Unlock()
}

// Send writes one message. On a connection with write deadlines (the
// server's TLS connection), a peer that stops reading fails the write
// after the watchdog's timeout instead of holding every sender.
func (c *Conn) Send(m *Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if d, ok := c.rwc.(interface{ SetWriteDeadline(time.Time) error }); ok {
		d.SetWriteDeadline(time.Now().Add(c.timeout))
	}
	return WriteFrame(c.rwc, m)
}

// Recv reads the next message other than a ping. Any frame, pings
// included, proves the peer alive.
func (c *Conn) Recv() (*Message, error) {
	for {
		m, err := ReadFrame(c.r)
		if err != nil {
			c.mu.Lock()
			silent := c.silent
			c.mu.Unlock()
			if silent {
				return nil, ErrPeerSilent
			}
			return nil, err
		}
		c.mu.Lock()
		if !c.closed {
			c.watchdog.Reset(c.timeout)
		}
		c.mu.Unlock()
		if m.Type != TypePing {
			return m, nil
		}
	}
}

// Done is closed when the connection is closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close closes the connection; later calls do nothing.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	c.watchdog.Stop()
	c.pinger.Stop()
	c.mu.Unlock()
	return c.rwc.Close()
}
