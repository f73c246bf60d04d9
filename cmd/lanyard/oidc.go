package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/client"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// oidcCommands connect single sign-on (OpenID Connect) providers
// (README, "Single sign-on"; docs/security.md, "Single sign-on").
// Administrators only. The client secret is read from standard input,
// never from the command line (where ps and the shell history see it).
func oidcCommands() []command {
	const flags = "[--display-name NAME] [--issuer URL] [--client-id ID] [--client-secret-stdin] [--scope S]... [--claim CLAIM] [--match upn|email|login] [--jit] [--amr V]... [--acr V]... [--self-service] [--console]"
	return []command{
		{"oidc list", "oidc list", "list the single sign-on providers", oidcList},
		{"oidc show", "oidc show NAME", "show a single sign-on provider and its redirect URI", oidcShow},
		{"oidc add", "oidc add NAME --issuer URL --client-id ID " + flags, "connect a single sign-on provider", oidcAdd},
		{"oidc update", "oidc update NAME [--name NEW] " + flags + " (booleans as --jit=false)", "change a single sign-on provider", oidcUpdate},
		{"oidc delete", "oidc delete NAME", "disconnect a single sign-on provider", oidcDelete},
	}
}

// oidcFlags are the settings add and update share.
type oidcFlags struct {
	name, display, issuer, clientID, claim, match string
	secretStdin, jit, selfService, console        bool
	scopes, amr, acr                              multi
}

func (o *oidcFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&o.display, "display-name", "", `the login button's name ("Sign in with NAME")`)
	fs.StringVar(&o.issuer, "issuer", "", "the issuer URL, as the provider's discovery document names it")
	fs.StringVar(&o.clientID, "client-id", "", "Lanyard's client ID at the provider")
	fs.BoolVar(&o.secretStdin, "client-secret-stdin", false, "read the client secret from the first line of standard input (an empty line: a public client)")
	fs.Var(&o.scopes, "scope", "a scope to request (repeatable; default openid, email, profile)")
	fs.StringVar(&o.claim, "claim", "", "the ID token claim that names the account: upn, email, preferred_username or another (default email)")
	fs.StringVar(&o.match, "match", "", "the account field the claim is compared with: upn, email or login (default email)")
	fs.BoolVar(&o.jit, "jit", false, "create an account (role user) at the first sign-in of someone without one")
	fs.Var(&o.amr, "amr", "an amr value that counts as a staff second factor (repeatable)")
	fs.Var(&o.acr, "acr", "an acr value that counts as a staff second factor (repeatable)")
	fs.BoolVar(&o.selfService, "self-service", false, "offer it for Self-Service (accounts without a staff role)")
	fs.BoolVar(&o.console, "console", false, "offer it for the console (staff accounts)")
}

// input turns the flags that were set into an OIDCProviderInput.
func (o *oidcFlags) input(fs *flag.FlagSet) (apiv1.OIDCProviderInput, error) {
	var in apiv1.OIDCProviderInput
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	str := func(flag string, v *string) *string {
		if set[flag] {
			return v
		}
		return nil
	}
	in.Name, in.DisplayName, in.Issuer, in.ClientID, in.Claim = str("name", &o.name), str("display-name", &o.display), str("issuer", &o.issuer), str("client-id", &o.clientID), str("claim", &o.claim)
	if set["match"] {
		m := lanyard.OIDCMatch(o.match)
		in.MatchAttribute = &m
	}
	list := func(flag string, v multi) *[]string {
		if !set[flag] {
			return nil
		}
		out := []string(v)
		return &out
	}
	in.Scopes, in.AMR, in.ACR = list("scope", o.scopes), list("amr", o.amr), list("acr", o.acr)
	boolean := func(flag string, v *bool) *bool {
		if set[flag] {
			return v
		}
		return nil
	}
	in.JIT, in.SelfService, in.Console = boolean("jit", &o.jit), boolean("self-service", &o.selfService), boolean("console", &o.console)
	if o.secretStdin {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return in, fmt.Errorf("--client-secret-stdin: no secret on standard input")
		}
		secret := strings.TrimRight(line, "\r\n")
		in.ClientSecret = &secret
	}
	return in, nil
}

func oidcList(ctx context.Context, args []string) error {
	cmd := newClientCmd("oidc list")
	_, c, err := cmd.start(args, 0)
	if err != nil {
		return err
	}
	var list []apiv1.OIDCProvider
	if err := c.Get(ctx, "/api/v1/oidc-providers", &list); err != nil {
		return err
	}
	return printOut(&cmd.clientFlags, list, []string{"NAME", "DISPLAY NAME", "ISSUER", "CLIENT ID", "CLAIM", "MATCH", "JIT", "SELF-SERVICE", "CONSOLE"}, func(p apiv1.OIDCProvider) []string {
		return []string{p.Name, p.DisplayName, p.Issuer, p.ClientID, p.Claim, string(p.MatchAttribute), fmt.Sprint(p.JIT), fmt.Sprint(p.SelfService), fmt.Sprint(p.Console)}
	})
}

func oidcShow(ctx context.Context, args []string) error {
	cmd := newClientCmd("oidc show")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	var p apiv1.OIDCProvider
	if err := c.Get(ctx, "/api/v1/oidc-providers/"+client.Esc(pos[0]), &p); err != nil {
		return err
	}
	return printProvider(&cmd.clientFlags, &p)
}

func oidcAdd(ctx context.Context, args []string) error {
	var of oidcFlags
	cmd := newClientCmd("oidc add")
	of.register(cmd.FlagSet)
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	in, err := of.input(cmd.FlagSet)
	if err != nil {
		return err
	}
	in.Name = &pos[0]
	if in.DisplayName == nil {
		in.DisplayName = &pos[0]
	}
	var p apiv1.OIDCProvider
	if _, err := c.Post(ctx, "/api/v1/oidc-providers", in, &p); err != nil {
		return err
	}
	return printProvider(&cmd.clientFlags, &p)
}

func oidcUpdate(ctx context.Context, args []string) error {
	var of oidcFlags
	cmd := newClientCmd("oidc update")
	of.register(cmd.FlagSet)
	cmd.StringVar(&of.name, "name", "", "a new name (changes the redirect URI)")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	in, err := of.input(cmd.FlagSet)
	if err != nil {
		return err
	}
	var p apiv1.OIDCProvider
	if _, err := c.Do(ctx, http.MethodPatch, "/api/v1/oidc-providers/"+client.Esc(pos[0]), in, &p); err != nil {
		return err
	}
	return printProvider(&cmd.clientFlags, &p)
}

func oidcDelete(ctx context.Context, args []string) error {
	cmd := newClientCmd("oidc delete")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	if _, err := c.Do(ctx, http.MethodDelete, "/api/v1/oidc-providers/"+client.Esc(pos[0]), nil, nil); err != nil {
		return err
	}
	if cmd.output != "json" {
		fmt.Printf("single sign-on provider %s disconnected\n", pos[0])
	}
	return nil
}

func printProvider(cf *clientFlags, p *apiv1.OIDCProvider) error {
	return printOne(cf, p, [][2]string{
		{"name", p.Name}, {"display name", p.DisplayName}, {"issuer", p.Issuer}, {"client id", p.ClientID},
		{"client secret", map[bool]string{true: "set (sealed)", false: "none (public client)"}[p.ClientSecretSet]},
		{"scopes", strings.Join(p.Scopes, " ")}, {"claim", p.Claim}, {"matched with", string(p.MatchAttribute)},
		{"just in time", fmt.Sprint(p.JIT)}, {"second factor amr", strings.Join(p.AMR, " ")}, {"second factor acr", strings.Join(p.ACR, " ")},
		{"self-service", fmt.Sprint(p.SelfService)}, {"console", fmt.Sprint(p.Console)},
		{"redirect uri", p.CallbackURL}, {"updated", p.UpdatedAt.Format(time.RFC3339)},
	})
}
