package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func tokenCommands() []command {
	return []command{
		{"token create", "token create [--user LOGIN] [--ttl DURATION] [--role ROLE]... [--name NAME]", "create an API token and print it (shown once)", tokenCreate},
		{"token list", "token list [--all]", "list API tokens", tokenList},
		{"token revoke", "token revoke ID", "revoke an API token", tokenRevoke},
		{"token settings", "token settings [--max-ttl DURATION]", "show or set (administrators) the longest lifetime of new API tokens", tokenSettings},
	}
}

// tokenSettings shows the token policy, or sets it with --max-ttl.
func tokenSettings(ctx context.Context, args []string) error {
	cmd := newClientCmd("token settings")
	maxTTL := cmd.String("max-ttl", "", "longest lifetime of new tokens, e.g. 720h (1h to 17520h; default 2160h = 90 days)")
	_, c, err := cmd.start(args, 0)
	if err != nil {
		return err
	}
	var ts apiv1.TokenSettings
	if *maxTTL == "" {
		err = c.Get(ctx, "/api/v1/settings/tokens", &ts)
	} else {
		_, err = c.Do(ctx, http.MethodPut, "/api/v1/settings/tokens", apiv1.TokenSettings{MaxTTL: *maxTTL}, &ts)
	}
	if err != nil {
		return err
	}
	if cmd.output == "json" {
		return printJSON(&ts)
	}
	fmt.Printf("Longest token lifetime: %s\n", ts.MaxTTL)
	return nil
}

func tokenCreate(ctx context.Context, args []string) error {
	var in apiv1.TokenInput
	var roles multi
	cmd := newClientCmd("token create")
	cmd.StringVar(&in.User, "user", "", "owner's login (default: yourself)")
	cmd.StringVar(&in.TTL, "ttl", "", "lifetime, e.g. 24h or 720h (default 2160h = 90 days, at most the token settings' max-ttl)")
	cmd.StringVar(&in.Name, "name", "", "label")
	cmd.Var(&roles, "role", "limit the token to this role (repeatable; default: all of the owner's roles)")
	if pos, err := parse(cmd.FlagSet, args); err != nil || len(pos) != 0 {
		return errUsage
	}
	for _, r := range roles {
		for _, part := range strings.Split(r, ",") {
			in.Roles = append(in.Roles, lanyard.Role(strings.TrimSpace(part)))
		}
	}
	c, err := cmd.client()
	if err != nil {
		return err
	}
	var out apiv1.NewToken
	if _, err := c.Post(ctx, "/api/v1/tokens", in, &out); err != nil {
		return err
	}
	if cmd.output == "json" {
		return printJSON(&out)
	}
	if out.Notice != "" {
		fmt.Fprintln(os.Stderr, "lanyard: "+out.Notice) // stdout stays the secret alone, for scripts
	}
	fmt.Println(out.Secret)
	return nil
}

func tokenList(ctx context.Context, args []string) error {
	var all bool
	cmd := newClientCmd("token list")
	cmd.BoolVar(&all, "all", false, "every user's tokens (administrators)")
	_, c, err := cmd.start(args, 0)
	if err != nil {
		return err
	}
	var toks []*lanyard.APIToken
	if err := c.Get(ctx, "/api/v1/tokens?all="+strconv.FormatBool(all), &toks); err != nil {
		return err
	}
	return printOut(&cmd.clientFlags, toks, []string{"ID", "USER", "NAME", "PREFIX", "ROLES", "EXPIRES", "REVOKED"}, func(t *lanyard.APIToken) []string {
		return []string{strconv.FormatInt(t.ID, 10), strconv.FormatInt(t.UserID, 10), t.Name, t.Prefix, rolesString(t.Roles), t.ExpiresAt.Format(time.RFC3339), fmt.Sprint(t.Revoked)}
	})
}

func tokenRevoke(ctx context.Context, args []string) error {
	cmd := newClientCmd("token revoke")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	_, err = c.Do(ctx, http.MethodDelete, "/api/v1/tokens/"+pos[0], nil, nil)
	return err
}
