package apdu

// CardFramer is the card side of Client: it applies the exchange rules of
// ISO/IEC 7816-4:2005 to raw command APDUs so that a card implementation
// sees only complete commands and returns whole responses.
//
// For each raw command, Process
//
//   - answers 6700 to bytes ParseCommand rejects;
//   - answers GET RESPONSE from the pending response (ResponseBuffer);
//     any other command discards it;
//   - collects the blocks of a command chain, answering 9000 to each
//     (CommandChain);
//   - calls the handler with the complete command and serves its
//     response in pieces of at most Le bytes (256 without Le) with 61XX.
//
// The zero value is ready. Call Reset on power off, power on and reset,
// as the card's other volatile state is cleared. A CardFramer is plain
// state: no goroutines, not safe for concurrent use.
type CardFramer struct {
	chain CommandChain
	out   ResponseBuffer
}

// Process handles one raw command APDU and returns the raw response APDU.
// handle runs once per complete command, never for GET RESPONSE or
// intermediate chain blocks; its response may be of any length.
func (f *CardFramer) Process(raw []byte, handle func(Command) Response) []byte {
	cmd, err := ParseCommand(raw)
	if err != nil {
		f.Reset()
		return Response{SW: SWWrongLength}.Bytes()
	}
	if r, ok := f.out.Intercept(cmd); ok {
		f.chain.Reset()
		return r.Bytes()
	}
	full, done, reply := f.chain.Add(cmd)
	if !done {
		return Response{SW: reply}.Bytes()
	}
	return f.out.Serve(handle(full), full.Le).Bytes()
}

// Reset drops any command chain in progress and any pending response.
func (f *CardFramer) Reset() {
	f.chain.Reset()
	f.out.Reset()
}
