package vpcd

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"
)

// memStream is a vpcd connection in memory: reads come from in, writes
// go to out, deadlines are ignored.
type memStream struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (m *memStream) Read(p []byte) (int, error)       { return m.in.Read(p) }
func (m *memStream) Write(p []byte) (int, error)      { return m.out.Write(p) }
func (m *memStream) SetReadDeadline(time.Time) error  { return nil }
func (m *memStream) SetWriteDeadline(time.Time) error { return nil }
func (m *memStream) Close() error                     { return nil }

// FuzzServe plays arbitrary byte streams as vpcd against the serving loop:
// it must never panic or hang, must stop at the first malformed message,
// and everything it writes must be well-formed replies, one per ATR
// request or APDU.
func FuzzServe(f *testing.F) {
	f.Add([]byte{0x00, 0x01, 0x04, 0x00, 0x01, 0x01, 0x00, 0x0A, 0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08})
	f.Add([]byte{0x00, 0x01, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00})
	f.Add([]byte{0x00, 0x01, 0x07})
	f.Add([]byte{0x00, 0x03, 0x00, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		card := newTestCard()
		// Echo the command minus its first 3 bytes, so short commands
		// give empty or 1-byte responses that must become 6F00.
		card.respond = func(apdu []byte) []byte { return apdu[min(3, len(apdu)):] }
		s := &server{card: card, log: slog.New(slog.DiscardHandler), frameTimeout: time.Second, cardTimeout: time.Minute, attached: func() {}, dropped: func() {}}
		m := &memStream{in: bytes.NewReader(in)}
		if _, err := s.serve(m); err == nil {
			t.Fatal("serve returned nil error at the end of its input")
		}

		// Count what deserved a reply, up to the first malformed message.
		r := bytes.NewReader(in)
		want := 0
		for {
			msg, err := readMessage(r)
			if err != nil {
				break
			}
			if len(msg) == 1 && msg[0] > ctrlReset && msg[0] != ctrlATR {
				break // unknown control byte ends the connection
			}
			if len(msg) > 1 || msg[0] == ctrlATR {
				want++
			}
		}
		got := 0
		out := bytes.NewReader(m.out.Bytes())
		for out.Len() > 0 {
			if _, err := readMessage(out); err != nil {
				t.Fatalf("reply %d is malformed: %v", got, err)
			}
			got++
		}
		if got != want {
			t.Fatalf("%d replies, want %d", got, want)
		}
	})
}

func TestLoopbackDialerChecksResolvedAddress(t *testing.T) {
	control := newDialer(false).ControlContext
	for addr, ok := range map[string]bool{
		"127.0.0.1:35970":        true,
		"[::1]:35970":            true,
		"[::ffff:127.0.0.1]:353": true,
		"192.0.2.1:35970":        false,
		"[2001:db8::1]:35970":    false,
	} {
		err := control(context.Background(), "tcp", addr, nil)
		if (err == nil) != ok {
			t.Errorf("control(%s) = %v, want allowed=%v", addr, err, ok)
		}
	}
	if newDialer(true).ControlContext != nil {
		t.Error("WithRemote dialer still restricts addresses")
	}
}
