package emu

import (
	"crypto"
	"crypto/ecdh"
	"errors"
)

// Key is a private key in a slot of the card. The card never sees the
// private key itself: it asks the Key for the one operation GENERAL
// AUTHENTICATE needs (SP 800-73-4 Part 2, 3.2.4 and appendix A), so a key
// may live in memory, in a TPM or on a server.
//
// Operations that do not fit the key's algorithm return an error; the card
// never asks for them.
type Key interface {
	// Algorithm is the key's algorithm (AlgRSA2048, AlgECCP256, ...).
	Algorithm() Algorithm

	// Public returns the public key: *rsa.PublicKey or *ecdsa.PublicKey.
	Public() crypto.PublicKey

	// SignECDSA signs digest, the hash the client computed (at most the
	// curve's size; shorter values are used as the integer they encode),
	// and returns the ASN.1 DER ECDSA-Sig-Value. EC keys only.
	SignECDSA(digest []byte) ([]byte, error)

	// ECDH returns the shared secret (the x coordinate, as SP 800-56A's
	// Z) of this key and peer, which is on the key's curve. EC keys only.
	ECDH(peer *ecdh.PublicKey) ([]byte, error)

	// RSAPrivate performs the raw RSA private-key operation on block, a
	// big-endian integer of exactly the modulus's size and smaller than
	// the modulus: the client did the padding (PKCS#1 v1.5, PSS, or none
	// for a decryption). The result has the modulus's size. RSA keys
	// only.
	RSAPrivate(block []byte) ([]byte, error)

	// Blob returns what the StateStore keeps for the key so that
	// KeyStore.Load can restore it: the private key for a software key,
	// a wrapped key or reference for stores that keep the key elsewhere.
	Blob() ([]byte, error)
}

// KeyStore makes and restores the card's private keys. Implementations
// must be safe for use by one card at a time; a card calls them with its
// lock held.
type KeyStore interface {
	// Generate creates a new key pair (GENERATE ASYMMETRIC KEY PAIR).
	Generate(alg Algorithm) (Key, error)

	// Import takes over a private key a client sent (the vendor IMPORT
	// KEY instruction): *rsa.PrivateKey or *ecdsa.PrivateKey, checked by
	// the card to match alg.
	Import(alg Algorithm, priv crypto.Signer) (Key, error)

	// Load restores a key from what its Blob returned.
	Load(alg Algorithm, blob []byte) (Key, error)
}

// KeyDestroyer is implemented by key stores that hold key material outside
// the blob, such as a TPM's persistent object or a server-side key. The
// card calls Destroy, after saving its state, for every key it has dropped:
// replaced by GENERATE or IMPORT KEY, or erased by RESET. Errors are
// logged; the key is already unreachable through the card.
type KeyDestroyer interface {
	Destroy(alg Algorithm, blob []byte) error
}

// ErrWrongKeyType is returned by a Key asked for an operation its
// algorithm does not have.
var ErrWrongKeyType = errors.New("emu: operation does not fit the key's algorithm")
