package emu

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// SoftKeyStore keeps private keys in memory as Go crypto keys; a key's blob
// is its PKCS#8 encoding, so whatever keeps the card's State must protect
// it (SealedFile encrypts it). It is the default KeyStore of a Card.
//
// Keys are generated with crypto/rand, which is also what crypto/rsa and
// crypto/ecdsa use whatever reader they are given. The zero value is ready.
type SoftKeyStore struct{}

// Generate creates a software key pair.
func (SoftKeyStore) Generate(alg Algorithm) (Key, error) {
	switch {
	case alg.IsRSA():
		priv, err := rsa.GenerateKey(rand.Reader, alg.RSABits())
		if err != nil {
			return nil, err
		}
		return &softRSA{alg: alg, priv: priv}, nil
	case alg.IsEC():
		priv, err := ecdsa.GenerateKey(alg.Curve(), rand.Reader)
		if err != nil {
			return nil, err
		}
		return newSoftEC(alg, priv)
	}
	return nil, fmt.Errorf("emu: cannot generate a key for %v", alg)
}

// Import wraps priv, which must match alg.
func (SoftKeyStore) Import(alg Algorithm, priv crypto.Signer) (Key, error) {
	switch p := priv.(type) {
	case *rsa.PrivateKey:
		if !alg.IsRSA() || p.N.BitLen() != alg.RSABits() {
			return nil, fmt.Errorf("emu: RSA %d-bit key does not match %v", p.N.BitLen(), alg)
		}
		p.Precompute()
		return &softRSA{alg: alg, priv: p}, nil
	case *ecdsa.PrivateKey:
		if !alg.IsEC() || p.Curve != alg.Curve() {
			return nil, fmt.Errorf("emu: EC key on %s does not match %v", p.Curve.Params().Name, alg)
		}
		return newSoftEC(alg, p)
	}
	return nil, fmt.Errorf("emu: cannot import a %T", priv)
}

// Load parses a PKCS#8 blob.
func (s SoftKeyStore) Load(alg Algorithm, blob []byte) (Key, error) {
	k, err := x509.ParsePKCS8PrivateKey(blob)
	if err != nil {
		return nil, fmt.Errorf("emu: software key blob: %w", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("emu: software key blob holds a %T", k)
	}
	return s.Import(alg, signer)
}

// ecdhCurveOf returns the crypto/ecdh curve of an EC algorithm.
func ecdhCurveOf(alg Algorithm) ecdh.Curve {
	if alg == pivspec.AlgECCP384 {
		return ecdh.P384()
	}
	return ecdh.P256()
}

type softRSA struct {
	alg  Algorithm
	priv *rsa.PrivateKey
}

func (k *softRSA) Algorithm() Algorithm                    { return k.alg }
func (k *softRSA) Public() crypto.PublicKey                { return &k.priv.PublicKey }
func (k *softRSA) SignECDSA([]byte) ([]byte, error)        { return nil, ErrWrongKeyType }
func (k *softRSA) ECDH(*ecdh.PublicKey) ([]byte, error)    { return nil, ErrWrongKeyType }
func (k *softRSA) RSAPrivate(block []byte) ([]byte, error) { return rawRSA(k.priv, block) }
func (k *softRSA) Blob() ([]byte, error)                   { return x509.MarshalPKCS8PrivateKey(k.priv) }

type softEC struct {
	alg  Algorithm
	priv *ecdsa.PrivateKey
	dh   *ecdh.PrivateKey
}

func newSoftEC(alg Algorithm, priv *ecdsa.PrivateKey) (*softEC, error) {
	dh, err := priv.ECDH()
	if err != nil {
		return nil, err
	}
	return &softEC{alg: alg, priv: priv, dh: dh}, nil
}

func (k *softEC) Algorithm() Algorithm                      { return k.alg }
func (k *softEC) Public() crypto.PublicKey                  { return &k.priv.PublicKey }
func (k *softEC) RSAPrivate([]byte) ([]byte, error)         { return nil, ErrWrongKeyType }
func (k *softEC) Blob() ([]byte, error)                     { return x509.MarshalPKCS8PrivateKey(k.priv) }
func (k *softEC) ECDH(peer *ecdh.PublicKey) ([]byte, error) { return k.dh.ECDH(peer) }

func (k *softEC) SignECDSA(digest []byte) ([]byte, error) {
	if len(digest) == 0 || len(digest) > k.alg.ECBytes() {
		return nil, fmt.Errorf("emu: %d-byte digest for %v", len(digest), k.alg)
	}
	return ecdsa.SignASN1(rand.Reader, k.priv, digest)
}
