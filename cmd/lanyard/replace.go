package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/client"
)

// replaceCommands are Replace card and the resolution of a temporary
// replacement (docs/lifecycle.md, "Replace").
func replaceCommands() []command {
	return []command{
		{"card replace", "card replace ID --reason lost|compromised|damaged [--temporary] [--templates a,b] [--workstation W] [--reader R | --card SERIAL | --aircard] [--user-pin PIN] [--admin-pin PIN] [--name NAME] [--comment TEXT] [--recover-keys [--code CODE] | --recovery-requests ID,ID]",
			"replace a card: permanent (the old card revoked with the reason) or --temporary (the original disabled until it is found); the new card, in a reader of a workstation or an AirCard, is issued to the owner", cardReplace},
		{"card replace-resolve", "card replace-resolve ID --found|--not-found",
			"end a temporary replacement (ID: the original or the temporary card): found, the temporary card is revoked and the original back as it was before (enabled, or still disabled when it was disabled before); not found, the original is revoked and the temporary card kept", cardReplaceResolve},
	}
}

func cardReplace(ctx context.Context, args []string) error {
	cmd := newClientCmd("card replace")
	reason := cmd.String("reason", "", "why: lost, compromised or damaged (--temporary: default lost)")
	temporary := cmd.Bool("temporary", false, "a temporary card while the original is missing (the original is disabled, not revoked)")
	templates := cmd.String("templates", "", "comma-separated templates: with --temporary, those the temporary card gets (default: the policy's required ones); else the optional ones (default: the old card's)")
	ws := cmd.String("workstation", "", "the workstation of the new card: its ID or name")
	reader := cmd.String("reader", "", "the reader the new card is in")
	serial := cmd.String("card", "", "the serial of the new card, when it is connected (instead of --reader)")
	aircard := cmd.Bool("aircard", false, "the new card is an AirCard, bound to --workstation, when the policy allows AirCards")
	name := cmd.String("name", "", "a name for the new card")
	comment := cmd.String("comment", "", "a comment for the audit log")
	var pins pinFlags
	pins.register(cmd.FlagSet)
	var history historyFlags
	history.register(cmd.FlagSet)
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	oldID, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil {
		return fmt.Errorf("card replace: %q is not a card ID", pos[0])
	}
	if *reason == "" && !*temporary {
		return errors.New("card replace: --reason is required (lost, compromised or damaged)")
	}
	in := apiv1.ReplaceCardInput{Reason: *reason, AirCard: *aircard, UserPIN: pins.user, AdminPIN: pins.admin, Name: *name, Comment: *comment}
	if *temporary {
		in.Kind = "temporary"
	}
	if in.Recovery, err = history.authority("card replace"); err != nil {
		return err
	}
	if *templates != "" {
		for _, t := range strings.Split(*templates, ",") {
			if t = strings.TrimSpace(t); t != "" {
				in.Templates = append(in.Templates, t)
			}
		}
	}
	if *aircard {
		if *reader != "" || *serial != "" {
			return errors.New("card replace: --aircard makes the new card; leave out --reader and --card")
		}
		if in.WorkstationID, err = workstationID(ctx, c, *ws); err != nil {
			return err
		}
	} else {
		target, err := replacementTarget(ctx, c, oldID, *ws, *reader, *serial)
		if err != nil {
			return err
		}
		in.WorkstationID, in.Reader = target.WorkstationID, target.Reader
	}
	var res apiv1.ReplaceCardResult
	if _, err := c.Post(ctx, "/api/v1/cards/"+client.Esc(pos[0])+"/replace", in, &res); err != nil {
		return err
	}
	if cmd.output != "json" && res.Replacement != nil && res.OldCard != nil {
		fmt.Printf("Card %d (%s) replaced by card %d: %s replacement, %s\n", res.OldCard.ID, res.OldCard.Serial, res.Card.ID, res.Replacement.Kind, res.Replacement.State)
		printCard(res.OldCard)
	}
	if cmd.output == "json" {
		return printJSON(&res)
	}
	return printIssue(&cmd.clientFlags, &res.IssueCardResult)
}

// workstationID is the ID of workstation ws, named by its ID or its name
// (the AirCard a replacement makes is bound to it).
func workstationID(ctx context.Context, c *client.Client, ws string) (int64, error) {
	if ws == "" {
		return 0, errors.New("card replace: --aircard needs --workstation (the workstation the AirCard is bound to: its ID or name)")
	}
	if id, err := strconv.ParseInt(ws, 10, 64); err == nil {
		return id, nil
	}
	var all []*apiv1.WorkstationView
	if err := c.Get(ctx, "/api/v1/workstations", &all); err != nil {
		return 0, err
	}
	var ids []int64
	for _, w := range all {
		if w.Name == ws {
			ids = append(ids, w.ID)
		}
	}
	switch len(ids) {
	case 1:
		return ids[0], nil
	case 0:
		return 0, fmt.Errorf("card replace: no workstation named %q (see lanyard workstation list)", ws)
	}
	return 0, fmt.Errorf("card replace: %d workstations are named %q: give its ID (see lanyard workstation list)", len(ids), ws)
}

// replacementTarget finds the new card among the connected ones: the one
// in reader (or with serial) at workstation ws (ID or name), or the only
// connected card other than the old one.
func replacementTarget(ctx context.Context, c *client.Client, oldID int64, ws, reader, serial string) (*apiv1.CardTarget, error) {
	var cards []*apiv1.ConnectedCard
	if err := c.Get(ctx, "/api/v1/connected-cards", &cards); err != nil {
		return nil, err
	}
	var match []*apiv1.ConnectedCard
	for _, k := range cards {
		switch {
		case ws != "" && strconv.FormatInt(k.WorkstationID, 10) != ws && k.Workstation != ws,
			reader != "" && k.Reader != reader,
			serial != "" && k.Serial != serial,
			reader == "" && serial == "" && k.CardID == oldID:
			continue
		}
		match = append(match, k)
	}
	switch len(match) {
	case 1:
		return &apiv1.CardTarget{WorkstationID: match[0].WorkstationID, Reader: match[0].Reader}, nil
	case 0:
		return nil, errors.New("card replace: the new card is not connected (name it with --workstation and --reader or --card; see lanyard card list --connected)")
	}
	var names []string
	for _, k := range match {
		names = append(names, k.Serial+" ("+k.Workstation+", "+k.Reader+")")
	}
	return nil, fmt.Errorf("card replace: several cards are connected, name the new one with --workstation and --reader or --card: %s", strings.Join(names, "; "))
}

func cardReplaceResolve(ctx context.Context, args []string) error {
	cmd := newClientCmd("card replace-resolve")
	found := cmd.Bool("found", false, "the original was found: the temporary card is revoked (clear it when it is connected) and the original enabled, or left disabled when it was disabled before the replacement")
	notFound := cmd.Bool("not-found", false, "the original is lost: it is revoked, and the temporary card becomes the owner's card")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	if *found == *notFound {
		return errors.New("card replace-resolve: give --found or --not-found")
	}
	var out apiv1.ResolveReplacementResult
	if _, err := c.Post(ctx, "/api/v1/cards/"+client.Esc(pos[0])+"/replace/resolve", apiv1.ResolveReplacementInput{Found: *found}, &out); err != nil {
		return err
	}
	if cmd.output == "json" {
		return printJSON(&out)
	}
	printCard(out.Original)
	printCard(out.Temporary)
	return nil
}
