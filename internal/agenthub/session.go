package agenthub

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// closeTimeout bounds the wait for the agent to confirm a close; the
// session is closed on this side regardless.
const closeTimeout = 5 * time.Second

// Session is an exclusive connection to the card in one reader of a
// workstation, relayed through its agent. It implements apdu.Transport.
// Exchanges are serialized; Close ends it and frees the card.
type Session struct {
	conn   *agentConn
	id     uint64
	reader string

	xmu sync.Mutex // one exchange at a time, as on a card

	mu  sync.Mutex
	err error // why the session ended; nil while open
}

// Open opens an exclusive session on the card in reader of workstation
// workstationID. A card that already has a session fails with ErrCardBusy
// (conflict), as does one another application on the workstation holds.
func (h *Hub) Open(ctx context.Context, workstationID int64, reader string) (*Session, error) {
	c := h.live(workstationID)
	if c == nil {
		return nil, ErrOffline
	}
	c.mu.Lock()
	r, ok := c.readers[reader]
	switch {
	case !ok:
		c.mu.Unlock()
		return nil, ErrNoReader
	case !r.Present:
		c.mu.Unlock()
		return nil, ErrNoCard
	case c.busy[reader] && c.role != lanyard.RoleAirCardService:
		// An AirCard service gives every session its own security
		// state (internal/aircard), so its cards take several at once.
		c.mu.Unlock()
		return nil, ErrCardBusy
	}
	c.busy[reader] = true
	c.mu.Unlock()
	release := func() {
		c.mu.Lock()
		delete(c.busy, reader)
		c.mu.Unlock()
	}
	reply, err := c.request(ctx, &agentproto.Message{Type: agentproto.TypeOpen, Reader: reader})
	if err != nil {
		release()
		return nil, err
	}
	if reply.Error != nil || reply.Session == 0 {
		release()
		if reply.Error == nil {
			return nil, ErrAgentGone
		}
		return nil, agentError(reply.Error)
	}
	s := &Session{conn: c, id: reply.Session, reader: reader}
	c.mu.Lock()
	c.sessions[s.id] = s
	c.mu.Unlock()
	return s, nil
}

// Reader names the session's reader.
func (s *Session) Reader() string { return s.reader }

// Transmit sends one command APDU to the card and returns its response.
// A removed card fails with ErrCardRemoved, a lost agent with
// ErrAgentGone, a closed session with ErrSessionClosed.
func (s *Session) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	s.xmu.Lock()
	defer s.xmu.Unlock()
	if err := s.ended(); err != nil {
		return nil, err
	}
	start := time.Now()
	reply, err := s.conn.request(ctx, &agentproto.Message{Type: agentproto.TypeTransmit, Session: s.id, APDU: cmd})
	if err != nil {
		if e := s.ended(); e != nil {
			return nil, e
		}
		return nil, err
	}
	if reply.Error != nil {
		err := agentError(reply.Error)
		if err == ErrCardRemoved {
			s.conn.mu.Lock()
			s.end(err)
			s.conn.mu.Unlock()
		}
		if e := s.ended(); e != nil {
			return nil, e
		}
		return nil, err
	}
	s.conn.hub.relay.Observe(time.Since(start).Seconds())
	return reply.APDU, nil
}

// Close ends the session and frees the card for another. Closing twice,
// or after the card or agent went, returns nil.
func (s *Session) Close() error {
	s.xmu.Lock()
	defer s.xmu.Unlock()
	c := s.conn
	c.mu.Lock()
	already := s.err != nil
	s.end(ErrSessionClosed)
	c.mu.Unlock()
	if already {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	c.request(ctx, &agentproto.Message{Type: agentproto.TypeClose, Session: s.id}) // best effort: the agent also ends it on disconnect
	return nil
}

// end records why the session ended (the first reason counts) and frees
// its reader. c.mu must be held.
func (s *Session) end(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	s.err = err
	delete(s.conn.sessions, s.id)
	delete(s.conn.busy, s.reader)
}

func (s *Session) ended() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// CreateVirtual asks the workstation's agent for a new virtual card of
// kind (agentproto.KindTPMVirtualCard or KindPlatformCredential) and
// returns the reader it is in, once the agent's inventory shows it. When
// the agent made the card but the wait for it failed, the error comes
// with the card's serial (and nothing else), for DestroyVirtual.
func (h *Hub) CreateVirtual(ctx context.Context, workstationID int64, kind string) (lanyard.Reader, error) {
	c := h.live(workstationID)
	if c == nil {
		return lanyard.Reader{}, ErrOffline
	}
	m, err := c.request(ctx, &agentproto.Message{Type: agentproto.TypeCreate, Kind: kind})
	if err != nil {
		return lanyard.Reader{}, err
	}
	if m.Error != nil {
		return lanyard.Reader{}, agentError(m.Error)
	}
	if m.Reader == "" || m.Serial == "" {
		return lanyard.Reader{}, lanyard.Errorf(lanyard.EUnavailable, "the workstation's agent created a virtual card but did not say where")
	}
	// The agent answers after its own snapshot showed the card; the
	// snapshot may still be on its way here.
	var r lanyard.Reader
	if err := c.waitFor(ctx, func() bool {
		var ok bool
		r, ok = c.reader(m.Reader)
		return ok && r.Present && r.Serial == m.Serial
	}); err != nil {
		return lanyard.Reader{Serial: m.Serial}, err
	}
	return r, nil
}

// DestroyVirtual asks the workstation's agent to remove the virtual card
// with serial that it made (CreateVirtual), and waits until its reader
// is gone from the inventory.
func (h *Hub) DestroyVirtual(ctx context.Context, workstationID int64, serial string) error {
	c := h.live(workstationID)
	if c == nil {
		return ErrOffline
	}
	c.mu.Lock()
	can := slices.Contains(c.features, agentproto.FeatureDestroy)
	c.mu.Unlock()
	if !can {
		return lanyard.Errorf(lanyard.EUnavailable, "the agent of %s is too old to remove virtual cards; update it", c.name)
	}
	m, err := c.request(ctx, &agentproto.Message{Type: agentproto.TypeDestroy, Serial: serial})
	if err != nil {
		return err
	}
	if m.Error != nil {
		// The agent's own words say which card it did not find.
		return fmt.Errorf("%w (%s)", agentError(m.Error), m.Error.Message)
	}
	return c.waitFor(ctx, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, shown := c.serials[serial]
		return !shown
	})
}

// waitFor polls done until it holds, as an agent's answer comes before
// the readers change it reports reaches the hub: ctx's error, or
// ErrAgentGone when the connection ends first.
func (c *agentConn) waitFor(ctx context.Context, done func() bool) error {
	for !done() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-c.pc.Done():
			return ErrAgentGone
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
