// Package apdutest provides test doubles for apdu.Transport: Replay, which
// plays back a recorded apdu.Transcript and fails the test on any command
// the transcript does not expect, and Card, which runs a handler function
// behind an apdu.CardFramer like a real card.
package apdutest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
)

// Replay is a Transport that serves a transcript: each Transmit must send
// exactly the next recorded command and gets its recorded response or
// error. A command that differs, or comes after the end, fails the test
// (tb.Errorf, so Replay may be used from any goroutine) and returns an
// error. When the test ends, exchanges left unplayed fail it too.
//
// Replay is safe for concurrent use, though a transcript is one sequence.
type Replay struct {
	tb     testing.TB
	mu     sync.Mutex
	script apdu.Transcript
	next   int
}

// NewReplay returns a Replay of script for the test tb.
func NewReplay(tb testing.TB, script apdu.Transcript) *Replay {
	tb.Helper()
	r := &Replay{tb: tb, script: script}
	tb.Cleanup(func() {
		if n := r.Remaining(); n > 0 {
			tb.Errorf("apdutest: transcript has %d exchanges left, the next is > %X", n, r.script[len(r.script)-n].Command)
		}
	})
	return r
}

// Transmit checks cmd against the next exchange of the transcript and
// returns its response. It returns ctx.Err() without consuming an exchange
// when ctx is done.
func (r *Replay) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.next >= len(r.script) {
		r.tb.Errorf("apdutest: unexpected command > %X after the end of the transcript (%d exchanges)", cmd, len(r.script))
		return nil, errors.New("apdutest: transcript ended")
	}
	x := r.script[r.next]
	if !bytes.Equal(cmd, x.Command) {
		r.tb.Errorf("apdutest: exchange %d: got command\n> %X\nthe transcript expects\n> %X", r.next+1, cmd, x.Command)
		return nil, fmt.Errorf("apdutest: unexpected command at exchange %d", r.next+1)
	}
	r.next++
	if x.Err != "" {
		return nil, errors.New(x.Err)
	}
	return bytes.Clone(x.Response), nil
}

// Remaining returns the number of exchanges not yet played.
func (r *Replay) Remaining() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.script) - r.next
}

// MustTranscript parses the text form of a transcript (see apdu.Transcript)
// and fails the test at once if it is malformed.
func MustTranscript(tb testing.TB, text string) apdu.Transcript {
	tb.Helper()
	t, err := apdu.ParseTranscript(text)
	if err != nil {
		tb.Fatalf("apdutest: %v", err)
	}
	return t
}
