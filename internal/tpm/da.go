package tpm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/go-tpm/tpm2"
)

// go-tpm has no types for the dictionary-attack commands, so they are
// built here (TPM 2.0 Library Part 3, 25.2 and 25.3): both are authorized
// by TPM_RH_LOCKOUT with a password session holding the lockout
// authorization, which is empty on the simulator and on a fresh swtpm.
const (
	ccDictionaryAttackLockReset  = 0x00000139
	ccDictionaryAttackParameters = 0x0000013A
	stSessions                   = 0x8002
	rhLockout                    = 0x4000000A
	rsPW                         = 0x40000009
)

// lockoutCommand marshals a command on TPM_RH_LOCKOUT with an empty
// password authorization and params as its parameters.
func lockoutCommand(cc uint32, params ...uint32) []byte {
	b := binary.BigEndian.AppendUint16(nil, stSessions)
	b = binary.BigEndian.AppendUint32(b, 0) // size, set below
	b = binary.BigEndian.AppendUint32(b, cc)
	b = binary.BigEndian.AppendUint32(b, rhLockout)
	// Authorization area: TPMS_AUTH_COMMAND of the password session:
	// handle, empty nonce, attributes (continueSession), empty password.
	b = binary.BigEndian.AppendUint32(b, 4+2+1+2)
	b = binary.BigEndian.AppendUint32(b, rsPW)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = append(b, 0x01)
	b = binary.BigEndian.AppendUint16(b, 0)
	for _, p := range params {
		b = binary.BigEndian.AppendUint32(b, p)
	}
	binary.BigEndian.PutUint32(b[2:], uint32(len(b)))
	return b
}

// lockout sends a lockout command and turns its response code into an
// error.
func (t *TPM) lockout(cc uint32, params ...uint32) error {
	if t.kind == KindDevice {
		return errors.New("tpm: the dictionary-attack settings of a hardware TPM belong to the operating system; Lanyard changes them only on the simulator and swtpm")
	}
	rsp, err := t.Send(lockoutCommand(cc, params...))
	if err != nil {
		return err
	}
	if len(rsp) < 10 {
		return fmt.Errorf("tpm: %d-byte response", len(rsp))
	}
	if rc := binary.BigEndian.Uint32(rsp[6:10]); rc != 0 {
		return tpm2.TPMRC(rc)
	}
	return nil
}

// SetDictionaryAttackParameters sets the TPM's dictionary-attack
// protection (TPM2_DictionaryAttackParameters, Part 3, 25.3): maxTries
// failed authorizations before lockout, recovery the time after which one
// failure is forgotten (0: the counter only resets by
// ResetDictionaryAttackLockout), lockoutRecovery the wait after a failed
// lockout authorization. Only for the simulator and swtpm, whose lockout
// authorization is empty.
func (t *TPM) SetDictionaryAttackParameters(maxTries uint32, recovery, lockoutRecovery time.Duration) error {
	r, lr := seconds(recovery), seconds(lockoutRecovery)
	if err := t.lockout(ccDictionaryAttackParameters, maxTries, r, lr); err != nil {
		return fmt.Errorf("tpm: TPM2_DictionaryAttackParameters: %w", err)
	}
	return nil
}

// ResetDictionaryAttackLockout clears the failure counter and ends a
// lockout (TPM2_DictionaryAttackLockReset, Part 3, 25.2). Only for the
// simulator and swtpm; tests use it to start from a known counter.
func (t *TPM) ResetDictionaryAttackLockout() error {
	if err := t.lockout(ccDictionaryAttackLockReset); err != nil {
		return fmt.Errorf("tpm: TPM2_DictionaryAttackLockReset: %w", err)
	}
	return nil
}

func seconds(d time.Duration) uint32 {
	s := d.Seconds()
	if s <= 0 {
		return 0
	}
	if s >= math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(s)
}
