package tpmkeys

import (
	"crypto/rand"
	"fmt"

	"github.com/google/go-tpm/tpm2"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// sealedSize is the size of the random data sealed in the PIN and PUK
// objects: it is never used, a sealed data object just needs some.
const sealedSize = 32

// AttestationAlgorithm is RSA 2048, which every TPM that passes
// tpm.Info.Usable can make (emu.PINGuard).
func (s *Store) AttestationAlgorithm() emu.Algorithm { return pivspec.AlgRSA2048 }

// NewGuard makes a guard v2 (emu.PINGuard): the PUK object; the unblock
// object, whose admin policy names the PUK object and whose random
// authorization value nobody knows until the server arms it
// (ArmUnblock); then the PIN object, whose policy names both.
func (s *Store) NewGuard(pin, puk []byte) ([]byte, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	var g guardBlob
	seal, pukName, err := s.newPUKObject(&g, puk)
	if err != nil {
		return nil, err
	}
	disarmed, err := randomAuth()
	if err != nil {
		return nil, err
	}
	unblockPolicy, err := pinPolicy(pukName, nil)
	if err != nil {
		return nil, err
	}
	u, err := s.create(sealedTemplate(unblockPolicy), disarmed, seal)
	if err != nil {
		return nil, fmt.Errorf("tpmkeys: creating the unblock object: %w", err)
	}
	g.unblock = &u
	unblockName, err := u.name()
	if err != nil {
		return nil, err
	}
	policy, err := pinPolicy(pukName, &unblockName)
	if err != nil {
		return nil, err
	}
	if g.pin, err = s.create(sealedTemplate(policy), pin, seal); err != nil {
		return nil, fmt.Errorf("tpmkeys: creating the PIN object: %w", err)
	}
	return g.marshal(), nil
}

// newPUKObject draws the data every sealed object of a guard seals and
// creates g's PUK object; it returns the data and the PUK object's Name,
// which the other objects' policies name.
func (s *Store) newPUKObject(g *guardBlob, puk []byte) (seal []byte, pukName tpm2.TPM2BName, err error) {
	seal = make([]byte, sealedSize)
	if _, err := rand.Read(seal); err != nil {
		return nil, tpm2.TPM2BName{}, err
	}
	if g.puk, err = s.create(sealedTemplate(nil), puk, seal); err != nil {
		return nil, tpm2.TPM2BName{}, fmt.Errorf("tpmkeys: creating the PUK object: %w", err)
	}
	pukName, err = g.puk.name()
	return seal, pukName, err
}

// CheckGuard loads every object once (emu.PINGuard): guard data of
// another TPM fails with ErrForeignBlob.
func (s *Store) CheckGuard(guard []byte) error {
	g, unlock, err := s.lockGuard(guard)
	if err != nil {
		return err
	}
	defer unlock()
	objs := []object{g.pin, g.puk}
	if g.unblock != nil {
		objs = append(objs, *g.unblock)
	}
	for _, o := range objs {
		h, err := s.load(o)
		if err != nil {
			return err
		}
		s.flush(h.Handle)
	}
	return nil
}

// VerifyPIN unseals the PIN object with pin (TPM2_Unseal, Part 3, 12.7):
// the TPM compares, and counts a failure against its dictionary-attack
// protection (emu.PINGuard).
func (s *Store) VerifyPIN(guard, pin []byte) error {
	g, unlock, err := s.lockGuard(guard)
	if err != nil {
		return err
	}
	defer unlock()
	h, err := s.load(g.pin)
	if err != nil {
		return err
	}
	defer s.flush(h.Handle)
	rsp, err := tpm2.Unseal{ItemHandle: tpm2.AuthHandle{Handle: h.Handle, Name: h.Name, Auth: s.authSession(pin, false)}}.Execute(s.tpm)
	if err != nil {
		return authError(err, "PIN")
	}
	clear(rsp.OutData.Buffer)
	return nil
}

// ChangePIN gives the PIN object newPIN with TPM2_ObjectChangeAuth (Part
// 3, 12.8), authorized by the policy branch that proves oldPIN
// (emu.PINGuard). The Name of the object stays, so the keys' policies
// still hold.
func (s *Store) ChangePIN(guard, oldPIN, newPIN []byte) ([]byte, error) {
	g, unlock, err := s.lockGuard(guard)
	if err != nil {
		return nil, err
	}
	defer unlock()
	or, err := s.pinOrFor(g)
	if err != nil {
		return nil, err
	}
	// Salted, so that the session HMAC over the old PIN and the
	// encryption of the new one use a key only the TPM and we know.
	sess, closeSession, err := tpm2.PolicySession(s.tpm, tpm2.TPMAlgSHA256, 16,
		tpm2.Auth(oldPIN), tpm2.Salted(s.srk.Handle, s.srkPub), tpm2.AESEncryption(128, tpm2.EncryptIn))
	if err != nil {
		return nil, fmt.Errorf("tpmkeys: starting a policy session: %w", err)
	}
	defer closeSession()
	if _, err := (tpm2.PolicyAuthValue{PolicySession: sess.Handle()}).Execute(s.tpm); err != nil {
		return nil, fmt.Errorf("tpmkeys: TPM2_PolicyAuthValue: %w", err)
	}
	if g.pin, err = s.changeAuth(sess, or, g.pin, newPIN, "PIN"); err != nil {
		return nil, err
	}
	return g.marshal(), nil
}

// UnblockPIN gives the PIN object newPIN, authorized by the policy branch
// that proves the PUK to the PUK object (PolicySecret) (emu.PINGuard).
func (s *Store) UnblockPIN(guard, puk, newPIN []byte) ([]byte, error) {
	g, unlock, err := s.lockGuard(guard)
	if err != nil {
		return nil, err
	}
	defer unlock()
	or, err := s.pinOrFor(g)
	if err != nil {
		return nil, err
	}
	sess, closeSession, err := tpm2.PolicySession(s.tpm, tpm2.TPMAlgSHA256, 16)
	if err != nil {
		return nil, fmt.Errorf("tpmkeys: starting a policy session: %w", err)
	}
	defer closeSession()
	if err := s.policySecret(sess, g.puk, puk, "PUK"); err != nil {
		return nil, err
	}
	// The new PIN travels encrypted by a second, salted session that
	// authorizes nothing: the TPM would key an authorizing session's
	// encryption with the PIN object's current value, the PIN we do not
	// know (Part 1, "Session-based Encryption").
	if g.pin, err = s.changeAuth(sess, or, g.pin, newPIN, "PUK", s.authSession(nil, true)); err != nil {
		return nil, err
	}
	return g.marshal(), nil
}

// pinOrFor returns the PolicyOR of the PIN object of g.
func (s *Store) pinOrFor(g guardBlob) (tpm2.PolicyOr, error) {
	pukName, err := g.puk.name()
	if err != nil {
		return tpm2.PolicyOr{}, err
	}
	if g.unblock == nil {
		return pinOr(pukName, nil)
	}
	unblockName, err := g.unblock.name()
	if err != nil {
		return tpm2.PolicyOr{}, err
	}
	return pinOr(pukName, &unblockName)
}

// changeAuth ends a branch of an object's admin policy in sess
// (PolicyCommandCode, PolicyOR or) and runs TPM2_ObjectChangeAuth on o
// with it; what names the secret the branch proved.
func (s *Store) changeAuth(sess tpm2.Session, or tpm2.PolicyOr, o object, newAuth []byte, what string, extra ...tpm2.Session) (object, error) {
	if _, err := (tpm2.PolicyCommandCode{PolicySession: sess.Handle(), Code: tpm2.TPMCCObjectChangeAuth}).Execute(s.tpm); err != nil {
		return object{}, fmt.Errorf("tpmkeys: TPM2_PolicyCommandCode: %w", err)
	}
	or.PolicySession = sess.Handle()
	if _, err := or.Execute(s.tpm); err != nil {
		return object{}, fmt.Errorf("tpmkeys: TPM2_PolicyOR: %w", err)
	}
	return s.objectChangeAuth(o, sess, newAuth, what, extra...)
}

// ChangePUK gives the PUK object newPUK with TPM2_ObjectChangeAuth,
// authorized by oldPUK (emu.PINGuard).
func (s *Store) ChangePUK(guard, oldPUK, newPUK []byte) ([]byte, error) {
	g, unlock, err := s.lockGuard(guard)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Encrypted, so that the new PUK does not cross the TPM's bus in
	// clear.
	if g.puk, err = s.objectChangeAuth(g.puk, s.authSession(oldPUK, true), newPUK, "PUK"); err != nil {
		return nil, err
	}
	return g.marshal(), nil
}

// objectChangeAuth gives o the authorization value newAuth with
// TPM2_ObjectChangeAuth (Part 3, 12.8), authorized by auth; what names
// the secret auth proves, for authError. The TPM answers with a new
// private part only: the public part, and so the Name that the PIN
// object's and the keys' policies refer to, stays.
func (s *Store) objectChangeAuth(o object, auth tpm2.Session, newAuth []byte, what string, extra ...tpm2.Session) (object, error) {
	h, err := s.load(o)
	if err != nil {
		return object{}, err
	}
	defer s.flush(h.Handle)
	rsp, err := tpm2.ObjectChangeAuth{
		ObjectHandle: tpm2.AuthHandle{Handle: h.Handle, Name: h.Name, Auth: auth},
		ParentHandle: s.srk,
		NewAuth:      tpm2.TPM2BAuth{Buffer: newAuth},
	}.Execute(s.tpm, extra...)
	if err != nil {
		return object{}, authError(err, what)
	}
	return object{pub: o.pub, priv: rsp.OutPrivate}, nil
}

// lockGuard parses guard data and takes the TPM for one PIN or PUK
// operation; the caller defers unlock. Malformed guard data fails before
// the TPM is waited for.
func (s *Store) lockGuard(guard []byte) (g guardBlob, unlock func(), err error) {
	if g, err = parseGuardBlob(guard); err != nil {
		return guardBlob{}, nil, err
	}
	if unlock, err = s.lock(); err != nil {
		return guardBlob{}, nil, err
	}
	return g, unlock, nil
}

// Interface checks.
var (
	_ emu.KeyStore    = (*Store)(nil)
	_ emu.PINGuard    = (*Store)(nil)
	_ emu.PINImporter = (*Store)(nil)
	_ emu.PINKey      = (*key)(nil)
)
