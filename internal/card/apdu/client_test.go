package apdu_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
)

// strictCard is a fake card written independently of the package's card
// side. It enforces what a reader without extended APDUs and a PIV card
// demand of the client: short command APDUs only, chained blocks of
// exactly 255 bytes without Le, GET RESPONSE (00 C0 00 00 XX) only while a
// response is pending, and it never sends more than 256 data bytes or
// more than Le.
//
// INS DB (PUT DATA) stores the complete data; INS CB (GET DATA) returns
// object; INS C0 is GET RESPONSE.
type strictCard struct {
	t       *testing.T
	object  []byte
	exactLe bool // answer 6CXX unless Le asks for exactly what is available

	chain   []byte
	stored  []byte
	pending []byte
	log     [][]byte
}

func (c *strictCard) Transmit(_ context.Context, raw []byte) ([]byte, error) {
	c.t.Helper()
	c.log = append(c.log, bytes.Clone(raw))
	if len(raw) < 4 || len(raw) > 4+1+255+1 {
		c.t.Fatalf("command of %d bytes is not a short APDU: %X", len(raw), raw)
	}
	cla, ins, body := raw[0], raw[1], raw[4:]
	var data []byte
	le := 0
	switch {
	case len(body) == 0:
	case len(body) == 1:
		le = int(body[0])
		if le == 0 {
			le = 256
		}
	case body[0] == 0:
		c.t.Fatalf("extended length field in %X", raw)
	default:
		nc := int(body[0])
		switch len(body) - 1 - nc {
		case 0:
		case 1:
			le = int(body[len(body)-1])
			if le == 0 {
				le = 256
			}
		default:
			c.t.Fatalf("Lc %d does not match %X", nc, raw)
		}
		data = body[1 : 1+nc]
	}
	if ins != 0xC0 {
		c.pending = nil
	}
	if cla&0x10 != 0 {
		if len(data) != 255 || le != 0 {
			c.t.Errorf("chained block with %d data bytes and Le %d: %X", len(data), le, raw)
		}
		c.chain = append(c.chain, data...)
		return []byte{0x90, 0x00}, nil
	}
	data = append(c.chain, data...)
	c.chain = nil
	switch ins {
	case 0xDB:
		c.stored = data
		return []byte{0x90, 0x00}, nil
	case 0xCB:
		return c.serve(c.object, le), nil
	case 0xC0:
		if len(c.pending) == 0 {
			c.t.Errorf("GET RESPONSE with nothing pending: %X", raw)
			return []byte{0x69, 0x85}, nil
		}
		if !bytes.Equal(raw[:4], []byte{0x00, 0xC0, 0x00, 0x00}) || len(data) != 0 {
			c.t.Errorf("malformed GET RESPONSE %X", raw)
		}
		return c.serve(c.pending, le), nil
	}
	return []byte{0x6D, 0x00}, nil
}

// serve answers with at most min(le, 256) bytes of b and keeps the rest
// pending.
func (c *strictCard) serve(b []byte, le int) []byte {
	if le == 0 {
		le = 256
	}
	n := min(le, len(b), 256)
	if c.exactLe && le != min(len(b), 256) {
		c.pending = b
		return []byte{0x6C, byte(min(len(b), 256))}
	}
	c.pending = b[n:]
	out := append(bytes.Clone(b[:n]), 0x90, 0x00)
	if len(c.pending) > 0 {
		out[n], out[n+1] = 0x61, byte(min(len(c.pending), 256))
	}
	return out
}

func TestClientCommandChaining(t *testing.T) {
	for _, n := range []int{0, 1, 254, 255, 256, 509, 510, 511, 1000, 4000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			card := &strictCard{t: t}
			c := &apdu.Client{Transport: card}
			r, err := c.Send(context.Background(), apdu.Command{INS: 0xDB, P1: 0x3F, P2: 0xFF, Data: seq(n)})
			if err != nil || r.SW != apdu.SWOK {
				t.Fatalf("Send = %v, %v", r.SW, err)
			}
			if !bytes.Equal(card.stored, seq(n)) {
				t.Fatalf("card stored %d bytes, want %d", len(card.stored), n)
			}
			blocks := max(1, (n+254)/255)
			if len(card.log) != blocks {
				t.Fatalf("%d exchanges, want %d", len(card.log), blocks)
			}
			for i, raw := range card.log {
				wantCLA := byte(0x10)
				if i == blocks-1 {
					wantCLA = 0x00
				}
				if raw[0] != wantCLA || raw[1] != 0xDB || raw[2] != 0x3F || raw[3] != 0xFF {
					t.Errorf("block %d header %X, want CLA %02X DB 3F FF", i, raw[:4], wantCLA)
				}
			}
		})
	}
}

func TestClientResponseChaining(t *testing.T) {
	for _, size := range []int{0, 1, 255, 256, 257, 511, 512, 513, 3000} {
		for _, le := range []int{0, 8, 256} {
			t.Run(fmt.Sprintf("%d bytes Le %d", size, le), func(t *testing.T) {
				card := &strictCard{t: t, object: seq(size)}
				c := &apdu.Client{Transport: card}
				got, err := c.Do(context.Background(), apdu.Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Le: le})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, seq(size)) {
					t.Fatalf("got %d bytes, want %d", len(got), size)
				}
				first := min(size, 256)
				if le == 8 {
					first = min(size, 8)
				}
				want := 1 + (size-first+255)/256
				if len(card.log) != want {
					t.Fatalf("%d exchanges, want %d", len(card.log), want)
				}
				for i, raw := range card.log[1:] {
					// Each GET RESPONSE asks for what the previous 61XX announced.
					wantLe := byte(min(size-first-256*i, 256))
					if want := []byte{0x00, 0xC0, 0x00, 0x00, wantLe}; !bytes.Equal(raw, want) {
						t.Errorf("GET RESPONSE %d = %X, want %X", i+1, raw, want)
					}
				}
			})
		}
	}
}

func TestClientChainingBothWays(t *testing.T) {
	card := &strictCard{t: t, object: seq(700)}
	c := &apdu.Client{Transport: card}
	got, err := c.Do(context.Background(), apdu.Command{INS: 0xCB, Data: seq(600), Le: 256})
	if err != nil || !bytes.Equal(got, seq(700)) {
		t.Fatalf("Do = %d bytes, %v", len(got), err)
	}
	if len(card.log) != 3+2 {
		t.Fatalf("%d exchanges, want 3 blocks and 2 GET RESPONSE", len(card.log))
	}
}

func TestClientResendsWithExactLe(t *testing.T) {
	tests := []struct {
		size, le      int
		wantExchanges int
	}{
		{20, 256, 2},  // 6C14, then the data
		{256, 256, 1}, // Le 00 already asks for 256
		{300, 8, 3},   // 6C00, then 256 bytes and 612C, then GET RESPONSE for 2C
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.size), func(t *testing.T) {
			card := &strictCard{t: t, object: seq(tt.size), exactLe: true}
			c := &apdu.Client{Transport: card}
			cmd := apdu.Command{INS: 0xCB, P1: 0x3F, P2: 0xFF, Data: []byte{0x5C, 0x01, 0x7E}, Le: tt.le}
			got, err := c.Do(context.Background(), cmd)
			if err != nil || !bytes.Equal(got, seq(tt.size)) {
				t.Fatalf("Do = %d bytes, %v", len(got), err)
			}
			if len(card.log) != tt.wantExchanges {
				t.Fatalf("%d exchanges, want %d: %X", len(card.log), tt.wantExchanges, card.log)
			}
			if tt.wantExchanges > 1 {
				// The resent command is the original with the exact Le.
				resent := cmd
				resent.Le = min(tt.size, 256)
				want, _ := resent.Bytes()
				if !bytes.Equal(card.log[1], want) {
					t.Fatalf("resent %X, want %X", card.log[1], want)
				}
			}
		})
	}
}

func TestClientResendsGetResponseWithExactLe(t *testing.T) {
	answers := []string{"AA 6110", "6C05", "BBBBBBBBBB 9000"}
	var sent [][]byte
	tr := apdu.TransportFunc(func(_ context.Context, cmd []byte) ([]byte, error) {
		sent = append(sent, bytes.Clone(cmd))
		return mustHex(t, answers[len(sent)-1]), nil
	})
	got, err := (&apdu.Client{Transport: tr}).Do(context.Background(), apdu.Command{INS: 0xCB, Le: 256})
	if err != nil || !bytes.Equal(got, mustHex(t, "AA BBBBBBBBBB")) {
		t.Fatalf("Do = %X, %v", got, err)
	}
	want := []string{"00CB0000 00", "00C00000 10", "00C00000 05"}
	for i, w := range want {
		if !bytes.Equal(sent[i], mustHex(t, w)) {
			t.Errorf("command %d = %X, want %s", i, sent[i], w)
		}
	}
}

func TestClientProtocolViolations(t *testing.T) {
	tests := []struct {
		name          string
		cmd           apdu.Command
		answers       []string // answers in turn; the last repeats
		wantErr       error
		wantExchanges int
	}{
		{"6CXX twice", apdu.Command{INS: 0xCB, Le: 256}, []string{"6C10"}, apdu.ErrProtocol, 2},
		{"6CXX twice after GET RESPONSE", apdu.Command{INS: 0xCB, Le: 256}, []string{"AA 6110", "6C10"}, apdu.ErrProtocol, 3},
		{"data in answer to a chained block", apdu.Command{INS: 0xDB, Data: seq(300)}, []string{"AA 9000"}, apdu.ErrProtocol, 1},
		{"empty response", apdu.Command{INS: 0xCB}, []string{""}, apdu.ErrMalformed, 1},
		{"one-byte response", apdu.Command{INS: 0xCB}, []string{"90"}, apdu.ErrMalformed, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			tr := apdu.TransportFunc(func(context.Context, []byte) ([]byte, error) {
				a := tt.answers[min(n, len(tt.answers)-1)]
				n++
				return mustHex(t, a), nil
			})
			r, err := (&apdu.Client{Transport: tr}).Send(context.Background(), tt.cmd)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Send = %+v, %v; want %v", r, err, tt.wantErr)
			}
			if n != tt.wantExchanges {
				t.Fatalf("%d exchanges, want %d", n, tt.wantExchanges)
			}
		})
	}
}

func TestClientStopsChainOnError(t *testing.T) {
	card := &strictCard{t: t}
	var sent int
	tr := apdu.TransportFunc(func(ctx context.Context, cmd []byte) ([]byte, error) {
		sent++
		if cmd[0]&0x10 != 0 {
			return []byte{0x69, 0x82}, nil
		}
		return card.Transmit(ctx, cmd)
	})
	r, err := (&apdu.Client{Transport: tr}).Send(context.Background(), apdu.Command{INS: 0xDB, Data: seq(1000)})
	if err != nil || r.SW != apdu.SWSecurityStatusNotSatisfied {
		t.Fatalf("Send = %v, %v; want 6982 and no error", r.SW, err)
	}
	if sent != 1 {
		t.Fatalf("%d blocks sent after the card refused the first", sent)
	}
}

// hostile answers every command with data and sw, forever.
func hostile(data int, sw apdu.SW, count *int) apdu.Transport {
	return apdu.TransportFunc(func(context.Context, []byte) ([]byte, error) {
		*count++
		return apdu.Response{Data: seq(data), SW: sw}.Bytes(), nil
	})
}

func TestClientLimits(t *testing.T) {
	tests := []struct {
		name          string
		client        apdu.Client
		data          int
		sw            apdu.SW
		wantExchanges int
	}{
		{"endless 256-byte pieces", apdu.Client{}, 256, apdu.MoreData(256), 257},
		{"endless 1-byte pieces", apdu.Client{}, 1, apdu.MoreData(1), apdu.DefaultMaxExchanges},
		{"endless empty 6100", apdu.Client{}, 0, apdu.MoreData(256), apdu.DefaultMaxExchanges},
		{"MaxResponse 1000", apdu.Client{MaxResponse: 1000}, 256, apdu.MoreData(256), 4},
		{"MaxExchanges 3", apdu.Client{MaxExchanges: 3}, 10, apdu.MoreData(10), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			c := tt.client
			c.Transport = hostile(tt.data, tt.sw, &n)
			r, err := c.Send(context.Background(), apdu.Command{INS: 0xCB, Le: 256})
			if !errors.Is(err, apdu.ErrLimit) {
				t.Fatalf("Send = %d bytes %v, %v; want ErrLimit", len(r.Data), r.SW, err)
			}
			if n != tt.wantExchanges {
				t.Fatalf("%d exchanges, want %d", n, tt.wantExchanges)
			}
		})
	}
}

func TestClientLimitBoundaries(t *testing.T) {
	tests := []struct {
		name    string
		client  apdu.Client
		size    int
		wantErr error
	}{
		{"MaxResponse exactly", apdu.Client{MaxResponse: 1000}, 1000, nil},
		{"MaxResponse + 1", apdu.Client{MaxResponse: 1000}, 1001, apdu.ErrLimit},
		{"MaxExchanges exactly", apdu.Client{MaxExchanges: 3}, 768, nil},
		{"MaxExchanges + 1", apdu.Client{MaxExchanges: 3}, 769, apdu.ErrLimit},
		{"default MaxResponse exactly", apdu.Client{}, apdu.DefaultMaxResponse, nil},
		{"default MaxResponse + 1", apdu.Client{}, apdu.DefaultMaxResponse + 1, apdu.ErrLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.client
			c.Transport = &strictCard{t: t, object: seq(tt.size)}
			got, err := c.Do(context.Background(), apdu.Command{INS: 0xCB, Le: 256})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Do = %d bytes, %v; want %v", len(got), err, tt.wantErr)
			}
			if err == nil && len(got) != tt.size {
				t.Fatalf("got %d bytes, want %d", len(got), tt.size)
			}
		})
	}
}

func TestClientTransportError(t *testing.T) {
	removed := errors.New("card removed")
	tr := apdu.TransportFunc(func(context.Context, []byte) ([]byte, error) { return nil, removed })
	_, err := (&apdu.Client{Transport: tr}).Send(context.Background(), apdu.Command{INS: 0xA4})
	if !errors.Is(err, removed) {
		t.Fatalf("Send error = %v, want it to wrap %v", err, removed)
	}
}

func TestClientContext(t *testing.T) {
	t.Run("done before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		n := 0
		_, err := (&apdu.Client{Transport: hostile(0, apdu.SWOK, &n)}).Send(ctx, apdu.Command{INS: 0xA4})
		if !errors.Is(err, context.Canceled) || n != 0 {
			t.Fatalf("Send = %v after %d exchanges; want context.Canceled and none", err, n)
		}
	})
	t.Run("done between exchanges", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		n := 0
		tr := apdu.TransportFunc(func(context.Context, []byte) ([]byte, error) {
			n++
			cancel()
			return apdu.Response{Data: seq(256), SW: apdu.MoreData(256)}.Bytes(), nil
		})
		_, err := (&apdu.Client{Transport: tr}).Send(ctx, apdu.Command{INS: 0xCB, Le: 256})
		if !errors.Is(err, context.Canceled) || n != 1 {
			t.Fatalf("Send = %v after %d exchanges; want context.Canceled after 1", err, n)
		}
	})
}

func TestClientRejectsUnsendableCommands(t *testing.T) {
	n := 0
	c := &apdu.Client{Transport: hostile(0, apdu.SWOK, &n)}
	for _, le := range []int{-1, 257, 65536} {
		if _, err := c.Send(context.Background(), apdu.Command{INS: 0xCB, Le: le}); err == nil {
			t.Errorf("Le %d: Send succeeded", le)
		}
	}
	if n != 0 {
		t.Errorf("%d commands reached the card", n)
	}
	if _, err := (&apdu.Client{}).Send(context.Background(), apdu.Command{}); err == nil {
		t.Error("Send without a Transport succeeded")
	}
}

func TestClientDo(t *testing.T) {
	tests := []struct {
		name     string
		answers  []string
		wantData string
		check    func(error) bool
	}{
		{"success", []string{"0102 9000"}, "0102", func(err error) bool { return err == nil }},
		{"success without data", []string{"9000"}, "", func(err error) bool { return err == nil }},
		{"not found", []string{"6A82"}, "", apdu.IsNotFound},
		{"wrong PIN", []string{"63C2"}, "", func(err error) bool {
			n, ok := apdu.Retries(err)
			return ok && n == 2 && errors.Is(err, apdu.ErrVerifyFailed)
		}},
		{"error after GET RESPONSE", []string{"AA 6101", "6982"}, "", func(err error) bool { return errors.Is(err, apdu.ErrSecurityStatus) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			tr := apdu.TransportFunc(func(context.Context, []byte) ([]byte, error) {
				a := tt.answers[n]
				n++
				return mustHex(t, a), nil
			})
			got, err := (&apdu.Client{Transport: tr}).Do(context.Background(), apdu.Command{INS: 0xCB, Le: 256})
			if !tt.check(err) {
				t.Fatalf("Do error = %v", err)
			}
			if !bytes.Equal(got, mustHex(t, tt.wantData)) {
				t.Fatalf("Do data = %X, want %s", got, tt.wantData)
			}
			if n != len(tt.answers) {
				t.Fatalf("%d exchanges, want %d", n, len(tt.answers))
			}
		})
	}
}

func TestClientSendKeepsDataWithFinalStatus(t *testing.T) {
	n := 0
	answers := []string{"AABB 6102", "CCDD 6282"}
	tr := apdu.TransportFunc(func(context.Context, []byte) ([]byte, error) {
		a := answers[n]
		n++
		return mustHex(t, a), nil
	})
	r, err := (&apdu.Client{Transport: tr}).Send(context.Background(), apdu.Command{INS: 0xB0, Le: 256})
	if err != nil || r.SW != 0x6282 || !bytes.Equal(r.Data, mustHex(t, "AABBCCDD")) {
		t.Fatalf("Send = %X %v, %v; want AABBCCDD 6282", r.Data, r.SW, err)
	}
}
