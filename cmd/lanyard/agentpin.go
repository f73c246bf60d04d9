package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/card/pcsc"
	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/issuance"
)

// The workstation's PIN commands, for a user without a browser
// (docs/lifecycle.md): Change PIN on the card in a local reader, and the
// online unblock through the server.

func agentPINCommands() []command {
	return []command{
		{"agent pin change", "agent pin change [--reader NAME] [--state DIR] (current PIN, then the new PIN twice, on standard input)",
			"change the PIN of the card in a reader of this workstation, on the card itself (PC/SC)", agentPINChange},
		{"agent unblock", "agent unblock [--card SERIAL] [--state DIR] | agent unblock --offline [--reader NAME] [--forgot]",
			"reset the forgotten or blocked PIN of your card connected here: answer your secret questions, and the server resets it with the card's own Admin PIN through the running agent; --offline, when the server cannot be reached: shows the card's challenge, then sets a new PIN with the response from the help desk or Remote Self-Service", agentUnblock},
	}
}

// agentPINChange changes the PIN on the card directly: VERIFY, then
// CHANGE REFERENCE DATA (SP 800-73-4 part 2, 3.2.1 and 3.2.2), as any
// middleware on the workstation may. The server is not involved and not
// told: it works without a connection. The new PIN must fit the owner's
// policy for the card: the server's rules when it answers, else those the
// agent kept at its last connection (agentpinrules.go), else the PIV
// bounds, 6 to 8 characters.
func agentPINChange(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("agent pin change", flag.ContinueOnError)
	readerName := fs.String("reader", "", "the reader holding the card (default: the only reader with a card)")
	state := fs.String("state", agent.DefaultStateDir(), "the agent's state directory (it keeps the owner's PIN rules for the card)")
	if pos, err := parse(fs, args); err != nil || len(pos) != 0 {
		return errUsage
	}
	old, pin, err := readPINChange()
	if err != nil {
		return err
	}
	if err := issuance.CheckPIN("the new PIN", pin, 0, 0); err != nil {
		return err // outside the PIV bounds: no card needed to say so
	}
	pc, err := pcsc.Establish()
	if err != nil {
		return fmt.Errorf("PC/SC: %w (is pcscd running?)", err)
	}
	defer pc.Release()
	k, err := connectReader(pc, *readerName)
	if err != nil {
		return err
	}
	defer k.Close()
	c, err := piv.New(k, piv.Config{Rand: rand.Reader})
	if err != nil {
		return err
	}
	if _, err := c.Select(ctx); err != nil {
		return fmt.Errorf("the card in %s is not a PIV card: %w", k.Reader(), err)
	}
	serial, err := personalize.Serial(ctx, c)
	if err != nil {
		return err
	}
	if err := onlinePINBounds(ctx, *state, serial).check(pin); err != nil {
		return err
	}
	if err := c.VerifyPIN(ctx, old); err != nil {
		return pinRefused(err)
	}
	if err := c.ChangePIN(ctx, old, pin); err != nil {
		return pinRefused(err)
	}
	fmt.Fprintf(os.Stderr, "The PIN of the card in %s is changed.\n", k.Reader())
	return nil
}

// connectReader connects to the named reader, or to the only one
// holding a card.
func connectReader(pc *pcsc.Context, name string) (*pcsc.Card, error) {
	if name != "" {
		return pc.Connect(name, true)
	}
	readers, err := pc.Readers()
	if err != nil {
		return nil, err
	}
	var found *pcsc.Card
	var names []string
	for _, r := range readers {
		k, err := pc.Connect(r, true)
		if err != nil {
			continue // empty, or in use
		}
		if found != nil {
			k.Close()
		} else {
			found = k
		}
		names = append(names, r)
	}
	switch {
	case len(names) == 0:
		return nil, errors.New("no card is in a reader of this workstation")
	case len(names) > 1:
		found.Close()
		return nil, fmt.Errorf("cards are in several readers; choose one with --reader: %s", strings.Join(names, "; "))
	}
	return found, nil
}

// pinRefused says what the card's refusal means: the tries left, or
// blocked.
func pinRefused(err error) error {
	if perr := personalize.PINRefused(err, "the current PIN"); perr != nil {
		return perr
	}
	return personalize.CardError(err, "changing the PIN")
}

// agentUnblock is the online unblock from the workstation: the owner's
// questions come from the server, the answers and the new PIN (typed
// twice; none when the policy sets a random one) go back over the agent's
// mutually authenticated connection, and the server resets the PIN with
// the card's own PUK through the running agent's relay.
func agentUnblock(ctx context.Context, args []string) error {
	if i := slices.Index(args, "--offline"); i >= 0 {
		return agentUnblockOffline(ctx, slices.Delete(slices.Clone(args), i, i+1))
	}
	fs := flag.NewFlagSet("agent unblock", flag.ContinueOnError)
	state := fs.String("state", agent.DefaultStateDir(), "the agent's state directory")
	serial := fs.String("card", "", "the card's serial (default: your only card connected here)")
	random := fs.Bool("random", false, "your policy sets a random PIN: do not read one (it is printed once)")
	if pos, err := parse(fs, args); err != nil || len(pos) != 0 {
		return errUsage
	}
	questions, err := agent.UnblockQuestions(ctx, *state)
	if err != nil {
		return err
	}
	in := newLineReader(os.Stdin)
	req := agentproto.Unblock{Serial: *serial}
	for _, q := range questions {
		a, err := in.line(q)
		if err != nil {
			return err
		}
		req.Answers = append(req.Answers, agentproto.SecretAnswer{Question: q, Answer: a})
	}
	if !*random {
		if req.NewPIN, err = in.newPIN(); err != nil {
			return err
		}
	}
	out, err := agent.Unblock(ctx, *state, req)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "The PIN of card %s is reset; its tries are restored.\n", out.Serial)
	if out.RandomPIN != "" {
		fmt.Printf("New PIN (shown once): %s\n", out.RandomPIN)
	}
	return nil
}
