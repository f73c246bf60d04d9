package apdu_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
)

func TestParseTranscript(t *testing.T) {
	in := `
# SELECT the PIV application
> 00 A4 04 00 05 A0 00 00 03 08
< 61 11 4F 06 00 00 10 00 01 00 79 07 4F 05 A0 00 00 03 08 90 00

>00cb3fff055c035fc10200
<6a82
	> 00 20 00 80 08 31 32 33 34 35 36 FF FF
	! card removed   while verifying
`
	got, err := apdu.ParseTranscript(in)
	if err != nil {
		t.Fatal(err)
	}
	want := apdu.Transcript{
		{Command: mustHex(t, "00A4040005A000000308"), Response: mustHex(t, "61114F0600001000010079074F05A0000003089000")},
		{Command: mustHex(t, "00CB3FFF055C035FC10200"), Response: mustHex(t, "6A82")},
		{Command: mustHex(t, "0020008008313233343536FFFF"), Err: "card removed while verifying"},
	}
	if !sameTranscript(got, want) {
		t.Fatalf("ParseTranscript =\n%v\nwant\n%v", got, want)
	}
	// String writes what ParseTranscript reads.
	again, err := apdu.ParseTranscript(got.String())
	if err != nil || !sameTranscript(again, got) {
		t.Fatalf("ParseTranscript(String()) = %v, %v\n%s", again, err, got)
	}
	if line := strings.Split(got.String(), "\n")[0]; line != "> 00A4040005A000000308" {
		t.Fatalf("first line %q", line)
	}
}

func TestParseTranscriptRejects(t *testing.T) {
	tests := []struct {
		name, in, wantMsg string
	}{
		{"response first", "< 9000", "line 1"},
		{"error first", "! oops", "line 1"},
		{"two commands", "> 00A40400\n> 00A40400\n< 9000", "line 2"},
		{"two responses", "> 00A40400\n< 9000\n< 9000", "line 3"},
		{"odd hex", "> 00A4040\n< 9000", "line 1"},
		{"not hex", "> 00A4ZZ00\n< 9000", "line 1"},
		{"short command", "> 00A4\n< 9000", "line 1"},
		{"unknown line", "> 00A40400\n= 9000", "line 2"},
		{"empty error", "> 00A40400\n!", "line 2"},
		{"missing response", "> 00A40400\n# nothing\n", "no response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := apdu.ParseTranscript(tt.in)
			if !errors.Is(err, apdu.ErrMalformed) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("ParseTranscript = %v, %v; want ErrMalformed naming %q", got, err, tt.wantMsg)
			}
		})
	}
}

func TestRecorder(t *testing.T) {
	n := 0
	removed := errors.New("card\nremoved")
	inner := apdu.TransportFunc(func(_ context.Context, cmd []byte) ([]byte, error) {
		n++
		if n == 3 {
			return nil, removed
		}
		return append(bytes.Clone(cmd[1:2]), 0x90, 0x00), nil
	})
	rec := apdu.NewRecorder(inner)
	ctx := context.Background()
	for _, cmd := range []string{"00A40400", "00CB3FFF", "00200080"} {
		resp, err := rec.Transmit(ctx, mustHex(t, cmd))
		if n < 3 && (err != nil || !bytes.Equal(resp, append(mustHex(t, cmd)[1:2], 0x90, 0x00))) {
			t.Fatalf("Transmit(%s) = %X, %v; the inner answer was changed", cmd, resp, err)
		}
		if resp != nil {
			resp[0] ^= 0xFF // the caller owns the response; the record must not change
		}
		if n == 3 && !errors.Is(err, removed) {
			t.Fatalf("Transmit error = %v, want the inner error", err)
		}
	}
	want := apdu.Transcript{
		{Command: mustHex(t, "00A40400"), Response: mustHex(t, "A4 9000")},
		{Command: mustHex(t, "00CB3FFF"), Response: mustHex(t, "CB 9000")},
		{Command: mustHex(t, "00200080"), Err: "card removed"},
	}
	got := rec.Transcript()
	if !sameTranscript(got, want) {
		t.Fatalf("Transcript() =\n%v\nwant\n%v", got, want)
	}
	// The copy is the caller's.
	got[0].Command[0] = 0xFF
	if rec.Transcript()[0].Command[0] != 0x00 {
		t.Fatal("Transcript() shares memory with the recorder")
	}
}

func sameTranscript(a, b apdu.Transcript) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].Command, b[i].Command) || !bytes.Equal(a[i].Response, b[i].Response) || a[i].Err != b[i].Err {
			return false
		}
	}
	return true
}
