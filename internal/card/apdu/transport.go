package apdu

import "context"

// Transport carries one raw APDU exchange: a command APDU to the card and
// its response APDU back, with nothing added. It is what PC/SC's
// SCardTransmit and the vpcd bridge provide; command chaining, GET RESPONSE
// and 6CXX belong to Client, not to a Transport.
//
// Transmit must not keep cmd after it returns, and the caller owns the
// returned slice. It should give up when ctx is done. A Transport need not
// be safe for concurrent use: a card runs one exchange at a time, and
// callers that share one serialise their exchanges (a PC/SC transaction).
type Transport interface {
	Transmit(ctx context.Context, cmd []byte) ([]byte, error)
}

// TransportFunc adapts a function to a Transport.
type TransportFunc func(ctx context.Context, cmd []byte) ([]byte, error)

// Transmit calls f(ctx, cmd).
func (f TransportFunc) Transmit(ctx context.Context, cmd []byte) ([]byte, error) {
	return f(ctx, cmd)
}
