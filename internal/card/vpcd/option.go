package vpcd

import (
	"log/slog"
	"time"
)

// Defaults. pcscd restarts in well under a second and polls every ~0.45 s,
// so redialling from 100 ms up to 2 s finds it again quickly without
// spinning; a message that takes 5 s to arrive on loopback is not coming.
const (
	defaultMinBackoff   = 100 * time.Millisecond
	defaultMaxBackoff   = 2 * time.Second
	defaultFrameTimeout = 5 * time.Second
	dialTimeout         = 5 * time.Second
	// defaultCardTimeout is far above any real card operation (RSA-4096
	// key generation in the emulator takes seconds) yet ends a hung card
	// before pcscd's clients give up on the whole daemon.
	defaultCardTimeout = time.Minute
	// slowAcceptWarning is how long a dialled connection may stay silent
	// before the session logs that another card probably holds the slot
	// (vpcd accepts one card per port; others wait in the backlog).
	slowAcceptWarning = 3 * time.Second
)

type config struct {
	log                    *slog.Logger
	minBackoff, maxBackoff time.Duration
	idle                   time.Duration
	frameTimeout           time.Duration
	cardTimeout            time.Duration
	remote                 bool
}

func newConfig(opts []Option) config {
	c := config{
		log:          slog.New(slog.DiscardHandler),
		minBackoff:   defaultMinBackoff,
		maxBackoff:   defaultMaxBackoff,
		frameTimeout: defaultFrameTimeout,
		cardTimeout:  defaultCardTimeout,
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// Option adjusts a session.
type Option func(*config)

// WithLogger sends the session's connection events (dialled, attached,
// lost, protocol errors) to l. Without it the session logs nothing.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}

// WithBackoff sets the first and the longest wait between dial attempts;
// the wait doubles after each failed attempt and starts again from min
// once a connection has been served. Non-positive values keep the
// defaults (100 ms, 2 s).
func WithBackoff(min, max time.Duration) Option {
	return func(c *config) {
		if min > 0 {
			c.minBackoff = min
		}
		if max > 0 {
			c.maxBackoff = max
		}
		if c.maxBackoff < c.minBackoff {
			c.maxBackoff = c.minBackoff
		}
	}
}

// WithIdleTimeout drops and redials a connection on which vpcd has sent
// nothing for d. Debian's pcscd polls every ~0.45 s, so a few seconds of
// silence means a dead peer; on loopback the kernel reports that at once,
// which is why it is off by default. Use it with [WithRemote], where a
// vanished host would otherwise go unnoticed until TCP keepalive gives up.
func WithIdleTimeout(d time.Duration) Option {
	return func(c *config) { c.idle = max(d, 0) }
}

// WithCardTimeout sets how long the card may work on one command before
// the session drops the connection (default one minute). While a card
// works, pcscd waits for it with its vpcd driver locked, which stalls every
// PC/SC client on the machine; dropping the connection makes a hung card a
// removed one. Non-positive values keep the default.
func WithCardTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.cardTimeout = d
		}
	}
}

// WithRemote lets the session dial a vpcd that is not on a loopback
// address. vpcd's protocol has no encryption or authentication: every
// APDU, PINs included, crosses the network in clear, so use it only on a
// network you trust, such as a VM's host-only link.
func WithRemote() Option {
	return func(c *config) { c.remote = true }
}

// withFrameTimeout shortens the per-message timeout, for tests.
func withFrameTimeout(d time.Duration) Option {
	return func(c *config) { c.frameTimeout = d }
}
