// Command lanyard is Lanyard's one binary: the server (lanyard serve) and
// the command-line client for every API operation. Wiring and flags only;
// the work happens in internal/.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// command is one subcommand path such as "user create".
type command struct {
	name    string
	usage   string
	summary string
	run     func(ctx context.Context, args []string) error
}

func commands() []command {
	cmds := []command{
		{"serve", "serve [--data DIR] [--listen ADDR] [--database URL] [--url BASE]", "run the Lanyard server", runServe},
		{"version", "version", "print the version", func(context.Context, []string) error { fmt.Println(version); return nil }},
	}
	cmds = append(cmds, userCommands()...)
	cmds = append(cmds, secretAnswerCommands()...)
	cmds = append(cmds, tokenCommands()...)
	cmds = append(cmds, scimCommands()...)
	cmds = append(cmds, configCommands()...)
	cmds = append(cmds, caCommands()...)
	cmds = append(cmds, auditCommands()...)
	cmds = append(cmds, kraCommands()...)
	cmds = append(cmds, directoryCommands()...)
	cmds = append(cmds, oidcCommands()...)
	cmds = append(cmds, keyCommands()...)
	cmds = append(cmds, cardCommands()...)
	cmds = append(cmds, cardIssueCommands()...)
	cmds = append(cmds, cardOfflineCommands()...)
	cmds = append(cmds, pinCommands()...)
	cmds = append(cmds, cardStateCommands()...)
	cmds = append(cmds, replaceCommands()...)
	cmds = append(cmds, updateCommands()...)
	cmds = append(cmds, softUpdateCommands()...)
	cmds = append(cmds, recoverKeysCommands()...)
	cmds = append(cmds, documentCommands()...)
	cmds = append(cmds, workstationCommands()...)
	cmds = append(cmds, agentCommands()...)
	cmds = append(cmds, agentPINCommands()...)
	cmds = append(cmds, aircardCommands()...)
	cmds = append(cmds, replicaCommands()...)
	return cmds
}

// exitPending is the exit status of `lanyard ca issue` when the request
// waits for a CA manager: no certificate was printed, but nothing failed.
const exitPending = 3

// errPending signals exitPending.
var errPending = errors.New("pending approval")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

func run(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage()
		return 0
	}
	cmds := commands()
	// Longest match on the leading words: "ca issue" before "ca".
	best, words := -1, 0
	for i, c := range cmds {
		parts := strings.Fields(c.name)
		if len(parts) <= len(args) && len(parts) > words && strings.Join(args[:len(parts)], " ") == c.name {
			best, words = i, len(parts)
		}
	}
	if best < 0 {
		fmt.Fprintf(os.Stderr, "lanyard: unknown command %q\n\n", strings.Join(args, " "))
		usage()
		return 2
	}
	err := cmds[best].run(ctx, args[words:])
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errPending):
		return exitPending
	case errors.Is(err, errUsage):
		fmt.Fprintf(os.Stderr, "usage: lanyard %s\n", cmds[best].usage)
		return 2
	}
	var ec exitCode
	if errors.As(err, &ec) {
		return int(ec) // the command said what happened
	}
	var le *lanyard.Error
	if errors.As(err, &le) {
		fmt.Fprintf(os.Stderr, "lanyard: %s (%s)\n", le.Message, le.Code)
	} else {
		fmt.Fprintf(os.Stderr, "lanyard: %v\n", err)
	}
	return 1
}

func usage() {
	fmt.Fprintln(os.Stderr, "Lanyard: smart card and certificate lifecycle management.")
	fmt.Fprintln(os.Stderr, "\nUsage: lanyard COMMAND [flags]\n\nCommands:")
	cmds := commands()
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].name < cmds[j].name })
	for _, c := range cmds {
		fmt.Fprintf(os.Stderr, "  %-22s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(os.Stderr, "\nClient commands read LANYARD_SERVER (default http://127.0.0.1:8080) and LANYARD_TOKEN,\nor --server and --token; --output table|json chooses the format.")
}
