package vpcdtest

import (
	"regexp"
	"strconv"
)

// readerName matches the reader names pcscd gives the entry that
// scripts/pcscd-test.sh writes: FRIENDLYNAME "Lanyard vpcd BASEPORT
// YubiKey-compatible PIV" (piv-go's test suite only uses readers named
// "YubiKey"; the suffix is optional here so that a pcscd still running
// with the older "Lanyard vpcd BASEPORT" is found), then pcscd's reader
// index and slot number in hex.
var readerName = regexp.MustCompile(`^Lanyard vpcd (\d+)(?: YubiKey-compatible PIV)? [0-9A-F]{2} ([0-9A-F]{2})$`)

// Reader returns the name of the reader whose vpcd slot listens on port:
// slot n of an entry with base port B listens on B+n.
func Reader(readers []string, port int) (string, bool) {
	for _, r := range readers {
		m := readerName.FindStringSubmatch(r)
		if m == nil {
			continue
		}
		base, err1 := strconv.Atoi(m[1])
		slot, err2 := strconv.ParseInt(m[2], 16, 32)
		if err1 == nil && err2 == nil && base+int(slot) == port {
			return r, true
		}
	}
	return "", false
}
