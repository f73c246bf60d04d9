package tpmkeys

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// Blobs are what the card state keeps: a version byte, a kind byte, then
// each object as TPM2B_PUBLIC || TPM2B_PRIVATE (TPM 2.0 Library Part 2,
// 12.2.5 and 12.3.7), exactly as TPM2_Create returned them. The private
// area is encrypted and integrity-protected by the TPM under the storage
// root key (Part 1, "Protected Storage"), so a blob holds no secret in
// clear and loads only in the TPM that made it.
const (
	blobVersion = 1

	kindPINKey  = 1 // a card key bound to the PIN object
	kindOpenKey = 2 // a key without PIN (the attestation key)
	kindGuard   = 3 // the PIN object and the PUK object (guard v1)
	kindGuardV2 = 4 // the PIN, PUK and unblock objects (guard v2: offline unblock)
	// kindImportedKey: a card key imported from outside (ImportForPIN),
	// bound to the PIN object like kindPINKey but not fixed to the TPM.
	kindImportedKey = 5
)

// maxPrivate bounds a TPM2B_PRIVATE (Part 2, 12.3.7: at most the size of
// an _PRIVATE structure; RSA 4096 needs under 1.2 KiB).
const maxPrivate = 2048

// keyBlob is a parsed key blob.
type keyBlob struct {
	kind byte
	object
}

// guardBlob is a parsed guard blob. unblock is nil in a guard v1, made
// before offline unblock: its PIN object's policy has no branch for it.
type guardBlob struct {
	pin, puk object
	unblock  *object
}

func appendObject(b []byte, o object) []byte {
	b = append(b, tpm2.Marshal(o.pub)...)
	return append(b, tpm2.Marshal(o.priv)...)
}

func (k keyBlob) marshal() []byte {
	return appendObject([]byte{blobVersion, k.kind}, k.object)
}

func (g guardBlob) marshal() []byte {
	if g.unblock == nil {
		return appendObject(appendObject([]byte{blobVersion, kindGuard}, g.pin), g.puk)
	}
	return appendObject(appendObject(appendObject([]byte{blobVersion, kindGuardV2}, g.pin), g.puk), *g.unblock)
}

var errBlob = errors.New("tpmkeys: not a TPM key blob of this version")

// parseHeader checks the version and kind bytes.
func parseHeader(b []byte) (kind byte, rest []byte, err error) {
	if len(b) < 2 || b[0] != blobVersion {
		return 0, nil, errBlob
	}
	return b[1], b[2:], nil
}

// read2B splits a TPM2B off b: a 2-byte big-endian size and that many
// bytes.
func read2B(b []byte) (val, rest []byte, err error) {
	if len(b) < 2 {
		return nil, nil, fmt.Errorf("%w: truncated", errBlob)
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b)-2 < n {
		return nil, nil, fmt.Errorf("%w: truncated", errBlob)
	}
	return b[2 : 2+n], b[2+n:], nil
}

// parseObject reads TPM2B_PUBLIC || TPM2B_PRIVATE. The public area must
// marshal back to the same bytes: no trailing or ignored data.
func parseObject(b []byte) (object, []byte, error) {
	pubBytes, rest, err := read2B(b)
	if err != nil {
		return object{}, nil, err
	}
	privBytes, rest, err := read2B(rest)
	if err != nil {
		return object{}, nil, err
	}
	if len(pubBytes) == 0 || len(privBytes) == 0 || len(privBytes) > maxPrivate {
		return object{}, nil, fmt.Errorf("%w: empty or oversized area", errBlob)
	}
	pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](pubBytes)
	if err != nil {
		return object{}, nil, fmt.Errorf("%w: public area: %v", errBlob, err)
	}
	if !bytes.Equal(tpm2.Marshal(pub), pubBytes) {
		return object{}, nil, fmt.Errorf("%w: public area has trailing data", errBlob)
	}
	o := object{pub: tpm2.New2B(*pub), priv: tpm2.TPM2BPrivate{Buffer: bytes.Clone(privBytes)}}
	return o, rest, nil
}

// parseKeyBlob parses a key blob and checks that its public area is a
// card key's: RSA 2048 or 3072 with the attributes keyTemplate sets.
func parseKeyBlob(b []byte) (keyBlob, error) {
	kind, rest, err := parseHeader(b)
	if err != nil {
		return keyBlob{}, err
	}
	if kind != kindPINKey && kind != kindOpenKey && kind != kindImportedKey {
		return keyBlob{}, fmt.Errorf("%w: kind %d is not a key", errBlob, kind)
	}
	o, rest, err := parseObject(rest)
	if err != nil {
		return keyBlob{}, err
	}
	if len(rest) != 0 {
		return keyBlob{}, fmt.Errorf("%w: trailing data", errBlob)
	}
	pub, err := o.pub.Contents()
	if err != nil {
		return keyBlob{}, fmt.Errorf("%w: %v", errBlob, err)
	}
	params, err := rsaParams(pub)
	if err != nil {
		return keyBlob{}, err
	}
	if n, err := pub.Unique.RSA(); err != nil || len(n.Buffer) != int(params.KeyBits)/8 || n.Buffer[0]&0x80 == 0 {
		return keyBlob{}, fmt.Errorf("%w: the modulus is not of %d bits", errBlob, params.KeyBits)
	}
	a := pub.ObjectAttributes
	bound := kind != kindOpenKey
	// A key the TPM made is fixed to it; an imported one cannot be
	// (importedKeyTemplate).
	made := kind != kindImportedKey
	if a.FixedTPM != made || a.FixedParent != made || a.SensitiveDataOrigin != made || !a.Decrypt || !a.SignEncrypt || a.Restricted ||
		a.UserWithAuth == bound || a.AdminWithPolicy != bound || a.NoDA == bound || (bound && len(pub.AuthPolicy.Buffer) == 0) {
		return keyBlob{}, fmt.Errorf("%w: the key's attributes are not a card key's", errBlob)
	}
	return keyBlob{kind: kind, object: o}, nil
}

// rsaParams returns the RSA parameters of a card key's public area.
func rsaParams(pub *tpm2.TPMTPublic) (*tpm2.TPMSRSAParms, error) {
	if pub.Type != tpm2.TPMAlgRSA || pub.NameAlg != tpm2.TPMAlgSHA256 {
		return nil, fmt.Errorf("%w: not an RSA key with SHA-256 names", errBlob)
	}
	p, err := pub.Parameters.RSADetail()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errBlob, err)
	}
	if (p.KeyBits != 2048 && p.KeyBits != 3072) || p.Scheme.Scheme != tpm2.TPMAlgNull || p.Symmetric.Algorithm != tpm2.TPMAlgNull {
		return nil, fmt.Errorf("%w: RSA %d key with scheme %v", errBlob, p.KeyBits, p.Scheme.Scheme)
	}
	return p, nil
}

// parseGuardBlob parses the guard data and checks that its objects are
// sealed data objects as sealedTemplate makes them: the PIN object and
// the unblock object (guard v2) with an admin policy, the PUK object
// without.
func parseGuardBlob(b []byte) (guardBlob, error) {
	kind, rest, err := parseHeader(b)
	if err != nil {
		return guardBlob{}, err
	}
	if kind != kindGuard && kind != kindGuardV2 {
		return guardBlob{}, fmt.Errorf("%w: kind %d is not PIN guard data", errBlob, kind)
	}
	var g guardBlob
	if g.pin, rest, err = parseObject(rest); err != nil {
		return guardBlob{}, err
	}
	if g.puk, rest, err = parseObject(rest); err != nil {
		return guardBlob{}, err
	}
	objs := []object{g.pin, g.puk}
	if kind == kindGuardV2 {
		var u object
		if u, rest, err = parseObject(rest); err != nil {
			return guardBlob{}, err
		}
		g.unblock = &u
		objs = append(objs, u)
	}
	if len(rest) != 0 {
		return guardBlob{}, fmt.Errorf("%w: trailing data", errBlob)
	}
	for i, o := range objs {
		pub, err := o.pub.Contents()
		if err != nil {
			return guardBlob{}, fmt.Errorf("%w: %v", errBlob, err)
		}
		a := pub.ObjectAttributes
		if pub.Type != tpm2.TPMAlgKeyedHash || pub.NameAlg != tpm2.TPMAlgSHA256 || !a.FixedTPM || !a.FixedParent ||
			!a.UserWithAuth || a.NoDA || a.SignEncrypt || a.Decrypt || a.AdminWithPolicy != (i != 1) {
			return guardBlob{}, fmt.Errorf("%w: the PIN, PUK or unblock object's attributes are wrong", errBlob)
		}
	}
	return g, nil
}

// name returns the TPM Name of an object (Part 1, "Names": nameAlg || H(public
// area)).
func (o object) name() (tpm2.TPM2BName, error) {
	pub, err := o.pub.Contents()
	if err != nil {
		return tpm2.TPM2BName{}, err
	}
	n, err := tpm2.ObjectName(pub)
	if err != nil {
		return tpm2.TPM2BName{}, err
	}
	return *n, nil
}
