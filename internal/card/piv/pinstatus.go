package piv

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// PINStatus is what a card says about its PIN and PUK without spending a
// try: what an agent reports so that operators see a blocked PIN before
// the user calls (docs/lifecycle.md, "PIN blocked cards").
type PINStatus struct {
	// PINLeft is the PIN's tries left, -1 when the card did not say (the
	// PIN is verified and the card has no GET METADATA).
	PINLeft int
	// PINTotal is the PIN's retry count (GET METADATA), 0 when unknown.
	PINTotal int
	// PUKLeft is the PUK's tries left (GET METADATA), -1 when unknown.
	PUKLeft int
	// Verified: the PIN is verified in the card's current session.
	Verified bool
}

// Blocked reports that the PIN has no try left.
func (s PINStatus) Blocked() bool { return s.PINLeft == 0 }

// ReadPINStatus reads the PIN's and PUK's tries left on the selected PIV
// application, spending none:
//
//   - VERIFY without data (SP 800-73-4 Part 2 3.2.1) answers 63CX (X tries
//     left), 6983 (blocked) or 9000 (verified in this session);
//   - GET METADATA 80 and 81 (vendor F7, YubiKey 5.3 and later) give the
//     PIN's total and the PUK's tries left; cards without it leave them
//     unknown, and a reply that contradicts itself (more left than the
//     total, a total of 0) is ignored.
//
// The PUK is never VERIFYed: SP 800-73-4 defines VERIFY for the PIN (80,
// 00) only, and a card may count an empty VERIFY of 81 as a wrong PUK.
// Any other answer to VERIFY (not a PIV card, no application selected)
// is an error.
func (c *Card) ReadPINStatus(ctx context.Context) (PINStatus, error) {
	const op = "VERIFY PIN (status)"
	r, err := c.client.Send(ctx, apdu.Command{INS: pivspec.InsVerify, P2: byte(pivspec.KeyPIN)})
	if err != nil {
		return PINStatus{}, wrap(op, err)
	}
	st := PINStatus{PINLeft: -1, PUKLeft: -1}
	if st.PINLeft, st.Verified, err = pinTriesOf(r.SW); err != nil {
		return PINStatus{}, wrap(op, err)
	}
	if total, left, ok := c.retriesMetadata(ctx, pivspec.KeyPIN); ok {
		st.PINTotal = total
		if st.PINLeft < 0 {
			st.PINLeft = left
		}
	}
	if _, left, ok := c.retriesMetadata(ctx, pivspec.KeyPUK); ok {
		st.PUKLeft = left
	}
	return st, nil
}

// pinTriesOf reads an empty VERIFY's status word: tries left (-1 when
// the PIN is verified and the card gives no count) and whether the PIN
// is verified.
func pinTriesOf(sw apdu.SW) (left int, verified bool, err error) {
	if n, ok := sw.Retries(); ok {
		return n, false, nil
	}
	switch sw {
	case apdu.SWAuthBlocked:
		return 0, false, nil
	case apdu.SWOK:
		return -1, true, nil
	}
	return 0, false, sw.Err()
}

// retriesMetadata is GET METADATA's retry counts of ref, ok only when the
// card answered with a consistent pair.
func (c *Card) retriesMetadata(ctx context.Context, ref KeyRef) (total, left int, ok bool) {
	m, err := c.Metadata(ctx, ref)
	if err != nil {
		return 0, 0, false
	}
	if m.Retries < 1 || m.RetriesLeft > m.Retries {
		return 0, 0, false
	}
	return m.Retries, m.RetriesLeft, true
}
