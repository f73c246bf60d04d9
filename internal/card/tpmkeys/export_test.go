package tpmkeys

import "github.com/google/go-tpm/tpm2"

// NewGuardV1 makes a guard as cards made before offline unblock hold it:
// the PUK object and a PIN object with two policy branches, no unblock
// object.
func (s *Store) NewGuardV1(pin, puk []byte) ([]byte, error) {
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
	policy, err := pinPolicy(pukName, nil)
	if err != nil {
		return nil, err
	}
	if g.pin, err = s.create(sealedTemplate(policy), pin, seal); err != nil {
		return nil, err
	}
	return g.marshal(), nil
}

// TryDuplicate tries to take the key of blob out of the TPM with
// TPM2_Duplicate (Part 3, 13.1) to no new parent and without wrappers,
// in a policy session that proved pin to guard's PIN object, with
// PolicyCommandCode(TPM2_Duplicate) when withCommandCode. It returns the
// TPM's error, nil if the key came out.
func (s *Store) TryDuplicate(blob, guard, pin []byte, withCommandCode bool) error {
	kb, err := parseKeyBlob(blob)
	if err != nil {
		return err
	}
	g, err := parseGuardBlob(guard)
	if err != nil {
		return err
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	sess, closeSession, err := s.pinPolicySession(g, pin)
	if err != nil {
		return err
	}
	defer closeSession()
	if withCommandCode {
		if _, err := (tpm2.PolicyCommandCode{PolicySession: sess.Handle(), Code: tpm2.TPMCCDuplicate}).Execute(s.tpm); err != nil {
			return err
		}
	}
	h, err := s.load(kb.object)
	if err != nil {
		return err
	}
	defer s.flush(h.Handle)
	_, err = tpm2.Duplicate{
		ObjectHandle:    tpm2.AuthHandle{Handle: h.Handle, Name: h.Name, Auth: sess},
		NewParentHandle: tpm2.NamedHandle{Handle: tpm2.TPMRHNull},
		Symmetric:       tpm2.TPMTSymDef{Algorithm: tpm2.TPMAlgNull},
	}.Execute(s.tpm)
	return err
}
