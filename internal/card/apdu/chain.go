package apdu

// MaxChainData caps the data a CommandChain assembles from one chain. It
// is far more than any PIV command carries (the largest is PUT DATA with a
// certificate of a few KiB) and keeps a client from exhausting the card's
// memory.
const MaxChainData = 64 << 10

// CommandChain reassembles command chains on the card side (ISO/IEC
// 7816-4:2005 5.1.1.1). Every block but the last has CLA b5 set; the card
// answers each with 9000 and runs the command once the last block, without
// b5, arrives with the rest of the data.
//
// A command with another class (b5 aside), instruction, P1 or P2 than the
// chain in progress abandons that chain and starts afresh, as a client
// that gave up on a chain expects. Call Reset when the card is powered off,
// powered on or reset.
//
// The zero value is an empty chain. A CommandChain is plain state: no
// goroutines, not safe for concurrent use.
type CommandChain struct {
	head   Command // header of the chain in progress, CLA without b5
	data   []byte
	active bool
}

// Add takes one received command. When cmd completes a chain, or is not
// part of one, Add returns the whole command and done = true: the class
// and Le of the last block, the data of all blocks. Otherwise done is false
// and reply is the status word to answer: 9000 for an accepted block,
// SWNotEnoughMemory (and the chain dropped) when the data would exceed
// MaxChainData.
func (a *CommandChain) Add(cmd Command) (full Command, done bool, reply SW) {
	if a.active && !a.continues(cmd) {
		a.Reset()
	}
	if !a.active && !cmd.Chained() {
		return cmd, true, 0
	}
	if len(a.data)+len(cmd.Data) > MaxChainData {
		a.Reset()
		return Command{}, false, SWNotEnoughMemory
	}
	if !cmd.Chained() {
		full = a.head
		full.CLA = cmd.CLA
		full.Data = append(a.data, cmd.Data...)
		full.Le = cmd.Le
		a.Reset()
		return full, true, 0
	}
	if !a.active {
		a.active = true
		a.head = Command{CLA: cmd.CLA &^ ClaChaining, INS: cmd.INS, P1: cmd.P1, P2: cmd.P2}
	}
	a.data = append(a.data, cmd.Data...)
	return Command{}, false, SWOK
}

// Active reports whether a chain is in progress.
func (a *CommandChain) Active() bool { return a.active }

// Reset drops any chain in progress.
func (a *CommandChain) Reset() { *a = CommandChain{} }

// continues reports whether cmd belongs to the chain in progress.
func (a *CommandChain) continues(cmd Command) bool {
	return cmd.CLA&^ClaChaining == a.head.CLA && cmd.INS == a.head.INS &&
		cmd.P1 == a.head.P1 && cmd.P2 == a.head.P2
}
