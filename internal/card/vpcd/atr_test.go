package vpcd

import (
	"encoding/hex"
	"strings"
	"testing"
)

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestCheckATR(t *testing.T) {
	for _, tc := range []struct {
		name, atr string
		ok        bool
		why       string // a word the error must contain
	}{
		{"vsmartcard vicc default", "3B 80 80 01 01", true, ""},
		{"YubiKey 5 NFC", "3B FD 13 00 00 81 31 FE 15 80 73 C0 21 C0 57 59 75 62 69 4B 65 79 40", true, ""},
		{"test card", hex.EncodeToString(testATR), true, ""},
		{"wrong check byte", "3B 91 18 01 41 00", false, "TCK"},
		{"T=1 in TD1", "3B 81 01 00", false, "bytes"}, // TCK missing
		{"T=0 only", "3B 02 14 50", false, "T=1"},
		{"T=0 and T=15", "3B 80 0F 0F", false, "T=1"},
		{"empty", "", false, "bytes"},
		{"only TS", "3B", false, "bytes"},
		{"bad TS", "3C 80 80 01 01", false, "TS"},
		{"cut in interface bytes", "3B 80", false, "cut short"},
		{"historical bytes missing", "3B 88 80 01 41 42 4A", false, "announce"},
		{"trailing byte", "3B 80 80 01 01 00", false, "announce"},
		{"34 bytes", "3B" + strings.Repeat(" 00", 33), false, "33"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckATR(mustHex(t, tc.atr))
			if tc.ok {
				if err != nil {
					t.Fatalf("CheckATR(%s) = %v, want nil", tc.atr, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("CheckATR(%s) = %v, want an error about %q", tc.atr, err, tc.why)
			}
		})
	}
}

func FuzzCheckATR(f *testing.F) {
	f.Add(testATR)
	f.Add([]byte{0x3B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF})
	f.Fuzz(func(t *testing.T, atr []byte) {
		_ = CheckATR(atr) // must not panic on any input
	})
}
