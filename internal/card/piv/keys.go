package piv

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"fmt"
	"math/big"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// GenerateKey has the card generate a key pair of algorithm alg in slot,
// replacing any key there, and returns the public key (GENERATE ASYMMETRIC
// KEY PAIR, SP 800-73-4 Part 2 3.3.2). The certificate in the slot, if
// any, no longer matches and should be replaced.
//
// alg is an RSA or ECC algorithm (pivspec.Algorithm.IsRSA, IsEC); others
// fail with ErrUnsupported before anything is sent. The public key is an
// *rsa.PublicKey or an *ecdsa.PublicKey. RSA 3072 and 4096 need a card
// that supports them (YubiKey 5.7, the emulator); others fail with a
// 6A80/6A86 status error.
func (a *Admin) GenerateKey(ctx context.Context, slot Slot, alg Algorithm, policy KeyPolicy) (crypto.PublicKey, error) {
	op := fmt.Sprintf("GENERATE ASYMMETRIC KEY PAIR %02X", byte(slot))
	if err := checkSlot(op, slot); err != nil {
		return nil, err
	}
	if !alg.IsRSA() && !alg.IsEC() {
		return nil, fmt.Errorf("piv: %s: %w: key algorithm %s", op, ErrUnsupported, alg)
	}
	// Control reference template AC (3.3.2, table 10): the algorithm (80),
	// then the vendor policies.
	tmpl, err := policy.append([]byte{pivspec.TagAlgorithm, 0x01, byte(alg)})
	if err != nil {
		return nil, fmt.Errorf("piv: %s: %w", op, err)
	}
	cmd := apdu.Command{INS: pivspec.InsGenerateKey, P2: byte(slot), Data: apdu.AppendTLV(nil, pivspec.TagKeyControl, tmpl), Le: apdu.MaxShortLe}
	resp, err := a.do(ctx, op, cmd)
	if err != nil {
		return nil, err
	}
	v, err := apdu.Unwrap(resp, pivspec.TagPublicKey)
	if err != nil {
		return nil, fmt.Errorf("piv: %s: public key template: %w", op, err)
	}
	pub, err := parsePublicKey(alg, v)
	if err != nil {
		return nil, fmt.Errorf("piv: %s: %w", op, err)
	}
	return pub, nil
}

// parsePublicKey decodes the contents of a public key data object (SP
// 800-73-4 Part 2 3.3.2, table 11; also GET METADATA's tag 04): modulus 81
// and public exponent 82 for RSA, point 86 for ECC. It checks that the
// key has the size of alg and that an EC point lies on the curve.
func parsePublicKey(alg Algorithm, b []byte) (crypto.PublicKey, error) {
	tlvs, err := apdu.ParseTLVs(b)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	if bits := alg.RSABits(); bits != 0 {
		n, ok1 := apdu.Find(tlvs, pivspec.TagRSAModulus)
		e, ok2 := apdu.Find(tlvs, pivspec.TagRSAExponent)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%w public key: %s without modulus (81) and exponent (82)", apdu.ErrMalformed, alg)
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n.Value)}
		if pub.N.BitLen() != bits {
			return nil, fmt.Errorf("%w public key: %d-bit modulus for %s", apdu.ErrMalformed, pub.N.BitLen(), alg)
		}
		exp := new(big.Int).SetBytes(e.Value)
		if exp.BitLen() > 31 || exp.Int64() < 3 || exp.Bit(0) == 0 {
			return nil, fmt.Errorf("%w public key: RSA exponent %X", apdu.ErrMalformed, e.Value)
		}
		pub.E = int(exp.Int64())
		return pub, nil
	}
	if curve := alg.Curve(); curve != nil {
		p, ok := apdu.Find(tlvs, pivspec.TagECPoint)
		if !ok {
			return nil, fmt.Errorf("%w public key: %s without point (86)", apdu.ErrMalformed, alg)
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, p.Value)
		if err != nil {
			return nil, fmt.Errorf("%w public key: %s point: %v", apdu.ErrMalformed, alg, err)
		}
		return pub, nil
	}
	return nil, fmt.Errorf("%w: public keys of %s", ErrUnsupported, alg)
}

// publicKeyAlgorithm returns the algorithm of a public key this package
// can use: RSA of 2048, 3072 or 4096 bits, ECC P-256 or P-384. RSA 1024
// is refused: SP 800-78-4 no longer allows it for PIV keys.
func publicKeyAlgorithm(pub crypto.PublicKey) (Algorithm, error) {
	alg, ok := pivspec.AlgorithmOf(pub)
	if !ok || alg == pivspec.AlgRSA1024 {
		return 0, fmt.Errorf("%w: public key %T", ErrUnsupported, pub)
	}
	return alg, nil
}

// ImportKey stores a private key made elsewhere in slot (vendor
// instruction IMPORT KEY, INS FE, P1 the algorithm, P2 the slot). priv is
// an *rsa.PrivateKey of 2048, 3072 or 4096 bits with two primes, or an
// *ecdsa.PrivateKey on P-256 or P-384. Keys generated on the card are
// better: an imported key has existed outside it, and attestation says so.
func (a *Admin) ImportKey(ctx context.Context, slot Slot, priv crypto.PrivateKey, policy KeyPolicy) error {
	op := fmt.Sprintf("IMPORT KEY %02X", byte(slot))
	if err := checkSlot(op, slot); err != nil {
		return err
	}
	alg, data, err := importData(priv)
	if err != nil {
		return fmt.Errorf("piv: %s: %w", op, err)
	}
	if data, err = policy.append(data); err != nil {
		return fmt.Errorf("piv: %s: %w", op, err)
	}
	_, err = a.do(ctx, op, apdu.Command{INS: pivspec.InsImportKey, P1: byte(alg), P2: byte(slot), Data: data})
	return err
}

// importData encodes priv as YubiKey's IMPORT KEY expects: the RSA CRT
// components P (01), Q (02), dP (03), dQ (04), qInv (05), each as long as
// half the modulus, or the EC private scalar (06) as long as the field.
func importData(priv crypto.PrivateKey) (Algorithm, []byte, error) {
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		alg, err := publicKeyAlgorithm(&k.PublicKey)
		if err != nil {
			return 0, nil, err
		}
		if len(k.Primes) != 2 {
			return 0, nil, fmt.Errorf("%w: RSA key with %d primes", ErrUnsupported, len(k.Primes))
		}
		p, q := k.Primes[0], k.Primes[1]
		one := big.NewInt(1)
		dp := new(big.Int).Mod(k.D, new(big.Int).Sub(p, one))
		dq := new(big.Int).Mod(k.D, new(big.Int).Sub(q, one))
		qinv := new(big.Int).ModInverse(q, p)
		if qinv == nil {
			return 0, nil, fmt.Errorf("invalid RSA key: q has no inverse modulo p")
		}
		size := alg.RSABits() / 16
		var data []byte
		for i, v := range []*big.Int{p, q, dp, dq, qinv} {
			if v.Sign() <= 0 || (v.BitLen()+7)/8 > size {
				return 0, nil, fmt.Errorf("invalid RSA key: CRT component %d does not fit %d bytes", i+1, size)
			}
			data = apdu.AppendTLV(data, uint32(pivspec.TagImportP+i), v.FillBytes(make([]byte, size)))
		}
		return alg, data, nil
	case *ecdsa.PrivateKey:
		alg, err := publicKeyAlgorithm(&k.PublicKey)
		if err != nil {
			return 0, nil, err
		}
		d, err := k.Bytes()
		if err != nil {
			return 0, nil, fmt.Errorf("invalid EC key: %v", err)
		}
		return alg, apdu.AppendTLV(nil, pivspec.TagImportECScalar, d), nil
	}
	return 0, nil, fmt.Errorf("%w: private key %T", ErrUnsupported, priv)
}
