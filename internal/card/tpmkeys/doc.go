// Package tpmkeys keeps a PIV card's keys, PIN and PUK in a TPM 2.0: the
// key store of Lanyard's TPM virtual smart card, the PIV card emulator
// (package emu) whose private keys never exist outside the TPM. A card is
// built with
//
//	store, err := tpmkeys.New(t) // t: a *tpm.TPM
//	card, err := emu.New(emu.WithStateStore(st), emu.WithKeyStore(store), emu.WithATR(tpmkeys.ATR))
//
// and nothing else: the Store is an emu.KeyStore and an emu.PINGuard, so
// the card keeps neither PIN nor PUK in its state and hands the verified
// PIN to the TPM with each key use.
//
// # Objects
//
// Everything lives under the storage root key (SRK), the TCG standard ECC
// P-256 SRK that TPM2_CreatePrimary derives from the owner hierarchy's
// storage seed, so it is the same after every restart (TPM 2.0 Library
// Part 1, "Primary Objects"). Under it, made with TPM2_Create (Part
// 3, 12.1) and kept in the card state only as TPM2B_PUBLIC ||
// TPM2B_PRIVATE (the private area encrypted and integrity-protected by the
// TPM under the SRK, Part 1, "Protected Storage"):
//
//   - the PUK object: a sealed data object whose authorization value is
//     the PUK;
//   - the PIN object: a sealed data object whose authorization value is
//     the PIN, and whose policy (for its ADMIN role, that is
//     TPM2_ObjectChangeAuth) is PolicyOR of two branches, each ending in
//     PolicyCommandCode(ObjectChangeAuth): PolicyAuthValue (the PIN
//     itself) and PolicySecret(PUK object) (the PUK);
//   - in a guard v2 (cards made since offline unblock), the unblock
//     object: a sealed data object whose authorization value is a
//     one-time code the server arms with the PUK, and a third branch of
//     the PIN object's policy, PolicySecret(unblock object), that sets a
//     new PIN with it (offline.go; a guard v1 has neither and its
//     card says offline unblock is not available);
//   - the keys of the card's slots: RSA 2048 (or 3072 where the TPM has
//     it), fixedTPM, fixedParent, sensitiveDataOrigin, sign and decrypt
//     with the NULL scheme, not noDA, and usable only in a policy session
//     satisfying PolicySecret(PIN object) (userWithAuth clear);
//   - the card's attestation key: an RSA 2048 key with an empty
//     authorization value (noDA, as nothing can be guessed), used only by
//     the card to sign attestation certificates, as on YubiKeys.
//
// All objects but the attestation key are DA-protected: every wrong PIN
// or PUK is TPM_RC_AUTH_FAIL and counts against the TPM's
// dictionary-attack protection (Part 1, "Dictionary Attack Protection"); in lockout the TPM
// refuses them all (TPM_RC_LOCKOUT).
//
// # The PIN, enforced by the TPM
//
//   - VERIFY: TPM2_Unseal of the PIN object with the PIN (Part 3, 12.7).
//   - A key operation: a policy session; PolicySecret (Part 3, 23.4) with
//     the PIN object and the PIN the card session verified; then
//     TPM2_RSA_Decrypt with TPM_ALG_NULL (Part 3, 14.3), the raw RSA
//     private-key operation of GENERAL AUTHENTICATE (SP 800-73-4 Part 2,
//     appendix A.4: the client pads, PKCS#1 v1.5, PSS or a decryption).
//     Without the PIN the TPM does not use the key, whatever the caller
//     holds.
//   - CHANGE REFERENCE DATA of the PIN: TPM2_ObjectChangeAuth of the PIN
//     object through the PolicyAuthValue branch with the old PIN. An
//     object's Name does not depend on its authorization value, so the
//     keys' PolicySecret still names it: no key changes.
//   - RESET RETRY COUNTER: the same through the PolicySecret(PUK object)
//     branch with the PUK; the old PIN is not needed.
//   - CHANGE REFERENCE DATA of the PUK: TPM2_ObjectChangeAuth of the PUK
//     object with the old PUK.
//
// PIN and PUK never cross the TPM's interface in clear: authorizations
// are HMAC sessions salted with the SRK (Part 1, "HMAC Computation"; an unsalted HMAC of
// a 6-digit PIN could be searched offline by someone who records the
// bus), and new authorization values and sensitive areas travel encrypted
// by a salted session (Part 1, "Session-based Encryption").
//
// The card's own retry counters (3 tries, 63CX, 6983) are unchanged and
// count first; the TPM's dictionary-attack counter is a second line
// behind them that editing the card state does not reset. A TPM in
// lockout makes the card answer 6983 (authentication method blocked) to
// VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER without counting
// the try, and to GENERAL AUTHENTICATE; PIV clients show that as a
// blocked PIN (OpenSC: CKR_PIN_LOCKED), which sends the cardholder to the
// help desk, the right place, since only waiting (the TPM's recovery time)
// or the lockout hierarchy ends it. The card logs an error saying so.
//
// # What this does not protect against
//
// TPM2_ObjectChangeAuth makes a new private area but the old one stays
// valid (Part 3, 12.8.1): someone who keeps a copy of an earlier card state
// and knows the PIN of that time can still use the keys with it. A PIN
// change protects against a PIN that leaked, not against a leaked PIN
// together with an old copy of the state (which SealedFile encrypts). The
// same holds for key blobs of keys the card has replaced, and for an
// offline unblock code: a copy of the state taken while it was armed,
// with the code, unblocks that copy after the card disarmed it.
//
// # Other choices
//
// IMPORT KEY of an arbitrary key is refused (Store.Import, 6A81, "keys
// of a TPM virtual smart card are generated in the TPM"): a key that
// existed outside the TPM is no TPM key. The one exception is an archived
// key-management key (key archival, docs/lifecycle.md): ImportForPIN
// brings an RSA 2048/3072 key made on the server in with TPM2_Import,
// bound to the card's PIN like a generated key, and the TPM never lets it
// out again. EC keys are refused (6A81, "a TPM virtual smart card holds
// RSA keys only"). Keys are loaded for each operation and flushed at once,
// since a TPM has few object slots (the reference TPM has 3, one of them
// the SRK's); with /dev/tpmrm0 the kernel's resource manager virtualises
// them anyway. Blobs carry a version and a kind byte before the TPM2B
// structures; a blob made by another TPM fails TPM2_Load's integrity
// check and is reported as ErrForeignBlob when the card starts.
package tpmkeys
