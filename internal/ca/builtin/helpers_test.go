package builtin_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/ca/builtin"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/seal"
)

const baseURL = "http://127.0.0.1:8080"

func config(st lanyard.Store, s seal.Sealer, now func() time.Time, opts map[string]string) ca.Config {
	return ca.Config{
		Name: "builtin", Store: st, Sealer: s, BaseURL: baseURL,
		Now: now, Rand: rand.Reader, Options: opts,
	}
}

func mustNew(tb testing.TB, cfg ca.Config) *builtin.CA {
	tb.Helper()
	c, err := builtin.New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func mustChain(tb testing.TB, c ca.CA) (issuing, root *x509.Certificate) {
	tb.Helper()
	chain, err := c.Chain(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	if len(chain) != 2 {
		tb.Fatalf("chain has %d certificates", len(chain))
	}
	return chain[0], chain[1]
}

// fixedClock returns a Now function that reports t.
func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

var (
	keysOnce sync.Once
	keys     map[lanyard.KeyAlgorithm]crypto.Signer
)

// leafKey returns a shared subject key of the given algorithm.
func leafKey(tb testing.TB, alg lanyard.KeyAlgorithm) crypto.Signer {
	tb.Helper()
	keysOnce.Do(func() {
		keys = map[lanyard.KeyAlgorithm]crypto.Signer{}
		var err error
		if keys[lanyard.ECP256], err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
		if keys[lanyard.ECP384], err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
			panic(err)
		}
		if keys[lanyard.RSA2048], err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return keys[alg]
}

func alice() *lanyard.User {
	return &lanyard.User{Login: "alice", DisplayName: "Alice Example", Email: "alice@corp.example", UPN: "alice@ad.corp.example"}
}

func logonTemplate() *lanyard.Template {
	return &lanyard.Template{
		Name: "logon", CA: "builtin", ValidityDays: 365,
		KeyAlgs:     []lanyard.KeyAlgorithm{lanyard.ECP256, lanyard.ECP384, lanyard.RSA2048},
		KeyUsage:    []string{lanyard.KUDigitalSignature, lanyard.KUKeyEncipherment},
		ExtKeyUsage: []string{lanyard.EKUSmartCardLogon, lanyard.EKUClientAuth},
		Subject:     lanyard.SubjectSpec{CommonName: "{display_name}", Organization: "Corp", SANEmail: true, SANUPN: true},
	}
}

func mustSign(tb testing.TB, c ca.CA, t *lanyard.Template, pub crypto.PublicKey) *x509.Certificate {
	tb.Helper()
	cert, err := c.Sign(context.Background(), &ca.SignRequest{Template: t, User: alice(), PublicKey: pub})
	if err != nil {
		tb.Fatal(err)
	}
	return cert
}

func mustCode(tb testing.TB, err error, code string) {
	tb.Helper()
	var le *lanyard.Error
	if !errors.As(err, &le) || le.Code != code {
		tb.Fatalf("error = %v, want code %s", err, code)
	}
}
