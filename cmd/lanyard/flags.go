package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/lanyard-cms/lanyard/internal/client"
)

var errUsage = errors.New("usage")

// clientFlags are the flags every client command takes.
type clientFlags struct {
	server, token, output string
}

func (f *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.server, "server", envOr("LANYARD_SERVER", "http://127.0.0.1:8080"), "server URL (LANYARD_SERVER)")
	fs.StringVar(&f.token, "token", os.Getenv("LANYARD_TOKEN"), "API token (LANYARD_TOKEN)")
	fs.StringVar(&f.output, "output", "table", "output format: table or json")
}

func (f *clientFlags) client() (*client.Client, error) {
	if f.output != "table" && f.output != "json" {
		return nil, fmt.Errorf("--output must be table or json, not %q", f.output)
	}
	if f.token == "" {
		return nil, errors.New("no API token: set LANYARD_TOKEN or pass --token (a new server writes one to DATA/bootstrap-token)")
	}
	return client.New(f.server, f.token, nil)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// parse parses flags that may appear before, between or after positional
// arguments ("user create bob --email …") and returns the positionals.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(os.Stderr)
				fs.PrintDefaults()
				return nil, errUsage
			}
			return nil, fmt.Errorf("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// printOut prints v as JSON, or as a table with the given columns when the
// output is "table". row extracts the column values of one item.
func printOut[T any](f *clientFlags, v []T, cols []string, row func(T) []string) error {
	if f.output == "json" {
		return printJSON(v)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	for _, item := range v {
		fmt.Fprintln(tw, strings.Join(row(item), "\t"))
	}
	return tw.Flush()
}

// printOne prints one object as JSON or as key: value lines.
func printOne(f *clientFlags, v any, fields [][2]string) error {
	if f.output == "json" {
		return printJSON(v)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	for _, kv := range fields {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
	}
	return tw.Flush()
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// readInput reads a file argument, "-" meaning standard input.
func readInput(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
	}
	return os.ReadFile(name)
}

// clientCmd is a client command: its flag set with the common client
// flags registered.
type clientCmd struct {
	*flag.FlagSet
	clientFlags
}

func newClientCmd(name string) *clientCmd {
	c := &clientCmd{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError)}
	c.clientFlags.register(c.FlagSet)
	return c
}

// start parses args, requires exactly npos positional arguments, and
// returns them with a client for the configured server.
func (c *clientCmd) start(args []string, npos int) ([]string, *client.Client, error) {
	pos, err := parse(c.FlagSet, args)
	if err != nil || len(pos) != npos {
		return nil, nil, errUsage
	}
	cl, err := c.client()
	return pos, cl, err
}
