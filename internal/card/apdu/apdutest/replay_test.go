package apdutest_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/apdu/apdutest"
)

// recordingTB captures what a Replay reports instead of failing the test.
type recordingTB struct {
	testing.TB
	errs     []string
	cleanups []func()
}

func (r *recordingTB) Helper() {}
func (r *recordingTB) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recordingTB) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

// finish runs the cleanups as the end of a test would.
func (r *recordingTB) finish() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

const script = `
> 00A4040005A000000308
< 61024F00 9000
> 00CB3FFF055C035FC10200
< 6A82
> 00200080083132333435363738
! card removed
`

func TestReplayServesTheTranscript(t *testing.T) {
	tb := &recordingTB{TB: t}
	r := apdutest.NewReplay(tb, apdutest.MustTranscript(t, script))
	c := &apdu.Client{Transport: r}
	ctx := context.Background()

	if got, err := c.Do(ctx, apdu.Command{INS: 0xA4, P1: 0x04, Data: []byte{0xA0, 0, 0, 3, 8}}); err != nil || !bytes.Equal(got, []byte{0x61, 0x02, 0x4F, 0x00}) {
		t.Fatalf("SELECT = %X, %v", got, err)
	}
	if _, err := c.Do(ctx, apdu.Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Data: []byte{0x5C, 0x03, 0x5F, 0xC1, 0x02}, Le: 256}); !apdu.IsNotFound(err) {
		t.Fatalf("GET DATA error = %v, want not found", err)
	}
	_, err := c.Do(ctx, apdu.Command{INS: 0x20, P2: 0x80, Data: []byte("12345678")})
	if err == nil || !strings.Contains(err.Error(), "card removed") {
		t.Fatalf("VERIFY error = %v, want the recorded error", err)
	}
	tb.finish()
	if len(tb.errs) != 0 || r.Remaining() != 0 {
		t.Fatalf("Replay reported %q with %d left", tb.errs, r.Remaining())
	}
}

func TestReplayFailsTheTest(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		send    []string
		wantErr string // reported through tb.Errorf
	}{
		{"unexpected command", []string{"00A4040005A000000309"}, "exchange 1: got command"},
		{"command after the end", []string{
			"00A4040005A000000308", "00CB3FFF055C035FC10200", "00200080083132333435363738", "00A40400",
		}, "after the end of the transcript"},
		{"exchanges left over", []string{"00A4040005A000000308"}, "2 exchanges left, the next is > 00CB3FFF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := &recordingTB{TB: t}
			r := apdutest.NewReplay(tb, apdutest.MustTranscript(t, script))
			for _, cmd := range tt.send {
				raw := mustHex(t, cmd)
				_, _ = r.Transmit(ctx, raw) // the reports are checked below
			}
			tb.finish()
			if len(tb.errs) == 0 || !strings.Contains(tb.errs[0], tt.wantErr) {
				t.Fatalf("reports %q, want the first to contain %q", tb.errs, tt.wantErr)
			}
		})
	}
}

func TestReplayRespectsContext(t *testing.T) {
	tb := &recordingTB{TB: t}
	r := apdutest.NewReplay(tb, apdutest.MustTranscript(t, script))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := r.Transmit(ctx, mustHex(t, "00A4040005A000000308")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Transmit = %v, want context.Canceled", err)
	}
	if r.Remaining() != 3 {
		t.Fatalf("a cancelled Transmit consumed an exchange: %d left", r.Remaining())
	}
}

func TestReplayOfARecording(t *testing.T) {
	card := apdutest.NewCard(func(c apdu.Command) apdu.Response {
		return apdu.Response{Data: bytes.Repeat([]byte{c.INS}, 300), SW: apdu.SWOK}
	})
	rec := apdu.NewRecorder(card)
	cmd := apdu.Command{INS: 0x42, Data: bytes.Repeat([]byte{7}, 400), Le: 256}
	want, err := (&apdu.Client{Transport: rec}).Do(context.Background(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	transcript := rec.Transcript()
	if len(transcript) != 3 { // two chained blocks, one GET RESPONSE
		t.Fatalf("recorded %d exchanges:\n%s", len(transcript), transcript)
	}
	r := apdutest.NewReplay(t, transcript)
	got, err := (&apdu.Client{Transport: r}).Do(context.Background(), cmd)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("replayed Do = %d bytes, %v", len(got), err)
	}
}

func TestMustTranscript(t *testing.T) {
	tb := &fatalTB{recordingTB: recordingTB{TB: t}}
	func() {
		defer func() { _ = recover() }()
		apdutest.MustTranscript(tb, "< 9000")
	}()
	if !tb.fatal {
		t.Fatal("MustTranscript accepted a malformed transcript")
	}
}

type fatalTB struct {
	recordingTB
	fatal bool
}

func (f *fatalTB) Fatalf(string, ...any) {
	f.fatal = true
	panic("fatal")
}

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
