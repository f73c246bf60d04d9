package emu

import (
	"bytes"
	"context"
	"errors"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
)

// Session is one logical connection to a Card, as several readers' worth of
// clients would have to one card if a card could be in several readers:
// AirCard connects many workstations and the server to one hosted card at
// the same time. Each Session has its own volatile state (selected
// application, PIN and management key security status, pending challenge,
// command chain, pending response); the persistent state (PIN and PUK with
// their retry counters, management key, keys, objects) is the card's and
// is shared, and the card's lock serializes the commands of all sessions.
//
// So a PIN verified in one session counts in that session only, while a
// wrong PIN in any session costs a try of the one retry counter. A session
// loses its PIN security status when another session changes the card
// under it: changes or unblocks the PIN, blocks it, sets the factory PIN
// again (SET PIN RETRIES) or resets the card (RESET); with a PINGuard also
// when it changes the PUK, which changes the guard data all the same. It loses its
// management key authentication when another session sets a new management
// key or resets the card. (A failed VERIFY in another session, which does
// not block the PIN, leaves it verified: the sessions are separate
// cardholders' connections, and one must not be able to log another out.)
//
// A Session implements vpcd.Card. Its methods are safe for concurrent use.
type Session struct {
	c      *Card
	framer apdu.CardFramer
	state  session
	closed bool
}

// NewSession opens a new session on c, with nothing selected.
func (c *Card) NewSession() *Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return &Session{c: c, state: session{pinEpoch: c.pinEpoch, mgmEpoch: c.mgmEpoch}}
}

// ErrSessionClosed is returned by a closed Session's Transport.
var ErrSessionClosed = errors.New("emu: the card session is closed")

// ATR returns the card's Answer To Reset.
func (s *Session) ATR() []byte { return s.c.ATR() }

// PowerOff clears the session's volatile state, as losing power does.
func (s *Session) PowerOff() { s.clearVolatile() }

// PowerOn clears the session's volatile state; a session starts with
// nothing selected.
func (s *Session) PowerOn() { s.clearVolatile() }

// Reset is a warm reset of the session: it clears its volatile state.
func (s *Session) Reset() { s.clearVolatile() }

// Close ends the session and wipes its volatile state; later commands are
// answered 6F00. Closing twice does nothing.
func (s *Session) Close() {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	s.wipe()
	s.closed = true
}

func (s *Session) clearVolatile() {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	s.wipe()
}

// wipe clears the volatile state, with the card's lock held.
func (s *Session) wipe() {
	clear(s.state.pin)
	s.state = session{pinEpoch: s.c.pinEpoch, mgmEpoch: s.c.mgmEpoch}
	s.framer.Reset()
}

// Transmit processes one command APDU in this session and returns the
// response APDU. It never fails: a malformed command gets its ISO/IEC
// 7816-4 status word, an internal error (which the fuzz tests look for) and
// any command of a closed session 6F00.
func (s *Session) Transmit(cmd []byte) (resp []byte) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.closed {
		return apdu.Response{SW: apdu.SWNoPreciseDiagnosis}.Bytes()
	}
	before := s.enter()
	defer s.leave(before)
	defer func() {
		if r := recover(); r != nil {
			c.cfg.log.Error("emu: internal error processing an APDU", "panic", r)
			c.rollback()
			c.resetSession(session{})
			s.framer.Reset()
			resp = apdu.Response{SW: apdu.SWNoPreciseDiagnosis}.Bytes()
		}
	}()
	return s.framer.Process(cmd, c.handle)
}

// Transport returns the session as an apdu.Transport, for an apdu.Client
// in the same process.
func (s *Session) Transport() apdu.Transport {
	return apdu.TransportFunc(func(ctx context.Context, cmd []byte) ([]byte, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if s.isClosed() {
			return nil, ErrSessionClosed
		}
		return s.Transmit(cmd), nil
	})
}

func (s *Session) isClosed() bool {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	return s.closed
}

// credentials is what a session's security status was established
// against: when a command changes it, the status of every other session is
// void.
type credentials struct {
	pin, guard, mgmKey []byte
	mgmAlg             Algorithm
	pinTriesLeft       int
}

// enter makes s the card's current session, drops the security status
// that another session's changes voided, and returns the credentials as
// they are before the command. The card's lock is held.
func (s *Session) enter() credentials {
	c := s.c
	c.sess = &s.state
	if s.state.pinEpoch != c.pinEpoch {
		c.forgetPIN()
		s.state.pinEpoch = c.pinEpoch
	}
	if s.state.mgmEpoch != c.mgmEpoch {
		s.state.mgmAuthenticated, s.state.pending = false, nil
		s.state.mgmEpoch = c.mgmEpoch
	}
	return c.credentials()
}

// leave moves the card's epochs on when the command changed the
// credentials, keeps s in them (its own command established its status)
// and makes the default session current again.
func (s *Session) leave(before credentials) {
	c := s.c
	after := c.credentials()
	if !bytes.Equal(before.pin, after.pin) || !bytes.Equal(before.guard, after.guard) ||
		(before.pinTriesLeft > 0 && after.pinTriesLeft == 0) {
		c.pinEpoch++
	}
	if before.mgmAlg != after.mgmAlg || !bytes.Equal(before.mgmKey, after.mgmKey) {
		c.mgmEpoch++
	}
	s.state.pinEpoch, s.state.mgmEpoch = c.pinEpoch, c.mgmEpoch
	c.sess = &c.def.state
}

// credentials returns the PIN, guard data and management key of the
// current state. The slices are the state's own: the card replaces them on
// change rather than writing into them, and a rollback replaces the whole
// state.
func (c *Card) credentials() credentials {
	cr := credentials{
		pin:          c.st.PIN,
		mgmKey:       c.st.ManagementKey.Key,
		mgmAlg:       c.st.ManagementKey.Algorithm,
		pinTriesLeft: c.st.PINTriesLeft,
	}
	if c.st.Guard != nil {
		cr.guard = c.st.Guard.Data
	}
	return cr
}
