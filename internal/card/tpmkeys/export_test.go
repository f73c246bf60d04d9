package tpmkeys

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
