package piv

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// digestInfoPrefix is the DER of DigestInfo up to the digest (RFC 8017
// 9.2, note 1) for the hashes PKCS#1 v1.5 signatures use.
var digestInfoPrefix = map[crypto.Hash][]byte{
	crypto.SHA1:   {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA224: {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c},
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// rsaPad returns the k-byte block whose raw RSA private operation is the
// signature of digest: EMSA-PKCS1-v1_5 (RFC 8017 9.2) or, when opts is an
// *rsa.PSSOptions, EMSA-PSS (9.1.1) with MGF1 of the same hash.
func rsaPad(pub *rsa.PublicKey, digest []byte, opts crypto.SignerOpts, random io.Reader) ([]byte, error) {
	k := pub.Size()
	if pss, ok := opts.(*rsa.PSSOptions); ok {
		em, err := emsaPSS(digest, pub.N.BitLen()-1, pss, random)
		if err != nil {
			return nil, err
		}
		block := make([]byte, k)
		copy(block[k-len(em):], em)
		return block, nil
	}
	h := opts.HashFunc()
	var prefix []byte
	if h != 0 {
		var ok bool
		if prefix, ok = digestInfoPrefix[h]; !ok {
			return nil, fmt.Errorf("%w: PKCS#1 v1.5 with %v", ErrUnsupported, h)
		}
		if len(digest) != h.Size() {
			return nil, fmt.Errorf("a %v digest is %d bytes, not %d", h, h.Size(), len(digest))
		}
	}
	t := len(prefix) + len(digest)
	if k < t+11 {
		return nil, fmt.Errorf("a %d-byte digest does not fit a %d-bit RSA key", len(digest), pub.N.BitLen())
	}
	// EM = 00 01 FF…FF 00 T, at least 8 FF.
	em := make([]byte, k)
	em[1] = 0x01
	for i := 2; i < k-t-1; i++ {
		em[i] = 0xFF
	}
	copy(em[k-t:], prefix)
	copy(em[k-len(digest):], digest)
	return em, nil
}

// emsaPSS is EMSA-PSS-ENCODE of RFC 8017 9.1.1 for a digest already
// computed (mHash), producing emLen = ceil(emBits/8) bytes.
func emsaPSS(mHash []byte, emBits int, opts *rsa.PSSOptions, random io.Reader) ([]byte, error) {
	h := opts.Hash
	if h == 0 || !h.Available() {
		return nil, fmt.Errorf("%w: PSS with hash %v", ErrUnsupported, h)
	}
	hLen := h.Size()
	if len(mHash) != hLen {
		return nil, fmt.Errorf("a %v digest is %d bytes, not %d", h, hLen, len(mHash))
	}
	emLen := (emBits + 7) / 8
	sLen := opts.SaltLength
	switch sLen {
	case rsa.PSSSaltLengthAuto:
		sLen = emLen - hLen - 2
	case rsa.PSSSaltLengthEqualsHash:
		sLen = hLen
	}
	if sLen < 0 || emLen < hLen+sLen+2 {
		return nil, errors.New("PSS salt length does not fit the key")
	}
	salt := make([]byte, sLen)
	if _, err := io.ReadFull(random, salt); err != nil {
		return nil, fmt.Errorf("reading the PSS salt: %w", err)
	}

	// H = Hash(00*8 || mHash || salt)
	hh := h.New()
	hh.Write(make([]byte, 8))
	hh.Write(mHash)
	hh.Write(salt)
	H := hh.Sum(nil)

	// DB = PS || 01 || salt, masked with MGF1(H).
	dbLen := emLen - hLen - 1
	db := make([]byte, dbLen)
	db[dbLen-sLen-1] = 0x01
	copy(db[dbLen-sLen:], salt)
	mask := mgf1(h, H, dbLen)
	for i := range db {
		db[i] ^= mask[i]
	}
	db[0] &= 0xFF >> (8*emLen - emBits)

	em := make([]byte, 0, emLen)
	em = append(em, db...)
	em = append(em, H...)
	return append(em, 0xBC), nil
}

// mgf1 is the mask generation function of RFC 8017 B.2.1.
func mgf1(h crypto.Hash, seed []byte, n int) []byte {
	var out bytes.Buffer
	var counter [4]byte
	for i := uint32(0); out.Len() < n; i++ {
		binary.BigEndian.PutUint32(counter[:], i)
		hh := h.New()
		hh.Write(seed)
		hh.Write(counter[:])
		out.Write(hh.Sum(nil))
	}
	return out.Bytes()[:n]
}
