package main

import (
	"context"
	"fmt"
	"os"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/issuance"
)

// A PIN set on the workstation without the server in the loop (`agent pin
// change`, `agent unblock --offline`) must fit the card owner's policy
// (issuance.PINRange), not only the PIV bounds (review L6). The agent
// keeps the rules the server gave at its last connection (agent.PINRuleFor,
// agent.CachedPINRule); the PIV bounds apply only to a card it has none
// for, and the user is told so.

// pinBounds is the length range of a new PIN for a card, and where it
// came from.
type pinBounds struct {
	lo, hi int
	source string // "server", "kept", or "" for the PIV bounds
}

// check refuses pin outside the bounds, as issuance.CheckPIN says it.
func (b pinBounds) check(pin string) error { return issuance.CheckPIN("the new PIN", pin, b.lo, b.hi) }

// bounds fills in the PIV bounds for a side the rule leaves open (0).
func bounds(lo, hi int, source string) pinBounds {
	if lo == 0 {
		lo = piv.DefaultMinPINLength
	}
	if hi == 0 {
		hi = piv.MaxPINLength
	}
	return pinBounds{lo: lo, hi: hi, source: source}
}

// onlinePINBounds are serial's bounds for `agent pin change`: the
// server's rules when it answers, else those kept at the agent's last
// connection, else the PIV bounds (with a notice on standard error).
func onlinePINBounds(ctx context.Context, stateDir, serial string) pinBounds {
	r, ok, online := agent.PINRuleFor(ctx, stateDir, serial)
	switch {
	case ok && online:
		return bounds(r.MinLength, r.MaxLength, "server")
	case ok:
		return bounds(r.MinLength, r.MaxLength, "kept")
	}
	noRulesNotice(serial)
	return bounds(0, 0, "")
}

// offlinePINBounds are serial's bounds for `agent unblock --offline`:
// those kept at the agent's last connection, else the PIV bounds.
func offlinePINBounds(stateDir, serial string) pinBounds {
	if r, ok, err := agent.CachedPINRule(stateDir, serial); err == nil && ok {
		return bounds(r.MinLength, r.MaxLength, "kept")
	}
	noRulesNotice(serial)
	return bounds(0, 0, "")
}

func noRulesNotice(serial string) {
	fmt.Fprintf(os.Stderr, "No PIN rules for card %s are known on this computer (the agent has not connected since it was issued): the PIV rules apply, %d to %d characters.\n",
		serial, piv.DefaultMinPINLength, piv.MaxPINLength)
}
