package agentproto

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxFrame bounds a frame's JSON; anything longer is refused before it is
// read. The largest legitimate messages are the snapshot of an AirCard
// service, whose readers are its AirCards (MaxReaders of about 100 bytes
// each), and a transmit or reply with an extended-length APDU, base64 in
// JSON (4/3 of MaxAPDU). Only authenticated agents send frames this big.
const MaxFrame = 2 << 20

// ErrFrameTooLarge is returned for a frame over MaxFrame.
var ErrFrameTooLarge = errors.New("agentproto: frame exceeds the maximum size")

// WriteFrame encodes m (which must be valid) as one frame on w.
func WriteFrame(w io.Writer, m *Message) error {
	if err := m.Validate(); err != nil {
		return err
	}
	body, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if len(body) > MaxFrame {
		return ErrFrameTooLarge
	}
	buf := make([]byte, 4, 4+len(body))
	binary.BigEndian.PutUint32(buf, uint32(len(body)))
	_, err = w.Write(append(buf, body...))
	return err
}

// ReadFrame reads and strictly decodes one frame from r.
func ReadFrame(r io.Reader) (*Message, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxFrame {
		return nil, fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return Decode(body)
}

// Decode parses one message: JSON with no unknown fields and nothing after
// it, then Validate.
func Decode(body []byte) (*Message, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var m Message
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("agentproto: malformed message: %w", err)
	}
	if dec.More() {
		return nil, errors.New("agentproto: data after the message")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}
