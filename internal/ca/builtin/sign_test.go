package builtin_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/ca/catest"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func TestSign(t *testing.T) {
	for _, caAlg := range []string{"ecp256", "ecp384", "rsa2048"} {
		t.Run("ca="+caAlg, func(t *testing.T) {
			now := time.Now().UTC()
			c := mustNew(t, config(catest.NewStore(), catest.NewSealer(t), fixedClock(now), map[string]string{"key_algorithm": caAlg}))
			issuing, root := mustChain(t, c)
			roots, inter := x509.NewCertPool(), x509.NewCertPool()
			roots.AddCert(root)
			inter.AddCert(issuing)
			for _, keyAlg := range []lanyard.KeyAlgorithm{lanyard.ECP256, lanyard.ECP384, lanyard.RSA2048} {
				key := leafKey(t, keyAlg)
				leaf := mustSign(t, c, logonTemplate(), key.Public())
				chains, err := leaf.Verify(x509.VerifyOptions{
					Roots: roots, Intermediates: inter, CurrentTime: now,
					KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
				})
				if err != nil {
					t.Fatalf("%s leaf does not verify: %v", keyAlg, err)
				}
				if len(chains) != 1 || len(chains[0]) != 3 {
					t.Fatalf("%s: chains %v", keyAlg, chains)
				}
				if !leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
					t.Fatalf("%s: certificate is for another key", keyAlg)
				}
				if !bytes.Equal(leaf.AuthorityKeyId, issuing.SubjectKeyId) || !bytes.Equal(leaf.RawIssuer, issuing.RawSubject) {
					t.Errorf("%s: issuer/AKI do not name the issuing CA", keyAlg)
				}
				nb := now.Add(-time.Minute).Truncate(time.Second)
				if !leaf.NotBefore.Equal(nb) || !leaf.NotAfter.Equal(nb.Add(365*24*time.Hour)) {
					t.Errorf("%s: validity %v .. %v, want %v + 365 days", keyAlg, leaf.NotBefore, leaf.NotAfter, nb)
				}
				if leaf.SerialNumber.Sign() <= 0 || leaf.SerialNumber.BitLen() > 127 {
					t.Errorf("%s: serial %x is not positive or exceeds 127 bits", keyAlg, leaf.SerialNumber)
				}
			}
		})
	}
}

func TestSignClampsValidity(t *testing.T) {
	st, sealer := catest.NewStore(), catest.NewSealer(t)
	c := mustNew(t, config(st, sealer, time.Now, nil))
	issuing, _ := mustChain(t, c)

	late := mustNew(t, config(st, sealer, fixedClock(issuing.NotAfter.Add(-10*24*time.Hour)), nil))
	leaf := mustSign(t, late, logonTemplate(), leafKey(t, lanyard.ECP256).Public())
	if !leaf.NotAfter.Equal(issuing.NotAfter) {
		t.Fatalf("NotAfter = %v, want the issuing CA's %v", leaf.NotAfter, issuing.NotAfter)
	}

	expired := mustNew(t, config(st, sealer, fixedClock(issuing.NotAfter.Add(time.Hour)), nil))
	_, err := expired.Sign(t.Context(), &ca.SignRequest{Template: logonTemplate(), User: alice(), PublicKey: leafKey(t, lanyard.ECP256).Public()})
	mustCode(t, err, lanyard.EUnavailable)
}

func TestSignSerialsUnique(t *testing.T) {
	c := mustNew(t, config(catest.NewStore(), catest.NewSealer(t), time.Now, nil))
	const workers, each = 8, 100
	key := leafKey(t, lanyard.ECP256).Public()
	serials := make(chan string, workers*each)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				// Not mustSign: FailNow may not be called off the test goroutine.
				leaf, err := c.Sign(t.Context(), &ca.SignRequest{Template: logonTemplate(), User: alice(), PublicKey: key})
				if err != nil {
					t.Error(err)
					return
				}
				if leaf.SerialNumber.Sign() <= 0 {
					t.Errorf("serial %v is not positive", leaf.SerialNumber)
				}
				serials <- leaf.SerialNumber.Text(16)
			}
		})
	}
	wg.Wait()
	close(serials)
	seen := map[string]bool{}
	long := 0
	for s := range serials {
		if seen[s] {
			t.Fatalf("serial %s issued twice", s)
		}
		seen[s] = true
		if len(s) > 24 { // more than 96 bits: the draw really is ~127 bits wide
			long++
		}
	}
	if len(seen) != workers*each || long < workers*each*9/10 {
		t.Fatalf("%d serials, %d longer than 96 bits", len(seen), long)
	}
}

func TestSignRefuses(t *testing.T) {
	c := mustNew(t, config(catest.NewStore(), catest.NewSealer(t), time.Now, nil))
	pub := leafKey(t, lanyard.ECP256).Public()
	other := logonTemplate()
	other.CA = "stepca"
	rsaOnly := logonTemplate()
	rsaOnly.KeyAlgs = []lanyard.KeyAlgorithm{lanyard.RSA2048}
	noUPN := alice()
	noUPN.UPN = ""
	tests := []struct {
		name string
		req  *ca.SignRequest
		code string
	}{
		{"nil request", nil, lanyard.EInvalid},
		{"no key", &ca.SignRequest{Template: logonTemplate(), User: alice()}, lanyard.EInvalid},
		{"template of another CA", &ca.SignRequest{Template: other, User: alice(), PublicKey: pub}, lanyard.EInvalid},
		{"key not allowed", &ca.SignRequest{Template: rsaOnly, User: alice(), PublicKey: pub}, lanyard.EKeyNotAllowed},
		{"user without UPN", &ca.SignRequest{Template: logonTemplate(), User: noUPN, PublicKey: pub}, lanyard.EInvalid},
	}
	for _, tt := range tests {
		_, err := c.Sign(t.Context(), tt.req)
		if !lanyard.IsCode(err, tt.code) {
			t.Errorf("%s: error = %v, want %s", tt.name, err, tt.code)
		}
	}
}
