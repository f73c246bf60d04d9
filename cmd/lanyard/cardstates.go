package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/client"
)

// cardStateCommands are the card state operations that need no card in
// a reader (docs/lifecycle.md): disable, enable, revoke with a reason,
// withdraw.
func cardStateCommands() []command {
	return []command{
		{"card disable", "card disable ID", "disable a card: out of use for a while; certificates whose template says so go on hold", cardDisable},
		{"card enable", "card enable ID", "enable a disabled card: back in use; its certificates on hold come off hold", cardEnable},
		{"card revoke", "card revoke ID --reason lost|compromised|damaged|superseded|withdrawn [--comment TEXT]",
			"revoke a card for good, the card absent: its certificates are revoked; clear it (card clear) when it is connected later", cardRevoke},
		{"card withdraw", "card withdraw ID [--to stock|owner]", "return a revoked, cleared card to stock (clean, no owner) or to its owner for a new issue (operators)", cardWithdraw},
	}
}

func cardDisable(ctx context.Context, args []string) error {
	return cardStateOp(ctx, "card disable", "disable", args)
}

func cardEnable(ctx context.Context, args []string) error {
	return cardStateOp(ctx, "card enable", "enable", args)
}

// cardStateOp posts an operation without input to card ID and prints the
// card as it is now.
func cardStateOp(ctx context.Context, name, op string, args []string) error {
	cmd := newClientCmd(name)
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	return postCardState(ctx, &cmd.clientFlags, c, pos[0], op, struct{}{})
}

func cardRevoke(ctx context.Context, args []string) error {
	cmd := newClientCmd("card revoke")
	reason := cmd.String("reason", "", "why: lost, compromised, damaged, superseded or withdrawn")
	comment := cmd.String("comment", "", "a comment for the audit log")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	if *reason == "" {
		return fmt.Errorf("card revoke: --reason is required (lost, compromised, damaged, superseded or withdrawn)")
	}
	return postCardState(ctx, &cmd.clientFlags, c, pos[0], "revoke", apiv1.RevokeCardInput{Reason: *reason, Comment: *comment})
}

func cardWithdraw(ctx context.Context, args []string) error {
	cmd := newClientCmd("card withdraw")
	to := cmd.String("to", "stock", "stock (clean, no owner) or owner (clean, kept for its owner's next issue)")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	return postCardState(ctx, &cmd.clientFlags, c, pos[0], "withdraw", apiv1.WithdrawCardInput{To: *to})
}

func postCardState(ctx context.Context, f *clientFlags, c *client.Client, id, op string, in any) error {
	var out apiv1.CardView
	if _, err := c.Post(ctx, "/api/v1/cards/"+client.Esc(id)+"/"+op, in, &out); err != nil {
		return err
	}
	if f.output == "json" {
		return printJSON(&out)
	}
	printCard(&out)
	return nil
}

// allowedLine is the card's allowed operations as printCard shows them.
func allowedLine(v *apiv1.CardView) string {
	if len(v.AllowedOperations) == 0 {
		return "none"
	}
	return strings.Join(v.AllowedOperations, ", ")
}
