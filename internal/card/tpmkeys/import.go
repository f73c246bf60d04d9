package tpmkeys

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"

	"github.com/google/go-tpm/tpm2"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
)

// ImportForPIN takes over an RSA private key made elsewhere (emu.PINImporter:
// IMPORT KEY, by which key archival recovers a key onto the card) as a key
// whose use needs the PIN of guard, like one of GenerateForPIN.
//
// The key goes into the TPM with TPM2_Import (TPM 2.0 Library Part 3,
// 13.3) under the storage root key, as a duplicate with an inner wrapper
// only (Part 1, "Duplication"): the sensitive area, preceded by its
// integrity digest, encrypted with a fresh AES-128 key in CFB mode. That
// key is TPM2_Import's first parameter and travels encrypted in the
// salted session, so the private key never crosses the TPM's bus in clear.
// An imported key cannot be fixedTPM or fixedParent, yet it still never
// leaves the TPM: TPM2_Duplicate needs a policy session whose command code
// was set to it (the DUP role, Part 1, "Duplication"), which the key's
// policy, PolicySecret of the PIN object alone, never does.
func (s *Store) ImportForPIN(guard []byte, alg emu.Algorithm, priv crypto.Signer) (emu.Key, error) {
	bits, err := keyBits(alg)
	if err != nil {
		return nil, err
	}
	k, ok := priv.(*rsa.PrivateKey)
	if !ok || k.N.BitLen() != int(bits) || len(k.Primes) != 2 || k.E < 3 || int64(k.E) > 1<<32-1 {
		return nil, fmt.Errorf("%w (importing a %T of another size or form)", errRSAOnly, priv)
	}
	policy, err := guardKeyPolicy(guard)
	if err != nil {
		return nil, err
	}
	unlock, err := s.lockForKey(bits)
	if err != nil {
		return nil, err
	}
	defer unlock()
	o, err := s.importRSA(importedKeyTemplate(bits, policy, k), k)
	if err != nil {
		return nil, fmt.Errorf("tpmkeys: importing an RSA %d key (TPM2_Import): %w", bits, err)
	}
	return newKey(s, alg, keyBlob{kind: kindImportedKey, object: o})
}

// importedKeyTemplate is keyTemplate for an imported key k: neither
// fixedTPM nor fixedParent (TPM2_Import refuses them) nor
// sensitiveDataOrigin (the TPM did not make it), k's modulus and exponent.
func importedKeyTemplate(bits tpm2.TPMKeyBits, policy []byte, k *rsa.PrivateKey) tpm2.TPMTPublic {
	t := keyTemplate(bits, policy)
	t.ObjectAttributes.FixedTPM = false
	t.ObjectAttributes.FixedParent = false
	t.ObjectAttributes.SensitiveDataOrigin = false
	params, _ := t.Parameters.RSADetail()
	if k.E != 65537 {
		params.Exponent = uint32(k.E) // 0 means 65537 (Part 2, 12.2.3.5)
	}
	t.Parameters = tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, params)
	t.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: k.N.FillBytes(make([]byte, int(bits)/8))})
	return t
}

// importRSA runs TPM2_Import of k with public area pub under the SRK and
// returns the object with the private area the TPM made.
func (s *Store) importRSA(pub tpm2.TPMTPublic, k *rsa.PrivateKey) (object, error) {
	name, err := tpm2.ObjectName(&pub)
	if err != nil {
		return object{}, err
	}
	obfuscation := make([]byte, sha256.Size)
	symKey := make([]byte, 16)
	if _, err := rand.Read(obfuscation); err != nil {
		return object{}, err
	}
	if _, err := rand.Read(symKey); err != nil {
		return object{}, err
	}
	// TPM2B_SENSITIVE: the first prime, as Part 2, 11.2.7.3 keeps it.
	p := k.Primes[0].FillBytes(make([]byte, k.N.BitLen()/16))
	sensitive := tpm2.Marshal(tpm2.TPM2BPrivate{Buffer: tpm2.Marshal(tpm2.TPMTSensitive{
		SensitiveType: tpm2.TPMAlgRSA,
		SeedValue:     tpm2.TPM2BDigest{Buffer: obfuscation},
		Sensitive:     tpm2.NewTPMUSensitiveComposite(tpm2.TPMAlgRSA, &tpm2.TPM2BPrivateKeyRSA{Buffer: p}),
	})})
	clear(p)
	// Inner wrapper (Part 1, "Inner Duplication Wrapper"): the integrity
	// digest H(sensitive ‖ Name) as a TPM2B, then the sensitive area, all
	// encrypted in CFB mode with a zero IV.
	h := sha256.New()
	h.Write(sensitive)
	h.Write(name.Buffer)
	dup := append(tpm2.Marshal(tpm2.TPM2BDigest{Buffer: h.Sum(nil)}), sensitive...)
	clear(sensitive)
	block, err := aes.NewCipher(symKey)
	if err != nil {
		return object{}, err
	}
	cfbEncrypt(block, dup)
	rsp, err := tpm2.Import{
		ParentHandle:  s.parent(true),
		EncryptionKey: tpm2.TPM2BData{Buffer: symKey},
		ObjectPublic:  tpm2.New2B(pub),
		Duplicate:     tpm2.TPM2BPrivate{Buffer: dup},
		Symmetric: tpm2.TPMTSymDef{
			Algorithm: tpm2.TPMAlgAES,
			KeyBits:   tpm2.NewTPMUSymKeyBits(tpm2.TPMAlgAES, tpm2.TPMKeyBits(128)),
			Mode:      tpm2.NewTPMUSymMode(tpm2.TPMAlgAES, tpm2.TPMAlgCFB),
		},
	}.Execute(s.tpm)
	clear(symKey)
	if err != nil {
		return object{}, err
	}
	return object{pub: tpm2.New2B(pub), priv: rsp.OutPrivate}, nil
}

// cfbEncrypt encrypts b in place in CFB mode with a zero IV and full-block
// feedback, as the TPM's inner wrapper uses it (Part 1, "Symmetric
// Encryption": CFB, the IV all zero). crypto/cipher's CFB is deprecated
// for new protocols; this one is fixed by the TPM specification.
func cfbEncrypt(block cipher.Block, b []byte) {
	n := block.BlockSize()
	feedback := make([]byte, n)
	stream := make([]byte, n)
	for i := 0; i < len(b); i += n {
		block.Encrypt(stream, feedback)
		end := min(i+n, len(b))
		for j := i; j < end; j++ {
			b[j] ^= stream[j-i]
		}
		copy(feedback, b[i:end])
	}
}
