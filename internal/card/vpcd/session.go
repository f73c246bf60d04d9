package vpcd

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// Session is one card attached, or being attached, to a vpcd slot. It
// lives until the context given to [Start] ends; closing the connection
// then is what removes the card from the reader.
type Session struct {
	addr   string
	card   Card
	cfg    config
	dialer *net.Dialer

	mu        sync.Mutex
	connected bool
	changed   chan struct{} // closed and replaced on every change of connected
	done      chan struct{}
}

// Attach serves card in the vpcd slot at addr (host:port) until ctx ends,
// redialling with backoff whenever the connection drops, as it does when
// pcscd restarts. It returns nil once ctx has ended and the card is out of
// the reader, or at once with an error when addr, card or its ATR cannot
// work. Use [Start] to learn when pcscd sees the card.
func Attach(ctx context.Context, addr string, card Card, opts ...Option) error {
	s, err := Start(ctx, addr, card, opts...)
	if err != nil {
		return err
	}
	<-s.Done()
	return nil
}

// Start checks addr, card and its ATR, then attaches card in the background
// as [Attach] does and returns the session to watch it.
func Start(ctx context.Context, addr string, card Card, opts ...Option) (*Session, error) {
	cfg := newConfig(opts)
	if card == nil {
		return nil, errors.New("vpcd: nil card")
	}
	if err := checkAddr(addr, cfg.remote); err != nil {
		return nil, err
	}
	if err := CheckATR(card.ATR()); err != nil {
		return nil, err
	}
	s := &Session{
		addr:    addr,
		card:    card,
		cfg:     cfg,
		dialer:  newDialer(cfg.remote),
		changed: make(chan struct{}),
		done:    make(chan struct{}),
	}
	s.cfg.log = cfg.log.With("vpcd", addr)
	go s.run(ctx)
	return s, nil
}

// Connected reports whether the card is in the reader now: true from the
// first ATR the card sent on a connection (pcscd's presence poll, at most
// ~0.45 s after dialling; pcscd tells its clients moments later) until that
// connection ends.
func (s *Session) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected
}

// Changed returns a channel that is closed at the next change of
// [Session.Connected], for watching without polling.
func (s *Session) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// WaitConnected blocks until the card is in the reader, ctx ends, or the
// session ends.
func (s *Session) WaitConnected(ctx context.Context) error {
	for {
		s.mu.Lock()
		connected, changed := s.connected, s.changed
		s.mu.Unlock()
		if connected {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return errors.New("vpcd: session ended before the card was attached")
		}
	}
}

// Done is closed when the session has ended: its context is over, the
// connection is closed and the card will not be called again.
func (s *Session) Done() <-chan struct{} { return s.done }

func (s *Session) setConnected(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.connected == v {
		return
	}
	s.connected = v
	close(s.changed)
	s.changed = make(chan struct{})
}

// run dials and serves until ctx ends. No jitter is added to the backoff:
// only one card can use a slot, so there is no herd of clients to spread.
func (s *Session) run(ctx context.Context) {
	defer close(s.done)
	wait := s.cfg.minBackoff
	failures := 0
	for {
		attached, err := s.connectOnce(ctx)
		if ctx.Err() != nil {
			s.cfg.log.Info("card removed")
			return
		}
		switch {
		case attached:
			// pcscd restarted or the stream broke: back quickly.
			wait, failures = s.cfg.minBackoff, 0
			s.cfg.log.Warn("connection to vpcd lost; redialling", "err", err)
		case failures == 0:
			s.cfg.log.Warn("cannot attach to vpcd; retrying with backoff", "err", err)
		default:
			s.cfg.log.Debug("cannot attach to vpcd; retrying", "err", err, "in", wait)
		}
		if !attached {
			failures++
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			s.cfg.log.Info("card removed")
			return
		case <-t.C:
		}
		if !attached {
			wait = min(2*wait, s.cfg.maxBackoff)
		}
	}
}

// connectOnce dials vpcd and serves the card until the connection ends. It
// reports whether the card got into the reader on it (sent its ATR), which
// is what resets the backoff: a connection that vpcd drops before that,
// say for a bad ATR, must not be redialled at full speed.
func (s *Session) connectOnce(ctx context.Context) (attached bool, err error) {
	c, err := s.dialer.DialContext(ctx, "tcp", s.addr)
	if err != nil {
		return false, err
	}
	defer c.Close()
	// Closing the connection is both how a blocked read learns of ctx's
	// end and how the card leaves the reader.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()

	s.cfg.log.Debug("dialled vpcd")
	slow := time.AfterFunc(slowAcceptWarning, func() {
		s.cfg.log.Warn("vpcd has not polled the card yet; another card may hold this slot, or pcscd is busy")
	})
	defer slow.Stop()
	srv := &server{
		card:         s.card,
		log:          s.cfg.log,
		idle:         s.cfg.idle,
		frameTimeout: s.cfg.frameTimeout,
		cardTimeout:  s.cfg.cardTimeout,
		attached: func() {
			slow.Stop()
			attached = true
			s.setConnected(true)
			s.cfg.log.Info("card inserted")
		},
		dropped: func() { s.setConnected(false) },
	}
	spoke, err := srv.serve(c)
	s.setConnected(false)
	if spoke {
		// A card pulled from a reader loses power and its volatile state.
		s.card.PowerOff()
	}
	return attached, err
}
