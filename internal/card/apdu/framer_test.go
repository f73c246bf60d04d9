package apdu_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/apdu/apdutest"
)

// echoCard answers INS 01 with its command data and INS 02 with P1<<8|P2
// bytes; it counts the complete commands it sees.
type echoCard struct {
	seen []apdu.Command
}

func (e *echoCard) handle(c apdu.Command) apdu.Response {
	e.seen = append(e.seen, c)
	switch c.INS {
	case 0x01:
		return apdu.Response{Data: c.Data, SW: apdu.SWOK}
	case 0x02:
		return apdu.Response{Data: seq(int(c.P1)<<8 | int(c.P2)), SW: apdu.SWOK}
	}
	return apdu.Response{SW: apdu.SWInstructionNotSupported}
}

// TestCardFramerWireSequences plays raw exchanges as OpenSC, piv-go and
// broken clients send them.
func TestCardFramerWireSequences(t *testing.T) {
	tests := []struct {
		name      string
		exchanges []string // "command > response"
		wantSeen  int      // complete commands the handler saw
	}{
		{"short response, Le 00", []string{"00020005 00 > 0001020304 9000"}, 1},
		{"case 3 command gets data (piv-go)", []string{"00010000 02 AABB > AABB 9000"}, 1},
		{"Le 8 then GET RESPONSE with Le (OpenSC)", []string{
			"00020014 08 > 0001020304050607 610C",
			"00C00000 0C > 08090A0B0C0D0E0F10111213 9000",
		}, 1},
		{"GET RESPONSE without Le (piv-go)", []string{
			"00020104 > " + fmt.Sprintf("%X", seq(256)) + " 6104",
			"00C00000 > 00010203 9000",
		}, 1},
		{"chained command", []string{
			"10010000 02 AABB > 9000",
			"10010000 01 CC > 9000",
			"00010000 01 DD 00 > AABBCCDD 9000",
		}, 1},
		{"malformed command", []string{"00A404 > 6700", "00A40400 05 A0 > 6700"}, 0},
		{"malformed command ends a chain", []string{
			"10010000 01 AA > 9000",
			"0001 > 6700",
			"00010000 01 BB > BB 9000",
		}, 1},
		{"GET RESPONSE with nothing pending", []string{"00C00000 00 > 6985"}, 0},
		{"another command discards the pending response", []string{
			"00020014 08 > 0001020304050607 610C",
			"00010000 01 EE > EE 9000",
			"00C00000 0C > 6985",
		}, 2},
		{"GET RESPONSE in a chain ends the chain", []string{
			"10010000 01 AA > 9000",
			"00C00000 > 6985",
			"00010000 01 BB > BB 9000",
		}, 1},
		{"handler error passes through", []string{"00FF0000 > 6D00"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f apdu.CardFramer
			var card echoCard
			for i, x := range tt.exchanges {
				cmd, resp, _ := bytes.Cut([]byte(x), []byte(">"))
				got := f.Process(mustHex(t, string(bytes.TrimSpace(cmd))), card.handle)
				if want := mustHex(t, string(bytes.TrimSpace(resp))); !bytes.Equal(got, want) {
					t.Fatalf("exchange %d: %s answered %X, want %X", i, cmd, got, want)
				}
			}
			if len(card.seen) != tt.wantSeen {
				t.Fatalf("handler saw %d commands, want %d", len(card.seen), tt.wantSeen)
			}
		})
	}
}

func TestCardFramerReset(t *testing.T) {
	var f apdu.CardFramer
	var card echoCard
	f.Process(mustHex(t, "10010000 01 AA"), card.handle)
	f.Reset() // power off, on or reset
	if got := f.Process(mustHex(t, "00010000 01 BB"), card.handle); !bytes.Equal(got, mustHex(t, "BB 9000")) {
		t.Fatalf("after Reset the chain went on: %X", got)
	}
	f.Process(mustHex(t, "00020014 08"), card.handle)
	f.Reset()
	if got := f.Process(mustHex(t, "00C00000 0C"), card.handle); !bytes.Equal(got, mustHex(t, "6985")) {
		t.Fatalf("after Reset the response was still pending: %X", got)
	}
}

// wireChecker wraps a Transport and fails the test on any exchange a
// short-APDU reader could not carry.
type wireChecker struct {
	t    *testing.T
	next apdu.Transport
}

func (w wireChecker) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	if len(cmd) > 4+1+255+1 || (len(cmd) > 5 && cmd[4] == 0) {
		w.t.Errorf("command is not a short APDU: %X", cmd)
	}
	resp, err := w.next.Transmit(ctx, cmd)
	if len(resp) > 256+2 {
		w.t.Errorf("response of %d bytes", len(resp))
	}
	return resp, err
}

// TestClientWithCardFramer runs the two halves of the package against each
// other: whatever the sizes, the handler sees the complete command once
// and the client gets the complete response.
func TestClientWithCardFramer(t *testing.T) {
	for _, n := range []int{0, 1, 255, 256, 511, 2000} {
		for _, m := range []int{0, 1, 256, 257, 1000, 0xFFFF} {
			t.Run(fmt.Sprintf("send %d receive %d", n, m), func(t *testing.T) {
				var card echoCard
				c := &apdu.Client{Transport: wireChecker{t, apdutest.NewCard(card.handle)}}
				data := seq(n)
				got, err := c.Do(context.Background(), apdu.Command{INS: 0x01, Data: data, Le: 256})
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("echo: %d bytes, %v", len(got), err)
				}
				got, err = c.Do(context.Background(), apdu.Command{INS: 0x02, P1: byte(m >> 8), P2: byte(m), Data: data})
				if err != nil || !bytes.Equal(got, seq(m)) {
					t.Fatalf("read: %d bytes, %v", len(got), err)
				}
				if len(card.seen) != 2 || !bytes.Equal(card.seen[1].Data, data) {
					t.Fatalf("handler saw %d commands", len(card.seen))
				}
			})
		}
	}
}
