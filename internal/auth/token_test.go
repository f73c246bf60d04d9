package auth

import (
	"bytes"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"
)

func TestNewToken(t *testing.T) {
	raw := bytes.Repeat([]byte{0xfb}, 32)
	secret, prefix, hash, err := NewToken(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if want := "lyd_" + base64.RawURLEncoding.EncodeToString(raw); secret != want {
		t.Fatalf("secret = %q, want %q", secret, want)
	}
	if len(secret) != 4+secretLen || secretLen != base64.RawURLEncoding.EncodedLen(secretBytes) {
		t.Fatalf("secret length %d", len(secret))
	}
	if prefix != secret[:12] || len(prefix) != 12 {
		t.Fatalf("prefix = %q", prefix)
	}
	if sum := sha256.Sum256([]byte(secret)); !bytes.Equal(hash, sum[:]) || !bytes.Equal(HashToken(secret), hash) {
		t.Fatalf("hash is not SHA-256 of the secret")
	}
	if !LooksLikeToken(secret) {
		t.Fatalf("LooksLikeToken(%q) = false", secret)
	}
	a, _, _, _ := NewToken(crand.Reader)
	b, _, _, _ := NewToken(crand.Reader)
	if a == b || !LooksLikeToken(a) {
		t.Fatalf("random tokens %q %q", a, b)
	}
	if _, _, _, err := NewToken(failingReader{}); err == nil {
		t.Fatal("NewToken ignored a failing reader")
	}
	if _, _, _, err := NewToken(bytes.NewReader(raw[:31])); err == nil {
		t.Fatal("NewToken accepted 31 random bytes")
	}
}

func TestLooksLikeToken(t *testing.T) {
	good, _, _, _ := NewToken(fixedReader(7))
	body := strings.TrimPrefix(good, "lyd_")
	tests := []struct {
		s    string
		want bool
	}{
		{good, true},
		{"", false},
		{"lyd_", false},
		{body, false},                     // a session id, not a token
		{"lyx_" + body, false},            // other prefix
		{"LYD_" + body, false},            // prefix is case-sensitive
		{good[:len(good)-1], false},       // short
		{good + "A", false},               // long
		{good[:len(good)-1] + "=", false}, // padding
		{"lyd_" + strings.Repeat("+", secretLen), false},         // standard alphabet
		{"lyd_" + strings.Repeat("A", secretLen-1) + "B", false}, // non-zero padding bits
		{"lyd_" + strings.Repeat("A", secretLen-1) + "E", true},  // 000100: padding bits zero
		{"lyd_" + strings.Repeat("A", 20) + "\n" + strings.Repeat("A", 22), false},
	}
	for _, tt := range tests {
		if got := LooksLikeToken(tt.s); got != tt.want {
			t.Errorf("LooksLikeToken(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestSessionAndCSRF(t *testing.T) {
	id, hash, err := NewSessionID(crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if len(id) != secretLen || !LooksLikeSessionID(id) || LooksLikeToken(id) || !bytes.Equal(hash, HashToken(id)) {
		t.Fatalf("session id %q hash %x", id, hash)
	}
	if tok, _, _, _ := NewToken(crand.Reader); LooksLikeSessionID(tok) {
		t.Fatal("an API token passes as a session id")
	}
	csrf, err := NewCSRFToken(crand.Reader)
	if err != nil || len(csrf) != secretLen || csrf == id {
		t.Fatalf("csrf %q, %v", csrf, err)
	}
	if _, _, err := NewSessionID(failingReader{}); err == nil {
		t.Fatal("NewSessionID ignored a failing reader")
	}
	if _, err := NewCSRFToken(failingReader{}); err == nil {
		t.Fatal("NewCSRFToken ignored a failing reader")
	}
}

func TestEqualCSRF(t *testing.T) {
	tests := []struct {
		sent, want string
		eq         bool
	}{
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"abc", "abcd", false},
		{"", "abc", false},
		{"abc", "", false},
		{"", "", false}, // a session without a token accepts nothing
	}
	for _, tt := range tests {
		if got := EqualCSRF(tt.sent, tt.want); got != tt.eq {
			t.Errorf("EqualCSRF(%q, %q) = %v", tt.sent, tt.want, got)
		}
	}
}
