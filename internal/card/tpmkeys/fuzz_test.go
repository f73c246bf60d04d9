package tpmkeys

import (
	"bytes"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// seedObject is an object as TPM2_Create returns it, with stand-ins for
// the modulus and the encrypted private area.
func seedObject(tmpl tpm2.TPMTPublic) object {
	if tmpl.Type == tpm2.TPMAlgRSA {
		params, _ := tmpl.Parameters.RSADetail()
		tmpl.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: bytes.Repeat([]byte{0xC5}, int(params.KeyBits)/8)})
	} else {
		tmpl.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgKeyedHash, &tpm2.TPM2BDigest{Buffer: bytes.Repeat([]byte{0x11}, 32)})
	}
	return object{pub: tpm2.New2B(tmpl), priv: tpm2.TPM2BPrivate{Buffer: bytes.Repeat([]byte{0xA7}, 222)}}
}

// importedSeedTemplate is the public area of an imported RSA 2048 key
// (importedKeyTemplate without the key).
func importedSeedTemplate(policy []byte) tpm2.TPMTPublic {
	t := keyTemplate(2048, policy)
	t.ObjectAttributes.FixedTPM = false
	t.ObjectAttributes.FixedParent = false
	t.ObjectAttributes.SensitiveDataOrigin = false
	return t
}

// FuzzParseBlob feeds the blob parsers (what the card state holds) with
// arbitrary bytes: they must not panic, and what they accept must marshal
// back to the same bytes.
func FuzzParseBlob(f *testing.F) {
	policy := bytes.Repeat([]byte{0x42}, 32)
	f.Add(keyBlob{kind: kindPINKey, object: seedObject(keyTemplate(2048, policy))}.marshal())
	f.Add(keyBlob{kind: kindOpenKey, object: seedObject(keyTemplate(2048, nil))}.marshal())
	f.Add(keyBlob{kind: kindImportedKey, object: seedObject(importedSeedTemplate(policy))}.marshal())
	f.Add(guardBlob{pin: seedObject(sealedTemplate(policy)), puk: seedObject(sealedTemplate(nil))}.marshal())
	f.Add([]byte{blobVersion, kindPINKey, 0x00, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, err := parseKeyBlob(b); err == nil {
			if !bytes.Equal(k.marshal(), b) {
				t.Fatalf("key blob % X marshals back as % X", b, k.marshal())
			}
			pub, _ := k.pub.Contents()
			params, _ := pub.Parameters.RSADetail()
			alg := pivspec.AlgRSA2048
			if params.KeyBits == 3072 {
				alg = pivspec.AlgRSA3072
			}
			key, err := newKey(nil, alg, k)
			if err != nil {
				t.Fatalf("a parsed key blob is no key: %v", err)
			}
			if key.pub.N.BitLen() != int(params.KeyBits) {
				t.Fatalf("RSA %d blob with a %d-bit modulus", params.KeyBits, key.pub.N.BitLen())
			}
		}
		if g, err := parseGuardBlob(b); err == nil {
			if !bytes.Equal(g.marshal(), b) {
				t.Fatalf("guard blob % X marshals back as % X", b, g.marshal())
			}
			if _, err := g.pin.name(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestSeedBlobsParse checks that the fuzz seeds are valid blobs.
func TestSeedBlobsParse(t *testing.T) {
	policy := bytes.Repeat([]byte{0x42}, 32)
	if _, err := parseKeyBlob(keyBlob{kind: kindPINKey, object: seedObject(keyTemplate(2048, policy))}.marshal()); err != nil {
		t.Fatal(err)
	}
	if _, err := parseKeyBlob(keyBlob{kind: kindOpenKey, object: seedObject(keyTemplate(3072, nil))}.marshal()); err != nil {
		t.Fatal(err)
	}
	if _, err := parseKeyBlob(keyBlob{kind: kindOpenKey, object: seedObject(keyTemplate(2048, policy))}.marshal()); err == nil {
		t.Fatal("a PIN-bound key's public area accepted as an open key")
	}
	if _, err := parseKeyBlob(keyBlob{kind: kindImportedKey, object: seedObject(importedSeedTemplate(policy))}.marshal()); err != nil {
		t.Fatal(err)
	}
	if _, err := parseKeyBlob(keyBlob{kind: kindImportedKey, object: seedObject(keyTemplate(2048, policy))}.marshal()); err == nil {
		t.Fatal("a key the TPM made accepted as an imported key")
	}
	if _, err := parseKeyBlob(keyBlob{kind: kindPINKey, object: seedObject(importedSeedTemplate(policy))}.marshal()); err == nil {
		t.Fatal("an imported key accepted as one the TPM made")
	}
	if _, err := parseGuardBlob(guardBlob{pin: seedObject(sealedTemplate(policy)), puk: seedObject(sealedTemplate(nil))}.marshal()); err != nil {
		t.Fatal(err)
	}
	if _, err := parseGuardBlob(guardBlob{pin: seedObject(sealedTemplate(nil)), puk: seedObject(sealedTemplate(nil))}.marshal()); err == nil {
		t.Fatal("a PIN object without policy accepted")
	}
}
