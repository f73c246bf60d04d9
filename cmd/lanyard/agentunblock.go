package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/card/pcsc"
	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/unblockcode"
)

// agentUnblockOffline is `lanyard agent unblock --offline`: the offline PIN
// unblock on the workstation (docs/lifecycle.md, "Offline unblock"). It
// talks to the card through pcscd only, so it works with no connection to
// the server: it shows the card's challenge, reads the response the user
// got from the help desk or Remote Self-Service, and sets the new PIN the
// user types, which nobody else sees.
func agentUnblockOffline(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("agent unblock --offline", flag.ContinueOnError)
	reader := fs.String("reader", "", "the reader holding the card (default: the one card that answers)")
	forgot := fs.Bool("forgot", false, "the PIN is not blocked, but forgotten: unblock anyway")
	state := fs.String("state", agent.DefaultStateDir(), "the agent's state directory (it keeps the owner's PIN rules for the card)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	pc, err := pcsc.Establish()
	if err != nil {
		return fmt.Errorf("PC/SC: %w (is pcscd running?)", err)
	}
	defer pc.Release()
	in := newPrompter(os.Stdin, os.Stdout)
	card, name, err := openUnblockCard(ctx, pc, *reader)
	if err != nil {
		return err
	}
	defer card.close()
	return unblockOffline(ctx, card.piv, name, *forgot, *state, in)
}

type unblockCard struct {
	conn *pcsc.Card
	piv  *piv.Card
}

func (c unblockCard) close() { c.conn.Close() }

// openUnblockCard connects to the reader named, or finds the one card
// that answers the offline unblock instruction.
func openUnblockCard(ctx context.Context, pc *pcsc.Context, reader string) (unblockCard, string, error) {
	readers := []string{reader}
	if reader == "" {
		var err error
		if readers, err = pc.Readers(); err != nil {
			return unblockCard{}, "", err
		}
	}
	var found []unblockCard
	var names []string
	var lastErr error
	for _, r := range readers {
		conn, err := pc.Connect(r, true)
		if err != nil {
			lastErr = err
			continue
		}
		c, err := piv.New(conn, piv.Config{Rand: rand.Reader})
		if err == nil {
			_, err = c.Select(ctx)
		}
		if err == nil {
			_, err = c.UnblockChallenge(ctx)
		}
		if err != nil && reader == "" {
			lastErr = err
			conn.Close()
			continue
		}
		if err != nil && !errors.Is(err, piv.ErrNoChallenge) {
			conn.Close()
			return unblockCard{}, "", describeUnblockError(err)
		}
		found, names = append(found, unblockCard{conn: conn, piv: c}), append(names, r)
	}
	switch {
	case len(found) == 1:
		return found[0], names[0], nil
	case len(found) > 1:
		for _, c := range found {
			c.close()
		}
		return unblockCard{}, "", fmt.Errorf("cards in several readers (%s): name one with --reader", strings.Join(names, ", "))
	case lastErr != nil:
		return unblockCard{}, "", describeUnblockError(lastErr)
	}
	return unblockCard{}, "", errors.New("no card found: insert the card and try again")
}

func describeUnblockError(err error) error {
	switch {
	case errors.Is(err, piv.ErrUnsupported):
		return errors.New("this card cannot be unblocked offline (it is not one of Lanyard's own cards); connect to the network and reset the PIN in Self-Service, or ask the help desk")
	case errors.Is(err, piv.ErrNoChallenge):
		return errors.New("this card cannot be unblocked offline: it was not issued with a key of its own; ask the help desk")
	}
	return err
}

// unblockOffline runs the exchange with the user on a selected card.
func unblockOffline(ctx context.Context, c *piv.Card, reader string, forgot bool, stateDir string, in *prompter) error {
	serial, err := personalize.Serial(ctx, c)
	if err != nil {
		return err
	}
	rule := offlinePINBounds(stateDir, serial)
	tries, err := c.PINRetries(ctx)
	switch {
	case err == nil && tries > 0 && !forgot:
		return fmt.Errorf("card %s: the PIN is not blocked (%d tries left); if you have forgotten it, run again with --forgot", serial, tries)
	case err != nil && !errors.Is(err, piv.ErrBlocked):
		return err
	}
	ch, err := c.UnblockChallenge(ctx)
	if err != nil {
		return describeUnblockError(err)
	}
	fields := unblockcode.UnpackChallenge(ch.Payload)
	valid := time.Now().Add(time.Duration(ch.SecondsLeft) * time.Second)
	in.say("Card %s in %s.\n", serial, reader)
	in.say("Call your help desk, or open Remote Self-Service, and give this challenge:\n\n    %s    (valid until %s)\n\n",
		unblockcode.Encode(unblockcode.Challenge, ch.Payload), valid.Format("15:04"))
	var response unblockcode.Payload
	for attempt := 0; ; attempt++ {
		line, err := in.line("Response: ")
		if err != nil {
			return err
		}
		if response, err = unblockcode.Decode(unblockcode.Response, line); err == nil {
			break
		}
		if attempt == 4 {
			return errors.New("the response was mistyped five times; nothing was sent to the card, and the challenge still stands: run again")
		}
		in.say("That response is mistyped; nothing was sent to the card. Type it again.\n")
	}
	var pin string
	for {
		if pin, err = in.secret("New PIN: "); err != nil {
			return err
		}
		again, err := in.secret("New PIN again: ")
		if err != nil {
			return err
		}
		if again != pin {
			in.say("The two PINs differ. Type them again.\n")
			continue
		}
		if rule.check(pin) != nil {
			in.say("A PIN of this card has %d to %d characters. Type it again.\n", rule.lo, rule.hi)
			continue
		}
		break
	}
	err = c.UnblockWithResponse(ctx, fields.Counter, response, pin)
	switch {
	case errors.Is(err, piv.ErrSecurityStatus):
		return errors.New("the card refused the response (wrong code, or a code for another challenge); its challenge is used up: run again for a new one")
	case errors.Is(err, piv.ErrNoChallenge):
		return errors.New("the card no longer waits for this response (it expired or was used): run again for a new challenge")
	case err != nil:
		return err
	}
	in.say("The PIN of card %s is set; it has all its tries again.\n", serial)
	return nil
}

// prompter reads the user's answers: lines from standard input, PINs
// without echo when standard input is a terminal.
type prompter struct {
	r   *bufio.Reader
	fd  int
	tty bool
	out io.Writer
}

func newPrompter(in *os.File, out io.Writer) *prompter {
	fd := int(in.Fd())
	return &prompter{r: bufio.NewReader(in), fd: fd, tty: term.IsTerminal(fd), out: out}
}

func (p *prompter) say(format string, args ...any) { fmt.Fprintf(p.out, format, args...) }

func (p *prompter) line(prompt string) (string, error) {
	p.say("%s", prompt)
	s, err := p.r.ReadString('\n')
	if err != nil && (s == "" || !errors.Is(err, io.EOF)) {
		if errors.Is(err, io.EOF) {
			return "", errors.New("no more input")
		}
		return "", err
	}
	return strings.TrimRight(s, "\r\n"), nil
}

func (p *prompter) secret(prompt string) (string, error) {
	if !p.tty {
		return p.line(prompt)
	}
	p.say("%s", prompt)
	b, err := term.ReadPassword(p.fd)
	p.say("\n")
	return string(b), err
}
