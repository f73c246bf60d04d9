package emu

import (
	"crypto"
	"errors"
)

// PINGuard is implemented by a KeyStore that checks the PIN and the PUK
// itself, so that the card's State holds neither and the keys cannot be
// used without the PIN even by someone who has the State: the TPM virtual
// smart card, whose TPM enforces both (package tpmkeys). When the Card's
// KeyStore is a PINGuard:
//
//   - the State's PIN and PUK are empty and its Guard holds what the
//     guard needs (sealed objects, for a TPM), made by NewGuard for the
//     factory values;
//   - VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER still count
//     with the card's retry counters (63CX, 6983) exactly as without a
//     guard, and ask the guard for the comparison: the guard's own
//     protection (a TPM's dictionary-attack lockout) is a second line
//     behind them, which editing the State does not reset;
//   - GENERATE makes keys with GenerateForPIN; every such key needs the
//     PIN (PIN policy "never" is refused; the default becomes "once"),
//     and the card hands it the PIN the session verified, which it keeps
//     only in the session's memory (cleared on reset, power off, SELECT,
//     VERIFY FF and any failed PIN check) and never saves or logs;
//   - the attestation key is made with KeyStore.Generate of
//     AttestationAlgorithm and needs no PIN, as on YubiKeys;
//   - SET PIN RETRIES, which sets the factory PIN and PUK again, is
//     refused (6985) while PIN-bound keys exist, since they stay bound to
//     the guard they were made for.
//
// PIN and PUK values are passed as on the wire: 8 bytes, padded with FF
// (SP 800-73-4 Part 2, 2.4.3). Errors matching ErrWrongReference mean
// the guard compared and the value was wrong; errors matching
// ErrLockedOut mean it refused to compare (the card answers 6983 without
// counting the try); any other error is a failure (6F00, logged).
type PINGuard interface {
	// NewGuard makes the guard data for a card whose PIN is pin and PUK
	// is puk (the factory values, after RESET or SET PIN RETRIES).
	NewGuard(pin, puk []byte) ([]byte, error)
	// CheckGuard reports whether guard can be used by this store (a
	// TPM: was made by this TPM); the card calls it when it starts.
	CheckGuard(guard []byte) error
	// VerifyPIN compares pin with the PIN.
	VerifyPIN(guard, pin []byte) error
	// ChangePIN sets newPIN when oldPIN is the PIN and returns the new
	// guard data.
	ChangePIN(guard, oldPIN, newPIN []byte) ([]byte, error)
	// ChangePUK sets newPUK when oldPUK is the PUK.
	ChangePUK(guard, oldPUK, newPUK []byte) ([]byte, error)
	// UnblockPIN sets newPIN when puk is the PUK.
	UnblockPIN(guard, puk, newPIN []byte) ([]byte, error)
	// GenerateForPIN makes a key pair whose use needs the PIN of guard
	// (and of every guard data ChangePIN and UnblockPIN derive from it).
	GenerateForPIN(guard []byte, alg Algorithm) (Key, error)
	// AttestationAlgorithm is the algorithm of the card's attestation
	// key.
	AttestationAlgorithm() Algorithm
}

// PINImporter is implemented by a PINGuard that can take over a private
// key made elsewhere (IMPORT KEY, an archived key recovered onto the card)
// so that, like a key of GenerateForPIN, its use needs the PIN of guard.
// A card whose guard is no PINImporter refuses IMPORT KEY into its slots.
type PINImporter interface {
	ImportForPIN(guard []byte, alg Algorithm, priv crypto.Signer) (Key, error)
}

// PINKey is a key made by PINGuard.GenerateForPIN or
// PINImporter.ImportForPIN: its RSAPrivate fails
// and the card uses RSAPrivateWithPIN, with the guard data of the State
// and the PIN the session verified. A wrong PIN matches
// ErrWrongReference (the card answers 6982 and clears the PIN's security
// status), a guard in lockout ErrLockedOut (6983).
type PINKey interface {
	Key
	RSAPrivateWithPIN(guard, pin, block []byte) ([]byte, error)
}

// GuardState is what a card with a PINGuard keeps instead of its PIN and
// PUK.
type GuardState struct {
	// Data is what the PINGuard returned last.
	Data []byte `json:"data"`
	// PINDefault and PUKDefault: the PIN or PUK is still the factory
	// value, as GET METADATA reports.
	PINDefault bool `json:"pin_default"`
	PUKDefault bool `json:"puk_default"`
}

// Errors of key stores and PIN guards, which the card turns into status
// words.
var (
	// ErrWrongReference: the PIN guard compared the PIN or PUK, and it
	// was wrong (the card answers 63CX).
	ErrWrongReference = errors.New("emu: wrong PIN or PUK")
	// ErrLockedOut: the PIN guard refuses to compare for now, as a TPM
	// does in dictionary-attack lockout (the card answers 6983).
	ErrLockedOut = errors.New("emu: the PIN guard is locked out")
	// ErrNotSupported: the key store does not do this (an algorithm,
	// IMPORT KEY); the card answers 6A81 (function not supported).
	ErrNotSupported = errors.New("emu: not supported by the key store")
)

// guard returns the PINGuard of the card's KeyStore, or nil.
func (c *Card) guard() PINGuard {
	g, _ := c.cfg.keys.(PINGuard)
	return g
}
