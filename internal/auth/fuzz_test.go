package auth

import (
	"encoding/base64"
	"errors"
	"fmt"
	"testing"

	"golang.org/x/crypto/argon2"
)

// FuzzVerifyPassword feeds arbitrary encodings and passwords. It must
// never panic; every refusal must be ErrMalformedHash; and whatever it
// accepts must be a canonical encoding that a hash of the same password
// with the same salt and parameters verifies against.
func FuzzVerifyPassword(f *testing.F) {
	f.Add("$argon2id$v=19$m=64,t=3,p=4$MDEyMzQ1Njc4OWFiY2RlZg$re+n5pIy4P4SiUe+cWK0hHE80EZGTbjE", "pässwörd")
	f.Add("$argon2id$v=19$m=8,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$c29tZWhhc2hzb21laGFzaA", "x")
	f.Add("$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHQ$c29tZWhhc2hzb21laGFzaA", "")
	f.Add("$argon2id$v=19$m=8,t=1,p=0$c29tZXNhbHQ$c29tZWhhc2hzb21laGFzaA", "")
	f.Add("$argon2i$v=19$m=8,t=1,p=1$$", "")
	f.Add("$$$$$", "")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, encoded, pw string) {
		if encoded == "" {
			return // the dummy hash path: tested in TestVerifyPasswordNoPassword
		}
		p, salt, _, derr := decodeHash(encoded)
		// Keep executions fast: parameters within the limits but costly
		// (up to 256 MiB × 16 passes) are argon2's time, not the parser's.
		if derr == nil && uint64(p.Memory)*uint64(p.Time) > 4096 {
			return
		}
		ok, err := VerifyPassword(t.Context(), encoded, pw)
		if len(pw) > MaxPasswordInput {
			// Refused before the hash is even read: no argon2id for an
			// attacker's megabyte.
			if ok || !errors.Is(err, ErrPasswordTooLong) {
				t.Fatalf("VerifyPassword of a %d-byte password = %v, %v", len(pw), ok, err)
			}
			return
		}
		if err != nil {
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("VerifyPassword = %v, %v", ok, err)
			}
			if derr == nil {
				t.Fatal("VerifyPassword refused what decodeHash accepted")
			}
			return
		}
		canonical := fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", p.Memory, p.Time, p.Threads,
			base64.RawStdEncoding.EncodeToString(salt),
			base64.RawStdEncoding.EncodeToString(argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)))
		if got := encoded[:len(encoded)-base64.RawStdEncoding.EncodedLen(int(p.KeyLen))]; got != canonical[:len(got)] {
			t.Fatalf("accepted a non-canonical encoding %q (canonical prefix %q)", encoded, canonical[:len(got)])
		}
		if ok2, err := VerifyPassword(t.Context(), canonical, pw); !ok2 || err != nil {
			t.Fatalf("a hash of the password with the same salt and parameters does not verify: %v, %v", ok2, err)
		}
		if ok && encoded != canonical {
			t.Fatal("verified against a hash that is not the password's")
		}
	})
}
