package piv

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// Offline PIN unblock on Lanyard's own cards: the vendor instructions of
// class 80 (pivspec.InsGetUnblockChallenge, InsUnblockWithResponse;
// docs/lifecycle.md, "Offline unblock"). A standard PIV card answers them
// 6E00 or 6D00, which UnblockChallenge reports as ErrUnsupported.

// ErrNoChallenge: the card has no pending challenge with that counter (it
// expired, was used, or the card made a newer one), or it cannot be
// unblocked offline at all (6985).
var ErrNoChallenge = errors.New("piv: no offline unblock challenge pending")

// ErrOfflineUnavailable: a Lanyard card that cannot hold an offline
// unblock code at all (6A81: a TPM virtual card made before offline
// unblock existed); it must be re-issued.
var ErrOfflineUnavailable = errors.New("piv: this card cannot be unblocked offline; re-issue it")

// ErrCounterUsed: a TPM virtual card refused to arm an offline unblock
// code (6985) because it armed that counter, or a later one, before: a
// code once used or replaced is never armed again.
var ErrCounterUsed = errors.New("piv: the card armed this offline unblock counter or a later one before")

// UnblockChallenge is a Lanyard card's offline unblock challenge.
type UnblockChallenge struct {
	Payload     [9]byte // 70 bits, right-aligned (unblockcode.Payload)
	SecondsLeft uint32  // before the card drops it
	// Armed: the challenge of a code armed by the server (a TPM virtual
	// card), which does not expire; TriesLeft responses it still takes.
	Armed     bool
	TriesLeft int
}

// UnblockChallenge returns the card's pending offline unblock challenge,
// or a new one. ErrUnsupported: not a Lanyard card; ErrNoChallenge: a
// Lanyard card that cannot be unblocked offline.
func (c *Card) UnblockChallenge(ctx context.Context) (UnblockChallenge, error) {
	const op = "GET UNBLOCK CHALLENGE"
	b, err := c.do(ctx, op, apdu.Command{CLA: pivspec.ClaLanyard, INS: pivspec.InsGetUnblockChallenge, P2: byte(pivspec.KeyPIN), Le: apdu.MaxShortLe})
	if err != nil {
		return UnblockChallenge{}, noChallenge(err)
	}
	tlvs, err := apdu.ParseTLVs(b)
	ch, ok1 := apdu.Find(tlvs, pivspec.TagUnblockChallenge)
	left, ok2 := apdu.Find(tlvs, pivspec.TagUnblockSecondsLeft)
	tries, ok3 := apdu.Find(tlvs, pivspec.TagUnblockTriesLeft)
	if err != nil || !ok1 || ok2 == ok3 || len(ch.Value) != 9 || (ok2 && len(left.Value) != 4) || (ok3 && len(tries.Value) != 1) || ch.Value[0]&0xC0 != 0 {
		return UnblockChallenge{}, fmt.Errorf("piv: %s: %w response % X", op, apdu.ErrMalformed, b)
	}
	var out UnblockChallenge
	copy(out.Payload[:], ch.Value)
	if ok2 {
		out.SecondsLeft = binary.BigEndian.Uint32(left.Value)
	} else {
		out.Armed, out.TriesLeft = true, int(tries.Value[0])
	}
	return out, nil
}

// UnblockWithResponse sets a new PIN with the response to the challenge
// numbered counter. The card consumes the challenge whatever the outcome:
// a wrong response fails with ErrSecurityStatus and a new challenge is
// needed. The new PIN's form is checked here first (ErrPINFormat), so a
// typo in it costs nothing.
func (c *Card) UnblockWithResponse(ctx context.Context, counter uint16, response [9]byte, newPIN string) error {
	const op = "UNBLOCK PIN WITH RESPONSE"
	pin, err := c.encodePIN("new PIN", newPIN)
	if err != nil {
		return fmt.Errorf("piv: %s: %w", op, err)
	}
	data := binary.BigEndian.AppendUint16(nil, counter)
	data = append(data, response[:]...)
	data = append(data, pin...)
	_, err = c.do(ctx, op, apdu.Command{CLA: pivspec.ClaLanyard, INS: pivspec.InsUnblockWithResponse, P2: byte(pivspec.KeyPIN), Data: data})
	var se *apdu.StatusError
	if errors.As(err, &se) && errors.Is(se, apdu.ErrVerifyFailed) {
		n, _ := se.SW.Retries()
		return &WrongCodeError{TriesLeft: n, sw: se}
	}
	return noChallenge(err)
}

// WrongCodeError: a TPM virtual card's TPM refused the response to the
// armed code (63CX); the code takes TriesLeft more responses. At 0, or
// when the card answers 6983 (ErrBlocked), only a new code armed by the
// server helps.
type WrongCodeError struct {
	TriesLeft int
	sw        *apdu.StatusError
}

func (e *WrongCodeError) Error() string {
	return fmt.Sprintf("piv: the card refused the unblock response; %d tries left for this challenge", e.TriesLeft)
}

// Unwrap returns the card's status error.
func (e *WrongCodeError) Unwrap() error { return e.sw }

// noChallenge turns 6985 into ErrNoChallenge, and 6A81 (a Lanyard
// card's answer; a standard card answers 6D00 or 6E00) into
// ErrOfflineUnavailable.
func noChallenge(err error) error {
	var se *apdu.StatusError
	if errors.As(err, &se) && se.SW == apdu.SWConditionsNotSatisfied {
		return fmt.Errorf("%w (%w)", ErrNoChallenge, err)
	}
	if errors.As(err, &se) && se.SW == apdu.SWFunctionNotSupported {
		return fmt.Errorf("%w (%w)", ErrOfflineUnavailable, err)
	}
	return err
}

// ArmOfflineUnblock arms a TPM virtual card's offline unblock code
// (pivspec.InsArmOfflineUnblock) with the card's PUK, in the management
// session. A wrong PUK is an *AuthError on the PUK; a card that cannot
// hold a code fails with ErrUnsupported; a counter not above every one
// the card armed before (other than the armed code's own, sent again)
// with ErrCounterUsed.
func (a *Admin) ArmOfflineUnblock(ctx context.Context, puk string, counter uint16, nonce uint64, code [9]byte) error {
	const op = "ARM OFFLINE UNBLOCK"
	p, err := a.c.encodePIN("PUK", puk)
	if err != nil {
		return fmt.Errorf("piv: %s: %w", op, err)
	}
	if nonce >= 1<<36 || code[0]&0xC0 != 0 {
		return fmt.Errorf("piv: %s: nonce or code out of range", op)
	}
	data := binary.BigEndian.AppendUint16(p, counter)
	data = append(data, byte(nonce>>32))
	data = binary.BigEndian.AppendUint32(data, uint32(nonce))
	data = append(data, code[:]...)
	c, err := a.card()
	if err != nil {
		return err
	}
	_, err = c.doAuth(ctx, op, pivspec.KeyPUK, apdu.Command{CLA: pivspec.ClaLanyard, INS: pivspec.InsArmOfflineUnblock, P2: byte(pivspec.KeyPIN), Data: data})
	if se := (*apdu.StatusError)(nil); errors.As(err, &se) && se.SW == apdu.SWConditionsNotSatisfied {
		return fmt.Errorf("%w (%w)", ErrCounterUsed, err)
	}
	return err
}

// SetOfflineKey gives a Lanyard card the 32-byte key it checks offline
// unblock responses with (pivspec.InsSetOfflineKey), in the management
// session. A standard PIV card fails with ErrUnsupported.
func (a *Admin) SetOfflineKey(ctx context.Context, key []byte) error {
	const op = "SET OFFLINE KEY"
	if len(key) != 32 {
		return fmt.Errorf("piv: %s: a key of %d bytes, want 32", op, len(key))
	}
	_, err := a.do(ctx, op, apdu.Command{CLA: pivspec.ClaLanyard, INS: pivspec.InsSetOfflineKey, P2: byte(pivspec.KeyPIN), Data: key})
	return err
}

// KnowsLanyardInstructions reports whether the card is one of Lanyard's
// own (it knows the class-80 instructions) without changing anything on
// it: GET UNBLOCK CHALLENGE with P1 FF, a parameter no card accepts, so a
// Lanyard card refuses it (6A86) before it makes any challenge, and a
// standard PIV card does not know the instruction (6E00, 6D00, 6A81:
// ErrUnsupported). Any other answer counts as a Lanyard card, so a card
// is taken for a standard one only when it says so.
func (c *Card) KnowsLanyardInstructions(ctx context.Context) (bool, error) {
	_, err := c.do(ctx, "probe of Lanyard's instructions", apdu.Command{CLA: pivspec.ClaLanyard, INS: pivspec.InsGetUnblockChallenge, P1: 0xFF, P2: byte(pivspec.KeyPIN)})
	var se *apdu.StatusError
	switch {
	case errors.Is(err, ErrUnsupported):
		return false, nil
	case err == nil || errors.As(err, &se):
		return true, nil
	}
	return false, err
}
