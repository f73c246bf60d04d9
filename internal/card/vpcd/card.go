package vpcd

// Card is what a virtual card must do to sit in a vpcd reader. The PIV
// emulator implements it; tests use small recording cards.
//
// A session calls its card from one goroutine at a time and never after
// [Session.Done] is closed, so a card needs no locking of its own unless
// something else uses it too. Attach a card to one session only.
type Card interface {
	// ATR returns the Answer To Reset, 2 to 33 bytes (ISO 7816-3), which
	// must advertise T=1: PC/SC clients connect with T=1 only. pcscd asks
	// for it on every presence poll, so it should be cheap.
	ATR() []byte
	// PowerOff, PowerOn and Reset clear volatile state (selected
	// application, verified PIN, authenticated management key, chaining
	// buffers, pending response) as a real card loses it when its power
	// drops; keys, objects, PINs and retry counters stay. The session also
	// calls PowerOff when a connection vpcd has used ends, as a card
	// pulled from a reader loses power.
	PowerOff()
	PowerOn()
	Reset()
	// Transmit processes one command APDU and returns one response APDU:
	// response data followed by SW1 SW2. A response shorter than 2 bytes
	// or longer than 65535 is replaced by 6F00 (no precise diagnosis),
	// since vpcd cannot carry it. The command slice belongs to the card.
	Transmit(apdu []byte) []byte
}
