package emu

import (
	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// moveKey is YubiKey 5.7's MOVE KEY (F6), which needs the management key:
// P1 the destination slot, P2 the source slot, no data. The key moves
// with its policies and origin; the certificate objects of both slots
// stay where they are, as on a YubiKey. A key already in the destination
// is replaced and destroyed through the KeyDestroyer (Yubico documents an
// empty destination; Lanyard's update deletes it first in any case). P1
// FF deletes the key in P2 instead (DELETE KEY). An empty source is 6A88, as GET METADATA answers for it;
// the attestation key F9 never moves (6A86). Moving a key onto its own
// slot changes nothing. A card made WithoutMoveKey answers 6D00.
//
// Key blobs are not bound to a slot (KeyStore.Load takes none), so a move
// is a map move for every key store: memory, sealed file, TPM, AirCard.
func (c *Card) moveKey(cmd apdu.Command) apdu.Response {
	if c.cfg.noMove {
		return status(apdu.SWInstructionNotSupported)
	}
	from, to := cmd.P2, cmd.P1
	if !isKeySlot(from) || (to != pivspec.MoveKeyDelete && !isKeySlot(to)) {
		return status(apdu.SWIncorrectP1P2)
	}
	if len(cmd.Data) > 0 {
		return status(apdu.SWWrongLength)
	}
	if !c.sess.mgmAuthenticated {
		return status(apdu.SWSecurityStatusNotSatisfied)
	}
	moved, ok := c.st.Keys[from]
	if !ok {
		return status(apdu.SWReferenceNotFound)
	}
	if from == to {
		return success(nil)
	}
	var dropped []SlotKey
	delete(c.st.Keys, from)
	if to == pivspec.MoveKeyDelete {
		dropped = append(dropped, moved)
	} else {
		if old, ok := c.st.Keys[to]; ok {
			dropped = append(dropped, old)
		}
		c.st.Keys[to] = moved
	}
	if !c.commit() {
		return status(apdu.SWMemoryFailure)
	}
	k, loaded := c.keys[from]
	delete(c.keys, from)
	if to != pivspec.MoveKeyDelete {
		delete(c.keys, to)
		if loaded {
			c.keys[to] = k
		}
	}
	c.destroy(dropped)
	return success(nil)
}
