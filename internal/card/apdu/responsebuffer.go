package apdu

import "bytes"

// ResponseBuffer serves, on the card side, a response longer than the
// client accepts at once (ISO/IEC 7816-4:2005 5.1.3 and 7.6.1): the first
// piece goes out with 61XX, XX counting the bytes left (00 for 256 or
// more), and each GET RESPONSE fetches the next piece. The final status
// word goes out with the last piece.
//
// A piece is at most Le bytes, and 256 when the command had no Le: clients
// such as piv-go send case 3 commands and GET RESPONSE without Le and
// expect data, as cards give them. OpenSC reads the start of an object
// with Le = 8 and fetches the rest with GET RESPONSE.
//
// The zero value is empty. A ResponseBuffer is plain state: no goroutines,
// not safe for concurrent use. Call Reset when the card is powered off,
// powered on or reset.
type ResponseBuffer struct {
	rest []byte
	sw   SW // status word of the last piece
}

// Serve returns the first piece of r for a command whose Le was le, and
// keeps the rest, if any, for GET RESPONSE. It replaces whatever was
// pending.
func (b *ResponseBuffer) Serve(r Response, le int) Response {
	b.Reset()
	n := pieceSize(le)
	if len(r.Data) <= n {
		return r
	}
	b.rest = bytes.Clone(r.Data[n:])
	b.sw = r.SW
	return Response{Data: r.Data[:n], SW: MoreData(len(b.rest))}
}

// Intercept answers cmd if it is GET RESPONSE (interindustry class, INS
// C0) and reports whether it was. Any other command discards what is
// pending, since the client has moved on; the caller then runs it.
//
// GET RESPONSE is answered with the next piece of at most Le bytes, 6985
// when nothing is pending, 6A86 unless P1-P2 is 0000 and 6700 when it
// carries data.
func (b *ResponseBuffer) Intercept(cmd Command) (Response, bool) {
	if cmd.INS != InsGetResponse || cmd.CLA&0x80 != 0 {
		b.Reset()
		return Response{}, false
	}
	switch {
	case cmd.P1 != 0 || cmd.P2 != 0:
		return Response{SW: SWIncorrectP1P2}, true
	case len(cmd.Data) > 0:
		return Response{SW: SWWrongLength}, true
	case len(b.rest) == 0:
		return Response{SW: SWConditionsNotSatisfied}, true
	}
	n := min(pieceSize(cmd.Le), len(b.rest))
	piece := b.rest[:n:n]
	b.rest = b.rest[n:]
	if len(b.rest) == 0 {
		sw := b.sw
		b.Reset()
		return Response{Data: piece, SW: sw}, true
	}
	return Response{Data: piece, SW: MoreData(len(b.rest))}, true
}

// Pending returns the number of bytes left for GET RESPONSE.
func (b *ResponseBuffer) Pending() int { return len(b.rest) }

// Reset discards what is pending.
func (b *ResponseBuffer) Reset() { *b = ResponseBuffer{} }

// pieceSize is the most response bytes a command with Le = le accepts.
func pieceSize(le int) int {
	if le <= 0 {
		return MaxShortLe
	}
	return le
}
