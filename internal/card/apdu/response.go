package apdu

import (
	"bytes"
	"fmt"
)

// Response is a response APDU (ISO/IEC 7816-4:2005 5.1): the response data
// field followed by the status word.
type Response struct {
	Data []byte
	SW   SW
}

// ParseResponse decodes a response APDU: at least the two status bytes.
// The returned Data is a copy, nil when the response had none.
func ParseResponse(b []byte) (Response, error) {
	if len(b) < 2 {
		return Response{}, fmt.Errorf("%w response: %d bytes, shorter than the status word", ErrMalformed, len(b))
	}
	n := len(b) - 2
	r := Response{SW: SW(b[n])<<8 | SW(b[n+1])}
	if n > 0 {
		r.Data = bytes.Clone(b[:n])
	}
	return r, nil
}

// Bytes encodes r: Data, then SW1 SW2.
func (r Response) Bytes() []byte {
	b := make([]byte, 0, len(r.Data)+2)
	b = append(b, r.Data...)
	return append(b, r.SW.SW1(), r.SW.SW2())
}

// Err returns r.SW.Err(): nil for 9000, a *StatusError otherwise.
func (r Response) Err() error { return r.SW.Err() }
