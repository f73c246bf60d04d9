package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/client"
)

// PINs are read from standard input, one a line, never from flags: a flag
// is in the process list and the shell history.

func pinCommands() []command {
	return []command{
		{"card pin-change", "card pin-change ID (current PIN, then the new PIN twice, on standard input)",
			"change the PIN of your card, connected at one of your workstations", cardPINChange},
		{"card pin-reset", "card pin-reset ID [--random] [--answers-file F] (the new PIN twice on standard input, unless --random)",
			"reset a card's PIN with its own Admin PIN (operators, as the owner's policy allows; or the owner, with the answers to their secret questions); --random when the policy sets random PINs (printed once if you may see it)", cardPINReset},
	}
}

// lineReader reads PINs from standard input, one a line, prompting on
// standard error.
type lineReader struct{ in *bufio.Scanner }

func newLineReader(r io.Reader) *lineReader { return &lineReader{bufio.NewScanner(r)} }

func (l *lineReader) line(prompt string) (string, error) {
	fmt.Fprintln(os.Stderr, prompt)
	if !l.in.Scan() {
		if err := l.in.Err(); err != nil {
			return "", err
		}
		return "", fmt.Errorf("no %s on standard input", strings.ToLower(strings.TrimSuffix(prompt, ":")))
	}
	return strings.TrimRight(l.in.Text(), "\r"), nil
}

// newPIN reads a new PIN typed twice.
func (l *lineReader) newPIN() (string, error) {
	pin, err := l.line("New PIN:")
	if err != nil {
		return "", err
	}
	again, err := l.line("New PIN again:")
	if err != nil {
		return "", err
	}
	if pin != again {
		return "", errors.New("the two new PINs differ; nothing was changed")
	}
	return pin, nil
}

// readPINChange reads the current PIN, then the new one twice, from
// standard input.
func readPINChange() (old, pin string, err error) {
	in := newLineReader(os.Stdin)
	if old, err = in.line("Current PIN:"); err != nil {
		return "", "", err
	}
	pin, err = in.newPIN()
	return old, pin, err
}

func cardPINChange(ctx context.Context, args []string) error {
	cmd := newClientCmd("card pin-change")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	old, pin, err := readPINChange()
	if err != nil {
		return err
	}
	var v apiv1.CardView
	if _, err := c.Post(ctx, "/api/v1/cards/"+client.Esc(pos[0])+"/pin-change", apiv1.PINChangeInput{OldPIN: old, NewPIN: pin}, &v); err != nil {
		return err
	}
	if cmd.output == "json" {
		return printJSON(&v)
	}
	fmt.Fprintln(os.Stderr, "PIN changed.")
	printCard(&v)
	return nil
}

func cardPINReset(ctx context.Context, args []string) error {
	cmd := newClientCmd("card pin-reset")
	random := cmd.Bool("random", false, "the owner's policy sets a random PIN: do not read one")
	answersFile := cmd.String("answers-file", "", `the owner's answers to their secret questions, a JSON list of {"question": …, "answer": …}`)
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	var body apiv1.PINResetInput
	if *answersFile != "" {
		if body.Answers, err = readAnswers(*answersFile); err != nil {
			return err
		}
	}
	if !*random {
		if body.NewPIN, err = newLineReader(os.Stdin).newPIN(); err != nil {
			return err
		}
	}
	var res apiv1.PINResetResult
	if _, err := c.Post(ctx, "/api/v1/cards/"+client.Esc(pos[0])+"/pin-reset", body, &res); err != nil {
		return err
	}
	if cmd.output == "json" {
		return printJSON(&res)
	}
	fmt.Fprintln(os.Stderr, "PIN reset; the card has a new Admin PIN (PUK) of its own.")
	switch {
	case res.RandomPIN != "":
		fmt.Printf("New PIN (shown once): %s\n", res.RandomPIN)
	case res.PINHeldForOwner:
		fmt.Fprintln(os.Stderr, "The new random PIN is not shown to you: the owner sees it once in Self-Service.")
	}
	if len(res.PINMailedTo) > 0 {
		fmt.Fprintf(os.Stderr, "The PIN was e-mailed to %s.\n", strings.Join(res.PINMailedTo, ", "))
	}
	if res.PINMailNote != "" {
		fmt.Fprintln(os.Stderr, res.PINMailNote)
	}
	if res.Card != nil {
		printCard(res.Card)
	}
	return nil
}

// readAnswers reads secret answers from a JSON file.
func readAnswers(path string) ([]apiv1.SecretAnswerInput, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []apiv1.SecretAnswerInput
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%s: want a JSON list of {\"question\": …, \"answer\": …}: %v", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s holds no answers", path)
	}
	return out, nil
}
