// Package personalize holds every step Lanyard takes on a PIV card at the
// APDU level, over the PIV client (internal/card/piv): identifying the
// card, deriving and setting its management key, initializing it,
// generating keys, writing and deleting certificates, and using its PIN
// and PUK. A *piv.Admin, the proof of a management key authentication
// (SP 800-73-4 part 2, 3.2.4, GENERAL AUTHENTICATE of key reference 9B),
// is the gate of every step that writes the card.
//
// The management key ("admin key") of a card in mode random is diversified
// per card from a versioned master secret and the card's identifier
// (Derive: HKDF-SHA256, RFC 5869, the key diversification SP 800-108
// describes and SP 800-56C recommends HKDF for), so that no two cards share
// a key and the server never stores one (docs/architecture.md,
// "Principles").
// The key is used here, over an APDU transport relayed by the workstation,
// and never leaves the server: only server code may import this package.
//
// Nothing here records or unseals: the store, the sealer and the
// operation's steps are the service's (internal/service), which records
// each step's outcome before the next one starts.
package personalize
