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

func userCommands() []command {
	return []command{
		{"user create", "user create LOGIN [--email ADDR] [--name NAME] [--upn UPN] [--group G]... [--role ROLE]... [--password-stdin]", "create a user", userCreate},
		{"user update", "user update LOGIN [--email ADDR] [--name NAME] [--upn UPN] [--group G]... [--role ROLE]... [--disable|--enable] [--password-stdin]", "change a user", userUpdate},
		{"user list", "user list [--query Q] [--group G] [--role ROLE]", "list users", userList},
		{"user show", "user show LOGIN", "show a user", userShow},
		{"user policy", "user policy LOGIN", "show the policy in effect for a user", userPolicy},
	}
}

// userFlags collects the attribute flags shared by create and update.
type userFlags struct {
	email, name, upn, manager string
	groups, roles             multi
	passwordStdin             bool
	disable, enable           bool
}

func (u *userFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&u.email, "email", "", "e-mail address")
	fs.StringVar(&u.name, "name", "", "display name")
	fs.StringVar(&u.upn, "upn", "", "user principal name (for smart card logon)")
	fs.StringVar(&u.manager, "manager-email", "", "manager's e-mail address")
	fs.Var(&u.groups, "group", "group (repeatable)")
	fs.Var(&u.roles, "role", "role: user, operator, administrator, document_officer, ca_manager, auditor (repeatable)")
	fs.BoolVar(&u.passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
}

// input turns the flags that were set into a UserInput.
func (u *userFlags) input(fs *flag.FlagSet) (apiv1.UserInput, error) {
	var in apiv1.UserInput
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["email"] {
		in.Email = &u.email
	}
	if set["name"] {
		in.DisplayName = &u.name
	}
	if set["upn"] {
		in.UPN = &u.upn
	}
	if set["manager-email"] {
		in.ManagerEmail = &u.manager
	}
	if set["group"] {
		g := []string(u.groups)
		in.Groups = &g
	}
	if set["role"] {
		var rs lanyard.Roles
		for _, r := range u.roles {
			for _, part := range strings.Split(r, ",") {
				rs = append(rs, lanyard.Role(strings.TrimSpace(part)))
			}
		}
		in.Roles = &rs
	}
	if u.disable && u.enable {
		return in, fmt.Errorf("--disable and --enable exclude each other")
	}
	if u.disable || u.enable {
		d := u.disable
		in.Disabled = &d
	}
	if u.passwordStdin {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return in, fmt.Errorf("--password-stdin: no password on standard input")
		}
		pw := strings.TrimRight(line, "\r\n")
		in.Password = &pw
	}
	return in, nil
}

func userCreate(ctx context.Context, args []string) error {
	var uf userFlags
	cmd := newClientCmd("user create")
	uf.register(cmd.FlagSet)
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	in, err := uf.input(cmd.FlagSet)
	if err != nil {
		return err
	}
	in.Login = pos[0]
	var u lanyard.User
	if _, err := c.Post(ctx, "/api/v1/users", in, &u); err != nil {
		return err
	}
	return printUser(&cmd.clientFlags, &u)
}

func userUpdate(ctx context.Context, args []string) error {
	var uf userFlags
	cmd := newClientCmd("user update")
	uf.register(cmd.FlagSet)
	cmd.BoolVar(&uf.disable, "disable", false, "disable the user")
	cmd.BoolVar(&uf.enable, "enable", false, "enable the user")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	in, err := uf.input(cmd.FlagSet)
	if err != nil {
		return err
	}
	var u lanyard.User
	if _, err := c.Do(ctx, http.MethodPatch, "/api/v1/users/"+client.Esc(pos[0]), in, &u); err != nil {
		return err
	}
	return printUser(&cmd.clientFlags, &u)
}

func printUser(cf *clientFlags, u *lanyard.User) error {
	return printOne(cf, u, [][2]string{
		{"login", u.Login}, {"name", u.DisplayName}, {"email", u.Email}, {"upn", u.UPN},
		{"groups", strings.Join(u.Groups, ", ")}, {"roles", rolesString(u.Roles)}, {"disabled", fmt.Sprint(u.Disabled)},
		{"created", u.CreatedAt.Format(time.RFC3339)},
	})
}

func rolesString(rs lanyard.Roles) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = string(r)
	}
	return strings.Join(parts, ",")
}

func userList(ctx context.Context, args []string) error {
	var q, group, role string
	cmd := newClientCmd("user list")
	cmd.StringVar(&q, "query", "", "substring of login, name or e-mail")
	cmd.StringVar(&group, "group", "", "group")
	cmd.StringVar(&role, "role", "", "role")
	_, c, err := cmd.start(args, 0)
	if err != nil {
		return err
	}
	var users []*lanyard.User
	if err := c.Get(ctx, "/api/v1/users?q="+client.Esc(q)+"&group="+client.Esc(group)+"&role="+client.Esc(role)+"&limit=1000", &users); err != nil {
		return err
	}
	return printOut(&cmd.clientFlags, users, []string{"LOGIN", "NAME", "EMAIL", "ROLES", "DISABLED"}, func(u *lanyard.User) []string {
		return []string{u.Login, u.DisplayName, u.Email, rolesString(u.Roles), fmt.Sprint(u.Disabled)}
	})
}

func userShow(ctx context.Context, args []string) error {
	cmd := newClientCmd("user show")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	var u lanyard.User
	if err := c.Get(ctx, "/api/v1/users/"+client.Esc(pos[0]), &u); err != nil {
		return err
	}
	return printUser(&cmd.clientFlags, &u)
}

func userPolicy(ctx context.Context, args []string) error {
	cmd := newClientCmd("user policy")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	var p lanyard.Policy
	if err := c.Get(ctx, "/api/v1/users/"+client.Esc(pos[0])+"/policy", &p); err != nil {
		return err
	}
	if cmd.output == "json" {
		return printJSON(&p)
	}
	return printPolicy(&cmd.clientFlags, &p)
}
