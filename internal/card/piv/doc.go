// Package piv is a client for the PIV card application of NIST SP 800-73-4
// and the vendor extensions that YubiKeys introduced and other cards and
// the Lanyard emulator copy (management key change, reset, serial,
// version, metadata, attestation, key import, retry counters).
//
// Every operation is a method on a *Card, which wraps an apdu.Transport,
// so the same code runs against the in-process emulator, PC/SC and the
// agent's relay, and can be tested against recorded transcripts. Methods
// that need the PIV Card Application Administration Key are on *Admin,
// which only Card.Authenticate returns: personalising a card without the
// management key does not compile.
//
// Status words become typed errors here, at the lowest layer: ErrNotFound,
// ErrSecurityStatus, ErrBlocked, ErrUnsupported and *AuthError (wrong PIN
// or PUK, with the tries left). They wrap the *apdu.StatusError, so the
// raw status word stays available to errors.As.
//
// Section numbers refer to SP 800-73-4 Part 1 (data model) and Part 2
// (card command interface), SP 800-78-4 (algorithm identifiers) and, for
// the vendor instructions, Yubico's published PIV extensions.
//
// A Card runs one exchange at a time and is not safe for concurrent use;
// callers serialise access, typically inside a PC/SC transaction.
package piv
