package tpmkeys

import (
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// Templates and policies of the objects (TPM 2.0 Library Part 2, 12.2.3
// TPMT_PUBLIC; Part 1, "Enhanced Authorization").

// keyTemplate is an RSA key of a card slot: fixedTPM and fixedParent (it
// never leaves this TPM), sensitiveDataOrigin (the TPM made it),
// sign and decrypt with the NULL scheme, so that TPM2_RSA_Decrypt with
// TPM_ALG_NULL is the raw RSA private-key operation PIV's GENERAL
// AUTHENTICATE asks for (the client pads; SP 800-73-4 Part 2, appendix
// A.4). Not noDA: authorization failures count.
//
// With policy, a digest of PolicySecret(PIN object), the key is usable
// only in a policy session that proved the PIN object's authorization
// value, the PIN (userWithAuth and adminWithPolicy: no use by
// authorization value, no ObjectChangeAuth). With a nil policy the key
// has an empty authorization value and noDA, as the card's attestation
// key, which needs no PIN.
func keyTemplate(bits tpm2.TPMKeyBits, policy []byte) tpm2.TPMTPublic {
	bound := policy != nil
	return tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgRSA,
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM:            true,
			FixedParent:         true,
			SensitiveDataOrigin: true,
			UserWithAuth:        !bound,
			AdminWithPolicy:     bound,
			NoDA:                !bound,
			Decrypt:             true,
			SignEncrypt:         true,
		},
		AuthPolicy: tpm2.TPM2BDigest{Buffer: policy},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgRSA, &tpm2.TPMSRSAParms{
			Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
			Scheme:    tpm2.TPMTRSAScheme{Scheme: tpm2.TPMAlgNull},
			KeyBits:   bits,
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{}),
	}
}

// sealedTemplate is the PIN or the PUK object: a sealed data object
// (keyedHash, neither sign nor decrypt) whose authorization value is the
// PIN or PUK, DA-protected, usable by authorization value (userWithAuth:
// TPM2_Unseal, and PolicySecret naming it). With adminWithPolicy its
// ObjectChangeAuth needs policy (the PIN object); without, the
// authorization value (the PUK object).
func sealedTemplate(adminPolicy []byte) tpm2.TPMTPublic {
	return tpm2.TPMTPublic{
		Type:    tpm2.TPMAlgKeyedHash,
		NameAlg: tpm2.TPMAlgSHA256,
		ObjectAttributes: tpm2.TPMAObject{
			FixedTPM:        true,
			FixedParent:     true,
			UserWithAuth:    true,
			AdminWithPolicy: adminPolicy != nil,
		},
		AuthPolicy: tpm2.TPM2BDigest{Buffer: adminPolicy},
		Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgKeyedHash, &tpm2.TPMSKeyedHashParms{
			Scheme: tpm2.TPMTKeyedHashScheme{Scheme: tpm2.TPMAlgNull},
		}),
		Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgKeyedHash, &tpm2.TPM2BDigest{}),
	}
}

// digest runs policy commands through a calculator (Part 1, "Policy Digest": the
// policy digest the TPM computes in a session when the same commands
// succeed).
func digest(cmds ...tpm2.PolicyCommand) ([]byte, error) {
	calc, err := tpm2.NewPolicyCalculator(tpm2.TPMAlgSHA256)
	if err != nil {
		return nil, err
	}
	for _, c := range cmds {
		if err := c.Update(calc); err != nil {
			return nil, fmt.Errorf("tpmkeys: policy: %w", err)
		}
	}
	return calc.Hash().Digest, nil
}

// keyPolicy is a card key's policy: PolicySecret of the PIN object, whose
// Name does not change when ObjectChangeAuth gives it a new PIN.
func keyPolicy(pinName tpm2.TPM2BName) ([]byte, error) {
	return digest(tpm2.PolicySecret{AuthHandle: tpm2.NamedHandle{Name: pinName}})
}

// pinBranches are the two ways to change the PIN object's authorization
// value (its ADMIN role, Part 1, "Authorization Roles"): with the PIN itself
// (PolicyAuthValue: the session's HMAC uses the PIN), for CHANGE
// REFERENCE DATA; or with the PUK (PolicySecret of the PUK object), for
// RESET RETRY COUNTER. Both are limited to TPM2_ObjectChangeAuth.
func pinBranches(pukName tpm2.TPM2BName) (byPIN, byPUK []byte, err error) {
	cc := tpm2.PolicyCommandCode{Code: tpm2.TPMCCObjectChangeAuth}
	if byPIN, err = digest(tpm2.PolicyAuthValue{}, cc); err != nil {
		return nil, nil, err
	}
	byPUK, err = digest(tpm2.PolicySecret{AuthHandle: tpm2.NamedHandle{Name: pukName}}, cc)
	return byPIN, byPUK, err
}

// unblockBranch is the third way to change the PIN object's
// authorization value in a guard v2: PolicySecret of the unblock object,
// whose authorization value is the one-time code the server armed
// (offline unblock, ArmUnblock), again limited to TPM2_ObjectChangeAuth.
func unblockBranch(unblockName tpm2.TPM2BName) ([]byte, error) {
	return digest(tpm2.PolicySecret{AuthHandle: tpm2.NamedHandle{Name: unblockName}}, tpm2.PolicyCommandCode{Code: tpm2.TPMCCObjectChangeAuth})
}

// pinOr is the PolicyOR of the PIN object's branches: by PIN and by PUK,
// and in a guard v2 (unblockName not nil) by the unblock object.
//
// The unblock object's own admin policy is pinOr(pukName, nil): it is
// armed through the PUK branch and disarmed through PolicyAuthValue with
// the code it holds.
func pinOr(pukName tpm2.TPM2BName, unblockName *tpm2.TPM2BName) (tpm2.PolicyOr, error) {
	byPIN, byPUK, err := pinBranches(pukName)
	if err != nil {
		return tpm2.PolicyOr{}, err
	}
	digests := []tpm2.TPM2BDigest{{Buffer: byPIN}, {Buffer: byPUK}}
	if unblockName != nil {
		byCode, err := unblockBranch(*unblockName)
		if err != nil {
			return tpm2.PolicyOr{}, err
		}
		digests = append(digests, tpm2.TPM2BDigest{Buffer: byCode})
	}
	return tpm2.PolicyOr{PHashList: tpm2.TPMLDigest{Digests: digests}}, nil
}

// pinPolicy is the PIN object's authPolicy (and, with a nil unblockName,
// the unblock object's).
func pinPolicy(pukName tpm2.TPM2BName, unblockName *tpm2.TPM2BName) ([]byte, error) {
	or, err := pinOr(pukName, unblockName)
	if err != nil {
		return nil, err
	}
	return digest(or)
}
