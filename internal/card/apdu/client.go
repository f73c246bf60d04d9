package apdu

import (
	"context"
	"errors"
	"fmt"
)

// Default limits of a Client. 64 KiB is more than any PIV data object
// (SP 800-73-4 certificates fit in a few KiB); the exchange limit leaves
// room for 64 KiB of command data sent in 255-byte blocks plus 64 KiB of
// response data fetched in 256-byte pieces.
const (
	DefaultMaxResponse  = 64 << 10
	DefaultMaxExchanges = 1024
)

// Client sends Commands over a Transport using short APDUs, as readers
// without extended-length support require (every reader pcscd's vpcd
// driver presents):
//
//   - data longer than 255 bytes goes in a command chain (ISO/IEC
//     7816-4:2005 5.1.1.1): 255-byte blocks with CLA b5 set, then a last
//     block with the caller's CLA; the card answers 9000 to each;
//   - 61XX is answered with GET RESPONSE (7.6.1), 00 C0 00 00 XX, until
//     the card ends with another status word, and the pieces are joined;
//   - 6CXX is answered by resending the same command with Le = XX, once.
//
// A card cannot make a Send run forever or grow without bound: Send fails
// with ErrLimit past MaxResponse bytes of response data or MaxExchanges
// exchanges.
//
// The zero value of the limits selects the defaults. A Client keeps no
// state between calls; like its Transport, it runs one exchange at a time.
type Client struct {
	Transport Transport

	// MaxResponse caps the response data of one Send, in bytes; 0 means
	// DefaultMaxResponse.
	MaxResponse int

	// MaxExchanges caps the Transmit calls of one Send; 0 means
	// DefaultMaxExchanges.
	MaxExchanges int
}

// Send sends cmd and returns the card's complete response: the joined data
// and the final status word, which may be any value. An error means the
// exchange itself failed: the Transport failed, ctx ended, the card broke
// the protocol (ErrProtocol, ErrMalformed) or exceeded a limit (ErrLimit).
// cmd.Le must be 0 to 256; use 256 to accept a full short response.
//
// If the card answers a block of a command chain with anything but 9000,
// Send stops and returns that response.
func (c *Client) Send(ctx context.Context, cmd Command) (Response, error) {
	if c.Transport == nil {
		return Response{}, errors.New("apdu: Client has no Transport")
	}
	if cmd.Le < 0 || cmd.Le > MaxShortLe {
		return Response{}, fmt.Errorf("apdu: Le %d does not fit a short APDU (0 to %d)", cmd.Le, MaxShortLe)
	}
	x := exchange{
		t:           c.Transport,
		exchanges:   orDefault(c.MaxExchanges, DefaultMaxExchanges),
		maxResponse: orDefault(c.MaxResponse, DefaultMaxResponse),
	}

	// 5.1.1.1: every block but the last carries CLA b5 and no Le.
	data := cmd.Data
	for len(data) > MaxShortData {
		block := Command{CLA: cmd.CLA | ClaChaining, INS: cmd.INS, P1: cmd.P1, P2: cmd.P2, Data: data[:MaxShortData]}
		r, err := x.transmit(ctx, block)
		if err != nil {
			return Response{}, err
		}
		if r.SW != SWOK {
			return r, nil
		}
		if len(r.Data) > 0 {
			return Response{}, fmt.Errorf("%w: %d data bytes in the answer to a chained block of INS %02X", ErrProtocol, len(r.Data), cmd.INS)
		}
		data = data[MaxShortData:]
	}
	last := cmd
	last.Data = data
	return x.complete(ctx, last)
}

// Do sends cmd like Send and returns the response data when the card
// answered 9000, or a *StatusError for any other status word.
func (c *Client) Do(ctx context.Context, cmd Command) ([]byte, error) {
	r, err := c.Send(ctx, cmd)
	if err != nil {
		return nil, err
	}
	if err := r.Err(); err != nil {
		return nil, err
	}
	return r.Data, nil
}

// exchange is the state of one Send.
type exchange struct {
	t           Transport
	exchanges   int // Transmit calls left
	maxResponse int
}

// complete sends the last (or only) command and follows 6CXX and 61XX.
func (x *exchange) complete(ctx context.Context, cmd Command) (Response, error) {
	var data []byte
	resent := false // cmd was already resent after 6CXX
	for {
		r, err := x.transmit(ctx, cmd)
		if err != nil {
			return Response{}, err
		}
		if le, ok := r.SW.ExactLe(); ok {
			// 5.1.3: wrong Le; the card did not run the command and
			// wants it again with the exact length.
			if resent {
				return Response{}, fmt.Errorf("%w: 6CXX again after resending INS %02X with Le %d", ErrProtocol, cmd.INS, cmd.Le)
			}
			resent = true
			cmd.Le = le
			continue
		}
		resent = false
		if len(data)+len(r.Data) > x.maxResponse {
			return Response{}, fmt.Errorf("%w: response to INS %02X longer than %d bytes", ErrLimit, cmd.INS, x.maxResponse)
		}
		data = append(data, r.Data...)
		n, more := r.SW.Available()
		if !more {
			return Response{Data: data, SW: r.SW}, nil
		}
		// 7.6.1: fetch the next piece on the basic logical channel, the
		// only one PIV uses.
		cmd = Command{INS: InsGetResponse, Le: n}
	}
}

// transmit runs one exchange within the budget.
func (x *exchange) transmit(ctx context.Context, cmd Command) (Response, error) {
	if err := ctx.Err(); err != nil {
		return Response{}, err
	}
	if x.exchanges <= 0 {
		return Response{}, fmt.Errorf("%w: too many exchanges for one command (INS %02X)", ErrLimit, cmd.INS)
	}
	x.exchanges--
	raw, err := cmd.Bytes()
	if err != nil {
		return Response{}, err
	}
	out, err := x.t.Transmit(ctx, raw)
	if err != nil {
		return Response{}, fmt.Errorf("apdu: transmitting INS %02X: %w", cmd.INS, err)
	}
	r, err := ParseResponse(out)
	if err != nil {
		return Response{}, fmt.Errorf("%w (answer to INS %02X)", err, cmd.INS)
	}
	return r, nil
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}
