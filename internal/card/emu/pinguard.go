package emu

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// checkGuard checks, when a card starts from a saved state, that the
// state and the key store agree on who holds the PIN, and that the guard
// can use the state's guard data (a TPM: it was made by this TPM).
func (c *Card) checkGuard(st *State) error {
	g := c.guard()
	switch {
	case g == nil && st.Guard != nil:
		return errors.New("emu: the card state's PIN and PUK are held by a PIN guard (a TPM), but the card's key store is not one")
	case g != nil && st.Guard == nil:
		return errors.New("emu: the card's key store guards the PIN (a TPM), but the card state holds the PIN itself")
	case g != nil:
		if err := g.CheckGuard(st.Guard.Data); err != nil {
			return fmt.Errorf("emu: PIN guard: %w", err)
		}
	}
	return nil
}

// guardedCheck is check for a card with a PINGuard: the retry counter of
// ref is decremented and saved, then compare asks the guard (and, on a
// match, may change the state: new guard data); a match restores the
// counter and saves. A guard in lockout did not compare: the try is given
// back and the answer is 6983, with an error in the log, since the
// cardholder cannot do anything about it but wait or call the help desk.
func (c *Card) guardedCheck(ref byte, compare func() error) apdu.SW {
	ctr := c.counterFor(ref)
	if *ctr.left <= 0 {
		return apdu.SWAuthBlocked
	}
	*ctr.left--
	if !c.commit() {
		return apdu.SWMemoryFailure
	}
	err := compare()
	switch {
	case err == nil:
	case errors.Is(err, ErrWrongReference):
		return apdu.VerifyFailed(*c.counterFor(ref).left)
	case errors.Is(err, ErrLockedOut):
		c.cfg.log.Error("emu: the PIN guard refuses to check the "+refName(ref)+" for now (TPM dictionary-attack lockout); the try is not counted", "err", err)
		*c.counterFor(ref).left++
		if !c.commit() {
			return apdu.SWMemoryFailure
		}
		return apdu.SWAuthBlocked
	default:
		// The guard may or may not have compared: the try stays used.
		c.cfg.log.Error("emu: the PIN guard failed checking the "+refName(ref), "err", err)
		return apdu.SWNoPreciseDiagnosis
	}
	ctr = c.counterFor(ref)
	*ctr.left = ctr.reset
	if !c.commit() {
		return apdu.SWMemoryFailure
	}
	return apdu.SWOK
}

func refName(ref byte) string {
	if ref == RefPUK {
		return "PUK"
	}
	return "PIN"
}

// guardedVerify is VERIFY's comparison on a card with a PINGuard; a match
// keeps the PIN in the session for the guard's keys.
func (c *Card) guardedVerify(g PINGuard, pin []byte) apdu.SW {
	sw := c.guardedCheck(RefPIN, func() error { return g.VerifyPIN(c.st.Guard.Data, pin) })
	if sw == apdu.SWOK {
		c.sess.pin = bytes.Clone(pin)
	}
	return sw
}

// guardedChange is CHANGE REFERENCE DATA on a card with a PINGuard.
func (c *Card) guardedChange(g PINGuard, ref byte, old, next []byte) apdu.SW {
	return c.guardedCheck(ref, func() error {
		change, def := g.ChangePIN, pivspec.DefaultPIN
		if ref == RefPUK {
			change, def = g.ChangePUK, pivspec.DefaultPUK
		}
		data, err := change(c.st.Guard.Data, old, next)
		if err != nil {
			return err
		}
		c.st.Guard.Data = data
		if ref == RefPUK {
			c.st.Guard.PUKDefault = bytes.Equal(next, padReference(def))
		} else {
			c.st.Guard.PINDefault = bytes.Equal(next, padReference(def))
		}
		return nil
	})
}

// guardedUnblock is RESET RETRY COUNTER on a card with a PINGuard.
func (c *Card) guardedUnblock(g PINGuard, puk, pin []byte) apdu.SW {
	return c.guardedCheck(RefPUK, func() error {
		data, err := g.UnblockPIN(c.st.Guard.Data, puk, pin)
		if err != nil {
			return err
		}
		c.st.Guard.Data = data
		c.st.Guard.PINDefault = bytes.Equal(pin, padReference(pivspec.DefaultPIN))
		c.st.PINTriesLeft = c.st.PINRetries
		return nil
	})
}

// referenceIsDefault reports whether the PIN or PUK still has its factory
// value, for GET METADATA.
func (c *Card) referenceIsDefault(ref byte) bool {
	if g := c.st.Guard; g != nil {
		if ref == RefPUK {
			return g.PUKDefault
		}
		return g.PINDefault
	}
	def := pivspec.DefaultPIN
	if ref == RefPUK {
		def = pivspec.DefaultPUK
	}
	return bytes.Equal(*c.counterFor(ref).value, padReference(def))
}

// guardedResetReferences is SET PIN RETRIES's return to the factory PIN
// and PUK on a card with a PINGuard: a new guard, refused (6985) while
// keys bound to the old one exist.
func (c *Card) guardedResetReferences(g PINGuard) apdu.SW {
	for ref := range c.st.Keys {
		if ref != SlotAttestation {
			return apdu.SWConditionsNotSatisfied
		}
	}
	data, err := g.NewGuard(padReference(pivspec.DefaultPIN), padReference(pivspec.DefaultPUK))
	if err != nil {
		c.cfg.log.Error("emu: PIN guard", "err", err)
		return apdu.SWNoPreciseDiagnosis
	}
	c.st.Guard = &GuardState{Data: data, PINDefault: true, PUKDefault: true}
	// The new guard holds no code, and its unblock object none of the
	// old one's: its counters start again (the server's record of the
	// card issued next starts at 1).
	c.st.Offline.Armed, c.st.Offline.LastArmed = nil, 0
	return apdu.SWOK
}

// guardedPolicy resolves the PIN policy of a key a PINGuard makes: every
// such key needs the PIN, so "never" is refused and the default becomes
// "once" where the slot's would be "never" (9E).
func guardedPolicy(ref byte, pin PINPolicy) (PINPolicy, bool) {
	if pin == pivspec.PINPolicyNever {
		return 0, false
	}
	if pin == pivspec.PINPolicyDefault && defaultPINPolicy(ref) == pivspec.PINPolicyNever {
		return pivspec.PINPolicyOnce, true
	}
	return pin, true
}
