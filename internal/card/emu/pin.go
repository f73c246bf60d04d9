package emu

import (
	"bytes"
	"crypto/subtle"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
)

// referenceLen is the length of PIN and PUK reference data on the wire:
// 6 to 8 bytes padded with FF to 8 (SP 800-73-4 Part 2, 2.4.3).
const referenceLen = 8

// padReference pads a PIN or PUK with FF to 8 bytes.
func padReference(s string) []byte {
	b := append([]byte(s), bytes.Repeat([]byte{0xFF}, referenceLen)...)
	return b[:referenceLen]
}

// validReference reports whether b is 8 bytes: 6 to 8 bytes other than FF,
// then FF padding. SP 800-73-4 Part 2, 2.4.3 asks for digits; YubiKeys and
// this card accept any other byte too.
func validReference(b []byte) bool {
	if len(b) != referenceLen {
		return false
	}
	n := bytes.IndexByte(b, 0xFF)
	if n < 0 {
		n = referenceLen
	}
	if n < 6 {
		return false
	}
	for _, x := range b[n:] {
		if x != 0xFF {
			return false
		}
	}
	return true
}

// counter gives access to the retry counter and reference data of the PIN
// or the PUK.
type counter struct {
	value *[]byte
	left  *int
	reset int
}

func (c *Card) counterFor(ref byte) counter {
	if ref == RefPUK {
		return counter{&c.st.PUK, &c.st.PUKTriesLeft, c.st.PUKRetries}
	}
	return counter{&c.st.PIN, &c.st.PINTriesLeft, c.st.PINRetries}
}

// check compares candidate with the reference data of ref. The counter is
// decremented and saved before the comparison and restored after a match,
// so that pulling the card mid-command cannot give a free guess. It
// returns 9000 on a match, 63CX with the tries left on a mismatch, 6983
// when the reference is blocked and 6581 when the state cannot be saved.
func (c *Card) check(ref byte, candidate []byte) apdu.SW {
	ctr := c.counterFor(ref)
	if *ctr.left <= 0 {
		return apdu.SWAuthBlocked
	}
	*ctr.left--
	if !c.commit() {
		return apdu.SWMemoryFailure
	}
	ctr = c.counterFor(ref)
	if subtle.ConstantTimeCompare(candidate, *ctr.value) != 1 {
		return apdu.VerifyFailed(*ctr.left)
	}
	*ctr.left = ctr.reset
	if !c.commit() {
		return apdu.SWMemoryFailure
	}
	return apdu.SWOK
}

// verify is VERIFY (SP 800-73-4 Part 2, 3.2.1) of the PIN (80):
//
//   - P1 00 and 8 bytes: check the PIN; a match sets the security
//     status, a mismatch clears it;
//   - P1 00 without data: 9000 when verified, otherwise 63CX (tries
//     left) or 6983 (blocked);
//   - P1 FF without data: reset the security status.
//
// Other key references are not on the card (6A88).
func (c *Card) verify(cmd apdu.Command) apdu.Response {
	if cmd.P1 != 0x00 && cmd.P1 != 0xFF {
		return status(apdu.SWIncorrectP1P2)
	}
	if cmd.P2 != RefPIN {
		return status(apdu.SWReferenceNotFound)
	}
	if cmd.P1 == 0xFF {
		if len(cmd.Data) > 0 {
			return status(apdu.SWWrongLength)
		}
		c.forgetPIN()
		return success(nil)
	}
	if len(cmd.Data) == 0 {
		switch {
		case c.st.PINTriesLeft <= 0:
			return status(apdu.SWAuthBlocked)
		case c.sess.pinVerified:
			return success(nil)
		}
		return status(apdu.VerifyFailed(c.st.PINTriesLeft))
	}
	if len(cmd.Data) != referenceLen {
		return status(apdu.SWIncorrectData)
	}
	// A value that no PIN can have (too short, badly padded) is a wrong
	// PIN like any other and costs a try, as on YubiKeys; piv-go's tests
	// block the PIN with "0".
	c.forgetPIN()
	var sw apdu.SW
	if g := c.guard(); g != nil {
		sw = c.guardedVerify(g, cmd.Data)
	} else {
		sw = c.check(RefPIN, cmd.Data)
	}
	c.sess.pinVerified = sw == apdu.SWOK
	c.sess.pinFresh = c.sess.pinVerified
	return status(sw)
}

// changeReference is CHANGE REFERENCE DATA (SP 800-73-4 Part 2, 3.2.2) of
// the PIN (80) or the PUK (81): data is the current value and the new one,
// 8 bytes each. A new value of the wrong form is 6A80 and costs no try
// when the current value is right; a wrong current value costs a try
// whatever the new one. Changing the PIN verifies it.
func (c *Card) changeReference(cmd apdu.Command) apdu.Response {
	if cmd.P1 != 0x00 {
		return status(apdu.SWIncorrectP1P2)
	}
	if cmd.P2 != RefPIN && cmd.P2 != RefPUK {
		return status(apdu.SWReferenceNotFound)
	}
	if len(cmd.Data) != 2*referenceLen {
		return status(apdu.SWIncorrectData)
	}
	old, next := cmd.Data[:referenceLen], cmd.Data[referenceLen:]
	if g := c.guard(); g != nil {
		// A guarded (TPM-backed) card cannot compare the current value
		// without spending the TPM's try: a new value of the wrong form
		// is refused first, free.
		if !validReference(next) {
			return status(apdu.SWIncorrectData)
		}
		if cmd.P2 == RefPIN {
			c.forgetPIN()
		}
		if sw := c.guardedChange(g, cmd.P2, old, next); sw != apdu.SWOK {
			return status(sw)
		}
		if cmd.P2 == RefPIN {
			c.sess.pinVerified, c.sess.pinFresh = true, true
			c.sess.pin = bytes.Clone(next)
		}
		return success(nil)
	}
	// A new value of the wrong form with the right current one is 6A80
	// and costs nothing; with a wrong current one it is a wrong try like
	// any other, as on YubiKeys (piv-go blocks the PUK by changing a
	// random value to itself, which may be shorter than a PIN can be).
	if !validReference(next) {
		ctr := c.counterFor(cmd.P2)
		if *ctr.left > 0 && subtle.ConstantTimeCompare(old, *ctr.value) == 1 {
			return status(apdu.SWIncorrectData)
		}
	}
	if sw := c.check(cmd.P2, old); sw != apdu.SWOK {
		if cmd.P2 == RefPIN {
			c.forgetPIN()
		}
		return status(sw)
	}
	*c.counterFor(cmd.P2).value = bytes.Clone(next)
	if !c.commit() {
		return status(apdu.SWMemoryFailure)
	}
	if cmd.P2 == RefPIN {
		c.sess.pinVerified, c.sess.pinFresh = true, true
	}
	return success(nil)
}

// resetRetryCounter is RESET RETRY COUNTER (SP 800-73-4 Part 2, 3.2.3):
// the PUK unblocks the PIN (80) and sets a new one; data is the PUK and the
// new PIN, 8 bytes each. A wrong PUK costs a PUK try.
func (c *Card) resetRetryCounter(cmd apdu.Command) apdu.Response {
	if cmd.P1 != 0x00 {
		return status(apdu.SWIncorrectP1P2)
	}
	if cmd.P2 != RefPIN {
		return status(apdu.SWReferenceNotFound)
	}
	if len(cmd.Data) != 2*referenceLen {
		return status(apdu.SWIncorrectData)
	}
	puk, pin := cmd.Data[:referenceLen], cmd.Data[referenceLen:]
	if !validReference(pin) {
		return status(apdu.SWIncorrectData)
	}
	if g := c.guard(); g != nil {
		if sw := c.guardedUnblock(g, puk, pin); sw != apdu.SWOK {
			return status(sw)
		}
		c.forgetPIN()
		return success(nil)
	}
	if sw := c.check(RefPUK, puk); sw != apdu.SWOK {
		return status(sw)
	}
	c.st.PIN = bytes.Clone(pin)
	c.st.PINTriesLeft = c.st.PINRetries
	if !c.commit() {
		return status(apdu.SWMemoryFailure)
	}
	c.forgetPIN()
	return success(nil)
}
