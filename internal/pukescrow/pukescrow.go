// Package pukescrow seals the PUK a workstation tool gives a standard PIV
// card after an offline unblock (the roll-forward, docs/lifecycle.md
// "Offline unblock"): the tool changes the released PUK at once to a fresh
// one nobody has seen and seals it to the server's escrow public key; the
// agent holds the sealed blob, which it cannot open, and uploads it at its
// next connection.
//
// The sealing is HPKE (RFC 9180) in base mode with DHKEM(X25519,
// HKDF-SHA256), HKDF-SHA256 and AES-256-GCM (crypto/hpke). The info
// string binds the blob to the card's serial and the challenge the PUK was
// released for, so a blob cannot be replayed for another card or release.
package pukescrow

import (
	"crypto/ecdh"
	"crypto/hpke"
	"errors"
)

var (
	kem  = hpke.DHKEM(ecdh.X25519())
	kdf  = hpke.HKDFSHA256()
	aead = hpke.AES256GCM()
)

// ErrOpen: the blob does not open with the key for this card and
// challenge.
var ErrOpen = errors.New("pukescrow: the sealed PUK does not open for this card and challenge")

// info is "lanyard puk escrow v1" ‖ len ‖ serial ‖ challenge.
func info(serial string, challenge [9]byte) []byte {
	b := append([]byte("lanyard puk escrow v1\x00"), byte(len(serial)))
	b = append(b, serial...)
	return append(b, challenge[:]...)
}

// GenerateKey returns a new escrow key pair: the private key (to seal
// with the server's sealer) and the public key (for agents), both in
// their RFC 9180 serialization.
func GenerateKey() (private, public []byte, err error) {
	k, err := kem.GenerateKey()
	if err != nil {
		return nil, nil, err
	}
	private, err = k.Bytes()
	if err != nil {
		return nil, nil, err
	}
	return private, k.PublicKey().Bytes(), nil
}

// Seal seals puk to the escrow public key for the card with serial and
// the challenge its previous PUK was released for.
func Seal(public []byte, serial string, challenge [9]byte, puk string) ([]byte, error) {
	pk, err := kem.NewPublicKey(public)
	if err != nil {
		return nil, err
	}
	return hpke.Seal(pk, kdf, aead, info(serial, challenge), []byte(puk))
}

// Open opens a blob Seal made, with the escrow private key.
func Open(private []byte, serial string, challenge [9]byte, blob []byte) (string, error) {
	k, err := kem.NewPrivateKey(private)
	if err != nil {
		return "", err
	}
	pt, err := hpke.Open(k, kdf, aead, info(serial, challenge), blob)
	if err != nil {
		return "", ErrOpen
	}
	return string(pt), nil
}
