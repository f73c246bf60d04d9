package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
)

func workstationCommands() []command {
	return []command{
		{"workstation approve", "workstation approve CODE [--owner LOGIN]", "confirm the pairing code a workstation's agent shows", workstationApprove},
		{"workstation list", "workstation list [--owner LOGIN] [--status pending|active|revoked]", "list workstations with their live state", workstationList},
		{"workstation revoke", "workstation revoke ID", "revoke a workstation and disconnect its agent", workstationRevoke},
	}
}

func workstationApprove(ctx context.Context, args []string) error {
	var in apiv1.PairConfirm
	cmd := newClientCmd("workstation approve")
	cmd.StringVar(&in.Owner, "owner", "", "owner's login (operators and administrators; default: yourself, or nobody for staff)")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	in.Code = pos[0]
	var w apiv1.WorkstationView
	if _, err := c.Post(ctx, "/api/v1/workstations/pair", in, &w); err != nil {
		return err
	}
	if cmd.output == "json" {
		return printJSON(&w)
	}
	fmt.Printf("Workstation %d (%s) paired.\n", w.ID, w.Name)
	return nil
}

func workstationList(ctx context.Context, args []string) error {
	var owner, status string
	cmd := newClientCmd("workstation list")
	cmd.StringVar(&owner, "owner", "", "owner's login")
	cmd.StringVar(&status, "status", "", "pending, active or revoked")
	_, c, err := cmd.start(args, 0)
	if err != nil {
		return err
	}
	q := url.Values{}
	if owner != "" {
		q.Set("owner", owner)
	}
	if status != "" {
		q.Set("status", status)
	}
	var ws []*apiv1.WorkstationView
	if err := c.Get(ctx, "/api/v1/workstations?"+q.Encode(), &ws); err != nil {
		return err
	}
	return printOut(&cmd.clientFlags, ws, []string{"ID", "NAME", "OWNER", "STATUS", "ONLINE", "CARDS", "LAST SEEN"}, func(w *apiv1.WorkstationView) []string {
		var cards []string
		for _, r := range w.Readers {
			if r.Present {
				cards = append(cards, r.Name+"="+cmpOr(r.Serial, "?"))
			}
		}
		seen := ""
		if !w.LastSeenAt.IsZero() {
			seen = w.LastSeenAt.Format(time.RFC3339)
		}
		return []string{strconv.FormatInt(w.ID, 10), w.Name, ownerText(w.OwnerID), string(w.Status), fmt.Sprint(w.Online), strings.Join(cards, ", "), seen}
	})
}

func ownerText(id int64) string {
	if id == 0 {
		return "-"
	}
	return strconv.FormatInt(id, 10)
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func workstationRevoke(ctx context.Context, args []string) error {
	cmd := newClientCmd("workstation revoke")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	_, err = c.Do(ctx, http.MethodDelete, "/api/v1/workstations/"+url.PathEscape(pos[0]), nil, nil)
	return err
}
