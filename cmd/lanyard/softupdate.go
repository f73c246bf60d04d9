package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/client"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// softUpdateCommands is Update card contents for a software store: its
// re-issue (docs/lifecycle.md, "Update card contents", software stores).
func softUpdateCommands() []command {
	return []command{
		{"card reissue-store", "card reissue-store ID [--template T]... (key container password on standard input)",
			"re-issue a software store: its certificates due renewed (and the policy's added or removed) with new keys in new files; the old certificates are revoked superseded, their files left in place", cardReissueStore},
	}
}

// cardReissueStore is `card reissue-store ID`. The key container
// password of the new files is read from the first line of standard
// input (never a flag: it would show in the process list and the shell
// history), as at issue.
func cardReissueStore(ctx context.Context, args []string) error {
	cmd := newClientCmd("card reissue-store")
	var templates multi
	cmd.Var(&templates, "template", "optional certificate template to add (repeatable), when the policy lets you choose")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id <= 0 {
		return fmt.Errorf("card reissue-store: %q is not a card ID", pos[0])
	}
	// No echo on a terminal; a line from a pipe. Empty input is an
	// empty password: the server says whether one is required.
	password, err := stdinPrompter()("Key container password of the new files (it cannot be reset: if you forget it, re-issue again):")
	if err != nil {
		password = ""
	}
	var res apiv1.StoreReissueResult
	in := apiv1.StoreReissueInput{Password: password, Templates: templates}
	if _, err := c.Post(ctx, "/api/v1/cards/"+client.Esc(pos[0])+"/software-store/reissue", in, &res); err != nil {
		return err
	}
	if cmd.output == "json" {
		return printJSON(&res)
	}
	printCard(res.Card)
	for _, f := range res.Files {
		switch {
		case f.NewSerial == "":
			fmt.Printf("%s: %s revoked (superseded)%s\n", f.Template, f.OldSerial, keptFile(f.OldPath))
		case f.OldSerial == "":
			fmt.Printf("%s: %s in %s\n", f.Template, f.NewSerial, f.Path)
		default:
			fmt.Printf("%s: %s in %s, replacing %s (revoked, superseded)%s\n", f.Template, f.NewSerial, f.Path, f.OldSerial, keptFile(f.OldPath))
		}
	}
	return nil
}

// cardUpdateLine is updateLine for card v: a software store due is
// re-issued, not updated in a reader.
func cardUpdateLine(v *apiv1.CardView) string {
	line := updateLine(v.Update)
	if line == "" || v.Kind != lanyard.KindSoftwareStore || v.Update.UnfinishedOperation != nil {
		return line
	}
	return strings.TrimSuffix(line, " (lanyard card update)") + fmt.Sprintf(" (lanyard card reissue-store %d)", v.ID)
}

func keptFile(path string) string {
	if path == "" {
		return ""
	}
	return "; its old file " + path + " is left in place"
}
