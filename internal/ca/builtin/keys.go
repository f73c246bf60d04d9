package builtin

import (
	"crypto"
	"crypto/x509"
	"errors"
	"io"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/seal"
)

// keyAAD binds a sealed CA key to its CA and role, so that a sealed value
// copied into another CA's row, or the root key put where the issuing key
// belongs, fails to open instead of being used.
func keyAAD(name, role string) []byte { return []byte("ca-key:" + name + ":" + role) }

// rootKeySetting names the setting that holds a CA's sealed root key.
func rootKeySetting(name string) string { return "ca/" + name + "/root-key" }

func generateKey(alg lanyard.KeyAlgorithm, rand io.Reader) (crypto.Signer, error) {
	if !alg.Valid() {
		return nil, lanyard.Errorf(lanyard.EInvalid, "unknown key algorithm %q", alg)
	}
	k, err := lanyard.GenerateKey(alg, rand)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "generating a CA key failed")
	}
	return k, nil
}

// sealKey seals k as PKCS #8 (RFC 5208) and wipes the plaintext encoding.
func sealKey(s seal.Sealer, k crypto.Signer, aad []byte) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "encoding a CA key failed")
	}
	defer clear(der)
	sealed, err := s.Seal(der, aad)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "sealing a CA key failed")
	}
	return sealed, nil
}

// openKey reverses sealKey. A wrong master key gets its own message: it is
// the likely operator mistake (a restored database with a new key file).
func openKey(s seal.Sealer, sealed, aad []byte) (crypto.Signer, error) {
	der, err := s.Open(sealed, aad)
	if errors.Is(err, seal.ErrWrongKey) {
		return nil, lanyard.Wrap(lanyard.EUnavailable, err, "the CA key was sealed under a different master key; start with the master key the CA was created with")
	}
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "the sealed CA key does not open (corrupt, or stored for another CA)")
	}
	defer clear(der)
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "the CA key does not parse as PKCS #8")
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, lanyard.Errorf(lanyard.EInternal, "the CA key (%T) cannot sign", k)
	}
	return signer, nil
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}
