package piv

import (
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
)

// fascnLen is the size of a FASC-N: 40 characters of 5 bits.
const fascnLen = 25

// FASCN is a decoded Federal Agency Smart Credential Number (TIG SCEPACS
// 6.6, referenced by SP 800-73-4 Part 1 3.1.2). Every field is a string of
// decimal digits.
type FASCN struct {
	AgencyCode       string // 4 digits
	SystemCode       string // 4 digits
	CredentialNumber string // 6 digits
	CredentialSeries string // 1 digit
	IssueLevel       string // individual credential issue, 1 digit
	PersonID         string // person identifier, 10 digits
	OrgCategory      string // organizational category, 1 digit
	OrgID            string // organizational identifier, 4 digits
	Association      string // person/organization association category, 1 digit
}

// FASC-N control characters, in 4-bit value form (b1 is the least
// significant bit).
const (
	fascnSS = 0xB // start sentinel 11010
	fascnFS = 0xD // field separator 10110
	fascnES = 0xF // end sentinel 11111
)

// ParseFASCN decodes a 25-byte FASC-N: 40 characters of 4 data bits (least
// significant first) and an odd parity bit, laid out as
//
//	SS AGENCY(4) FS SYSTEM(4) FS CREDENTIAL(6) FS CS(1) FS ICI(1) FS
//	PI(10) OC(1) OI(4) POA(1) ES LRC
//
// It checks every parity bit, the sentinels and separators, and the
// longitudinal redundancy check (the XOR of the 39 characters before it).
func ParseFASCN(b []byte) (FASCN, error) {
	if len(b) != fascnLen {
		return FASCN{}, fmt.Errorf("%w FASC-N: %d bytes, want %d", apdu.ErrMalformed, len(b), fascnLen)
	}
	var chars [40]byte
	for i := range chars {
		var v, ones byte
		for j := range 5 {
			bit := i*5 + j
			x := b[bit/8] >> (7 - bit%8) & 1
			ones += x
			if j < 4 {
				v |= x << j
			}
		}
		if ones%2 != 1 {
			return FASCN{}, fmt.Errorf("%w FASC-N: character %d fails its parity check", apdu.ErrMalformed, i+1)
		}
		chars[i] = v
	}
	var lrc byte
	for _, v := range chars[:39] {
		lrc ^= v
	}
	if lrc != chars[39] {
		return FASCN{}, fmt.Errorf("%w FASC-N: LRC %X, want %X", apdu.ErrMalformed, chars[39], lrc)
	}

	var f FASCN
	pos := 0
	control := func(want byte, name string) error {
		if chars[pos] != want {
			return fmt.Errorf("%w FASC-N: character %d is %X, want the %s", apdu.ErrMalformed, pos+1, chars[pos], name)
		}
		pos++
		return nil
	}
	digits := func(dst *string, n int) error {
		s := make([]byte, n)
		for i := range s {
			if chars[pos] > 9 {
				return fmt.Errorf("%w FASC-N: character %d is %X, want a digit", apdu.ErrMalformed, pos+1, chars[pos])
			}
			s[i] = '0' + chars[pos]
			pos++
		}
		*dst = string(s)
		return nil
	}
	steps := []func() error{
		func() error { return control(fascnSS, "start sentinel") },
		func() error { return digits(&f.AgencyCode, 4) },
		func() error { return control(fascnFS, "field separator") },
		func() error { return digits(&f.SystemCode, 4) },
		func() error { return control(fascnFS, "field separator") },
		func() error { return digits(&f.CredentialNumber, 6) },
		func() error { return control(fascnFS, "field separator") },
		func() error { return digits(&f.CredentialSeries, 1) },
		func() error { return control(fascnFS, "field separator") },
		func() error { return digits(&f.IssueLevel, 1) },
		func() error { return control(fascnFS, "field separator") },
		func() error { return digits(&f.PersonID, 10) },
		func() error { return digits(&f.OrgCategory, 1) },
		func() error { return digits(&f.OrgID, 4) },
		func() error { return digits(&f.Association, 1) },
		func() error { return control(fascnES, "end sentinel") },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return FASCN{}, err
		}
	}
	return f, nil
}
