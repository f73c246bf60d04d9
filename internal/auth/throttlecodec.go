package auth

import (
	"encoding/binary"
	"errors"
	"time"
)

// The stored form of an entry (Throttles): a format byte, then unsigned
// varints: the lock level, the last failure and the lock's end, the
// failures, the holds (id as 8 bytes, lease end). Times are microseconds
// since the Unix epoch, 0 for the zero time. It is opaque to the store.
const entryFormat = 1

// maxStored bounds the lists decodeEntry accepts: a row never holds more
// failures than MaxFailures or more holds than that in flight.
const maxStored = 1 << 12

var errCorruptEntry = errors.New("auth: malformed throttle entry")

func encodeEntry(e *entry) []byte {
	b := make([]byte, 0, 1+4*binary.MaxVarintLen64+len(e.failures)*8+len(e.holds)*16)
	b = append(b, entryFormat)
	b = binary.AppendUvarint(b, uint64(e.level))
	b = appendTime(b, e.last)
	b = appendTime(b, e.until)
	b = binary.AppendUvarint(b, uint64(len(e.failures)))
	for _, f := range e.failures {
		b = appendTime(b, f)
	}
	b = binary.AppendUvarint(b, uint64(len(e.holds)))
	for _, h := range e.holds {
		b = binary.BigEndian.AppendUint64(b, h.id)
		b = appendTime(b, h.until)
	}
	return b
}

func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendUvarint(b, 0)
	}
	return binary.AppendUvarint(b, uint64(max(t.UnixMicro(), 1)))
}

// decodeEntry reverses encodeEntry; anything else is an error.
func decodeEntry(b []byte) (*entry, error) {
	d := decoder{b: b}
	if len(b) == 0 || b[0] != entryFormat {
		return nil, errCorruptEntry
	}
	d.b = b[1:]
	e := &entry{}
	level := d.uvarint()
	if level > 1<<16 {
		return nil, errCorruptEntry
	}
	e.level = int(level)
	e.last, e.until = d.time(), d.time()
	n := d.uvarint()
	if n > maxStored {
		return nil, errCorruptEntry
	}
	for range n {
		e.failures = append(e.failures, d.time())
	}
	n = d.uvarint()
	if n > maxStored {
		return nil, errCorruptEntry
	}
	for range n {
		var h hold
		if len(d.b) < 8 {
			return nil, errCorruptEntry
		}
		h.id, d.b = binary.BigEndian.Uint64(d.b), d.b[8:]
		h.until = d.time()
		e.holds = append(e.holds, h)
	}
	if d.bad || len(d.b) != 0 {
		return nil, errCorruptEntry
	}
	return e, nil
}

type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

// time reads a time written by appendTime; microseconds beyond year 9999
// are refused.
func (d *decoder) time() time.Time {
	v := d.uvarint()
	switch {
	case v == 0:
		return time.Time{}
	case v > 253402300799999999:
		d.bad = true
		return time.Time{}
	}
	return time.UnixMicro(int64(v)).UTC()
}
