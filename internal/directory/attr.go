package directory

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseObjectGUID turns AD's 16-byte objectGUID into the canonical UUID
// string. The GUID is stored as MS-DTYP 2.3.4.2 lays it out: Data1 (32
// bits), Data2 and Data3 (16 bits each) little-endian, then Data4's 8 bytes
// in order; the string form (MS-DTYP 2.3.4.3, as Windows and Samba show it)
// prints the first three fields as numbers, so their bytes are reversed.
func ParseObjectGUID(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("objectGUID: %d bytes, want 16", len(b))
	}
	d1 := binary.LittleEndian.Uint32(b[0:4])
	d2 := binary.LittleEndian.Uint16(b[4:6])
	d3 := binary.LittleEndian.Uint16(b[6:8])
	return fmt.Sprintf("%08x-%04x-%04x-%s-%s", d1, d2, d3, hex.EncodeToString(b[8:10]), hex.EncodeToString(b[10:16])), nil
}

// GUIDBytes is the inverse of ParseObjectGUID: the 16 bytes AD stores for a
// canonical GUID string (for an objectGUID filter, escaped as \xx).
func GUIDBytes(s string) ([]byte, error) {
	h := strings.ReplaceAll(s, "-", "")
	if len(s) != 36 || len(h) != 32 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return nil, fmt.Errorf("GUID %q: want xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", s)
	}
	raw, err := hex.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("GUID %q: %v", s, err)
	}
	b := make([]byte, 16)
	binary.LittleEndian.PutUint32(b[0:4], binary.BigEndian.Uint32(raw[0:4]))
	binary.LittleEndian.PutUint16(b[4:6], binary.BigEndian.Uint16(raw[4:6]))
	binary.LittleEndian.PutUint16(b[6:8], binary.BigEndian.Uint16(raw[6:8]))
	copy(b[8:], raw[8:])
	return b, nil
}

// uacAccountDisable is ADS_UF_ACCOUNTDISABLE (MS-ADTS 2.2.16).
const uacAccountDisable = 0x2

// ParseAccountControl reads userAccountControl (a signed 32-bit integer
// in decimal, MS-ADTS 2.2.16) and reports the ACCOUNTDISABLE bit. Lockout
// (too many wrong passwords) is lockoutTime, not this bit, and does not
// count as disabled: a mistyped password must not make a leaver.
func ParseAccountControl(v string) (disabled bool, err error) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < -1<<31 || n > 1<<32-1 {
		return false, fmt.Errorf("userAccountControl %q: not a 32-bit integer", v)
	}
	return n&uacAccountDisable != 0, nil
}

// permanentLock is the pwdAccountLockedTime value that locks an account
// until an administrator unlocks it (draft-behera-ldap-password-policy
// 5.3.3, slapo-ppolicy(5)). Any other value is a lockout after failed
// binds that expires by itself, which is not "disabled".
const permanentLock = "000001010000Z"

// ParseGeneralizedTime parses an RFC 4517 3.3.13 GeneralizedTime:
// YYYYMMDDHH[MM[SS]][(.|,)fraction](Z|±HH[MM]).
func ParseGeneralizedTime(s string) (time.Time, error) {
	bad := func() (time.Time, error) { return time.Time{}, fmt.Errorf("generalized time %q", s) }
	digits := func(t string) bool {
		for i := 0; i < len(t); i++ {
			if t[i] < '0' || t[i] > '9' {
				return false
			}
		}
		return true
	}
	if len(s) < 11 || !digits(s[:10]) {
		return bad()
	}
	num := func(t string) int { n, _ := strconv.Atoi(t); return n }
	year, month, day, hour := num(s[0:4]), num(s[4:6]), num(s[6:8]), num(s[8:10])
	rest := s[10:]
	min, sec := 0, 0
	var frac time.Duration
	fracUnit := time.Hour
	if len(rest) >= 2 && digits(rest[:2]) {
		min, rest, fracUnit = num(rest[:2]), rest[2:], time.Minute
		if len(rest) >= 2 && digits(rest[:2]) {
			sec, rest, fracUnit = num(rest[:2]), rest[2:], time.Second
		}
	}
	if len(rest) > 0 && (rest[0] == '.' || rest[0] == ',') {
		i := 1
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 1 || i > 10 {
			return bad()
		}
		f, _ := strconv.ParseFloat("0."+rest[1:i], 64)
		frac = time.Duration(f * float64(fracUnit))
		rest = rest[i:]
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60 {
		return bad()
	}
	loc := time.UTC
	switch {
	case rest == "Z":
	case len(rest) == 3 || len(rest) == 5:
		if (rest[0] != '+' && rest[0] != '-') || !digits(rest[1:]) {
			return bad()
		}
		oh, om := num(rest[1:3]), 0
		if len(rest) == 5 {
			om = num(rest[3:5])
		}
		if oh > 23 || om > 59 {
			return bad()
		}
		off := oh*3600 + om*60
		if rest[0] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
	default:
		return bad()
	}
	t := time.Date(year, time.Month(month), day, hour, min, sec, 0, loc).Add(frac)
	if t.Day() != day && frac == 0 && sec < 60 {
		return bad() // 31 February and the like
	}
	return t.UTC(), nil
}

// formatGeneralizedTime writes t (UTC, whole seconds) for a filter.
func formatGeneralizedTime(t time.Time) string {
	return t.UTC().Format("20060102150405Z")
}
