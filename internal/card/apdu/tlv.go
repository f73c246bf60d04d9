package apdu

import (
	"errors"
	"fmt"
)

// TLV is one BER-TLV data object (ISO/IEC 7816-4:2005 5.2, the subset of
// ITU-T X.690 8.1 that SP 800-73-4 uses).
//
// Tag holds the tag field's bytes as a big-endian number, so the
// three-byte tag 5F C1 05 is 0x5FC105 and 7F 49 is 0x7F49. Tag fields are
// one to three bytes long. Value is the contents; ParseTLVs leaves it
// pointing into its input.
type TLV struct {
	Tag   uint32
	Value []byte
}

// MaxTLVLength is the longest value this package encodes or accepts: two
// length bytes after 82. SP 800-73-4 objects are far shorter.
const MaxTLVLength = 0xFFFF

// ParseTLVs decodes a sequence of BER-TLV data objects that fills b
// exactly: truncated objects and trailing bytes are errors (wrapping
// ErrMalformed). It decodes one level; see TLV.Children. Length fields may
// be 1 to 3 bytes (00-7F, 81 XX, 82 XXXX); the indefinite form 80 and
// longer forms are rejected, and so is a tag starting with 00, which ISO
// 7816-4 treats as padding and X.690 as end-of-contents.
func ParseTLVs(b []byte) ([]TLV, error) {
	var tlvs []TLV
	for off := 0; off < len(b); {
		t, n, err := parseTLV(b[off:])
		if err != nil {
			return nil, fmt.Errorf("%w BER-TLV at offset %d: %s", ErrMalformed, off, err)
		}
		tlvs = append(tlvs, t)
		off += n
	}
	return tlvs, nil
}

// Unwrap decodes b as exactly one data object with the given tag and
// returns its value, the common shape of PIV responses (53 for GET DATA,
// 7C for GENERAL AUTHENTICATE, 7F49 for GENERATE ASYMMETRIC KEY PAIR).
func Unwrap(b []byte, tag uint32) ([]byte, error) {
	tlvs, err := ParseTLVs(b)
	if err != nil {
		return nil, err
	}
	if len(tlvs) != 1 || tlvs[0].Tag != tag {
		return nil, fmt.Errorf("%w BER-TLV: want one object with tag %X, got %s", ErrMalformed, tag, tagList(tlvs))
	}
	return tlvs[0].Value, nil
}

// Find returns the first object in tlvs with the given tag.
func Find(tlvs []TLV, tag uint32) (TLV, bool) {
	for _, t := range tlvs {
		if t.Tag == tag {
			return t, true
		}
	}
	return TLV{}, false
}

// Constructed reports whether t's tag has the constructed bit (b6 of the
// first tag byte, X.690 8.1.2.5). SP 800-73-4 also nests objects in values
// whose tag says primitive (53, the data object container), so
// TLV.Children does not require it.
func (t TLV) Constructed() bool {
	return firstTagByte(t.Tag)&0x20 != 0
}

// Children decodes t.Value as a sequence of data objects.
func (t TLV) Children() ([]TLV, error) {
	return ParseTLVs(t.Value)
}

// Append appends t's encoding to dst; see AppendTLV.
func (t TLV) Append(dst []byte) []byte {
	return AppendTLV(dst, t.Tag, t.Value)
}

// AppendTLV appends the data object tag, length, value to dst, with the
// shortest length field. It panics if tag is not ValidTag or value is
// longer than MaxTLVLength: both are programming errors, as PIV tags are
// constants and PIV objects are small.
func AppendTLV(dst []byte, tag uint32, value []byte) []byte {
	if !ValidTag(tag) {
		panic(fmt.Sprintf("apdu: invalid BER-TLV tag %X", tag))
	}
	n := len(value)
	if n > MaxTLVLength {
		panic(fmt.Sprintf("apdu: BER-TLV value of %d bytes is longer than %d", n, MaxTLVLength))
	}
	dst = appendTag(dst, tag)
	switch {
	case n < 0x80:
		dst = append(dst, byte(n))
	case n <= 0xFF:
		dst = append(dst, 0x81, byte(n))
	default:
		dst = append(dst, 0x82, byte(n>>8), byte(n))
	}
	return append(dst, value...)
}

// AppendTLVs appends the encodings of tlvs to dst. To build a constructed
// object, encode its children first:
//
//	inner := AppendTLVs(nil, TLV{Tag: 0x82}, TLV{Tag: 0x81, Value: challenge})
//	dst = AppendTLV(dst, 0x7C, inner)
func AppendTLVs(dst []byte, tlvs ...TLV) []byte {
	for _, t := range tlvs {
		dst = t.Append(dst)
	}
	return dst
}

// ValidTag reports whether tag is a tag field this package can encode and
// parse back: one byte whose low five bits are not all set, or a first
// byte with the low five bits set followed by one or two bytes of which
// only the last has b8 clear (X.690 8.1.2.4). A first byte of 00 is not
// valid.
func ValidTag(tag uint32) bool {
	if tag == 0 || tag > 0xFFFFFF {
		return false
	}
	b := appendTag(make([]byte, 0, 3), tag)
	got, n, err := parseTag(b)
	return err == nil && n == len(b) && got == tag
}

// parseTLV decodes the object at the start of b and returns its size.
func parseTLV(b []byte) (TLV, int, error) {
	tag, n, err := parseTag(b)
	if err != nil {
		return TLV{}, 0, err
	}
	l, m, err := parseLength(b[n:])
	if err != nil {
		return TLV{}, 0, fmt.Errorf("tag %X: %s", tag, err)
	}
	start := n + m
	if l > len(b)-start {
		return TLV{}, 0, fmt.Errorf("tag %X: length %d, but %d bytes follow", tag, l, len(b)-start)
	}
	t := TLV{Tag: tag}
	if l > 0 {
		t.Value = b[start : start+l : start+l]
	}
	return t, start + l, nil
}

// parseTag decodes the tag field at the start of b (X.690 8.1.2).
func parseTag(b []byte) (tag uint32, n int, err error) {
	if len(b) == 0 {
		return 0, 0, errors.New("missing tag")
	}
	if b[0] == 0x00 {
		return 0, 0, errors.New("tag 00 (padding or end-of-contents)")
	}
	tag, n = uint32(b[0]), 1
	if b[0]&0x1F != 0x1F {
		return tag, n, nil
	}
	for {
		if n == len(b) {
			return 0, 0, fmt.Errorf("tag %X truncated", tag)
		}
		if n == 3 {
			return 0, 0, fmt.Errorf("tag starting %X is longer than 3 bytes", tag)
		}
		c := b[n]
		tag = tag<<8 | uint32(c)
		n++
		if c&0x80 == 0 {
			return tag, n, nil
		}
	}
}

// parseLength decodes the definite length field at the start of b (X.690
// 8.1.3), limited to 82 XX XX. Lengths need not be minimal.
func parseLength(b []byte) (l, n int, err error) {
	if len(b) == 0 {
		return 0, 0, errors.New("missing length")
	}
	switch first := b[0]; {
	case first < 0x80:
		return int(first), 1, nil
	case first == 0x80:
		return 0, 0, errors.New("indefinite length")
	case first > 0x82:
		return 0, 0, fmt.Errorf("length field %02X: more than two length bytes", first)
	}
	n = 1 + int(b[0]&0x7F)
	if len(b) < n {
		return 0, 0, errors.New("length field truncated")
	}
	for _, c := range b[1:n] {
		l = l<<8 | int(c)
	}
	return l, n, nil
}

func appendTag(dst []byte, tag uint32) []byte {
	switch {
	case tag > 0xFFFF:
		return append(dst, byte(tag>>16), byte(tag>>8), byte(tag))
	case tag > 0xFF:
		return append(dst, byte(tag>>8), byte(tag))
	default:
		return append(dst, byte(tag))
	}
}

func firstTagByte(tag uint32) byte {
	switch {
	case tag > 0xFFFF:
		return byte(tag >> 16)
	case tag > 0xFF:
		return byte(tag >> 8)
	default:
		return byte(tag)
	}
}

func tagList(tlvs []TLV) string {
	if len(tlvs) == 0 {
		return "none"
	}
	s := ""
	for i, t := range tlvs {
		if i > 0 {
			s += " "
		}
		s += fmt.Sprintf("%X", t.Tag)
	}
	return s
}
