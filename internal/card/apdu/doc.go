// Package apdu speaks ISO/IEC 7816-4 to smart cards: command and response
// APDUs, status words as typed errors, BER-TLV data objects, and the
// exchange rules that real readers impose: short APDUs, command chaining,
// and response chaining with GET RESPONSE.
//
// Both ends of the wire use it. A card client (internal/card/piv) builds
// Commands and sends them with a Client over a Transport: PC/SC, the vpcd
// bridge or an in-process emulator. A card (internal/card/emu) gives each
// raw command to a CardFramer, which parses it, reassembles command chains,
// answers GET RESPONSE and serves long responses in pieces, so the card
// itself only ever sees complete commands.
//
// Section numbers refer to ISO/IEC 7816-4:2005 ("5.1.1.1" is command
// chaining) and to NIST SP 800-73-4 Part 2 for what a status word means to
// a PIV card application.
//
// Nothing here starts goroutines. A Client has no state of its own, but one
// card can only run one exchange at a time: callers serialise the use of a
// Transport, typically inside a PC/SC transaction.
package apdu
