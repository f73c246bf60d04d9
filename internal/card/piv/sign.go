package piv

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/rsa"
	"fmt"
	"io"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// Sign signs digest with the private key in slot, whose public key is pub,
// by GENERAL AUTHENTICATE (SP 800-73-4 Part 2 3.2.4, appendix A.4):
// 7C { 82 00, 81 data } answered by 7C { 82 signature }. The PIN must be
// verified first unless the slot's PIN policy says never (9E by default).
//
// For ECDSA the card signs the digest, cut to the curve's size as crypto/
// ecdsa does, and Sign returns the card's ASN.1 DER signature. For RSA the
// card only computes the raw RSA operation, so Sign pads the digest
// itself: PKCS#1 v1.5 with opts.HashFunc()'s DigestInfo (none for hash 0),
// or PSS when opts is an *rsa.PSSOptions. Either way Sign checks the
// signature against pub before returning it (ErrKeyMismatch).
func (c *Card) Sign(ctx context.Context, slot Slot, pub crypto.PublicKey, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return c.sign(ctx, slot, pub, digest, opts, c.rand)
}

func (c *Card) sign(ctx context.Context, slot Slot, pub crypto.PublicKey, digest []byte, opts crypto.SignerOpts, random io.Reader) ([]byte, error) {
	op := fmt.Sprintf("GENERAL AUTHENTICATE %02X (sign)", byte(slot))
	if err := checkSlot(op, slot); err != nil {
		return nil, err
	}
	if opts == nil {
		opts = crypto.Hash(0)
	}
	alg, err := publicKeyAlgorithm(pub)
	if err != nil {
		return nil, fmt.Errorf("piv: %s: %w", op, err)
	}
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().N.BitLen() + 7) / 8
		data := make([]byte, size)
		if len(digest) > size {
			copy(data, digest[:size])
		} else {
			copy(data[size-len(digest):], digest) // same integer
		}
		sig, err := c.generalAuthenticate(ctx, op, alg, slot, pivspec.TagChallenge, data)
		if err != nil {
			return nil, err
		}
		if !ecdsa.VerifyASN1(k, digest, sig) {
			return nil, fmt.Errorf("%w (%s)", ErrKeyMismatch, op)
		}
		return sig, nil
	case *rsa.PublicKey:
		block, err := rsaPad(k, digest, opts, random)
		if err != nil {
			return nil, fmt.Errorf("piv: %s: %w", op, err)
		}
		raw, err := c.generalAuthenticate(ctx, op, alg, slot, pivspec.TagChallenge, block)
		if err != nil {
			return nil, err
		}
		if len(raw) > k.Size() {
			return nil, fmt.Errorf("%w (%s: %d-byte signature)", ErrKeyMismatch, op, len(raw))
		}
		sig := make([]byte, k.Size())
		copy(sig[len(sig)-len(raw):], raw)
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			err = rsa.VerifyPSS(k, pss.Hash, digest, sig, pss)
		} else {
			err = rsa.VerifyPKCS1v15(k, opts.HashFunc(), digest, sig)
		}
		if err != nil {
			return nil, fmt.Errorf("%w (%s)", ErrKeyMismatch, op)
		}
		return sig, nil
	}
	return nil, fmt.Errorf("piv: %s: %w: public key %T", op, ErrUnsupported, pub)
}

// ECDH computes the shared secret of the key in slot and peer's public key
// (GENERAL AUTHENTICATE with 7C { 82 00, 85 point }, SP 800-73-4 Part 2
// 3.2.4, appendix A.5): the x-coordinate of the shared point, as
// crypto/ecdh's PrivateKey.ECDH returns it. peer must be on the curve of
// the slot's key; the PIN must be verified first, as for Sign.
func (c *Card) ECDH(ctx context.Context, slot Slot, peer *ecdh.PublicKey) ([]byte, error) {
	op := fmt.Sprintf("GENERAL AUTHENTICATE %02X (key agreement)", byte(slot))
	if err := checkSlot(op, slot); err != nil {
		return nil, err
	}
	if peer == nil {
		return nil, fmt.Errorf("piv: %s: no peer key", op)
	}
	var alg Algorithm
	switch peer.Curve() {
	case ecdh.P256():
		alg = pivspec.AlgECCP256
	case ecdh.P384():
		alg = pivspec.AlgECCP384
	default:
		return nil, fmt.Errorf("piv: %s: %w: curve %v", op, ErrUnsupported, peer.Curve())
	}
	secret, err := c.generalAuthenticate(ctx, op, alg, slot, pivspec.TagExponent, peer.Bytes())
	if err != nil {
		return nil, err
	}
	if want := (alg.Curve().Params().BitSize + 7) / 8; len(secret) != want {
		return nil, fmt.Errorf("piv: %s: %w shared secret of %d bytes, want %d", op, apdu.ErrMalformed, len(secret), want)
	}
	return secret, nil
}

// generalAuthenticate sends 7C { 82 00, tag data } for the key in slot and
// returns the value of 82 in the card's 7C. Tag 81 is a challenge (to
// sign), 85 an exponentiation (a peer point).
func (c *Card) generalAuthenticate(ctx context.Context, op string, alg Algorithm, slot Slot, tag uint32, data []byte) ([]byte, error) {
	inner := apdu.AppendTLV(nil, pivspec.TagResponse, nil)
	inner = apdu.AppendTLV(inner, tag, data)
	resp, err := c.do(ctx, op, apdu.Command{INS: pivspec.InsGeneralAuth, P1: byte(alg), P2: byte(slot), Data: apdu.AppendTLV(nil, pivspec.TagDynamicAuth, inner), Le: apdu.MaxShortLe})
	if err != nil {
		return nil, err
	}
	out, err := dynamicAuthValue(resp, pivspec.TagResponse)
	if err != nil {
		return nil, fmt.Errorf("piv: %s: %w", op, err)
	}
	return out, nil
}

// Signer returns a crypto.Signer for the key in slot whose public key is
// pub, for x509.CreateCertificateRequest, TLS and the like. crypto.Signer
// has no context, so ctx bounds every Sign of the returned Signer; the
// Signer shares the Card and must not be used concurrently with it.
func (c *Card) Signer(ctx context.Context, slot Slot, pub crypto.PublicKey) (*KeySigner, error) {
	if err := checkSlot("Signer", slot); err != nil {
		return nil, err
	}
	if _, err := publicKeyAlgorithm(pub); err != nil {
		return nil, fmt.Errorf("piv: Signer: %w", err)
	}
	return &KeySigner{ctx: ctx, card: c, slot: slot, pub: pub}, nil
}

// KeySigner is a crypto.Signer backed by a key slot; see Card.Signer.
type KeySigner struct {
	ctx  context.Context
	card *Card
	slot Slot
	pub  crypto.PublicKey
}

// Public returns the slot's public key.
func (s *KeySigner) Public() crypto.PublicKey { return s.pub }

// Slot returns the slot.
func (s *KeySigner) Slot() Slot { return s.slot }

// Sign signs digest as Card.Sign does; random, if not nil, supplies the
// salt of RSA-PSS signatures.
func (s *KeySigner) Sign(random io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if random == nil {
		random = s.card.rand
	}
	return s.card.sign(s.ctx, s.slot, s.pub, digest, opts, random)
}
