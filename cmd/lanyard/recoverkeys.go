package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/client"
)

// recoverKeysCommands is Recover keys onto card (docs/lifecycle.md, "Key
// archival").
func recoverKeysCommands() []command {
	return []command{
		{"card recover-keys", "card recover-keys ID [--workstation W --reader R] [--requests ID,ID | --code CODE]",
			"put the owner's earlier archived encryption keys onto issued card ID (its retired key slots): your own card after your account password (read from standard input) and authenticator code; someone else's with your key recovery requests a second person approved (--requests)", cardRecoverKeys},
	}
}

func cardRecoverKeys(ctx context.Context, args []string) error {
	cmd := newClientCmd("card recover-keys")
	ws := cmd.Int64("workstation", 0, "the ID of the workstation the card is connected to (default: found)")
	reader := cmd.String("reader", "", "the reader the card is in (default: found)")
	requests := cmd.String("requests", "", "comma-separated IDs of your approved key recovery requests, for someone else's card")
	code := cmd.String("code", "", "a current code from your authenticator app, for your own card (asked on standard input when not given)")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	if id, err := strconv.ParseInt(pos[0], 10, 64); err != nil || id <= 0 {
		return fmt.Errorf("card recover-keys: %q is not a card ID", pos[0])
	}
	in := apiv1.RecoverKeysInput{WorkstationID: *ws, Reader: *reader}
	if in.Requests, err = requestIDs("card recover-keys", *requests); err != nil {
		return err
	}
	own, err := ownCard(ctx, c, pos[0])
	if err != nil {
		return err
	}
	if len(in.Requests) == 0 && own {
		// The account password only from standard input: a flag would
		// show in the process list and the shell history.
		line := stdinPrompter()
		if in.AccountPassword, err = line("Your account password:"); err != nil {
			return err
		}
		if in.Code = *code; in.Code == "" {
			if in.Code, err = line("Code from your authenticator app:"); err != nil {
				return err
			}
		}
	}
	var res apiv1.RecoverKeysResult
	if _, err := c.Post(ctx, "/api/v1/cards/"+client.Esc(pos[0])+"/recover-keys", in, &res); err != nil {
		return err
	}
	if cmd.output == "json" {
		return printJSON(&res)
	}
	fmt.Printf("Card %d (%s) holds %d earlier keys:\n", res.Card.ID, res.Card.Serial, len(res.Keys))
	for i, k := range res.Keys {
		fmt.Printf("  %X  %s  %s  archived key %d\n", 0x82+i, k.Template, k.CertificateSerial, k.ID)
	}
	if res.Note != "" {
		fmt.Println(res.Note)
	}
	return nil
}

// requestIDs parses comma-separated key recovery request IDs.
func requestIDs(name, list string) ([]int64, error) {
	var out []int64
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %q is not a request ID", name, s)
		}
		out = append(out, id)
	}
	return out, nil
}

// historyFlags are the authority to put the owner's earlier archived keys
// on a card at Issue card and Replace card (apiv1.HistoryAuthority).
type historyFlags struct {
	own      bool
	code     string
	requests string
}

func (h *historyFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&h.own, "recover-keys", false, "put your earlier archived encryption keys on the card: your account password is read from standard input, the authenticator code from --code or a prompt")
	fs.StringVar(&h.code, "code", "", "with --recover-keys: a current code from your authenticator app")
	fs.StringVar(&h.requests, "recovery-requests", "", "comma-separated IDs of your approved key recovery requests: the owner's earlier keys they name go on the card")
}

// authority is what the flags give (nil: none), reading the password.
func (h *historyFlags) authority(name string) (*apiv1.HistoryAuthority, error) {
	reqs, err := requestIDs(name, h.requests)
	switch {
	case err != nil:
		return nil, err
	case h.own && len(reqs) > 0:
		return nil, fmt.Errorf("%s: --recover-keys (your own keys) and --recovery-requests (someone else's) exclude each other", name)
	case len(reqs) > 0:
		return &apiv1.HistoryAuthority{Requests: reqs}, nil
	case !h.own:
		if h.code != "" {
			return nil, fmt.Errorf("%s: --code goes with --recover-keys", name)
		}
		return nil, nil
	}
	a := &apiv1.HistoryAuthority{Code: h.code}
	line := stdinPrompter()
	if a.AccountPassword, err = line("Your account password:"); err != nil {
		return nil, err
	}
	if a.Code == "" {
		if a.Code, err = line("Code from your authenticator app:"); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// printRecoveryNote says how many earlier keys the card could still get.
func printRecoveryNote(res *apiv1.IssueCardResult) {
	if res.RecoveryNote != "" && res.Card != nil {
		fmt.Fprintf(os.Stderr, "%s (lanyard card recover-keys %d).\n", res.RecoveryNote, res.Card.ID)
	}
}

// ownCard reports whether card id is the caller's (the step-up is asked
// only then; someone else's card takes approved requests).
func ownCard(ctx context.Context, c *client.Client, id string) (bool, error) {
	var me apiv1.SessionInfo
	if err := c.Get(ctx, "/api/v1/session", &me); err != nil {
		return false, err
	}
	var card apiv1.CardView
	if err := c.Get(ctx, "/api/v1/cards/"+client.Esc(id), &card); err != nil {
		return false, err
	}
	return me.User != nil && card.OwnerID == me.User.ID, nil
}

// stdinPrompter returns a function that prints a prompt to standard error
// and reads one answer from standard input: for secrets, which never go in
// flags (they would show in the process list and the shell history). On
// a terminal the answer is read without echo (term.ReadPassword, as
// `lanyard agent unblock` reads PINs), so a password typed is not shown
// on the screen nor left in the terminal's scrollback; from a pipe (a
// script, the tests) lines are read as they come.
func stdinPrompter() func(prompt string) (string, error) {
	return promptFrom(os.Stdin, os.Stderr)
}

// promptFrom is stdinPrompter reading in and writing the prompts to out.
func promptFrom(in *os.File, out io.Writer) func(prompt string) (string, error) {
	p := newPrompter(in, out)
	return func(prompt string) (string, error) {
		s, err := p.secret(prompt + "\n")
		if err != nil {
			return "", errors.New("standard input ended before: " + prompt)
		}
		return s, nil
	}
}
