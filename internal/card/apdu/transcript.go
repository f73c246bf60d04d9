package apdu

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
)

// Exchange is one Transmit call: the raw command APDU and either the raw
// response APDU or, when Transmit failed, the error's text.
type Exchange struct {
	Command  []byte
	Response []byte
	Err      string
}

// Transcript is a recorded sequence of exchanges with a card, kept with
// tests (apdutest.Replay plays one back). Its text form, read by
// ParseTranscript and written by String, has one line per APDU:
//
//	# SELECT the PIV application
//	> 00 A4 04 00 05 A0 00 00 03 08
//	< 61 11 4F 06 00 00 10 00 01 00 79 07 4F 05 A0 00 00 03 08 90 00
//	> 00 CB 3F FF 05 5C 03 5F C1 02 00
//	! card removed
//
// ">" is a command, "<" its response and "!" the error Transmit returned
// instead, its runs of white space read as one space; hex digits may be
// spaced freely; blank lines and lines starting with "#" are ignored.
//
// Transcripts of real cards contain whatever was sent, PINs and
// management-key responses included: record only test cards.
type Transcript []Exchange

// String returns t in the text form ParseTranscript reads, hex in upper
// case without spaces.
func (t Transcript) String() string {
	var sb strings.Builder
	for _, x := range t {
		fmt.Fprintf(&sb, "> %X\n", x.Command)
		if x.Err != "" {
			fmt.Fprintf(&sb, "! %s\n", oneLine(x.Err))
		} else {
			fmt.Fprintf(&sb, "< %X\n", x.Response)
		}
	}
	return sb.String()
}

// ParseTranscript reads the text form of a transcript. Errors wrap
// ErrMalformed and name the line.
func ParseTranscript(s string) (Transcript, error) {
	var t Transcript
	open := false // the last exchange still needs its response
	for i, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		kind, rest := line[0], strings.TrimSpace(line[1:])
		switch {
		case kind == '>' && !open:
			b, err := parseHex(rest)
			if err != nil {
				return nil, fmt.Errorf("%w transcript, line %d: %v", ErrMalformed, i+1, err)
			}
			if len(b) < 4 {
				return nil, fmt.Errorf("%w transcript, line %d: command of %d bytes", ErrMalformed, i+1, len(b))
			}
			t = append(t, Exchange{Command: b})
			open = true
		case kind == '<' && open:
			b, err := parseHex(rest)
			if err != nil {
				return nil, fmt.Errorf("%w transcript, line %d: %v", ErrMalformed, i+1, err)
			}
			t[len(t)-1].Response = b
			open = false
		case kind == '!' && open:
			if rest == "" {
				return nil, fmt.Errorf("%w transcript, line %d: error without text", ErrMalformed, i+1)
			}
			t[len(t)-1].Err = oneLine(rest)
			open = false
		case kind == '>':
			return nil, fmt.Errorf("%w transcript, line %d: command follows a command without response", ErrMalformed, i+1)
		case kind == '<' || kind == '!':
			return nil, fmt.Errorf("%w transcript, line %d: %q without a command before it", ErrMalformed, i+1, kind)
		default:
			return nil, fmt.Errorf("%w transcript, line %d: starts with %q, not >, <, ! or #", ErrMalformed, i+1, kind)
		}
	}
	if open {
		return nil, fmt.Errorf("%w transcript: the last command has no response", ErrMalformed)
	}
	return t, nil
}

func parseHex(s string) ([]byte, error) {
	return hex.DecodeString(strings.Join(strings.Fields(s), ""))
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Recorder is a Transport that passes each exchange to another Transport
// and records it, for turning a session with a real card or the emulator
// into a Transcript. It is safe for concurrent use.
type Recorder struct {
	t  Transport
	mu sync.Mutex
	tr Transcript
}

// NewRecorder returns a Recorder that forwards to t.
func NewRecorder(t Transport) *Recorder {
	if t == nil {
		panic("apdu: NewRecorder with a nil Transport")
	}
	return &Recorder{t: t}
}

// Transmit forwards cmd and records the exchange.
func (r *Recorder) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	x := Exchange{Command: bytes.Clone(cmd)}
	resp, err := r.t.Transmit(ctx, cmd)
	if err != nil {
		x.Err = oneLine(err.Error())
		if x.Err == "" {
			x.Err = "error"
		}
	} else {
		x.Response = bytes.Clone(resp)
	}
	r.mu.Lock()
	r.tr = append(r.tr, x)
	r.mu.Unlock()
	return resp, err
}

// Transcript returns a copy of what was recorded so far.
func (r *Recorder) Transcript() Transcript {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := make(Transcript, len(r.tr))
	for i, x := range r.tr {
		t[i] = Exchange{Command: bytes.Clone(x.Command), Response: bytes.Clone(x.Response), Err: x.Err}
	}
	return t
}
