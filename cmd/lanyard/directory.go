package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/client"
)

// directoryCommands manage the directory (LDAP, Active Directory) sources
// and their sync (docs/directory.md, "Directory sources and sync").
// Administrators only. The bind password is read from standard input,
// never from the command line, and never printed.
func directoryCommands() []command {
	const flags = "[--kind ad|openldap] [--url URL] [--start-tls] [--ca-file PEM] [--bind-dn DN] [--bind-password-stdin] [--base-dn DN] " +
		"[--user-filter F] [--group-filter F] [--page-size N] [--mapping JSON] [--interval 15m] [--leaver-action disable|revoke] [--disable|--enable]"
	return []command{
		{"directory add", "directory add NAME --kind ad|openldap --url URL --bind-dn DN --bind-password-stdin --base-dn DN " + flags, "add a directory source (enabled unless --disable)", directoryAdd},
		{"directory list", "directory list", "list the directory sources and their last sync", directoryList},
		{"directory show", "directory show NAME", "show a directory source and its last sync's report", directoryShow},
		{"directory update", "directory update NAME [--name NEW] " + flags, "change a directory source; what is not given stays (changing --url, --start-tls, --ca-file or --bind-dn needs --bind-password-stdin again)", directoryUpdate},
		{"directory delete", "directory delete NAME", "delete a directory source (its users stay)", directoryDelete},
		{"directory sync", "directory sync NAME [--dry-run]", "sync a directory source now; --dry-run shows what would change and changes nothing (exit 4 when entries had errors)", directorySync},
	}
}

// sourceFlags are the settings flags of add and update.
type sourceFlags struct {
	name, kind, url, caFile, bindDN, baseDN, userFilter, groupFilter, mapping, leaver string
	startTLS, passwordStdin, disable, enable                                          bool
	pageSize                                                                          int
	interval                                                                          time.Duration
	set                                                                               map[string]bool
}

func (f *sourceFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.name, "name", "", "new name (update)")
	fs.StringVar(&f.kind, "kind", "", "ad (Active Directory, Samba) or openldap (OpenLDAP, 389 DS)")
	fs.StringVar(&f.url, "url", "", "ldaps://host[:port], or ldap://host[:port] with --start-tls")
	fs.BoolVar(&f.startTLS, "start-tls", false, "upgrade an ldap:// connection with StartTLS")
	fs.StringVar(&f.caFile, "ca-file", "", "PEM file of the CA(s) the directory's certificate is checked against (default: the system's)")
	fs.StringVar(&f.bindDN, "bind-dn", "", "the service account's DN (or user@domain on AD)")
	fs.BoolVar(&f.passwordStdin, "bind-password-stdin", false, "read the service account's password from the first line of standard input")
	fs.StringVar(&f.baseDN, "base-dn", "", "the subtree users are read from")
	fs.StringVar(&f.userFilter, "user-filter", "", "RFC 4515 filter of the users (default: the kind's)")
	fs.StringVar(&f.groupFilter, "group-filter", "", "RFC 4515 filter of the groups (default: the kind's)")
	fs.IntVar(&f.pageSize, "page-size", 0, "RFC 2696 page size (default: the reader's)")
	fs.StringVar(&f.mapping, "mapping", "", `attribute mapping over the kind's preset, as JSON: {"login": "uid"}`)
	fs.DurationVar(&f.interval, "interval", 0, "how often it is synced (default: the server's --directory-sync-interval)")
	fs.StringVar(&f.leaver, "leaver-action", "", "what happens to a leaver's cards when their policy does not say: disable (default) or revoke")
	fs.BoolVar(&f.disable, "disable", false, "turn the source off (no sync, no directory sign-in)")
	fs.BoolVar(&f.enable, "enable", false, "turn the source on")
}

// apply lays the flags given onto in.
func (f *sourceFlags) apply(fs *flag.FlagSet, in *apiv1.DirectorySourceInput) error {
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	if f.disable && f.enable {
		return fmt.Errorf("--disable and --enable exclude each other")
	}
	str := map[string]*string{"name": &in.Name, "kind": &in.Kind, "url": &in.URL, "bind-dn": &in.BindDN, "base-dn": &in.BaseDN,
		"user-filter": &in.UserFilter, "group-filter": &in.GroupFilter, "mapping": &in.Mapping, "leaver-action": &in.LeaverAction}
	val := map[string]string{"name": f.name, "kind": f.kind, "url": f.url, "bind-dn": f.bindDN, "base-dn": f.baseDN,
		"user-filter": f.userFilter, "group-filter": f.groupFilter, "mapping": f.mapping, "leaver-action": f.leaver}
	for k, p := range str {
		if f.set[k] {
			*p = val[k]
		}
	}
	if f.set["start-tls"] {
		in.StartTLS = f.startTLS
	}
	if f.set["page-size"] {
		in.PageSize = f.pageSize
	}
	if f.set["interval"] {
		if f.interval%time.Minute != 0 {
			return fmt.Errorf("--interval %s: use whole minutes", f.interval)
		}
		in.SyncIntervalMinutes = int(f.interval / time.Minute)
	}
	if f.disable || f.enable {
		in.Enabled = f.enable
	}
	if f.caFile != "" {
		b, err := os.ReadFile(f.caFile)
		if err != nil {
			return err
		}
		in.CAPEM = string(b)
	}
	if f.passwordStdin {
		line, err := bufio.NewReader(os.Stdin).ReadString('\n')
		if err != nil && line == "" {
			return fmt.Errorf("--bind-password-stdin: no password on standard input")
		}
		pw := strings.TrimRight(line, "\r\n")
		in.BindPassword = &pw
	}
	return nil
}

// sourceByName finds the source named name (or with that ID).
func sourceByName(ctx context.Context, c *client.Client, name string) (*apiv1.DirectorySource, error) {
	var list []apiv1.DirectorySource
	if err := c.Get(ctx, "/api/v1/directory-sources", &list); err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].Name == name || strconv.FormatInt(list[i].ID, 10) == name {
			return &list[i], nil
		}
	}
	return nil, fmt.Errorf("no directory source %q (lanyard directory list shows them)", name)
}

func sourcePath(s *apiv1.DirectorySource) string {
	return "/api/v1/directory-sources/" + url.PathEscape(strconv.FormatInt(s.ID, 10))
}

func directoryAdd(ctx context.Context, args []string) error {
	var sf sourceFlags
	cmd := newClientCmd("directory add")
	sf.register(cmd.FlagSet)
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	in := apiv1.DirectorySourceInput{Name: pos[0], Enabled: true}
	if err := sf.apply(cmd.FlagSet, &in); err != nil {
		return err
	}
	in.Name = pos[0]
	var out apiv1.DirectorySource
	if _, err := c.Post(ctx, "/api/v1/directory-sources", &in, &out); err != nil {
		return err
	}
	return printSource(&cmd.clientFlags, &out)
}

func directoryList(ctx context.Context, args []string) error {
	cmd := newClientCmd("directory list")
	_, c, err := cmd.start(args, 0)
	if err != nil {
		return err
	}
	var list []apiv1.DirectorySource
	if err := c.Get(ctx, "/api/v1/directory-sources", &list); err != nil {
		return err
	}
	return printOut(&cmd.clientFlags, list, []string{"ID", "NAME", "KIND", "URL", "ENABLED", "LAST SYNC", "LAST REPORT"}, func(s apiv1.DirectorySource) []string {
		last, rep := "never", ""
		if s.LastSyncAt != nil {
			last = s.LastSyncAt.Format(time.RFC3339)
		}
		if r := s.LastReport; r != nil {
			rep = reportLine(r)
		}
		if s.LastError != "" {
			rep = "failed: " + s.LastError
		}
		return []string{strconv.FormatInt(s.ID, 10), s.Name, s.Kind, s.URL, strconv.FormatBool(s.Enabled), last, rep}
	})
}

func directoryShow(ctx context.Context, args []string) error {
	cmd := newClientCmd("directory show")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	s, err := sourceByName(ctx, c, pos[0])
	if err != nil {
		return err
	}
	return printSource(&cmd.clientFlags, s)
}

func directoryUpdate(ctx context.Context, args []string) error {
	var sf sourceFlags
	cmd := newClientCmd("directory update")
	sf.register(cmd.FlagSet)
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	s, err := sourceByName(ctx, c, pos[0])
	if err != nil {
		return err
	}
	in := apiv1.DirectorySourceInput{Name: s.Name, Kind: s.Kind, URL: s.URL, StartTLS: s.StartTLS, CAPEM: s.CAPEM, BindDN: s.BindDN,
		BaseDN: s.BaseDN, UserFilter: s.UserFilter, GroupFilter: s.GroupFilter, PageSize: s.PageSize, Mapping: s.Mapping,
		SyncIntervalMinutes: s.SyncIntervalMinutes, LeaverAction: s.LeaverAction, Enabled: s.Enabled}
	if err := sf.apply(cmd.FlagSet, &in); err != nil {
		return err
	}
	var out apiv1.DirectorySource
	if _, err := c.Do(ctx, "PUT", sourcePath(s), &in, &out); err != nil {
		return err
	}
	return printSource(&cmd.clientFlags, &out)
}

func directoryDelete(ctx context.Context, args []string) error {
	cmd := newClientCmd("directory delete")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	s, err := sourceByName(ctx, c, pos[0])
	if err != nil {
		return err
	}
	if _, err := c.Do(ctx, "DELETE", sourcePath(s), nil, nil); err != nil {
		return err
	}
	fmt.Printf("directory source %s deleted; its users stay\n", s.Name)
	return nil
}

func directorySync(ctx context.Context, args []string) error {
	cmd := newClientCmd("directory sync")
	dry := cmd.Bool("dry-run", false, "show what a sync would change; change nothing")
	pos, c, err := cmd.start(args, 1)
	if err != nil {
		return err
	}
	s, err := sourceByName(ctx, c, pos[0])
	if err != nil {
		return err
	}
	var rep apiv1.DirectoryReport
	if _, err := c.Post(ctx, sourcePath(s)+"/sync", &apiv1.DirectorySyncInput{DryRun: *dry}, &rep); err != nil {
		return err
	}
	if cmd.output == "json" {
		if err := printJSON(&rep); err != nil {
			return err
		}
	} else {
		printReport(&rep)
	}
	if len(rep.Errors) > 0 {
		return exitCode(4)
	}
	return nil
}

// exitCode ends the program with a status and no message of its own.
type exitCode int

func (e exitCode) Error() string { return "exit status " + strconv.Itoa(int(e)) }

func reportLine(r *apiv1.DirectoryReport) string {
	return fmt.Sprintf("%d created, %d updated, %d disabled, %d enabled, %d moved, %d unchanged, %d errors",
		r.Created, r.Updated, r.Disabled, r.Enabled, r.Moved, r.Unchanged, len(r.Errors))
}

func printReport(r *apiv1.DirectoryReport) {
	what := "sync"
	if r.DryRun {
		what = "dry run (nothing was changed)"
	}
	kind := "incremental"
	if r.Full {
		kind = "full"
	}
	fmt.Printf("%s of %s, %s: %d entries read\n%s\n", what, r.Source, kind, r.Read, reportLine(r))
	if r.CardsChanged > 0 || r.CardsDue > 0 {
		fmt.Printf("leavers' cards changed: %d; movers' cards marked for update: %d\n", r.CardsChanged, r.CardsDue)
	}
	for _, c := range r.Changes {
		line := c.Action + " " + c.Login
		if len(c.Fields) > 0 {
			line += " (" + strings.Join(c.Fields, ", ") + ")"
		}
		if c.Moved {
			line += " moved: cards update due"
		}
		if len(c.Cards) > 0 {
			line += " cards " + strings.Join(c.Cards, ", ")
		}
		fmt.Println("  " + line)
		if c.Warning != "" {
			fmt.Println("    warning: " + c.Warning)
		}
	}
	if r.Omitted > 0 {
		fmt.Printf("  and %d more\n", r.Omitted)
	}
	for _, e := range r.Errors {
		fmt.Printf("error: %s: %s\n", e.DN, e.Message)
	}
}

func printSource(cf *clientFlags, s *apiv1.DirectorySource) error {
	if cf.output == "json" {
		return printJSON(s)
	}
	tw := func(k, v string) {
		if v != "" {
			fmt.Printf("%-20s %s\n", k+":", v)
		}
	}
	tw("id", strconv.FormatInt(s.ID, 10))
	tw("name", s.Name)
	tw("kind", s.Kind)
	tw("url", s.URL)
	tw("start tls", strconv.FormatBool(s.StartTLS))
	tw("bind dn", s.BindDN)
	tw("bind password", map[bool]string{true: "set", false: "not set"}[s.HasBindPassword])
	tw("base dn", s.BaseDN)
	tw("user filter", s.UserFilter)
	tw("group filter", s.GroupFilter)
	tw("mapping", s.Mapping)
	if s.SyncIntervalMinutes > 0 {
		tw("sync interval", (time.Duration(s.SyncIntervalMinutes) * time.Minute).String())
	}
	tw("leaver action", s.LeaverAction)
	tw("enabled", strconv.FormatBool(s.Enabled))
	if s.LastSyncAt != nil {
		tw("last sync", s.LastSyncAt.Format(time.RFC3339))
	}
	if s.LastReport != nil {
		tw("last report", reportLine(s.LastReport))
	}
	if s.LastError != "" && s.LastErrorAt != nil {
		tw("last failure", s.LastErrorAt.Format(time.RFC3339)+": "+s.LastError)
	}
	return nil
}
