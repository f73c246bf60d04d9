package emu

import (
	"bytes"
	"encoding/binary"
	"errors"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/unblockcode"
)

// Offline PIN unblock on a card whose PIN guard checks it (the TPM
// virtual card, scheme lanyard-tpm; docs/lifecycle.md, "Offline unblock").
// The card's state is no security boundary there (it holds the management
// key in software), so the card does not compare the response itself:
// the server arms a one-time code in the guard with the PUK (ARM OFFLINE
// UNBLOCK, in the management session), the card shows that armed code's
// counter and nonce as its challenge, and UNBLOCK PIN WITH RESPONSE hands
// the response to the guard, which sets the PIN only if it is the armed
// code, then disarms it. The card counts pivspec.ArmedCodeTries tries per
// armed code, saved before the guard is asked.

// OfflineGuard is a PINGuard that checks an offline unblock code itself
// (package tpmkeys, guard v2). Codes are unblockcode payloads (9 bytes).
type OfflineGuard interface {
	// OfflineUnblockAvailable reports whether guard can hold a code: a
	// TPM card made before offline unblock cannot.
	OfflineUnblockAvailable(guard []byte) bool
	// ArmUnblock arms code when puk is the PUK and returns the new guard
	// data; a wrong PUK matches ErrWrongReference.
	ArmUnblock(guard, puk, code []byte) ([]byte, error)
	// UnblockWithCode sets newPIN when code is the armed code, disarms
	// it, and returns the new guard data; a wrong code matches
	// ErrWrongReference.
	UnblockWithCode(guard, code, newPIN []byte) ([]byte, error)
}

// ArmedCode is the one-time code armed in the PIN guard, as the card
// shows it: its counter and nonce (the code itself only the guard and the
// server know), and the tries left for it.
type ArmedCode struct {
	Counter   uint16 `json:"counter"`
	Nonce     uint64 `json:"nonce"`
	TriesLeft int    `json:"tries_left"`
}

// offlineGuard returns the card's OfflineGuard when its guard data can
// hold a code, else nil.
func (c *Card) offlineGuard() OfflineGuard {
	og, ok := c.cfg.keys.(OfflineGuard)
	if !ok || c.st.Guard == nil || !og.OfflineUnblockAvailable(c.st.Guard.Data) {
		return nil
	}
	return og
}

// armOfflineUnblock is ARM OFFLINE UNBLOCK (80 24 00 80): PUK (8) ‖
// counter (2) ‖ nonce (5) ‖ code (9). Sending the armed code's counter
// and nonce again (a resumed arm) changes nothing. Any other counter must
// be above every counter armed before in this PIN guard, else 6985 and
// nothing changes: the card's monotonic counter, so that a code once used
// (disarmed) or replaced is never armed again, whatever the server
// resends (a replay of its own resumed arm after a lost reply).
func (c *Card) armOfflineUnblock(cmd apdu.Command) apdu.Response {
	if cmd.P1 != 0x00 || cmd.P2 != RefPIN {
		return status(apdu.SWIncorrectP1P2)
	}
	d := cmd.Data
	if len(d) != referenceLen+2+5+9 {
		return status(apdu.SWWrongLength)
	}
	if !c.sess.mgmAuthenticated {
		return status(apdu.SWSecurityStatusNotSatisfied)
	}
	og := c.offlineGuard()
	if og == nil {
		return status(apdu.SWFunctionNotSupported)
	}
	puk, counter := d[:referenceLen], binary.BigEndian.Uint16(d[referenceLen:])
	nonce := uint64(d[10])<<32 | uint64(binary.BigEndian.Uint32(d[11:15]))
	var code unblockcode.Payload
	copy(code[:], d[15:])
	if !validReference(puk) || counter == 0 || nonce > unblockcode.NonceMax || !code.Valid() {
		return status(apdu.SWIncorrectData)
	}
	if a := c.st.Offline.Armed; a != nil && a.Counter == counter && a.Nonce == nonce {
		return success(nil)
	}
	if counter <= c.lastArmed() {
		return status(apdu.SWConditionsNotSatisfied)
	}
	sw := c.guardedCheck(RefPUK, func() error {
		data, err := og.ArmUnblock(c.st.Guard.Data, puk, code[:])
		if err != nil {
			return err
		}
		c.st.Guard.Data = data
		c.st.Offline.Armed = &ArmedCode{Counter: counter, Nonce: nonce, TriesLeft: pivspec.ArmedCodeTries}
		c.st.Offline.LastArmed = counter
		return nil
	})
	return status(sw)
}

// lastArmed is the highest counter armed in the PIN guard: LastArmed, or
// the armed code's for a state saved before LastArmed was kept.
func (c *Card) lastArmed() uint16 {
	if a := c.st.Offline.Armed; a != nil {
		return max(c.st.Offline.LastArmed, a.Counter)
	}
	return c.st.Offline.LastArmed
}

// armedChallenge is GET UNBLOCK CHALLENGE on a card with a PIN guard: the
// armed code's challenge and its tries left (C3), fixed until it is used
// or armed again. 6985 when nothing is armed or no try is left, 6A81 when
// the guard cannot hold a code (re-issue the card).
func (c *Card) armedChallenge() apdu.Response {
	if c.offlineGuard() == nil {
		return status(apdu.SWFunctionNotSupported)
	}
	a := c.st.Offline.Armed
	if a == nil || a.TriesLeft <= 0 {
		return status(apdu.SWConditionsNotSatisfied)
	}
	payload, err := c.armedFields(a).Pack()
	if err != nil {
		return status(apdu.SWMemoryFailure)
	}
	out := apdu.AppendTLV(nil, pivspec.TagUnblockChallenge, payload[:])
	out = apdu.AppendTLV(out, pivspec.TagUnblockTriesLeft, []byte{byte(a.TriesLeft)})
	return success(out)
}

func (c *Card) armedFields(a *ArmedCode) unblockcode.ChallengeFields {
	return unblockcode.ChallengeFields{Scheme: unblockcode.SchemeLanyardTPM, CardTag: unblockcode.CardTag(c.serialName()),
		Counter: a.Counter, Nonce: a.Nonce}
}

// unblockWithArmedCode is UNBLOCK PIN WITH RESPONSE on a card with a PIN
// guard, after the data's form was checked: 6985 when no code with that
// counter is armed, 6983 when its tries are used up; the try is counted
// and saved, then the guard compares: 63CX (tries left) on a wrong code,
// and on the right one the PIN is set with all its tries and the code is
// gone. A guard in lockout (TPM) did not compare: the try is given back
// and the answer is 6983.
func (c *Card) unblockWithArmedCode(counter uint16, code unblockcode.Payload, newPIN []byte) apdu.Response {
	og := c.offlineGuard()
	if og == nil {
		return status(apdu.SWFunctionNotSupported)
	}
	a := c.st.Offline.Armed
	if a == nil || a.Counter != counter {
		return status(apdu.SWConditionsNotSatisfied)
	}
	if a.TriesLeft <= 0 {
		return status(apdu.SWAuthBlocked)
	}
	a.TriesLeft--
	if !c.commit() {
		return status(apdu.SWMemoryFailure)
	}
	data, err := og.UnblockWithCode(c.st.Guard.Data, code[:], newPIN)
	switch {
	case err == nil:
	case errors.Is(err, ErrWrongReference):
		return status(apdu.VerifyFailed(c.st.Offline.Armed.TriesLeft))
	case errors.Is(err, ErrLockedOut):
		c.cfg.log.Error("emu: the PIN guard refuses to check the unblock code for now (TPM dictionary-attack lockout); the try is not counted", "err", err)
		c.st.Offline.Armed.TriesLeft++
		if !c.commit() {
			return status(apdu.SWMemoryFailure)
		}
		return status(apdu.SWAuthBlocked)
	default:
		c.cfg.log.Error("emu: the PIN guard failed checking the unblock code", "err", err)
		return status(apdu.SWNoPreciseDiagnosis)
	}
	c.st.Guard.Data = data
	c.st.Guard.PINDefault = bytes.Equal(newPIN, padReference(pivspec.DefaultPIN))
	c.st.Offline.Armed = nil
	return c.commitUnblocked()
}
