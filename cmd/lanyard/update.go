package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/client"
	"github.com/lanyard-cms/lanyard/internal/issuance"
)

// updateCommands are Update card contents, Continue card update and
// Cancel card update (docs/lifecycle.md, "Update card contents").
func updateCommands() []command {
	return []command{
		{"card update", "card update [--card SERIAL | --reader R] [--workstation W] [--template T]... [--track SLOT]... [--renew T]... [--accept-key-loss] [--dry-run]",
			"update a connected card's contents: renew certificates that expire or changed, add and remove those the policy now asks for (--dry-run: show what would change)", cardUpdate},
		{"card update-continue", "card update-continue ID", "continue an interrupted or approved card update (the card connected; no PIN is asked)", cardUpdateContinue},
		{"card update-cancel", "card update-cancel ID --comment TEXT", "cancel a pending card update without the card (administrators): its requests are withdrawn, its certificates not yet in use revoked", cardUpdateCancel},
	}
}

func cardUpdate(ctx context.Context, args []string) error {
	cmd := newClientCmd("card update")
	serial := cmd.String("card", "", "serial of the card to update (default: the only card connected)")
	reader := cmd.String("reader", "", "the reader the card is in (instead of --card)")
	ws := cmd.String("workstation", "", "the workstation of the reader: its ID or name")
	var templates, track, renew multi
	cmd.Var(&templates, "template", "optional certificate template to add (repeatable), when the policy lets you choose")
	cmd.Var(&track, "track", "slot of a third-party certificate found on the card to track (repeatable), when the policy lets you choose")
	cmd.Var(&renew, "renew", "template the card holds to renew now although it is not due (repeatable; operators and administrators)")
	accept := cmd.Bool("accept-key-loss", false, "accept the update's cautions (a decryption key replaced on a card that cannot keep the old one)")
	dryRun := cmd.Bool("dry-run", false, "show what the update would do, and change nothing")
	_, c, err := cmd.start(args, 0)
	if err != nil {
		return err
	}
	if *serial != "" && *reader != "" {
		return errors.New("card update: --card and --reader exclude each other")
	}
	var cards []*apiv1.ConnectedCard
	if err := c.Get(ctx, "/api/v1/connected-cards", &cards); err != nil {
		return err
	}
	k, err := updateTarget(cards, *serial, *ws, *reader)
	if err != nil {
		return err
	}
	path := "/api/v1/cards/" + strconv.FormatInt(k.CardID, 10) + "/update"
	target := apiv1.UpdateTarget{WorkstationID: k.WorkstationID, Reader: k.Reader}
	var opts apiv1.UpdateOptionsResult
	if _, err := c.Post(ctx, path+"/options", target, &opts); err != nil {
		return err
	}
	if *dryRun {
		if cmd.output == "json" {
			return printJSON(&opts)
		}
		return printUpdateOptions(&opts)
	}
	if len(opts.Cautions) > 0 && !*accept {
		return fmt.Errorf("card update: %s; run again with --accept-key-loss to go ahead", strings.Join(opts.Cautions, "; "))
	}
	in := apiv1.UpdateCardInput{UpdateTarget: target, Templates: templates, Tracked: track, Renew: renew, AcceptKeyLoss: *accept}
	var res apiv1.UpdateCardResult
	if _, err := c.Post(ctx, path, in, &res); err != nil {
		return err
	}
	return printUpdate(&cmd.clientFlags, &res)
}

// updateTarget finds the card to update among the connected ones: the one
// with serial, or in reader (at workstation ws, its ID or name, when
// given), or the only one connected. It must be a card Lanyard knows: an
// update changes an issued card.
func updateTarget(cards []*apiv1.ConnectedCard, serial, ws, reader string) (*apiv1.ConnectedCard, error) {
	var at []*apiv1.ConnectedCard
	for _, k := range cards {
		if (ws == "" || strconv.FormatInt(k.WorkstationID, 10) == ws || k.Workstation == ws) && (reader == "" || k.Reader == reader) {
			at = append(at, k)
		}
	}
	if len(at) == 0 && len(cards) > 0 {
		return nil, fmt.Errorf("card update: no card is in reader %q at workstation %q (see lanyard card list --connected)", reader, ws)
	}
	t, err := chooseConnected(at, serial)
	if err != nil {
		return nil, err
	}
	for _, k := range at {
		if k.WorkstationID == t.WorkstationID && k.Reader == t.Reader {
			if k.CardID == 0 {
				return nil, fmt.Errorf("card update: card %s (%s, %s) is not registered with Lanyard: issue it first", k.Serial, k.Workstation, k.Reader)
			}
			return k, nil
		}
	}
	return nil, errors.New("card update: the chosen card is not listed") // chooseConnected picks from at
}

// printUpdateOptions prints what an update would do: one line per slot,
// then what may be chosen and the cautions.
func printUpdateOptions(o *apiv1.UpdateOptionsResult) error {
	if o.Card != nil {
		fmt.Printf("Card %d (%s, %s, %s)\n", o.Card.CardID, o.Card.Serial, o.Card.Workstation, o.Card.Reader)
	}
	if !o.Due {
		fmt.Println("The card is up to date.")
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLOT\tTEMPLATE\tACTION\tKEY\tREASONS\tOLD SERIAL\tEXPIRES\tAPPROVAL")
	for _, s := range o.Slots {
		fmt.Fprintln(tw, strings.Join(updateRow(s), "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, t := range o.Optional {
		switch {
		case t.Held:
			fmt.Printf("Optional template %s (%s): held, kept\n", t.Name, t.Slot)
		case o.OptionalSelectable:
			fmt.Printf("Optional template %s (%s): add it with --template %s\n", t.Name, t.Slot, t.Name)
		}
	}
	for _, f := range o.Tracked {
		how := "tracked"
		if o.TrackedSelectable {
			how = "track it with --track " + f.Slot
		}
		fmt.Printf("Found certificate %s in %s (%s, until %s): %s\n", f.Serial, f.Slot, f.Subject, f.NotAfter.Format("2006-01-02"), how)
	}
	for _, s := range o.Untracked {
		fmt.Printf("Tracked certificate %s is no longer on the card: it is no longer tracked\n", s)
	}
	for _, c := range o.Cautions {
		fmt.Printf("Caution: %s (go ahead with --accept-key-loss)\n", c)
	}
	return nil
}

// updateRow is one slot of the options table.
func updateRow(s issuance.UpdateSlot) []string {
	expires := "-"
	if !s.NotAfter.IsZero() {
		expires = s.NotAfter.Format("2006-01-02")
	}
	var approval []string
	if s.NeedCA {
		approval = append(approval, "CA")
	}
	if s.NeedForm {
		approval = append(approval, "form")
	}
	return []string{s.Slot, s.Template, string(s.Action), dash(string(s.Key)), dash(reasonsText(s.Reasons)), dash(s.Old), expires, dash(strings.Join(approval, "+"))}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printUpdate prints an update's result; in a table, a pending update
// exits 3, as a pending issue does.
func printUpdate(f *clientFlags, res *apiv1.UpdateCardResult) error {
	if f.output == "json" {
		return printJSON(res)
	}
	if res.State == "pending" {
		fmt.Printf("Card update pending: approvals are needed before the new certificates are written (lanyard card update-continue %d).\n", res.Card.ID)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SLOT\tTEMPLATE\tACTION\tKEY\tOLD SERIAL\tNEW SERIAL\tSTATUS")
	for _, s := range res.Slots {
		fmt.Fprintln(tw, strings.Join([]string{s.Slot, s.Template, string(s.Action), dash(string(s.Key)), dash(s.OldSerial), dash(s.NewSerial), dash(s.Status)}, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	printCard(res.Card)
	if res.State == "pending" {
		return errPending
	}
	return nil
}

func cardUpdateContinue(ctx context.Context, args []string) error {
	cmd := newClientCmd("card update-continue")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	target, err := connectedCard(ctx, c, pos[0])
	if err != nil {
		return err
	}
	var res apiv1.UpdateCardResult
	in := apiv1.UpdateTarget{WorkstationID: target.WorkstationID, Reader: target.Reader}
	if _, err := c.Post(ctx, "/api/v1/cards/"+client.Esc(pos[0])+"/update/continue", in, &res); err != nil {
		return err
	}
	return printUpdate(&cmd.clientFlags, &res)
}

func cardUpdateCancel(ctx context.Context, args []string) error {
	cmd := newClientCmd("card update-cancel")
	comment := cmd.String("comment", "", "why the update is cancelled (required; in the audit log and the owner's notification)")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	if strings.TrimSpace(*comment) == "" {
		return errors.New("card update-cancel: --comment is required (say why the update is cancelled)")
	}
	var out apiv1.CardView
	if _, err := c.Post(ctx, "/api/v1/cards/"+client.Esc(pos[0])+"/update/cancel", apiv1.CancelUpdateInput{Comment: *comment}, &out); err != nil {
		return err
	}
	if cmd.output == "json" {
		return printJSON(&out)
	}
	printCard(&out)
	return nil
}

// updateLine is a card's update state in one line: the unfinished update
// to continue, or what a due update would change; "" when nothing is due.
func updateLine(u *apiv1.CardUpdate) string {
	switch {
	case u == nil:
		return ""
	case u.UnfinishedOperation != nil:
		return fmt.Sprintf("operation %d is %s (lanyard card update-continue %d)", u.UnfinishedOperation.ID, u.UnfinishedOperation.State, u.UnfinishedOperation.CardID)
	case !u.Due:
		return ""
	}
	var parts []string
	for _, s := range u.Changes {
		p := s.Slot + " " + s.Template + " " + string(s.Action)
		if len(s.Reasons) > 0 {
			p += " (" + reasonsText(s.Reasons) + ")"
		}
		parts = append(parts, p)
	}
	return "due: " + strings.Join(parts, ", ") + " (lanyard card update)"
}

func reasonsText(rs []issuance.UpdateReason) string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return strings.Join(out, ",")
}
