package piv_test

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// verify checks sig with the standard library.
func verify(t *testing.T, pub crypto.PublicKey, digest, sig []byte, opts crypto.SignerOpts) {
	t.Helper()
	var err error
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			err = errors.New("ECDSA signature does not verify")
		}
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			err = rsa.VerifyPSS(k, pss.Hash, digest, sig, pss)
		} else {
			err = rsa.VerifyPKCS1v15(k, opts.HashFunc(), digest, sig)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestSign(t *testing.T) {
	ctx := context.Background()
	msg := []byte("Lanyard signs with on-card keys")
	s1, s256, s384, s512 := sha1.Sum(msg), sha256.Sum256(msg), sha512.Sum384(msg), sha512.Sum512(msg)
	p256, p384 := ecKey(t, elliptic.P256()), ecKey(t, elliptic.P384())
	tests := []struct {
		name   string
		key    crypto.Signer
		digest []byte
		opts   crypto.SignerOpts
	}{
		{"P-256 SHA-256", p256, s256[:], crypto.SHA256},
		{"P-256 SHA-512 (truncated)", p256, s512[:], crypto.SHA512},
		{"P-256 short digest", p256, s1[:], crypto.SHA1},
		{"P-384 SHA-384", p384, s384[:], crypto.SHA384},
		{"RSA 2048 PKCS#1 v1.5 SHA-256", rsaKey(t, 2048), s256[:], crypto.SHA256},
		{"RSA 2048 PKCS#1 v1.5 SHA-1", rsaKey(t, 2048), s1[:], crypto.SHA1},
		{"RSA 2048 PKCS#1 v1.5 prehashed", rsaKey(t, 2048), s256[:], crypto.Hash(0)},
		{"RSA 2048 PSS auto salt", rsaKey(t, 2048), s256[:], &rsa.PSSOptions{Hash: crypto.SHA256}},
		{"RSA 2048 PSS salt = hash", rsaKey(t, 2048), s384[:], &rsa.PSSOptions{Hash: crypto.SHA384, SaltLength: rsa.PSSSaltLengthEqualsHash}},
		{"RSA 3072 PKCS#1 v1.5 SHA-384", rsaKey(t, 3072), s384[:], crypto.SHA384},
		{"RSA 4096 PKCS#1 v1.5 SHA-512", rsaKey(t, 4096), s512[:], crypto.SHA512},
		{"RSA 4096 PSS salt 20", rsaKey(t, 4096), s512[:], &rsa.PSSOptions{Hash: crypto.SHA512, SaltLength: 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCard(t)
			f.keys[0x9C] = tt.key
			c := mustCard(t, newHandlerCard(f.handle))
			sig, err := c.Sign(ctx, pivspec.SlotSignature, tt.key.Public(), tt.digest, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			verify(t, tt.key.Public(), tt.digest, sig, tt.opts)
		})
	}
}

func TestSignTranscript(t *testing.T) {
	// SP 800-73-4 Part 2 appendix A.4: 7C { 82 00, 81 digest }, answered
	// with 7C { 82 signature }.
	key := ecKey(t, elliptic.P256())
	digest := sha256.Sum256([]byte("x"))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	c := replayCard(t, fmt.Sprintf(`
> 00 87 11 9A 26 7C24 8200 8120 %X 00
< %X 9000
> 00 87 11 9A 26 7C24 8200 8120 %X 00
< 6982`, digest, apdu.AppendTLV(nil, 0x7C, apdu.AppendTLV(nil, 0x82, sig)), digest))
	got, err := c.Sign(context.Background(), pivspec.SlotAuthentication, &key.PublicKey, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	verify(t, &key.PublicKey, digest[:], got, crypto.SHA256)
	if _, err := c.Sign(context.Background(), pivspec.SlotAuthentication, &key.PublicKey, digest[:], crypto.SHA256); !errors.Is(err, piv.ErrSecurityStatus) {
		t.Fatalf("without the PIN: %v, want ErrSecurityStatus", err)
	}
}

func TestSignErrors(t *testing.T) {
	ctx := context.Background()
	digest := sha256.Sum256([]byte("x"))
	p256, other := ecKey(t, elliptic.P256()), ecKey(t, elliptic.P256())
	r2048 := rsaKey(t, 2048)
	tests := []struct {
		name    string
		key     crypto.Signer // in slot 9C of the card
		pub     crypto.PublicKey
		digest  []byte
		opts    crypto.SignerOpts
		corrupt []byte
		want    error
	}{
		{"the slot holds another EC key", p256, &other.PublicKey, digest[:], crypto.SHA256, nil, piv.ErrKeyMismatch},
		{"the slot holds an RSA key", r2048, &rsaKey(t, 3072).PublicKey, digest[:], crypto.SHA256, nil, nil},
		{"garbage signature", p256, &p256.PublicKey, digest[:], crypto.SHA256, []byte{1, 2, 3}, piv.ErrKeyMismatch},
		{"RSA signature too long", r2048, &r2048.PublicKey, digest[:], crypto.SHA256, make([]byte, 257), piv.ErrKeyMismatch},
		{"RSA signature wrong", r2048, &r2048.PublicKey, digest[:], crypto.SHA256, make([]byte, 256), piv.ErrKeyMismatch},
		{"empty slot", nil, &p256.PublicKey, digest[:], crypto.SHA256, nil, piv.ErrNotFound},
		{"digest of the wrong size", r2048, &r2048.PublicKey, digest[:20], crypto.SHA256, nil, nil},
		{"PSS digest of the wrong size", r2048, &r2048.PublicKey, digest[:20], &rsa.PSSOptions{Hash: crypto.SHA256}, nil, nil},
		{"PSS salt too long", r2048, &r2048.PublicKey, digest[:], &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: 250}, nil, nil},
		{"PSS without hash", r2048, &r2048.PublicKey, digest[:], &rsa.PSSOptions{}, nil, piv.ErrUnsupported},
		{"PKCS#1 v1.5 with MD5", r2048, &r2048.PublicKey, digest[:16], crypto.MD5, nil, piv.ErrUnsupported},
		{"unsupported key", p256, &ecKey(t, elliptic.P224()).PublicKey, digest[:], crypto.SHA256, nil, piv.ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeCard(t)
			if tt.key != nil {
				f.keys[0x9C] = tt.key
			}
			f.corrupt = tt.corrupt
			c := mustCard(t, newHandlerCard(f.handle))
			sig, err := c.Sign(ctx, pivspec.SlotSignature, tt.pub, tt.digest, tt.opts)
			if err == nil || sig != nil {
				t.Fatalf("Sign = %X, %v", sig, err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Sign error %v, want %v", err, tt.want)
			}
		})
	}
	c := mustCard(t, newHandlerCard(newFakeCard(t).handle))
	if _, err := c.Sign(ctx, piv.Slot(0x80), &p256.PublicKey, digest[:], crypto.SHA256); err == nil {
		t.Fatal("Sign accepted slot 80")
	}
}

func TestSigner(t *testing.T) {
	ctx := context.Background()
	for _, key := range []crypto.Signer{ecKey(t, elliptic.P384()), rsaKey(t, 2048)} {
		f := newFakeCard(t)
		f.keys[0x9A] = key
		c := mustCard(t, newHandlerCard(f.handle))
		s, err := c.Signer(ctx, pivspec.SlotAuthentication, key.Public())
		if err != nil {
			t.Fatal(err)
		}
		if s.Slot() != pivspec.SlotAuthentication {
			t.Fatalf("Slot() = %v", s.Slot())
		}
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "alice"}}, s)
		if err != nil {
			t.Fatal(err)
		}
		csr, err := x509.ParseCertificateRequest(der)
		if err != nil {
			t.Fatal(err)
		}
		if err := csr.CheckSignature(); err != nil {
			t.Fatalf("CSR signed on the card does not verify: %v", err)
		}
		// RSA-PSS through the Signer, with the salt from the caller's rand.
		if rk, ok := key.Public().(*rsa.PublicKey); ok {
			digest := sha256.Sum256([]byte("pss"))
			opts := &rsa.PSSOptions{Hash: crypto.SHA256, SaltLength: rsa.PSSSaltLengthEqualsHash}
			sig, err := s.Sign(rand.Reader, digest[:], opts)
			if err != nil {
				t.Fatal(err)
			}
			verify(t, rk, digest[:], sig, opts)
		}
	}
	c := mustCard(t, newHandlerCard(newFakeCard(t).handle))
	if _, err := c.Signer(ctx, piv.Slot(0x9B), &ecKey(t, elliptic.P256()).PublicKey); err == nil {
		t.Fatal("Signer accepted slot 9B")
	}
	if _, err := c.Signer(ctx, pivspec.SlotSignature, "not a key"); !errors.Is(err, piv.ErrUnsupported) {
		t.Fatalf("Signer with a string: %v", err)
	}
}

func TestECDH(t *testing.T) {
	ctx := context.Background()
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384()} {
		t.Run(curve.Params().Name, func(t *testing.T) {
			key := ecKey(t, curve)
			f := newFakeCard(t)
			f.keys[0x9D] = key
			c := mustCard(t, newHandlerCard(f.handle))
			onCard, err := key.PublicKey.ECDH()
			if err != nil {
				t.Fatal(err)
			}
			peer, err := onCard.Curve().GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.ECDH(ctx, pivspec.SlotKeyManagement, peer.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			want, err := peer.ECDH(onCard)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("ECDH = %X, want %X", got, want)
			}
		})
	}
}

func TestECDHErrors(t *testing.T) {
	ctx := context.Background()
	x, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdh.P384().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := newFakeCard(t)
	f.keys[0x9D] = ecKey(t, elliptic.P256())
	c := mustCard(t, newHandlerCard(f.handle))
	if _, err := c.ECDH(ctx, pivspec.SlotKeyManagement, x.PublicKey()); !errors.Is(err, piv.ErrUnsupported) {
		t.Errorf("X25519: %v", err)
	}
	if _, err := c.ECDH(ctx, pivspec.SlotKeyManagement, p384.PublicKey()); !errors.Is(err, apdu.ErrWrongParameters) {
		t.Errorf("P-384 peer for a P-256 key: %v", err)
	}
	if _, err := c.ECDH(ctx, pivspec.SlotKeyManagement, nil); err == nil {
		t.Error("nil peer accepted")
	}
	if _, err := c.ECDH(ctx, piv.Slot(0x42), p384.PublicKey()); err == nil {
		t.Error("slot 42 accepted")
	}
	f.keys[0x9D] = ecKey(t, elliptic.P384())
	f.corrupt = make([]byte, 47)
	if _, err := c.ECDH(ctx, pivspec.SlotKeyManagement, p384.PublicKey()); !errors.Is(err, apdu.ErrMalformed) {
		t.Errorf("47-byte secret: %v", err)
	}
}
