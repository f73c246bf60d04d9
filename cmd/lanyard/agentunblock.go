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
	state := fs.String("state", agent.DefaultStateDir(), "the agent's state directory (it keeps the owner's PIN rules for the card; a standard PIV card's new Admin PIN is left there, sealed, for the agent to upload)")
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
	if card.standard {
		return unblockOfflinePIV(ctx, card.piv, name, *forgot, in, pivNonceStore{}, *state)
	}
	return unblockOffline(ctx, card.piv, name, *forgot, *state, in)
}

type unblockCard struct {
	conn *pcsc.Card
	piv  *piv.Card
	// standard: a standard PIV card (it does not know Lanyard's
	// instructions), unblocked by the PUK the response releases.
	standard bool
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
		standard := false
		if err == nil {
			_, err = c.UnblockChallenge(ctx)
			if errors.Is(err, piv.ErrUnsupported) {
				standard, err = true, nil
			}
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
		found, names = append(found, unblockCard{conn: conn, piv: c, standard: standard}), append(names, r)
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
	case errors.Is(err, piv.ErrOfflineUnavailable):
		return errors.New("this card cannot be unblocked offline: it is a TPM virtual card made before offline unblock existed; connect to the network and reset the PIN in Self-Service, or ask the help desk, and have the card re-issued")
	case errors.Is(err, piv.ErrNoChallenge):
		return errors.New("this card cannot be unblocked offline now: it was not issued with a key of its own, or (a TPM virtual card) it holds no unused unblock code, which it gets when it next connects to Lanyard; ask the help desk")
	}
	return err
}

// unblockSerial is the serial of the card to unblock offline, after
// checking its PIN is blocked (or forgot).
func unblockSerial(ctx context.Context, c *piv.Card, forgot bool) (string, error) {
	serial, err := personalize.Serial(ctx, c)
	if err != nil {
		return "", err
	}
	tries, err := c.PINRetries(ctx)
	switch {
	case err == nil && tries > 0 && !forgot:
		return "", fmt.Errorf("card %s: the PIN is not blocked (%d tries left); if you have forgotten it, run again with --forgot", serial, tries)
	case err != nil && !errors.Is(err, piv.ErrBlocked):
		return "", err
	}
	return serial, nil
}

// unblockOffline runs the exchange with the user on a selected Lanyard
// card.
func unblockOffline(ctx context.Context, c *piv.Card, reader string, forgot bool, stateDir string, in *prompter) error {
	serial, err := unblockSerial(ctx, c, forgot)
	if err != nil {
		return err
	}
	ch, err := c.UnblockChallenge(ctx)
	if err != nil {
		return describeUnblockError(err)
	}
	fields := unblockcode.UnpackChallenge(ch.Payload)
	valid := "valid until " + time.Now().Add(time.Duration(ch.SecondsLeft)*time.Second).Format("15:04")
	if ch.Armed {
		// A TPM virtual card: the code armed by the server stays until
		// it is used.
		valid = fmt.Sprintf("valid until used; %d tries", ch.TriesLeft)
	}
	in.say("Card %s in %s.\n", serial, reader)
	in.say("Call your help desk, or open Remote Self-Service, and give this challenge:\n\n    %s    (%s)\n\n",
		unblockcode.Encode(unblockcode.Challenge, ch.Payload), valid)
	response, _, err := readResponse(in, nil)
	if err != nil {
		return err
	}
	pin, err := readNewPIN(in, offlinePINBounds(stateDir, serial))
	if err != nil {
		return err
	}
	err = c.UnblockWithResponse(ctx, fields.Counter, response, pin)
	var wrong *piv.WrongCodeError
	switch {
	case errors.As(err, &wrong) && wrong.TriesLeft > 0:
		return fmt.Errorf("the card refused the response (%d tries left for this challenge): check it with the help desk and run again", wrong.TriesLeft)
	case errors.As(err, &wrong), errors.Is(err, piv.ErrBlocked):
		return errors.New("the card takes no more responses for this challenge: connect it to a computer that reaches Lanyard, which gives it a new one, or reset the PIN there")
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

// readResponse reads the response the user was given, until it is well
// typed and open accepts it (open may be nil; what it returns is kept).
// Nothing reaches the card before: a typo or a response for another
// card or challenge costs nothing.
func readResponse(in *prompter, open func(unblockcode.Payload) (string, error)) (unblockcode.Payload, string, error) {
	for attempt := 0; ; attempt++ {
		line, err := in.line("Response: ")
		if err != nil {
			return unblockcode.Payload{}, "", err
		}
		response, err := unblockcode.Decode(unblockcode.Response, line)
		var opened string
		if err == nil && open != nil {
			opened, err = open(response)
		}
		if err == nil {
			return response, opened, nil
		}
		if attempt == 4 {
			return unblockcode.Payload{}, "", fmt.Errorf("the response was refused five times (%w); nothing was sent to the card, and the challenge still stands: run again", err)
		}
		if errors.Is(err, unblockcode.ErrMistyped) {
			in.say("That response is mistyped; nothing was sent to the card. Type it again.\n")
		} else {
			in.say("%s; nothing was sent to the card. Check it and type it again.\n", strings.ToUpper(err.Error()[:1])+err.Error()[1:])
		}
	}
}

// readNewPIN reads the new PIN twice, not echoed, until both agree and it
// has the length a PIV card takes.
func readNewPIN(in *prompter, rule pinBounds) (string, error) {
	for {
		pin, err := in.secret("New PIN: ")
		if err != nil {
			return "", err
		}
		again, err := in.secret("New PIN again: ")
		if err != nil {
			return "", err
		}
		if again != pin {
			in.say("The two PINs differ. Type them again.\n")
			continue
		}
		if rule.check(pin) != nil {
			in.say("A PIN of this card has %d to %d characters. Type it again.\n", rule.lo, rule.hi)
			continue
		}
		return pin, nil
	}
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
