package vpcd

import (
	"bytes"
	"slices"
	"sync"
)

// testATR is a T=1 ATR in the PC/SC part 3 layout (TD1 announces TD2,
// TD2 announces T=1) with the historical bytes "vpcdtest".
var testATR = withTCK(append([]byte{0x3B, 0x88, 0x80, 0x01}, "vpcdtest"...))

// withTCK appends the check byte that makes T0..TCK XOR to zero.
func withTCK(atr []byte) []byte {
	var x byte
	for _, b := range atr[1:] {
		x ^= b
	}
	return append(atr, x)
}

// selectPIV is SELECT of the PIV application AID prefix (SP 800-73-4
// part 1, 2.2: A0 00 00 03 08), the first command every PIV client sends.
var selectPIV = []byte{0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08}

// selectReply is what the test card answers to selectPIV: a marker the
// tests look for in the client's output, then 9000.
var selectReply = []byte{0x4C, 0x41, 0x4E, 0x59, 0x41, 0x52, 0x44, 0x90, 0x00}

// testCard is the smallest card that lets tests see what the bridge did:
// it records every command and power event, answers SELECT of the PIV AID
// with selectReply and anything else with 6D00 (instruction not supported).
type testCard struct {
	// respond, when set, replaces the default answers.
	respond func(apdu []byte) []byte

	mu     sync.Mutex
	atr    []byte
	cmds   [][]byte
	events []string
}

func newTestCard() *testCard { return &testCard{atr: testATR} }

func (c *testCard) ATR() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.atr
}

// setATR changes the ATR while the card is attached.
func (c *testCard) setATR(atr []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.atr = atr
}

func (c *testCard) PowerOff() { c.event("off") }
func (c *testCard) PowerOn()  { c.event("on") }
func (c *testCard) Reset()    { c.event("reset") }

func (c *testCard) event(e string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, e)
}

func (c *testCard) Transmit(apdu []byte) []byte {
	c.mu.Lock()
	c.cmds = append(c.cmds, slices.Clone(apdu))
	c.mu.Unlock()
	if c.respond != nil {
		return c.respond(apdu)
	}
	if bytes.Equal(apdu, selectPIV) {
		return selectReply
	}
	return []byte{0x6D, 0x00}
}

// commands returns the commands received so far.
func (c *testCard) commands() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.cmds)
}

// powerEvents returns the power events so far.
func (c *testCard) powerEvents() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.events)
}
