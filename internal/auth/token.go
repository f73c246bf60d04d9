package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
)

// TokenPrefix starts every API token. A fixed, distinctive prefix lets
// secret scanners (and people) recognise a leaked Lanyard token, and lets
// the web layer tell a token from a session cookie without a lookup.
const TokenPrefix = "lyd_"

// TokenPrefixLen is how much of a token is kept in clear as
// lanyard.APIToken.Prefix: "lyd_" plus 8 characters (48 bits), enough to
// tell a user's tokens apart in a listing and far too little to guess
// the rest.
const TokenPrefixLen = 12

// secretBytes is the entropy of every bearer secret: 256 bits, so that
// guessing is hopeless and storing only a fast, unsalted SHA-256 is safe
// (unlike passwords, these secrets are not guessable from a dictionary).
const secretBytes = 32

// secretLen is the length of secretBytes in unpadded base64url:
// ceil(32·8/6).
const secretLen = 43

// NewToken returns a new API token: the secret to show once, the prefix to
// store in clear, and the SHA-256 to store for lookup. The secret is
// "lyd_" followed by 32 bytes from r in unpadded base64url (pass
// crypto/rand.Reader). The error is r's.
func NewToken(r io.Reader) (secret, prefix string, hash []byte, err error) {
	s, err := randomString(r)
	if err != nil {
		return "", "", nil, err
	}
	secret = TokenPrefix + s
	return secret, secret[:TokenPrefixLen], HashToken(secret), nil
}

// HashToken returns the SHA-256 of a bearer secret (API token or session
// id), which is what the store keeps and looks up: a stolen database does
// not yield usable credentials.
func HashToken(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// LooksLikeToken reports whether s has the exact shape NewToken produces,
// so that the web layer can reject garbage before a database lookup.
func LooksLikeToken(s string) bool {
	rest, ok := strings.CutPrefix(s, TokenPrefix)
	return ok && isSecret(rest)
}

// NewSessionID returns a new browser session id for the cookie and its
// SHA-256 for the store: 32 bytes from r in unpadded base64url.
func NewSessionID(r io.Reader) (id string, hash []byte, err error) {
	id, err = randomString(r)
	if err != nil {
		return "", nil, err
	}
	return id, HashToken(id), nil
}

// LooksLikeSessionID reports whether s has the shape NewSessionID produces.
func LooksLikeSessionID(s string) bool { return isSecret(s) }

// NewCSRFToken returns a new CSRF token for a session: 32 bytes from r in
// unpadded base64url. It is stored with the session and sent back by pages
// on unsafe requests (synchronizer token pattern).
func NewCSRFToken(r io.Reader) (string, error) { return randomString(r) }

// EqualCSRF compares the token a request sent with the session's token in
// constant time. Two empty strings are not equal: a session without a
// token must not accept a request without one.
func EqualCSRF(sent, want string) bool {
	if sent == "" || want == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(sent), []byte(want)) == 1
}

func randomString(r io.Reader) (string, error) {
	b := make([]byte, secretBytes)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("auth: reading random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// isSecret reports whether s is secretBytes in canonical unpadded
// base64url, the only form randomString produces.
func isSecret(s string) bool {
	if len(s) != secretLen {
		return false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == secretBytes
}
