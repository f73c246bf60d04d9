package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// scimCommands manage the tokens of SCIM provisioning clients
// (docs/directory.md, "SCIM provisioning").
func scimCommands() []command {
	return []command{
		{"scim token create", "scim token create NAME", "create a SCIM token for a provisioning client (Entra ID, Okta) and print it (shown once); NAME up to '/' is the client (entra-id/2027 manages what entra-id pushed)", scimTokenCreate},
		{"scim token list", "scim token list", "list SCIM tokens", scimTokenList},
		{"scim token revoke", "scim token revoke ID", "revoke a SCIM token", scimTokenRevoke},
	}
}

func scimTokenCreate(ctx context.Context, args []string) error {
	cmd := newClientCmd("scim token create")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	var out apiv1.NewSCIMToken
	if _, err := c.Post(ctx, "/api/v1/scim/tokens", apiv1.SCIMTokenInput{Name: pos[0]}, &out); err != nil {
		return err
	}
	if cmd.output == "json" {
		return printJSON(&out)
	}
	fmt.Println(out.Secret) // stdout is the secret alone, for scripts
	return nil
}

func scimTokenList(ctx context.Context, args []string) error {
	cmd := newClientCmd("scim token list")
	_, c, err := cmd.start(args, 0)
	if err != nil {
		return err
	}
	var toks []*lanyard.SCIMToken
	if err := c.Get(ctx, "/api/v1/scim/tokens", &toks); err != nil {
		return err
	}
	return printOut(&cmd.clientFlags, toks, []string{"ID", "NAME", "CLIENT", "PREFIX", "CREATED BY", "CREATED", "LAST USED", "REVOKED"}, func(t *lanyard.SCIMToken) []string {
		used := ""
		if !t.LastUsedAt.IsZero() {
			used = t.LastUsedAt.Format(time.RFC3339)
		}
		return []string{strconv.FormatInt(t.ID, 10), t.Name, t.Client, t.Prefix, t.CreatedBy, t.CreatedAt.Format(time.RFC3339), used, fmt.Sprint(t.Revoked)}
	})
}

func scimTokenRevoke(ctx context.Context, args []string) error {
	cmd := newClientCmd("scim token revoke")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	_, err = c.Do(ctx, http.MethodDelete, "/api/v1/scim/tokens/"+pos[0], nil, nil)
	return err
}
