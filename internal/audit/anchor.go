package audit

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"
)

// Anchor is a chain head recorded earlier, outside the chain: the sequence
// number and hash of the newest event at that time. The zero Anchor means
// "no anchor". An Anchor with a Seq but no Hash only checks that the chain
// still reaches Seq.
type Anchor struct {
	Seq  int64
	Hash []byte
}

// IsZero reports whether a is the zero Anchor.
func (a Anchor) IsZero() bool { return a.Seq == 0 && len(a.Hash) == 0 }

// MarshalText encodes a as "seq:hexhash", the form kept in a setting.
func (a Anchor) MarshalText() ([]byte, error) {
	return fmt.Appendf(nil, "%d:%x", a.Seq, a.Hash), nil
}

// UnmarshalText parses the form MarshalText writes.
func (a *Anchor) UnmarshalText(text []byte) error {
	seqText, hashText, ok := bytes.Cut(text, []byte(":"))
	if !ok {
		return fmt.Errorf("audit anchor %q: want seq:hexhash", text)
	}
	seq, err := strconv.ParseInt(string(seqText), 10, 64)
	if err != nil || seq < 0 {
		return fmt.Errorf("audit anchor %q: bad sequence number", text)
	}
	hash, err := hex.DecodeString(string(hashText))
	if err != nil {
		return fmt.Errorf("audit anchor %q: bad hash", text)
	}
	if seq == 0 && len(hash) != 0 {
		return fmt.Errorf("audit anchor %q: a hash without a sequence number", text)
	}
	if len(hash) == 0 {
		hash = nil
	}
	*a = Anchor{Seq: seq, Hash: hash}
	return nil
}
