package auth

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"errors"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// cheap are valid parameters that hash in microseconds, for tests that
// are about format rather than cost.
var cheap = Params{Memory: 8, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// fixedReader yields the same byte forever.
type fixedReader byte

func (b fixedReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(b)
	}
	return len(p), nil
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }

func mustHash(tb testing.TB, p Params, pw string) string {
	tb.Helper()
	h, err := p.Hash(tb.Context(), pw, crand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// Known answers from the reference implementation (libargon2, the PHC
// winner's C code, through argon2id_hash_encoded). The second is also a
// test vector of that project's src/test.c.
func TestVerifyPasswordKnownAnswers(t *testing.T) {
	tests := []struct{ encoded, pw string }{
		{"$argon2id$v=19$m=19456,t=2,p=1$bGFueWFyZC1rYXQtc2FsdA$+tTIEK6ZXxNwBjKsRFO7o5TB4LZOKUtmjZ9BPGytkOw", "correct horse battery staple"},
		{"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "password"},
		{"$argon2id$v=19$m=64,t=3,p=4$MDEyMzQ1Njc4OWFiY2RlZg$re+n5pIy4P4SiUe+cWK0hHE80EZGTbjE", "pässwörd"},
	}
	for _, tt := range tests {
		ok, err := VerifyPassword(t.Context(), tt.encoded, tt.pw)
		if err != nil || !ok {
			t.Errorf("VerifyPassword(%s) = %v, %v; want true", tt.encoded, ok, err)
		}
		ok, err = VerifyPassword(t.Context(), tt.encoded, tt.pw+"x")
		if err != nil || ok {
			t.Errorf("VerifyPassword(%s, wrong) = %v, %v; want false", tt.encoded, ok, err)
		}
	}
	// And Lanyard produces the first one itself from the same salt.
	got, err := HashPassword(t.Context(), "correct horse battery staple", bytes.NewReader([]byte("lanyard-kat-salt")))
	if err != nil || got != tests[0].encoded {
		t.Fatalf("HashPassword = %s, %v; want %s", got, err, tests[0].encoded)
	}
}

func TestHashPassword(t *testing.T) {
	h, err := HashPassword(t.Context(), "correct horse battery staple", crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`).MatchString(h) {
		t.Fatalf("HashPassword = %s: not a PHC argon2id string with the default parameters", h)
	}
	if ok, err := VerifyPassword(t.Context(), h, "correct horse battery staple"); !ok || err != nil {
		t.Fatalf("VerifyPassword(own hash) = %v, %v", ok, err)
	}
	if ok, _ := VerifyPassword(t.Context(), h, "Correct horse battery staple"); ok {
		t.Fatal("VerifyPassword accepted a different password")
	}
	if NeedsRehash(h) {
		t.Fatal("a fresh default hash needs rehashing")
	}
	if h2, _ := HashPassword(t.Context(), "correct horse battery staple", crand.Reader); h2 == h {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	if _, err := HashPassword(t.Context(), "x", failingReader{}); err == nil {
		t.Fatal("HashPassword ignored a failing reader")
	}
}

func TestParamsHash(t *testing.T) {
	h := mustHash(t, cheap, "pw")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=8,t=1,p=1$") {
		t.Fatalf("Hash = %s", h)
	}
	if ok, err := VerifyPassword(t.Context(), h, "pw"); !ok || err != nil {
		t.Fatalf("VerifyPassword = %v, %v", ok, err)
	}
	if !NeedsRehash(h) {
		t.Fatal("a hash with non-default parameters does not need rehashing")
	}
	bad := []Params{
		{Memory: 8, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 8, Time: 17, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 8, Time: 1, Threads: 0, SaltLen: 16, KeyLen: 32},
		{Memory: 8, Time: 1, Threads: 2, SaltLen: 16, KeyLen: 32}, // m < 8p
		{Memory: 256*1024 + 1, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 8, Time: 1, Threads: 1, SaltLen: 7, KeyLen: 32},
		{Memory: 8, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 15},
		{Memory: 8, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 65},
	}
	for _, p := range bad {
		if _, err := p.Hash(t.Context(), "pw", fixedReader(1)); err == nil {
			t.Errorf("Hash accepted %+v", p)
		}
	}
}

func TestNeedsRehash(t *testing.T) {
	d := DefaultParams()
	tests := []struct {
		name    string
		encoded string
		want    bool
	}{
		{"default", mustHash(t, d, "pw"), false},
		{"weaker memory", mustHash(t, Params{Memory: 4096, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}, "pw"), true},
		{"stronger time", mustHash(t, Params{Memory: 8, Time: 3, Threads: 1, SaltLen: 16, KeyLen: 32}, "pw"), true},
		{"shorter salt", mustHash(t, Params{Memory: d.Memory, Time: d.Time, Threads: 1, SaltLen: 8, KeyLen: 32}, "pw"), true},
		{"shorter hash", mustHash(t, Params{Memory: d.Memory, Time: d.Time, Threads: 1, SaltLen: 16, KeyLen: 16}, "pw"), true},
		{"malformed", "$argon2id$v=19$", true},
		{"empty", "", true},
	}
	for _, tt := range tests {
		if got := NeedsRehash(tt.encoded); got != tt.want {
			t.Errorf("%s: NeedsRehash = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestVerifyPasswordMalformed(t *testing.T) {
	good := "$argon2id$v=19$m=64,t=3,p=4$MDEyMzQ1Njc4OWFiY2RlZg$re+n5pIy4P4SiUe+cWK0hHE80EZGTbjE"
	tests := []string{
		"x",
		"$",
		"argon2id$v=19$m=64,t=3,p=4$MDEyMzQ1Njc4OWFiY2RlZg$re+n5pIy4P4SiUe+cWK0hHE80EZGTbjE",
		"$argon2i$v=19$m=64,t=3,p=4$MDEyMzQ1Njc4OWFiY2RlZg$re+n5pIy4P4SiUe+cWK0hHE80EZGTbjE",
		"$argon2d$v=19$m=64,t=3,p=4$MDEyMzQ1Njc4OWFiY2RlZg$re+n5pIy4P4SiUe+cWK0hHE80EZGTbjE",
		"$argon2id$v=16$m=64,t=3,p=4$MDEyMzQ1Njc4OWFiY2RlZg$re+n5pIy4P4SiUe+cWK0hHE80EZGTbjE",
		"$argon2id$m=64,t=3,p=4$MDEyMzQ1Njc4OWFiY2RlZg$re+n5pIy4P4SiUe+cWK0hHE80EZGTbjE", // no version
		"$argon2id$v=19$m=64,t=3,p=4$MDEyMzQ1Njc4OWFiY2RlZg$re+n5pIy4P4SiUe+cWK0hHE80EZGTbjE$",
		"$argon2id$v=19$t=3,m=64,p=4$MDEyMzQ1Njc4OWFiY2RlZg$re+n5pIy4P4SiUe+cWK0hHE80EZGTbjE",
		"$argon2id$v=19$m=64,t=3$MDEyMzQ1Njc4OWFiY2RlZg$re+n5pIy4P4SiUe+cWK0hHE80EZGTbjE",
		"$argon2id$v=19$m=64,t=3,p=4,keyid=1$MDEyMzQ1Njc4OWFiY2RlZg$re+n5pIy4P4SiUe+cWK0hHE80EZGTbjE",
		"$argon2id$v=19$m=064,t=3,p=4$MDEyMzQ1Njc4OWFiY2RlZg$re+n5pIy4P4SiUe+cWK0hHE80EZGTbjE", // leading zero
		"$argon2id$v=19$m=+64,t=3,p=4$MDEyMzQ1Njc4OWFiY2RlZg$re+n5pIy4P4SiUe+cWK0hHE80EZGTbjE",
		"$argon2id$v=19$m=64,t=0,p=4$MDEyMzQ1Njc4OWFiY2RlZg$re+n5pIy4P4SiUe+cWK0hHE80EZGTbjE",
		"$argon2id$v=19$m=64,t=3,p=0$MDEyMzQ1Njc4OWFiY2RlZg$re+n5pIy4P4SiUe+cWK0hHE80EZGTbjE",
		"$argon2id$v=19$m=31,t=3,p=4$MDEyMzQ1Njc4OWFiY2RlZg$re+n5pIy4P4SiUe+cWK0hHE80EZGTbjE",         // m < 8p
		"$argon2id$v=19$m=4294967295,t=3,p=4$MDEyMzQ1Njc4OWFiY2RlZg$re+n5pIy4P4SiUe+cWK0hHE80EZGTbjE", // 4 TiB
		"$argon2id$v=19$m=4294967296,t=3,p=4$MDEyMzQ1Njc4OWFiY2RlZg$re+n5pIy4P4SiUe+cWK0hHE80EZGTbjE",
		"$argon2id$v=19$m=64,t=4294967295,p=4$MDEyMzQ1Njc4OWFiY2RlZg$re+n5pIy4P4SiUe+cWK0hHE80EZGTbjE",
		"$argon2id$v=19$m=64,t=3,p=256$MDEyMzQ1Njc4OWFiY2RlZg$re+n5pIy4P4SiUe+cWK0hHE80EZGTbjE",
		"$argon2id$v=19$m=64,t=3,p=4$MDEyMzQ1Ng$re+n5pIy4P4SiUe+cWK0hHE80EZGTbjE",               // 6-byte salt
		"$argon2id$v=19$m=64,t=3,p=4$MDEyMzQ1Njc4OWFiY2RlZg==$re+n5pIy4P4SiUe+cWK0hHE80EZGTbjE", // padded
		"$argon2id$v=19$m=64,t=3,p=4$MDEyMzQ1Njc4OWFiY2RlZh$re+n5pIy4P4SiUe+cWK0hHE80EZGTbjE",   // non-canonical
		"$argon2id$v=19$m=64,t=3,p=4$MDEyMzQ1Njc4OWFiY2RlZg$re-n5pIy4P4SiUe_cWK0hHE80EZGTbjE",   // base64url
		"$argon2id$v=19$m=64,t=3,p=4$MDEyMzQ1Njc4OWFiY2RlZg$re+n5pIy4P4SiUe+cWK0",               // 15-byte hash
		"$argon2id$v=19$m=64,t=3,p=4$MDEyMzQ1Njc4OWFiY2RlZg$",                                   // no hash
		"$argon2id$v=19$m=64,t=3,p=4$MDEyMzQ1Njc4OWFiY2RlZg$re+n5pIy4P4SiUe+cWK0hHE80EZGTbjE\n",
		" " + good,
		strings.Replace(good, "re+n5pIy", "re+n\n5pIy", 1),                   // line break inside
		strings.Replace(good, "$re+", "$"+strings.Repeat("A", 100)+"re+", 1), // 64+ byte hash
	}
	for _, enc := range tests {
		ok, err := VerifyPassword(t.Context(), enc, "pässwörd")
		if ok || !errors.Is(err, ErrMalformedHash) {
			t.Errorf("VerifyPassword(%q) = %v, %v; want ErrMalformedHash", enc, ok, err)
		}
		if err != nil && strings.Contains(err.Error(), "re+n5pIy") {
			t.Errorf("error for %q reveals the hash: %v", enc, err)
		}
		if !NeedsRehash(enc) {
			t.Errorf("NeedsRehash(%q) = false", enc)
		}
	}
	if ok, err := VerifyPassword(t.Context(), good, "pässwörd"); !ok || err != nil {
		t.Fatalf("control: VerifyPassword(good) = %v, %v", ok, err)
	}
}

// An account without a password answers false, and not instantly: the
// work is the same as for a real hash, so timing does not reveal which
// accounts exist or have passwords.
func TestVerifyPasswordNoPassword(t *testing.T) {
	start := time.Now()
	ok, err := VerifyPassword(t.Context(), "", "anything")
	if ok || err != nil {
		t.Fatalf("VerifyPassword(\"\") = %v, %v; want false, nil", ok, err)
	}
	// 19 MiB of argon2 cannot be done in a millisecond; skipping the hash
	// takes nanoseconds.
	if d := time.Since(start); d < time.Millisecond {
		t.Fatalf("VerifyPassword(\"\") took %v: no dummy hash computed", d)
	}
}

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		pw   string
		want string // "" = accepted
	}{
		{"", "at least 12"},
		{"elevenchars", "at least 12"},
		{"twelve chars", ""},
		{"ééééää", ""}, // 6 characters, 12 bytes: lengths count bytes
		{strings.Repeat("a", 256), ""},
		{strings.Repeat("a", 257), "at most 256"},
		{strings.Repeat("ж", 129), "at most 256"}, // 258 bytes
	}
	for _, tt := range tests {
		err := CheckPassword(tt.pw)
		if tt.want == "" {
			if err != nil {
				t.Errorf("CheckPassword(%q) = %v", tt.pw, err)
			}
			continue
		}
		if lanyard.ErrorCode(err) != lanyard.EInvalid || !strings.Contains(lanyard.ErrorMessage(err), tt.want) {
			t.Errorf("CheckPassword(len %d) = %v, want EInvalid %q", len(tt.pw), err, tt.want)
		}
	}
}

var _ io.Reader = fixedReader(0)

// TestPasswordChecksWaitForMemory: while the hashing memory budget is
// taken, a check waits, gives up with ErrBusy when its context ends, and
// goes ahead once room is released. The budget is what bounds a flood of
// logins (cmd/lanyard's TestServeBoundsLoginMemory measures the process).
func TestPasswordChecksWaitForMemory(t *testing.T) {
	h := mustHash(t, cheap, "pw")
	if !hashMemory.sem.TryAcquire(hashMemory.budget) {
		t.Fatal("the budget is in use at the start")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	ok, err := VerifyPassword(ctx, h, "pw")
	if ok || !errors.Is(err, ErrBusy) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("VerifyPassword with the budget taken = %v, %v; want ErrBusy after the deadline", ok, err)
	}
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("gave up after %v, before the deadline", d)
	}
	if _, err := HashPassword(ctx, "pw", crand.Reader); !errors.Is(err, ErrBusy) {
		t.Fatalf("HashPassword with the budget taken: %v", err)
	}

	done := make(chan error, 1)
	go func() {
		ok, err := VerifyPassword(t.Context(), h, "pw")
		if err == nil && !ok {
			err = errors.New("the right password did not verify")
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("a check ran while the budget was taken: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	hashMemory.sem.Release(hashMemory.budget)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if hashSlots() < 2 || hashMemory.budget != int64(hashSlots())*int64(DefaultParams().Memory) {
		t.Fatalf("budget %d KiB for %d slots", hashMemory.budget, hashSlots())
	}
}

// TestOverlongPasswordNotHashed: a password over MaxPasswordInput is
// refused at once, without waiting for (or taking) a hashing slot.
func TestOverlongPasswordNotHashed(t *testing.T) {
	h := mustHash(t, cheap, "pw")
	if !hashMemory.sem.TryAcquire(hashMemory.budget) {
		t.Fatal("the budget is in use at the start")
	}
	defer hashMemory.sem.Release(hashMemory.budget)
	long := strings.Repeat("x", MaxPasswordInput+1)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	for name, check := range map[string]func() error{
		"VerifyPassword":       func() error { _, err := VerifyPassword(ctx, h, long); return err },
		"VerifyPassword, none": func() error { _, err := VerifyPassword(ctx, "", long); return err },
		"HashPassword":         func() error { _, err := HashPassword(ctx, long, crand.Reader); return err },
	} {
		start := time.Now()
		err := check()
		if !errors.Is(err, ErrPasswordTooLong) || time.Since(start) > time.Second {
			t.Errorf("%s of %d bytes = %v after %v; want ErrPasswordTooLong at once", name, len(long), err, time.Since(start))
		}
	}
	// The longest allowed is checked as usual (it waits for the budget).
	short, cancel2 := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel2()
	if _, err := VerifyPassword(short, h, long[1:]); !errors.Is(err, ErrBusy) {
		t.Errorf("VerifyPassword of %d bytes: %v, want it to wait for a slot", MaxPasswordInput, err)
	}
}

// TestPasswordCheckQueueBounded: while the hashing budget is taken, at
// most maxHashWaiters checks wait; the next is refused with ErrBusy at
// once instead of queueing (each waiter holds a request), and once room
// is released the waiters all run.
func TestPasswordCheckQueueBounded(t *testing.T) {
	h := mustHash(t, cheap, "pw")
	if !hashMemory.sem.TryAcquire(hashMemory.budget) {
		t.Fatal("the budget is in use at the start")
	}
	released := false
	release := func() {
		if !released {
			released = true
			hashMemory.sem.Release(hashMemory.budget)
		}
	}
	defer release()
	var wg sync.WaitGroup
	errs := make(chan error, maxHashWaiters)
	for range maxHashWaiters {
		wg.Go(func() {
			ok, err := VerifyPassword(t.Context(), h, "pw")
			if err == nil && !ok {
				err = errors.New("the right password did not verify")
			}
			errs <- err
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for hashMemory.waiters.Load() < maxHashWaiters && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := VerifyPassword(ctx, h, "pw")
	if !errors.Is(err, ErrBusy) || time.Since(start) > time.Second {
		t.Errorf("check %d while %d wait: %v after %v; want ErrBusy at once", maxHashWaiters+1, maxHashWaiters, err, time.Since(start))
	}
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := hashMemory.waiters.Load(); n != 0 {
		t.Fatalf("%d waiters left", n)
	}
}
