package piv_test

import (
	"context"
	"errors"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// ReadPINStatus reads the tries left from an empty VERIFY (63CX, 6983,
// 9000) and the totals from GET METADATA; a card without metadata, or
// whose metadata is malformed or contradicts itself, leaves them unknown
// instead of failing; an answer that is no PIN status at all is an error.
// The PUK is only ever asked through GET METADATA (no VERIFY 81 in any
// transcript: the replay would fail on it).
func TestReadPINStatus(t *testing.T) {
	const (
		verify  = "> 00 20 00 80\n"
		metaPIN = "> 00 F7 00 80 00\n"
		metaPUK = "> 00 F7 00 81 00\n"
		noMeta  = metaPIN + "< 6D00\n" + metaPUK + "< 6D00\n"
	)
	tests := []struct {
		name       string
		transcript string
		want       piv.PINStatus
		blocked    bool
		err        error
	}{
		{name: "2 left, no metadata", transcript: verify + "< 63C2\n" + noMeta, want: piv.PINStatus{PINLeft: 2, PUKLeft: -1}},
		{name: "blocked by 6983", transcript: verify + "< 6983\n" + noMeta, want: piv.PINStatus{PINLeft: 0, PUKLeft: -1}, blocked: true},
		{name: "blocked by 63C0", transcript: verify + "< 63C0\n" + noMeta, want: piv.PINStatus{PINLeft: 0, PUKLeft: -1}, blocked: true},
		{name: "YubiKey metadata", transcript: verify + "< 63C1\n" +
			metaPIN + "< 0101FF 050100 06020501 9000\n" + metaPUK + "< 0101FF 050100 06020302 9000\n",
			want: piv.PINStatus{PINLeft: 1, PINTotal: 5, PUKLeft: 2}},
		{name: "verified: the count from metadata", transcript: verify + "< 9000\n" +
			metaPIN + "< 0101FF 050100 06020303 9000\n" + metaPUK + "< 0101FF 050100 06020303 9000\n",
			want: piv.PINStatus{PINLeft: 3, PINTotal: 3, PUKLeft: 3, Verified: true}},
		{name: "verified, no metadata", transcript: verify + "< 9000\n" + noMeta, want: piv.PINStatus{PINLeft: -1, PUKLeft: -1, Verified: true}},
		{name: "malformed metadata TLV", transcript: verify + "< 63C3\n" +
			metaPIN + "< 0605 03 9000\n" + metaPUK + "< 060103 9000\n",
			want: piv.PINStatus{PINLeft: 3, PUKLeft: -1}},
		{name: "more left than the total", transcript: verify + "< 9000\n" +
			metaPIN + "< 06020309 9000\n" + metaPUK + "< 06020000 9000\n",
			want: piv.PINStatus{PINLeft: -1, PUKLeft: -1, Verified: true}},
		{name: "metadata without retries", transcript: verify + "< 63C2\n" +
			metaPIN + "< 0101FF 9000\n" + metaPUK + "< 9000\n",
			want: piv.PINStatus{PINLeft: 2, PUKLeft: -1}},
		{name: "not a PIV card", transcript: verify + "< 6D00\n", err: apdu.ErrUnsupported},
		{name: "no application", transcript: verify + "< 6A82\n", err: apdu.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := replayCard(t, tt.transcript).ReadPINStatus(context.Background())
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want || got.Blocked() != tt.blocked {
				t.Fatalf("status %+v (blocked %v), want %+v (blocked %v)", got, got.Blocked(), tt.want, tt.blocked)
			}
		})
	}
}

// On the emulator: wrong PINs count down to blocked, GET METADATA gives
// the totals, and reading the status spends nothing.
func TestEmuReadPINStatus(t *testing.T) {
	ctx := context.Background()
	_, c := newEmu(t)
	st, err := c.ReadPINStatus(ctx)
	if err != nil || st != (piv.PINStatus{PINLeft: 3, PINTotal: 3, PUKLeft: 3}) {
		t.Fatalf("fresh card: %+v, %v", st, err)
	}
	for i := range 3 {
		_ = c.VerifyPIN(ctx, "99999999")
		if st, err = c.ReadPINStatus(ctx); err != nil || st.PINLeft != 2-i || st.PINTotal != 3 {
			t.Fatalf("after %d wrong PINs: %+v, %v", i+1, st, err)
		}
	}
	if !st.Blocked() {
		t.Fatalf("blocked card: %+v", st)
	}
	if err := c.UnblockPIN(ctx, pivspec.DefaultPUK, "11223344"); err != nil {
		t.Fatal(err)
	}
	if st, err = c.ReadPINStatus(ctx); err != nil || st != (piv.PINStatus{PINLeft: 3, PINTotal: 3, PUKLeft: 3}) {
		t.Fatalf("unblocked: %+v, %v", st, err)
	}
}
