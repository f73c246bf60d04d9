package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/client"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// issueSoftwareStore is `card issue --create software-machine|software-user`:
// the guide's "Registry" card. The key container password is read from
// standard input (never a flag: it would show in the process list and the
// shell history); it cannot be reset, and the remedy for a forgotten one
// is to issue again.
func issueSoftwareStore(ctx context.Context, c *client.Client, f *clientFlags, create string, wsID int64, user, name string, templates []string) error {
	scope := strings.TrimPrefix(create, "software-")
	if scope != lanyard.ScopeMachine && scope != lanyard.ScopeUser {
		return fmt.Errorf("--create %q: want tpm, platform, software-machine or software-user", create)
	}
	path := "/api/v1/software-stores/options"
	if user != "" {
		path += "?user=" + client.Esc(user)
	}
	var opts []apiv1.SoftwareStoreOption
	if err := c.Get(ctx, path, &opts); err != nil {
		return err
	}
	var offer *apiv1.SoftwareStoreOption
	var avail, reasons []string
	for i, o := range opts {
		switch {
		case o.Scope != scope || (wsID != 0 && o.WorkstationID != wsID):
		case o.Available:
			avail, offer = append(avail, o.Workstation), &opts[i]
		default:
			reasons = append(reasons, o.Workstation+": "+o.Reason)
		}
	}
	switch {
	case len(avail) > 1:
		return fmt.Errorf("several workstations can take the software store (%s); choose one with --workstation", strings.Join(avail, ", "))
	case len(avail) == 0 && len(reasons) > 0:
		return errors.New(strings.Join(reasons, "; "))
	case len(avail) == 0:
		return errors.New("none of your workstations is connected (is the agent running and paired?)")
	}
	o := offer.Offer
	var optional []string
	for _, t := range templates {
		required := false
		for _, r := range o.Required {
			required = required || r.Name == t
		}
		if !required {
			optional = append(optional, t)
		}
	}
	rule := fmt.Sprintf("at least %d characters", o.PasswordMinLength)
	if o.PasswordMinClasses > 0 {
		rule += fmt.Sprintf(", mixing %d of lower case, upper case, digits, others", o.PasswordMinClasses)
	}
	prompt := fmt.Sprintf("Key container password (%s; it cannot be reset: if you forget it, issue again):", rule)
	if !o.PasswordRequired {
		prompt = fmt.Sprintf("Key container password (optional; %s; it cannot be reset: if you forget it, issue again):", rule)
	}
	// No echo on a terminal; a line from a pipe.
	password, err := stdinPrompter()(prompt)
	if err != nil && o.PasswordRequired {
		return errors.New("no key container password on standard input")
	}
	var res apiv1.SoftwareStoreResult
	req := apiv1.SoftwareStoreInput{WorkstationID: offer.WorkstationID, Scope: scope, Name: name, Password: password, Templates: optional, User: user}
	if _, err := c.Post(ctx, "/api/v1/software-stores", req, &res); err != nil {
		return err
	}
	if f.output == "json" {
		return printJSON(&res)
	}
	printCard(res.Card)
	for _, file := range res.Files {
		nss := ""
		switch {
		case file.NSS:
			nss = " (also in the NSS database)"
		case file.NSSNote != "":
			nss = " (" + file.NSSNote + ")"
		}
		fmt.Printf("%s: %s%s\n", file.Template, file.Path, nss)
	}
	return nil
}
