package vpcd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Control bytes: one-byte messages from vpcd (vsmartcard vpcd.h, VPCD_CTRL_*).
const (
	ctrlOff   = 0x00
	ctrlOn    = 0x01
	ctrlReset = 0x02
	ctrlATR   = 0x04
)

// maxMessage is the longest payload a 2-byte length can describe. vpcd
// itself refuses longer APDUs, so no legitimate message is cut.
const maxMessage = 0xFFFF

// errEmptyMessage is a zero-length message. vpcd never sends one (it sends
// nothing for an empty APDU) and treats one from the card as an error, so
// it means the stream is out of step; the only safe recovery is a new
// connection.
var errEmptyMessage = errors.New("vpcd: zero-length message")

// readMessage reads one length-prefixed message. It allocates a fresh
// slice for each message because the payload is handed to the card, which
// may keep it.
func readMessage(r io.Reader) ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint16(hdr[:])
	if n == 0 {
		return nil, errEmptyMessage
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("vpcd: message announced as %d bytes is cut short: %w", n, err)
	}
	return msg, nil
}

// writeMessage writes one length-prefixed message in a single Write, so a
// reply never leaves as two TCP segments waiting on each other.
func writeMessage(w io.Writer, msg []byte) error {
	if len(msg) == 0 || len(msg) > maxMessage {
		return fmt.Errorf("vpcd: cannot frame a %d-byte message", len(msg))
	}
	buf := make([]byte, 2+len(msg))
	binary.BigEndian.PutUint16(buf, uint16(len(msg)))
	copy(buf[2:], msg)
	_, err := w.Write(buf)
	return err
}
