package auth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
	"golang.org/x/sync/semaphore"
)

// Params are argon2id cost parameters (RFC 9106, 3.1).
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over the memory
	Threads uint8  // degree of parallelism
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes of hash output
}

// DefaultParams returns the parameters new hashes use: the OWASP Password
// Storage Cheat Sheet's argon2id recommendation (19 MiB, 2 passes, 1
// thread), a 128-bit salt (RFC 9106, 3.1) and a 256-bit output. About
// 30 ms per hash on a current server core: slow for an attacker with a
// stolen database, cheap enough for logins.
func DefaultParams() Params {
	return Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Limits on parameters Lanyard computes or accepts. A stored hash is data
// from the database; without bounds a tampered row could make one login
// allocate gigabytes or run for minutes.
const (
	maxMemory  = 256 * 1024 // KiB
	maxTime    = 16
	maxThreads = 16
	minSaltLen = 8 // RFC 9106, 3.1: at least 8 bytes
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 64
)

// ErrMalformedHash means a stored password hash is not an argon2id PHC
// string within Lanyard's limits. It describes data, not the caller's
// input: log it, and answer the login as a failure.
var ErrMalformedHash = errors.New("auth: malformed password hash")

// argon2 version 0x13 (decimal 19), the only one x/crypto implements.
const argonVersion = argon2.Version

// HashPassword hashes pw with DefaultParams and a salt read from r (pass
// crypto/rand.Reader). It does not judge the password; call CheckPassword
// first when a person chooses one. It waits for a hashing slot (see
// hashMemory) as long as ctx allows.
func HashPassword(ctx context.Context, pw string, r io.Reader) (string, error) {
	return DefaultParams().Hash(ctx, pw, r)
}

// Hash hashes pw with p and a salt read from r, and returns the PHC string
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<threads>$<salt>$<hash>, with salt
// and hash in unpadded standard base64 as the PHC format specifies. It
// waits for a hashing slot as long as ctx allows.
func (p Params) Hash(ctx context.Context, pw string, r io.Reader) (string, error) {
	if err := p.check(); err != nil {
		return "", err
	}
	if len(pw) > MaxPasswordInput {
		return "", ErrPasswordTooLong
	}
	salt := make([]byte, p.SaltLen)
	if _, err := io.ReadFull(r, salt); err != nil {
		return "", fmt.Errorf("auth: reading salt: %w", err)
	}
	key, err := idKey(ctx, []byte(pw), salt, p)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argonVersion, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// check enforces the limits, and RFC 9106's m >= 8p (below it the library
// silently raises m, which would make hashes that other implementations
// do not reproduce).
func (p Params) check() error {
	switch {
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("auth: argon2 time %d out of range 1..%d", p.Time, maxTime)
	case p.Threads < 1 || p.Threads > maxThreads:
		return fmt.Errorf("auth: argon2 threads %d out of range 1..%d", p.Threads, maxThreads)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("auth: argon2 memory %d KiB out of range %d..%d", p.Memory, 8*uint32(p.Threads), maxMemory)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("auth: salt length %d out of range %d..%d", p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("auth: hash length %d out of range %d..%d", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// dummySalt salts the hash computed for accounts without a password.
var dummySalt = []byte("lanyard-no-password")

// VerifyPassword reports whether pw matches the PHC string encoded. The
// comparison is constant-time. A malformed encoding yields an error
// wrapping ErrMalformedHash and never a panic.
//
// An empty encoded (a user without password login, or a login name that
// does not exist) returns false after hashing pw anyway, so that the
// answer takes as long as for a real account and does not reveal which
// accounts have passwords.
//
// It waits for a hashing slot as long as ctx allows; when ctx ends first
// it returns false and an error wrapping ErrBusy and ctx's error.
func VerifyPassword(ctx context.Context, encoded, pw string) (ok bool, err error) {
	if len(pw) > MaxPasswordInput {
		return false, ErrPasswordTooLong
	}
	if encoded == "" {
		_, err := idKey(ctx, []byte(pw), dummySalt, DefaultParams())
		return false, err
	}
	p, salt, want, err := decodeHash(encoded)
	if err != nil {
		return false, err
	}
	got, err := idKey(ctx, []byte(pw), salt, p)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// ErrBusy means a password could not be checked or hashed because the
// caller's context ended while it waited for a hashing slot, or because
// maxHashWaiters others were waiting already.
var ErrBusy = errors.New("auth: too many password checks at once")

// MaxPasswordInput is the longest password (in bytes) that is hashed or
// checked at all; longer ones are refused before any work with
// ErrPasswordTooLong. No password Lanyard sets is this long
// (MaxPasswordLen), so a longer one is always wrong, and checking it
// would only let a caller make the server copy and hash megabytes.
const MaxPasswordInput = 1024

// ErrPasswordTooLong means a password was longer than MaxPasswordInput.
var ErrPasswordTooLong = fmt.Errorf("auth: password longer than %d bytes", MaxPasswordInput)

// maxHashWaiters bounds the password checks waiting for a hashing slot.
// Each waiter is a request holding its goroutine, its body and its
// connection; beyond this many the server answers "busy" at once rather
// than queueing without limit (64 waiters are at most a few seconds of
// hashing on a small server, longer than anyone should wait for a login).
const maxHashWaiters = 64

// hashSlots is how many argon2id computations with DefaultParams run at
// once: one per CPU the process may use (each is single-threaded and
// CPU-bound, so more would not finish sooner), at least 2, at most 8.
func hashSlots() int { return min(max(runtime.GOMAXPROCS(0), 2), 8) }

// hashMemory bounds the memory of concurrent argon2id computations. Each
// one allocates its whole memory parameter (19 MiB with DefaultParams)
// for its duration, and anyone can make the server compute one by trying
// a login; without a bound, 500 parallel attempts would allocate about
// 9.5 GiB. The semaphore is weighted by memory in KiB, so a stored hash
// with a larger memory parameter takes more of the budget.
var hashMemory = struct {
	sem     *semaphore.Weighted
	budget  int64        // KiB
	waiters atomic.Int64 // checks waiting for room (maxHashWaiters)
}{sem: semaphore.NewWeighted(int64(hashSlots()) * int64(DefaultParams().Memory)), budget: int64(hashSlots()) * int64(DefaultParams().Memory)}

// errQueueFull is ErrBusy's cause when maxHashWaiters checks wait already.
var errQueueFull = errors.New("the queue of password checks is full")

// idKey computes argon2id under the memory bound, waiting for room as
// long as ctx allows, behind at most maxHashWaiters others. A computation
// larger than the whole budget (a stored hash's own parameters, at most
// maxMemory) waits until it runs alone.
func idKey(ctx context.Context, pw, salt []byte, p Params) ([]byte, error) {
	w := min(int64(p.Memory), hashMemory.budget)
	if !hashMemory.sem.TryAcquire(w) {
		if hashMemory.waiters.Add(1) > maxHashWaiters {
			hashMemory.waiters.Add(-1)
			return nil, fmt.Errorf("%w: %w", ErrBusy, errQueueFull)
		}
		err := hashMemory.sem.Acquire(ctx, w)
		hashMemory.waiters.Add(-1)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBusy, err)
		}
	}
	defer hashMemory.sem.Release(w)
	return argon2.IDKey(pw, salt, p.Time, p.Memory, p.Threads, p.KeyLen), nil
}

// HoldHashing takes the whole hashing budget, as a flood of logins
// would, until release is called: meanwhile every check and hash waits
// for room and fails with ErrBusy when its context ends. It lets the
// callers' tests (and load drills) see how they answer a loaded server;
// it waits for the budget as long as ctx allows.
func HoldHashing(ctx context.Context) (release func(), err error) {
	if err := hashMemory.sem.Acquire(ctx, hashMemory.budget); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBusy, err)
	}
	var once sync.Once
	return func() { once.Do(func() { hashMemory.sem.Release(hashMemory.budget) }) }, nil
}

// NeedsRehash reports whether encoded should be replaced by a fresh hash
// at the next successful login: it was made with other parameters than
// DefaultParams (weaker ones after the defaults were raised, or stronger
// ones that cost more than the server budgets), or it cannot be read.
func NeedsRehash(encoded string) bool {
	p, _, _, err := decodeHash(encoded)
	return err != nil || p != DefaultParams()
}

// decodeHash parses $argon2id$v=19$m=M,t=T,p=P$salt$hash strictly: the
// version, the parameter names and their order are fixed, base64 must be
// canonical, and every value must be within the limits.
func decodeHash(encoded string) (p Params, salt, key []byte, err error) {
	malformed := func(why string) (Params, []byte, []byte, error) {
		// The hash itself stays out of the message: it is a secret that
		// an attacker could attack offline.
		return Params{}, nil, nil, fmt.Errorf("%w: %s", ErrMalformedHash, why)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return malformed("want $argon2id$v=19$m=…,t=…,p=…$salt$hash")
	}
	if parts[1] != "argon2id" {
		return malformed("not argon2id")
	}
	if parts[2] != "v="+strconv.Itoa(argonVersion) {
		return malformed("unsupported argon2 version")
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return malformed("want parameters m, t and p")
	}
	var values [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(params[i], name+"=")
		if !ok {
			return malformed("want parameters m, t and p in that order")
		}
		n, perr := strconv.ParseUint(v, 10, 32)
		if perr != nil || strconv.FormatUint(n, 10) != v {
			// One spelling per value (no leading zeros or signs), so that
			// a hash reads back exactly as it was written.
			return malformed("parameter " + name + " is not a number")
		}
		values[i] = n
	}
	if values[2] > 255 {
		return malformed("parameter p out of range")
	}
	// Strict refuses non-zero padding bits; the alphabet check refuses
	// the line breaks the decoder would otherwise skip.
	enc := base64.RawStdEncoding.Strict()
	if !isBase64(parts[4]) {
		return malformed("salt is not unpadded base64")
	}
	if salt, err = enc.DecodeString(parts[4]); err != nil {
		return malformed("salt is not unpadded base64")
	}
	if !isBase64(parts[5]) {
		return malformed("hash is not unpadded base64")
	}
	if key, err = enc.DecodeString(parts[5]); err != nil {
		return malformed("hash is not unpadded base64")
	}
	p = Params{
		Memory:  uint32(values[0]),
		Time:    uint32(values[1]),
		Threads: uint8(values[2]),
		SaltLen: uint32(len(salt)),
		KeyLen:  uint32(len(key)),
	}
	if err := p.check(); err != nil {
		return malformed(strings.TrimPrefix(err.Error(), "auth: "))
	}
	return p, salt, key, nil
}

// isBase64 reports whether s uses only the standard base64 alphabet,
// without padding.
func isBase64(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
			return false
		}
	}
	return true
}
