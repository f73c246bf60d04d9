package emu

import (
	"bytes"
	"encoding/binary"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// The vendor instructions below are Yubico's PIV extensions
// (https://developers.yubico.com/PIV/Introduction/Yubico_extensions.html),
// which piv-go, yubico-piv-tool and ykman rely on.

// getVersion is GET VERSION (FD): three bytes, major, minor, patch.
func (c *Card) getVersion(cmd apdu.Command) apdu.Response {
	if sw := noData(cmd, 0, 0); sw != apdu.SWOK {
		return status(sw)
	}
	return success(bytes.Clone(Version[:]))
}

// getSerial is GET SERIAL (F8): the serial number, four bytes big-endian.
func (c *Card) getSerial(cmd apdu.Command) apdu.Response {
	if sw := noData(cmd, 0, 0); sw != apdu.SWOK {
		return status(sw)
	}
	return success(binary.BigEndian.AppendUint32(nil, c.st.Serial))
}

// setManagementKey is SET MANAGEMENT KEY (FF), which needs the management
// key: P1 FF, P2 FF (or FE: touch required), data algorithm, 9B, length,
// key. The algorithm is 3DES or AES-128/192/256 and fixes the length.
func (c *Card) setManagementKey(cmd apdu.Command) apdu.Response {
	if cmd.P1 != 0xFF || (cmd.P2 != 0xFF && cmd.P2 != 0xFE) {
		return status(apdu.SWIncorrectP1P2)
	}
	if !c.sess.mgmAuthenticated {
		return status(apdu.SWSecurityStatusNotSatisfied)
	}
	d := cmd.Data
	if len(d) < 3 || d[1] != SlotManagement || int(d[2]) != len(d)-3 {
		return status(apdu.SWIncorrectData)
	}
	alg := Algorithm(d[0])
	if n := alg.ManagementKeyLen(); n == 0 || n != len(d)-3 {
		return status(apdu.SWIncorrectData)
	}
	touch := pivspec.TouchPolicyNever
	if cmd.P2 == 0xFE {
		touch = pivspec.TouchPolicyAlways
	}
	c.st.ManagementKey = ManagementKey{Algorithm: alg, Key: bytes.Clone(d[3:]), Touch: touch}
	if !c.commit() {
		return status(apdu.SWMemoryFailure)
	}
	return success(nil)
}

// resetCard is RESET (FB): back to factory defaults (PIN, PUK, retry
// counters, management key; no keys, no objects but a new CHUID with a new
// GUID, a new CCC and the Discovery object). The serial number and the
// attestation key and certificate stay, as they belong to the device. Only
// allowed when both the PIN and the PUK are blocked (6985 otherwise), so
// that whoever knows either must use it instead.
func (c *Card) resetCard(cmd apdu.Command) apdu.Response {
	if sw := noData(cmd, 0, 0); sw != apdu.SWOK {
		return status(sw)
	}
	if c.st.PINTriesLeft > 0 || c.st.PUKTriesLeft > 0 {
		return status(apdu.SWConditionsNotSatisfied)
	}
	fresh, err := c.factoryState(c.st)
	if err != nil {
		c.cfg.log.Error("emu: reset", "err", err)
		return status(apdu.SWNoPreciseDiagnosis)
	}
	old := c.st.Keys
	c.st = fresh
	if !c.commit() {
		return status(apdu.SWMemoryFailure)
	}
	var dropped []SlotKey
	for ref, k := range old {
		if _, kept := fresh.Keys[ref]; !kept {
			dropped = append(dropped, k)
		}
		delete(c.keys, ref)
	}
	c.destroy(dropped)
	// Every other session's security status belongs to the card as it
	// was.
	c.pinEpoch++
	c.mgmEpoch++
	c.resetSession(session{selected: true})
	return success(nil)
}

// setPINRetries is SET PIN RETRIES (FA), which needs the management key
// and the PIN: P1 the PIN's and P2 the PUK's retry count, 1 to 255. As on
// YubiKeys, the PIN and the PUK return to their defaults.
func (c *Card) setPINRetries(cmd apdu.Command) apdu.Response {
	if cmd.P1 == 0 || cmd.P2 == 0 {
		return status(apdu.SWIncorrectP1P2)
	}
	if len(cmd.Data) > 0 {
		return status(apdu.SWWrongLength)
	}
	if !c.sess.mgmAuthenticated || !c.sess.pinVerified {
		return status(apdu.SWSecurityStatusNotSatisfied)
	}
	if g := c.guard(); g != nil {
		if sw := c.guardedResetReferences(g); sw != apdu.SWOK {
			return status(sw)
		}
	} else {
		c.st.PIN, c.st.PUK = padReference(pivspec.DefaultPIN), padReference(pivspec.DefaultPUK)
	}
	c.st.PINRetries, c.st.PINTriesLeft = int(cmd.P1), int(cmd.P1)
	c.st.PUKRetries, c.st.PUKTriesLeft = int(cmd.P2), int(cmd.P2)
	if !c.commit() {
		return status(apdu.SWMemoryFailure)
	}
	c.pinEpoch++ // the PIN is the factory one again, in every session
	c.forgetPIN()
	return success(nil)
}
