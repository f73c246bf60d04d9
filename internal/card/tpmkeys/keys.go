package tpmkeys

import (
	"crypto"
	"crypto/ecdh"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// errImport is IMPORT KEY's answer.
var errImport = fmt.Errorf("tpmkeys: the attestation key of a TPM virtual smart card is generated in the TPM; importing one is refused: %w", emu.ErrNotSupported)

// keyBits returns the modulus size of a supported algorithm.
func keyBits(alg emu.Algorithm) (tpm2.TPMKeyBits, error) {
	switch alg {
	case pivspec.AlgRSA2048:
		return 2048, nil
	case pivspec.AlgRSA3072:
		return 3072, nil
	}
	return 0, fmt.Errorf("%w (asked for %v)", errRSAOnly, alg)
}

// Generate makes a key without PIN (emu.KeyStore): the card asks for one
// only as its attestation key (see emu.PINGuard); slot keys come from
// GenerateForPIN.
func (s *Store) Generate(alg emu.Algorithm) (emu.Key, error) {
	return s.generate(alg, nil)
}

// GenerateForPIN makes a key pair whose use needs the PIN of guard
// (emu.PINGuard): its policy is PolicySecret of the PIN object.
func (s *Store) GenerateForPIN(guard []byte, alg emu.Algorithm) (emu.Key, error) {
	policy, err := guardKeyPolicy(guard)
	if err != nil {
		return nil, err
	}
	return s.generate(alg, policy)
}

// guardKeyPolicy is keyPolicy for the PIN object of guard.
func guardKeyPolicy(guard []byte) ([]byte, error) {
	g, err := parseGuardBlob(guard)
	if err != nil {
		return nil, err
	}
	name, err := g.pin.name()
	if err != nil {
		return nil, err
	}
	return keyPolicy(name)
}

func (s *Store) generate(alg emu.Algorithm, policy []byte) (emu.Key, error) {
	bits, err := keyBits(alg)
	if err != nil {
		return nil, err
	}
	unlock, err := s.lockForKey(bits)
	if err != nil {
		return nil, err
	}
	defer unlock()
	o, err := s.create(keyTemplate(bits, policy), nil, nil)
	if err != nil {
		return nil, fmt.Errorf("tpmkeys: creating an RSA %d key (TPM2_Create): %w", bits, err)
	}
	kind := byte(kindOpenKey)
	if policy != nil {
		kind = kindPINKey
	}
	return newKey(s, alg, keyBlob{kind: kind, object: o})
}

// lockForKey takes the store's lock for making an RSA key of bits, after
// TPM2_TestParms (Part 3, 30.3) for sizes other than 2048, which every
// TPM has, for a clear error.
func (s *Store) lockForKey(bits tpm2.TPMKeyBits) (func(), error) {
	unlock, err := s.lock()
	if err != nil || bits == 2048 {
		return unlock, err
	}
	if _, err := (tpm2.TestParms{Parameters: tpm2.TPMTPublicParms{Type: tpm2.TPMAlgRSA, Parameters: keyTemplate(bits, nil).Parameters}}).Execute(s.tpm); err != nil {
		unlock()
		return nil, fmt.Errorf("tpmkeys: this TPM cannot hold RSA %d keys (%v): %w", bits, err, emu.ErrNotSupported)
	}
	return unlock, nil
}

// Import refuses (emu.KeyStore): every key a card imports into a slot
// needs the PIN, which only ImportForPIN gives it; the card asks Import
// only for its attestation key, which stays one the TPM made. The card
// answers 6A81.
func (s *Store) Import(emu.Algorithm, crypto.Signer) (emu.Key, error) {
	return nil, errImport
}

// Load restores a key from its blob (emu.KeyStore). The blob is loaded
// into the TPM once and flushed, so that a blob of another TPM fails here,
// when the card starts, with ErrForeignBlob.
func (s *Store) Load(alg emu.Algorithm, blob []byte) (emu.Key, error) {
	kb, err := parseKeyBlob(blob)
	if err != nil {
		return nil, err
	}
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	h, err := s.load(kb.object)
	if err != nil {
		return nil, err
	}
	s.flush(h.Handle)
	return newKey(s, alg, kb)
}

// key is a card key in the TPM.
type key struct {
	s    *Store
	alg  emu.Algorithm
	blob keyBlob
	pub  *rsa.PublicKey
}

func newKey(s *Store, alg emu.Algorithm, kb keyBlob) (*key, error) {
	pub, err := kb.pub.Contents()
	if err != nil {
		return nil, err
	}
	params, err := rsaParams(pub)
	if err != nil {
		return nil, err
	}
	if bits, err := keyBits(alg); err != nil || bits != params.KeyBits {
		return nil, fmt.Errorf("tpmkeys: the blob holds an RSA %d key, not %v", params.KeyBits, alg)
	}
	modulus, err := pub.Unique.RSA()
	if err != nil {
		return nil, err
	}
	rsaPub, err := tpm2.RSAPub(params, modulus)
	if err != nil {
		return nil, err
	}
	return &key{s: s, alg: alg, blob: kb, pub: rsaPub}, nil
}

func (k *key) Algorithm() emu.Algorithm                { return k.alg }
func (k *key) Public() crypto.PublicKey                { return k.pub }
func (k *key) SignECDSA([]byte) ([]byte, error)        { return nil, emu.ErrWrongKeyType }
func (k *key) ECDH(*ecdh.PublicKey) ([]byte, error)    { return nil, emu.ErrWrongKeyType }
func (k *key) Blob() ([]byte, error)                   { return k.blob.marshal(), nil }
func (k *key) bound() bool                             { return k.blob.kind != kindOpenKey }
func (k *key) String() string                          { return fmt.Sprintf("TPM %v key", k.alg) }
func (k *key) RSAPrivate(block []byte) ([]byte, error) { return k.rsaPrivate(nil, nil, block) }

// RSAPrivateWithPIN is the raw RSA private-key operation with the PIN
// (emu.PINKey).
func (k *key) RSAPrivateWithPIN(guard, pin, block []byte) ([]byte, error) {
	if !k.bound() {
		return k.rsaPrivate(nil, nil, block)
	}
	if len(pin) == 0 {
		return nil, fmt.Errorf("tpmkeys: no PIN verified for a PIN-bound key: %w", emu.ErrWrongReference)
	}
	g, err := parseGuardBlob(guard)
	if err != nil {
		return nil, err
	}
	return k.rsaPrivate(&g, pin, block)
}

// rsaPrivate loads the key and runs TPM2_RSA_Decrypt with TPM_ALG_NULL
// (Part 3, 14.3): the raw RSA operation. A PIN-bound key is authorized by
// a policy session in which PolicySecret (Part 3, 23.4) proved the PIN to
// the PIN object; a wrong PIN fails there, counted by the TPM.
func (k *key) rsaPrivate(g *guardBlob, pin, block []byte) ([]byte, error) {
	if k.bound() && g == nil {
		return nil, errors.New("tpmkeys: a PIN-bound key needs the PIN (RSAPrivateWithPIN)")
	}
	if len(block) != k.pub.Size() {
		return nil, fmt.Errorf("tpmkeys: %d-byte input for an RSA %d key", len(block), k.pub.N.BitLen())
	}
	s := k.s
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()

	var auth tpm2.Session = tpm2.PasswordAuth(nil)
	if g != nil {
		sess, closeSession, err := s.pinPolicySession(*g, pin)
		if err != nil {
			return nil, err
		}
		defer closeSession()
		auth = sess
	}
	h, err := s.load(k.blob.object)
	if err != nil {
		return nil, err
	}
	defer s.flush(h.Handle)
	rsp, err := tpm2.RSADecrypt{
		KeyHandle:  tpm2.AuthHandle{Handle: h.Handle, Name: h.Name, Auth: auth},
		CipherText: tpm2.TPM2BPublicKeyRSA{Buffer: block},
		InScheme:   tpm2.TPMTRSADecrypt{Scheme: tpm2.TPMAlgNull},
	}.Execute(s.tpm)
	if err != nil {
		return nil, authError(err, "PIN for the key")
	}
	out := rsp.Message.Buffer
	if len(out) > k.pub.Size() {
		return nil, fmt.Errorf("tpmkeys: TPM2_RSA_Decrypt returned %d bytes", len(out))
	}
	// Left-pad: the result is an integer of the modulus's size.
	res := make([]byte, k.pub.Size())
	copy(res[len(res)-len(out):], out)
	return res, nil
}

// pinPolicySession starts a policy session (Part 1, "Enhanced Authorization") and satisfies a
// card key's policy in it: PolicySecret of the PIN object with pin. The
// PIN object is flushed again at once, so the key needs only one slot
// more.
func (s *Store) pinPolicySession(g guardBlob, pin []byte) (tpm2.Session, func() error, error) {
	sess, closeSession, err := tpm2.PolicySession(s.tpm, tpm2.TPMAlgSHA256, 16)
	if err != nil {
		return nil, nil, fmt.Errorf("tpmkeys: starting a policy session: %w", err)
	}
	if err := s.policySecret(sess, g.pin, pin, "PIN"); err != nil {
		closeSession()
		return nil, nil, err
	}
	return sess, closeSession, nil
}

// policySecret loads o and runs PolicySecret of it with auth in sess.
func (s *Store) policySecret(sess tpm2.Session, o object, auth []byte, what string) error {
	h, err := s.load(o)
	if err != nil {
		return err
	}
	defer s.flush(h.Handle)
	_, err = tpm2.PolicySecret{
		AuthHandle:    tpm2.AuthHandle{Handle: h.Handle, Name: h.Name, Auth: s.authSession(auth, false)},
		PolicySession: sess.Handle(),
		NonceTPM:      sess.NonceTPM(),
	}.Execute(s.tpm)
	if err != nil {
		return authError(err, what)
	}
	return nil
}
