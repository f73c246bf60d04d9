package vpcd

import (
	"fmt"
	"io"
	"log/slog"
	"time"
)

// swNoDiagnosis (ISO 7816-4, 6F00: no precise diagnosis) replaces a
// response the card got wrong, so that the client sees an error status
// rather than a dropped card.
var swNoDiagnosis = []byte{0x6F, 0x00}

// stream is the connection to vpcd as the serving loop needs it; a
// net.Conn satisfies it, and the fuzz target uses an in-memory one.
type stream interface {
	io.ReadWriteCloser
	SetReadDeadline(time.Time) error
	SetWriteDeadline(time.Time) error
}

// server serves one card on one connection.
type server struct {
	card Card
	log  *slog.Logger
	// idle bounds the wait for vpcd's next message (0: no bound);
	// frameTimeout bounds reading the rest of a message once its length
	// has arrived, and writing a reply; cardTimeout bounds the card's
	// work on one message.
	idle, frameTimeout, cardTimeout time.Duration
	// attached is called once, after the first ATR reply: from then on
	// pcscd counts the card as present. dropped is called when the card
	// timed out and its connection was closed under it.
	attached, dropped func()
}

// serve answers vpcd's messages until the stream fails or vpcd breaks the
// protocol, and returns why. It returns whether vpcd spoke at all, so the
// caller knows whether the card was touched.
func (s *server) serve(c stream) (spoke bool, err error) {
	announced := false
	for {
		var deadline time.Time
		if s.idle > 0 {
			deadline = time.Now().Add(s.idle)
		}
		if err := c.SetReadDeadline(deadline); err != nil {
			return spoke, err
		}
		quickAck(c)
		msg, err := s.read(c)
		if err != nil {
			return spoke, err
		}
		spoke = true
		reply, err := s.handleInTime(c, msg)
		if err != nil {
			return spoke, err
		}
		if reply == nil {
			continue
		}
		if err := c.SetWriteDeadline(time.Now().Add(s.frameTimeout)); err != nil {
			return spoke, err
		}
		if err := writeMessage(c, reply); err != nil {
			return spoke, err
		}
		if !announced && len(msg) == 1 && msg[0] == ctrlATR {
			announced = true
			s.attached()
		}
	}
}

// read reads one message, giving a message whose length has arrived
// frameTimeout to arrive in full: a length that announces more than is
// sent (a stream out of step) must not hang the card forever.
func (s *server) read(c stream) ([]byte, error) {
	return readMessage(&firstByteDeadline{c: c, timeout: s.frameTimeout})
}

// handleInTime answers one message, closing the connection if the card
// takes longer than cardTimeout. vpcd waits for replies in a blocking
// receive without a timeout while holding pcscd's lock on the driver, so a
// card that never answers freezes pcscd for every client and every vpcd
// reader (measured: `opensc-tool -l` blocks until the card's connection
// closes). Closing it turns a hung card into a removed one; the card call
// itself cannot be interrupted, so the session still waits for it.
func (s *server) handleInTime(c stream, msg []byte) ([]byte, error) {
	timedOut := make(chan struct{})
	t := time.AfterFunc(s.cardTimeout, func() {
		close(timedOut)
		s.log.Error("card did not answer in time; dropping the connection so pcscd is not blocked",
			"timeout", s.cardTimeout, "message_len", len(msg))
		c.Close()
		s.dropped()
	})
	reply, err := s.handle(msg)
	if !t.Stop() {
		<-timedOut
		return nil, fmt.Errorf("vpcd: card took longer than %v to answer", s.cardTimeout)
	}
	return reply, err
}

// handle answers one message from vpcd: the reply to send, or nil for none.
func (s *server) handle(msg []byte) ([]byte, error) {
	if len(msg) != 1 {
		resp := s.card.Transmit(msg)
		if len(resp) < 2 || len(resp) > maxMessage {
			s.log.Error("card returned an invalid response APDU; sending 6F00",
				"command_len", len(msg), "response_len", len(resp))
			return swNoDiagnosis, nil
		}
		return resp, nil
	}
	switch msg[0] {
	case ctrlOff:
		s.card.PowerOff()
	case ctrlOn:
		s.card.PowerOn()
	case ctrlReset:
		s.card.Reset()
	case ctrlATR:
		atr := s.card.ATR()
		if err := CheckATR(atr); err != nil {
			return nil, err
		}
		return atr, nil
	default:
		// vpcd waits for replies with a blocking receive: guessing wrong
		// about whether this byte wants one would hang pcscd's reader
		// thread, so end the connection instead.
		return nil, fmt.Errorf("vpcd: unknown control byte %02X", msg[0])
	}
	return nil, nil
}

// firstByteDeadline moves the read deadline to timeout from now as soon as
// the first byte of a message has arrived: the wait for a message may be
// unbounded (pcscd polls at its own pace), but the rest of a message must
// follow promptly.
type firstByteDeadline struct {
	c       stream
	timeout time.Duration
	started bool
}

func (r *firstByteDeadline) Read(p []byte) (int, error) {
	n, err := r.c.Read(p)
	quickAck(r.c) // the rest of the message may still be held back by vpcd's Nagle
	if n > 0 && !r.started {
		r.started = true
		if derr := r.c.SetReadDeadline(time.Now().Add(r.timeout)); derr != nil && err == nil {
			err = derr
		}
	}
	return n, err
}
