// Package pivspec holds the constants of the PIV Card Application that
// the client (internal/card/piv) and the emulator (internal/card/emu) both
// speak, defined once: algorithm identifiers (SP 800-78-4 table 6-2), key
// references and slots with their certificate objects (SP 800-73-4 Part 1
// tables 3 and 4), instructions and BER-TLV tags (Part 2), the PIV AID,
// the factory PIN, PUK and management key, and the vendor extensions that
// YubiKeys introduced and other cards copy (PIN and touch policies, key
// origin, GET METADATA, the attestation slot).
//
// It holds names and encodings only, not behaviour: which algorithms a
// card supports or what a client sends is decided in piv and emu. It
// imports nothing outside the standard library, so the agent, the server
// and the emulator can share it.
//
// Section numbers refer to SP 800-73-4 Part 1 (data model) and Part 2
// (card command interface), SP 800-78-4 (cryptographic algorithms) and,
// for the vendor extensions, Yubico's published PIV extensions.
package pivspec
