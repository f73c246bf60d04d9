package tpmkeys

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
)

// Offline unblock (docs/lifecycle.md, "Offline unblock", scheme
// lanyard-tpm): the TPM itself checks a one-time code, so that the card's
// state, which holds the management key in software, is no way around
// the PIN. A guard v2 holds a third sealed object, the unblock object U:
//
//   - the PIN object's policy has a third branch, PolicySecret(U) then
//     PolicyCommandCode(ObjectChangeAuth): whoever proves U's
//     authorization value may give the PIN object a new PIN;
//   - U's own admin policy is the PIN object's v1 policy: PolicyOR of
//     PolicySecret(PUK object) and PolicyAuthValue, each with
//     PolicyCommandCode(ObjectChangeAuth). The server arms U with the PUK
//     (ArmUnblock: its authorization value becomes the code); after a use
//     the card disarms it with the code itself (UnblockWithCode), to 32
//     random bytes nobody keeps.
//
// ObjectChangeAuth keeps Names (TPM 2.0 Library Part 3, 12.8), so arming
// touches neither the PIN object's policy nor the keys'. U is
// DA-protected: a wrong code is TPM_RC_AUTH_FAIL and counts against the
// TPM's dictionary-attack protection, behind the card's own count of
// tries per armed code. A guard v1 (made before) has no U and cannot
// gain one: the PIN object's policy is fixed in its Name, which the keys'
// policies name; such a card is re-issued to get offline unblock.
//
// As for a PIN change (package documentation, "What this does not
// protect against"), the private area of an armed U stays valid after the
// disarm: a copy of the card state taken before the use, with the code,
// unblocks that copy again.
//
// Counters are the card's business, not the TPM's: the emulator card
// refuses to arm a counter it armed before (package emu, ARM OFFLINE
// UNBLOCK), so a code the server gave out is never armed twice. That
// check lives in the card state, like the tries per code: it stops the
// server resending a used code, not someone who edits the state.

// errNoUnblockObject: the guard is a v1.
var errNoUnblockObject = fmt.Errorf("tpmkeys: this card's PIN guard was made before offline unblock existed and has no unblock object; re-issue the card: %w", emu.ErrNotSupported)

// unblockAuth is the unblock object's authorization value for code: the
// code in hexadecimal. An authorization value with a zero octet is not
// used as it was set (the TPM drops trailing zero octets, Part 1,
// "Authorization Values", and one inside failed on swtpm and the
// reference TPM alike), and a code may hold any octet; its hexadecimal
// form holds none.
func unblockAuth(code []byte) []byte {
	return []byte(hex.EncodeToString(code))
}

// randomAuth is an authorization value nobody knows: 128 random bits, in
// hexadecimal for the same reason.
func randomAuth() ([]byte, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return []byte(hex.EncodeToString(b)), nil
}

// OfflineUnblockAvailable reports whether guard is a guard v2, which can
// be armed for an offline unblock (emu.OfflineGuard).
func (s *Store) OfflineUnblockAvailable(guard []byte) bool {
	g, err := parseGuardBlob(guard)
	return err == nil && g.unblock != nil
}

// ArmUnblock gives the unblock object the authorization value of code,
// authorized by the PUK (PolicySecret of the PUK object), and returns the
// new guard data (emu.OfflineGuard). A wrong PUK matches
// emu.ErrWrongReference; a guard v1 emu.ErrNotSupported.
func (s *Store) ArmUnblock(guard, puk, code []byte) ([]byte, error) {
	if len(code) == 0 {
		return nil, errors.New("tpmkeys: an empty unblock code")
	}
	g, unlock, err := s.lockGuardV2(guard)
	if err != nil {
		return nil, err
	}
	defer unlock()
	or, err := s.unblockOr(g)
	if err != nil {
		return nil, err
	}
	// The code travels encrypted by a salted session that authorizes
	// nothing, as the new PIN of UnblockPIN does.
	u, err := s.withPolicySecret(g.puk, puk, "PUK", func(sess tpm2.Session) (object, error) {
		return s.changeAuth(sess, or, *g.unblock, unblockAuth(code), "PUK", s.authSession(nil, true))
	})
	if err != nil {
		return nil, err
	}
	g.unblock = &u
	return g.marshal(), nil
}

// UnblockWithCode gives the PIN object newPIN, authorized by the branch
// that proves code to the unblock object (PolicySecret), then disarms the
// unblock object: its authorization value becomes 128 random bits,
// authorized by the code itself (PolicyAuthValue). It returns the guard
// data with both changes, or an error and nothing changed for the card
// (emu.OfflineGuard). A wrong code matches emu.ErrWrongReference.
func (s *Store) UnblockWithCode(guard, code, newPIN []byte) ([]byte, error) {
	g, unlock, err := s.lockGuardV2(guard)
	if err != nil {
		return nil, err
	}
	defer unlock()
	auth := unblockAuth(code)
	pinOr, err := s.pinOrFor(g)
	if err != nil {
		return nil, err
	}
	if g.pin, err = s.withPolicySecret(*g.unblock, auth, "unblock code", func(sess tpm2.Session) (object, error) {
		return s.changeAuth(sess, pinOr, g.pin, newPIN, "unblock code", s.authSession(nil, true))
	}); err != nil {
		return nil, err
	}
	// Disarm: the code is dead once the PIN is set. Failing here fails the
	// whole: the caller keeps the old guard data, still armed and with
	// the old PIN, and the try is spent.
	uOr, err := s.unblockOr(g)
	if err != nil {
		return nil, err
	}
	fresh, err := randomAuth()
	if err != nil {
		return nil, err
	}
	defer clear(fresh)
	sess, closeSession, err := tpm2.PolicySession(s.tpm, tpm2.TPMAlgSHA256, 16,
		tpm2.Auth(auth), tpm2.Salted(s.srk.Handle, s.srkPub), tpm2.AESEncryption(128, tpm2.EncryptIn))
	if err != nil {
		return nil, fmt.Errorf("tpmkeys: starting a policy session: %w", err)
	}
	defer closeSession()
	if _, err := (tpm2.PolicyAuthValue{PolicySession: sess.Handle()}).Execute(s.tpm); err != nil {
		return nil, fmt.Errorf("tpmkeys: TPM2_PolicyAuthValue: %w", err)
	}
	u, err := s.changeAuth(sess, uOr, *g.unblock, fresh, "unblock code")
	if err != nil {
		return nil, fmt.Errorf("tpmkeys: disarming the unblock object: %w", err)
	}
	g.unblock = &u
	return g.marshal(), nil
}

// lockGuardV2 is lockGuard for a guard v2: a guard v1 fails with
// errNoUnblockObject before the TPM is waited for.
func (s *Store) lockGuardV2(guard []byte) (guardBlob, func(), error) {
	g, err := parseGuardBlob(guard)
	if err == nil && g.unblock == nil {
		err = errNoUnblockObject
	}
	if err != nil {
		return guardBlob{}, nil, err
	}
	return s.lockGuard(guard)
}

// withPolicySecret runs fn in a policy session in which PolicySecret of o
// with auth (what names it) succeeded.
func (s *Store) withPolicySecret(o object, auth []byte, what string, fn func(tpm2.Session) (object, error)) (object, error) {
	sess, closeSession, err := tpm2.PolicySession(s.tpm, tpm2.TPMAlgSHA256, 16)
	if err != nil {
		return object{}, fmt.Errorf("tpmkeys: starting a policy session: %w", err)
	}
	defer closeSession()
	if err := s.policySecret(sess, o, auth, what); err != nil {
		return object{}, err
	}
	return fn(sess)
}

// unblockOr is the PolicyOR of the unblock object's admin policy.
func (s *Store) unblockOr(g guardBlob) (tpm2.PolicyOr, error) {
	pukName, err := g.puk.name()
	if err != nil {
		return tpm2.PolicyOr{}, err
	}
	return pinOr(pukName, nil)
}

var _ emu.OfflineGuard = (*Store)(nil)
