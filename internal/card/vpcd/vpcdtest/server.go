package vpcdtest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Control bytes vpcd sends (vsmartcard vpcd.h).
const (
	CtrlOff   = 0x00
	CtrlOn    = 0x01
	CtrlReset = 0x02
	CtrlATR   = 0x04
)

// replyTimeout bounds every wait for the card, so a broken bridge fails a
// test instead of hanging it.
const replyTimeout = 5 * time.Second

// Server is a fake vpcd: it listens where pcscd's vpcd driver would and
// hands each card connection to the test, which plays pcscd's part.
type Server struct {
	tb    testing.TB
	addr  string
	conns chan net.Conn

	mu   sync.Mutex
	ln   net.Listener
	open map[net.Conn]bool
}

// NewServer listens on a free loopback port; the test's cleanup stops it.
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("vpcdtest: listen: %v", err)
	}
	s := &Server{tb: tb, addr: ln.Addr().String(), conns: make(chan net.Conn, 16), open: map[net.Conn]bool{}}
	s.serve(ln)
	tb.Cleanup(s.Stop)
	return s
}

// Addr is the host:port cards dial.
func (s *Server) Addr() string { return s.addr }

func (s *Server) serve(ln net.Listener) {
	s.ln = ln
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.open[c] = true
			s.mu.Unlock()
			s.conns <- c
		}
	}()
}

// Stop closes the listener and every card connection, as pcscd exiting does.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
	for c := range s.open {
		c.Close()
		delete(s.open, c)
	}
	// Connections accepted but not yet taken by Accept died with the
	// listener; a test after Restart must not be handed one of them.
	for {
		select {
		case <-s.conns:
		default:
			return
		}
	}
}

// Restart listens again on the same address, as pcscd starting again does.
func (s *Server) Restart() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.tb.Fatalf("vpcdtest: listen again on %s: %v", s.addr, err)
	}
	s.serve(ln)
}

// Accept waits for the next card connection.
func (s *Server) Accept(ctx context.Context) (*Conn, error) {
	select {
	case c := <-s.conns:
		return &Conn{c: c}, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("vpcdtest: no card dialled %s: %w", s.addr, ctx.Err())
	}
}

// Conn is one card's connection, seen from the vpcd side.
type Conn struct{ c net.Conn }

// SendRaw writes bytes as they are, for malformed messages.
func (c *Conn) SendRaw(b []byte) error {
	c.c.SetWriteDeadline(time.Now().Add(replyTimeout))
	_, err := c.c.Write(b)
	return err
}

// Send writes one message with its 2-byte big-endian length.
func (c *Conn) Send(msg []byte) error {
	if len(msg) > 0xFFFF {
		return fmt.Errorf("vpcdtest: %d-byte message cannot be framed", len(msg))
	}
	return c.SendRaw(append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...))
}

// Recv reads one message from the card.
func (c *Conn) Recv() ([]byte, error) {
	c.c.SetReadDeadline(time.Now().Add(replyTimeout))
	var hdr [2]byte
	if _, err := io.ReadFull(c.c, hdr[:]); err != nil {
		return nil, err
	}
	msg := make([]byte, binary.BigEndian.Uint16(hdr[:]))
	if _, err := io.ReadFull(c.c, msg); err != nil {
		return nil, err
	}
	return msg, nil
}

// ATR asks for the card's ATR, as pcscd's presence poll does.
func (c *Conn) ATR() ([]byte, error) {
	if err := c.Send([]byte{CtrlATR}); err != nil {
		return nil, err
	}
	return c.Recv()
}

// Control sends a control byte that gets no reply (CtrlOff, CtrlOn, CtrlReset).
func (c *Conn) Control(b byte) error { return c.Send([]byte{b}) }

// Transmit sends a command APDU and returns the card's response APDU.
func (c *Conn) Transmit(apdu []byte) ([]byte, error) {
	if len(apdu) < 2 {
		return nil, errors.New("vpcdtest: an APDU is at least 2 bytes; shorter messages are control bytes")
	}
	if err := c.Send(apdu); err != nil {
		return nil, err
	}
	return c.Recv()
}

// WaitClosed waits until the card closes the connection, discarding
// anything it sends, and fails after timeout.
func (c *Conn) WaitClosed(timeout time.Duration) error {
	c.c.SetReadDeadline(time.Now().Add(timeout))
	_, err := io.Copy(io.Discard, c.c)
	if err == nil {
		return nil // EOF: the card closed it
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("vpcdtest: card kept the connection open for %v", timeout)
	}
	return nil // reset by the card: closed as well
}

// Close closes the connection, as vpcd does when it drops a card.
func (c *Conn) Close() error { return c.c.Close() }
