package emu

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// factoryState returns the state of a card fresh from the factory, or
// after RESET when prev is the state being reset: default PIN, PUK, retry
// counters and 3DES management key; a CHUID with a new random GUID, a CCC
// with a new card identifier, and the Discovery object. A new card gets a
// random 8-digit serial number and a new attestation key and certificate;
// a reset card keeps prev's. With a PINGuard, the guard holds the default
// PIN and PUK and the attestation key is of its AttestationAlgorithm.
func (c *Card) factoryState(prev *State) (*State, error) {
	st := &State{
		Format:       StateFormat,
		PIN:          padReference(pivspec.DefaultPIN),
		PUK:          padReference(pivspec.DefaultPUK),
		PINRetries:   DefaultRetries,
		PINTriesLeft: DefaultRetries,
		PUKRetries:   DefaultRetries,
		PUKTriesLeft: DefaultRetries,
		ManagementKey: ManagementKey{
			Algorithm: pivspec.Alg3DES,
			Key:       pivspec.DefaultManagementKey(),
			Touch:     pivspec.TouchPolicyNever,
		},
		Objects: map[uint32][]byte{},
		Keys:    map[byte]SlotKey{},
	}
	r, err := c.random(16 + 14 + 4)
	if err != nil {
		return nil, err
	}
	var guid [16]byte
	var cardID [14]byte
	copy(guid[:], r)
	copy(cardID[:], r[16:])
	// An RFC 4122 version 4 UUID, as SP 800-73-4 Part 1, 3.1.2 asks.
	guid[6] = guid[6]&0x0F | 0x40
	guid[8] = guid[8]&0x3F | 0x80
	st.Objects[pivspec.ObjectCHUID] = newCHUID(guid)
	st.Objects[pivspec.ObjectCCC] = newCCC(cardID)
	st.Objects[pivspec.ObjectDiscovery] = newDiscovery()
	if g := c.guard(); g != nil {
		data, err := g.NewGuard(padReference(pivspec.DefaultPIN), padReference(pivspec.DefaultPUK))
		if err != nil {
			return nil, fmt.Errorf("emu: PIN guard: %w", err)
		}
		st.PIN, st.PUK = nil, nil
		st.Guard = &GuardState{Data: data, PINDefault: true, PUKDefault: true}
	}

	if prev != nil {
		st.Serial = prev.Serial
		if k, ok := prev.Keys[SlotAttestation]; ok {
			st.Keys[SlotAttestation] = k
		}
		if v, ok := prev.Objects[pivspec.ObjectAttestation]; ok {
			st.Objects[pivspec.ObjectAttestation] = bytes.Clone(v)
		}
		return st, nil
	}
	st.Serial = 10_000_000 + binary.BigEndian.Uint32(r[30:])%90_000_000
	att, cert, err := c.newAttestationCA(st.Serial)
	if err != nil {
		return nil, err
	}
	st.Keys[SlotAttestation] = att
	st.Objects[pivspec.ObjectAttestation] = certContainer(cert)
	return st, nil
}
