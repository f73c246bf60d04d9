package directory

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestParseObjectGUID(t *testing.T) {
	// MS-DTYP 2.3.4.3's example layout: the first three fields are
	// little-endian on the wire.
	raw := []byte{0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}
	got, err := ParseObjectGUID(raw)
	if err != nil || got != "00112233-4455-6677-8899-aabbccddeeff" {
		t.Fatalf("ParseObjectGUID = %q, %v", got, err)
	}
	back, err := GUIDBytes(got)
	if err != nil || !bytes.Equal(back, raw) {
		t.Fatalf("GUIDBytes = %x, %v", back, err)
	}
	for _, bad := range [][]byte{nil, make([]byte, 15), make([]byte, 17)} {
		if _, err := ParseObjectGUID(bad); err == nil {
			t.Errorf("ParseObjectGUID(%x) accepted", bad)
		}
	}
	for _, bad := range []string{"", "00112233445566778899aabbccddeeff", "0011223-34455-6677-8899-aabbccddeeff", "zz112233-4455-6677-8899-aabbccddeeff"} {
		if _, err := GUIDBytes(bad); err == nil {
			t.Errorf("GUIDBytes(%q) accepted", bad)
		}
	}
}

func TestParseAccountControl(t *testing.T) {
	for _, tc := range []struct {
		in       string
		disabled bool
		ok       bool
	}{
		{"512", false, true},        // NORMAL_ACCOUNT
		{"514", true, true},         // NORMAL_ACCOUNT|ACCOUNTDISABLE
		{"66050", true, true},       // + DONT_EXPIRE_PASSWORD
		{"528", false, true},        // + LOCKOUT (0x10): locked is not disabled
		{"-2147483646", true, true}, // high bit set, read signed
		{"", false, false},
		{"0x2", false, false},
		{"99999999999", false, false},
	} {
		d, err := ParseAccountControl(tc.in)
		if (err == nil) != tc.ok || d != tc.disabled {
			t.Errorf("ParseAccountControl(%q) = %v, %v", tc.in, d, err)
		}
	}
}

func TestParseGeneralizedTime(t *testing.T) {
	utc := func(y, mo, d, h, mi, s, ns int) time.Time {
		return time.Date(y, time.Month(mo), d, h, mi, s, ns, time.UTC)
	}
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"20261207221112Z", utc(2026, 12, 7, 22, 11, 12, 0)},
		{"20261207221112.5Z", utc(2026, 12, 7, 22, 11, 12, 5e8)},
		{"202612072211Z", utc(2026, 12, 7, 22, 11, 0, 0)},
		{"2026120722Z", utc(2026, 12, 7, 22, 0, 0, 0)},
		{"20261207221112+0100", utc(2026, 12, 7, 21, 11, 12, 0)},
		{"20261207221112-05", utc(2026, 12, 8, 3, 11, 12, 0)},
		{"000001010000Z", utc(0, 1, 1, 0, 0, 0, 0)},
	} {
		got, err := ParseGeneralizedTime(tc.in)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("ParseGeneralizedTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "2026", "20261207221112", "20261307221112Z", "20260231000000Z", "20261207251112Z", "20261207221112+2400", "20261207221112.Z", "2026120722111aZ"} {
		if got, err := ParseGeneralizedTime(bad); err == nil {
			t.Errorf("ParseGeneralizedTime(%q) = %v, accepted", bad, got)
		}
	}
	if s := formatGeneralizedTime(utc(2026, 1, 2, 3, 4, 5, 0)); s != "20260102030405Z" {
		t.Errorf("formatGeneralizedTime = %q", s)
	}
}

func TestNormalizeDN(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"CN=Alice Test,OU=People, DC=Lanyard,DC=Test", "cn=alice test,ou=people,dc=lanyard,dc=test"},
		{"cn=a\\,b , dc=x", "cn=a\\,b,dc=x"},
		{"UID=bob+CN=Bob,dc=x", "cn=bob+uid=bob,dc=x"},
		{"cn=#04024869,dc=x", "cn=hi,dc=x"},
		{"cn=\\41lice,dc=x", "cn=alice,dc=x"},
	} {
		got, err := NormalizeDN(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeDN(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		again, err := NormalizeDN(got)
		if err != nil || again != got {
			t.Errorf("NormalizeDN not idempotent on %q: %q, %v", got, again, err)
		}
	}
	for _, bad := range []string{"", "   ", "cn", "cn=a,dc", "=a", "cn=a\\"} {
		if got, err := NormalizeDN(bad); err == nil {
			t.Errorf("NormalizeDN(%q) = %q, accepted", bad, got)
		}
	}
}

func TestRangeOf(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lo, hi int
		ok     bool
	}{
		{"member;range=0-1499", 0, 1499, true},
		{"Member;Range=1500-*", 1500, -1, true},
		{"member", 0, 0, false},
		{"memberOf;range=0-1", 0, 0, false},
		{"member;range=5-4", 0, 0, false},
		{"member;range=-1-4", 0, 0, false},
	} {
		lo, hi, ok := rangeOf(tc.name, "member")
		if ok != tc.ok || ok && (lo != tc.lo || hi != tc.hi) {
			t.Errorf("rangeOf(%q) = %d, %d, %v", tc.name, lo, hi, ok)
		}
	}
}

func FuzzNormalizeDN(f *testing.F) {
	for _, s := range []string{"CN=Alice,OU=People,DC=x", "cn=a\\,b+uid=c,dc=x", "cn=#04024869", "cn=\\e2\\82\\ac", "cn= a ,dc=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := NormalizeDN(s)
		if err != nil {
			return
		}
		// The normal form is a fixed point and has no upper case in
		// attribute types.
		again, err := NormalizeDN(n)
		if err != nil {
			t.Fatalf("NormalizeDN(%q) = %q, which does not parse: %v", s, n, err)
		}
		if again != n {
			t.Fatalf("NormalizeDN not idempotent: %q → %q → %q", s, n, again)
		}
	})
}

func FuzzParseObjectGUID(f *testing.F) {
	f.Add(make([]byte, 16))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseObjectGUID(b)
		if err != nil {
			if len(b) == 16 {
				t.Fatalf("16 bytes refused: %v", err)
			}
			return
		}
		back, err := GUIDBytes(s)
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("round trip %x → %q → %x, %v", b, s, back, err)
		}
	})
}

func FuzzParseAccountControl(f *testing.F) {
	for _, s := range []string{"512", "514", "-1", "", "4294967295"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseAccountControl(s)
		if err == nil && strings.TrimSpace(s) == "" {
			t.Fatalf("empty %q accepted", s)
		}
		_ = d
	})
}

func FuzzParseGeneralizedTime(f *testing.F) {
	for _, s := range []string{"20261207221112Z", "20261207221112.123+0130", "000001010000Z", "2026120722,5Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := ParseGeneralizedTime(s)
		if err != nil {
			return
		}
		if tm.Location() != time.UTC {
			t.Fatalf("%q parsed to a non-UTC time %v", s, tm)
		}
		// Whole seconds survive formatting and parsing.
		w := tm.Truncate(time.Second)
		if w.Year() >= 0 && w.Year() <= 9999 {
			back, err := ParseGeneralizedTime(formatGeneralizedTime(w))
			if err != nil || !back.Equal(w) {
				t.Fatalf("%q: %v → %q → %v, %v", s, w, formatGeneralizedTime(w), back, err)
			}
		}
	})
}

func FuzzRangeOf(f *testing.F) {
	f.Add("member;range=0-1499")
	f.Add("member;range=10-*")
	f.Fuzz(func(t *testing.T, s string) {
		lo, hi, ok := rangeOf(s, "member")
		if ok && (lo < 0 || hi != -1 && hi < lo) {
			t.Fatalf("rangeOf(%q) = %d, %d", s, lo, hi)
		}
	})
}
