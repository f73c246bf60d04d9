package tpmkeys

import (
	"crypto/rand"
	"fmt"
)

// NewGuardV1 makes a guard as cards made before offline unblock hold it:
// the PUK object and a PIN object with two policy branches, no unblock
// object.
func (s *Store) NewGuardV1(pin, puk []byte) ([]byte, error) {
	unlock, err := s.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	seal := make([]byte, sealedSize)
	if _, err := rand.Read(seal); err != nil {
		return nil, err
	}
	var g guardBlob
	if g.puk, err = s.create(sealedTemplate(nil), puk, seal); err != nil {
		return nil, fmt.Errorf("creating the PUK object: %w", err)
	}
	pukName, err := g.puk.name()
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
