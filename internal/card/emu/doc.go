// Package emu is a PIV card in software: the PIV Card Application of NIST
// SP 800-73-4 (Part 1 for the data model, Part 2 for the card commands)
// plus the vendor instructions that YubiKeys made the de-facto standard
// (GET VERSION, GET SERIAL, GET METADATA, SET MANAGEMENT KEY, RESET, SET
// PIN RETRIES, IMPORT KEY, ATTEST). It is the one PIV card implementation
// behind Lanyard's demo card, the tests, the TPM virtual smart card and
// AirCard.
//
// A [Card] implements vpcd.Card, so [vpcd.Attach] puts it in a pcscd
// reader where OpenSC, yubico-piv-tool and piv-go use it like a token; in
// process, [Card.Transport] gives an apdu.Transport for an apdu.Client.
//
// # What the card does
//
//   - SELECT of the PIV AID (A0 00 00 03 08, right-truncated or full)
//     returns the application property template (Part 2, 3.1.1).
//   - GET DATA and PUT DATA (Part 2, 3.1.2 and 3.3.1) for every PIV data
//     object of Part 1 table 3 (CHUID, CCC, Discovery object, printed
//     information, key history, all certificates including the retired key
//     slots 82 to 95, security object, biometrics) and Yubico's objects
//     5FFF00 to 5FFF15 (5FFF01 is the attestation certificate), with the
//     access rules of Part 1 table 3: PIN for the cardholder's biometrics,
//     printed information and pairing code, management key for every write.
//   - VERIFY, CHANGE REFERENCE DATA and RESET RETRY COUNTER (Part 2, 3.2.1
//     to 3.2.3) for the PIN (80) and PUK (81), with retry counters that are
//     decremented and saved before the comparison, as a card does against
//     tearing.
//   - GENERAL AUTHENTICATE (Part 2, 3.2.4 and appendix A): management key
//     (9B) authentication with 3DES or AES-128/192/256, both the
//     single-step external authentication and the mutual authentication;
//     RSA 1024/2048/3072/4096 raw private-key operations (the client pads),
//     ECDSA P-256/P-384 signatures (the client hashes; the card answers DER)
//     and ECDH key agreement.
//   - GENERATE ASYMMETRIC KEY PAIR (Part 2, 3.3.2).
//   - The vendor instructions, as YubiKey firmware 5.4.3 answers them; the
//     version makes piv-go read GET METADATA and allows AES management keys.
//     Also YubiKey 5.7's MOVE KEY and DELETE KEY (INS F6), which an update
//     uses to stage a new key beside the old one, without claiming 5.7
//     (see Version); WithoutMoveKey makes a card without them.
//
// Each key slot has a PIN policy, by default the YubiKey's: PIN once per
// session for 9A, 9D and the retired slots, PIN before every use for 9C,
// never for 9E. Touch policies are recorded and reported, never enforced:
// there is nothing to touch.
//
// # Keys and state
//
// Private keys live in a [KeyStore]: [SoftKeyStore] keeps them in memory;
// a TPM-backed store (package tpmkeys) and AirCard's sealed server store
// implement the same small interface. A KeyStore that is also a
// [PINGuard] holds the PIN and PUK itself (the TPM checks them), and the
// card's state then keeps neither. Everything a card remembers across power cycles (data
// objects, PIN, PUK, retry counters, management key, key blobs, serial,
// attestation key) is a [State] in a [StateStore]: [MemoryStore], or a
// [SealedFile] encrypted under a passphrase. The card saves its state after
// every change and, when saving fails, answers 6581 (memory failure) and
// forgets the change, so the store never lags behind what a client was told.
//
// Power off, power on and reset clear what a real card keeps in RAM: the
// selected application, the PIN's and the management key's security status,
// pending challenges, command chains and pending responses.
//
// [Card.NewSession] opens further logical connections to one card, each
// with its own volatile state and sharing the persistent one: AirCard
// serves one hosted card to several workstations and the server at once.
// The Card's own Transmit is its default session.
//
// # Compatibility choices
//
// The ATR is Lanyard's own and does not claim to be a YubiKey: OpenSC then
// treats the card as a generic PIV card. Attestation certificates follow
// Yubico's format (subject "YubiKey PIV Attestation 9a", the firmware,
// serial and policy extensions under 1.3.6.1.4.1.41482.3) because piv-go and
// ykman parse exactly that; they chain to the card's own attestation CA,
// never to Yubico's roots, so no verifier mistakes them for a YubiKey's.
// PINs and PUKs are 6 to 8 bytes other than FF, padded with FF to 8 (Part 2,
// 2.4.3); like YubiKeys, the card does not insist on digits.
package emu
