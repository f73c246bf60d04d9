package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"text/tabwriter"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/agent/agenttpm"
)

func agentCommands() []command {
	return []command{
		{"agent", "agent --server https://HOST:8443 [--state DIR] [--tpm auto|none|device:PATH|swtpm:SOCKET|simulator:SEEDFILE] [--vpcd HOST:PORT]... [--store-dir DIR] [--no-software-store]", "run the workstation agent (pairs on first start; hosts TPM virtual smart cards and platform credentials in vpcd slots; writes software stores)", runAgent},
		{"agent status", "agent status [--state DIR]", "show the agent's pairing and connection state", agentStatus},
		{"agent aircard add", "agent aircard add CODE [--state DIR]", "connect this computer to an AirCard with the code an operator gave you", agentAirCardAdd},
	}
}

func runAgent(ctx context.Context, args []string) error {
	var server, state, logLevel string
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.StringVar(&server, "server", os.Getenv("LANYARD_AGENT_SERVER"), "the server's agent listener, https://HOST:8443 (LANYARD_AGENT_SERVER); only needed to pair")
	fs.StringVar(&state, "state", agent.DefaultStateDir(), "state directory: key, certificate, pinned root")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	tpmSpec := fs.String("tpm", "auto", "the TPM for virtual cards: auto (/dev/tpmrm0), none, device:PATH, swtpm:SOCKET, or simulator:SEEDFILE (INSECURE, tests and demos)")
	var vpcdAddrs multi
	fs.Var(&vpcdAddrs, "vpcd", "a vpcd slot for a virtual card, HOST:PORT on this machine (repeatable; default: Debian's two, 127.0.0.1:35963 and 127.0.0.1:35964)")
	storeDir := fs.String("store-dir", agent.DefaultMachineStore, "the machine's software store (PKCS#12 files; the agent must run as root to write it); user stores go to ~/"+agent.UserStoreDir)
	noSoft := fs.Bool("no-software-store", false, "write no software stores on this workstation")
	pinCheck := fs.Duration("pin-check", agent.DefaultPINCheck, "how often the PIN status of the cards in the readers is read again, without spending a try, so that the console shows a blocked PIN (0: only on arrival and after the server's sessions)")
	if pos, err := parse(fs, args); err != nil || len(pos) != 0 {
		return errUsage
	}
	var soft *agent.SoftStore
	if !*noSoft {
		soft = &agent.SoftStore{MachineDir: *storeDir}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("--log-level: %v", err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if _, paired, err := agent.LoadState(state); err != nil {
		return err
	} else if !paired && server == "" {
		return errors.New("not paired yet: give --server https://HOST:8443 (the server's --agent-listen address)")
	}
	readers, err := agent.NewPCSCReaders()
	if err != nil {
		return fmt.Errorf("PC/SC: %w (is pcscd running?)", err)
	}
	defer readers.Close()
	if len(vpcdAddrs) == 0 {
		vpcdAddrs = multi{"127.0.0.1:35963", "127.0.0.1:35964"}
	}
	t := agenttpm.Open(*tpmSpec, log)
	defer t.Close()
	return agent.Run(ctx, agent.Config{Server: server, StateDir: state, Readers: readers, Log: log, Version: version,
		TPM: t, Slots: agent.NewVPCDSlots(vpcdAddrs, log), SoftStore: soft, PINCheck: cmp.Or(*pinCheck, -1)})
}

func agentStatus(ctx context.Context, args []string) error {
	var state string
	fs := flag.NewFlagSet("agent status", flag.ContinueOnError)
	fs.StringVar(&state, "state", agent.DefaultStateDir(), "state directory")
	if pos, err := parse(fs, args); err != nil || len(pos) != 0 {
		return errUsage
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	defer tw.Flush()
	// Escrows the server refused (agent.RefusedEscrows): a card holding
	// a PUK the server does not know.
	for _, f := range agent.RefusedEscrows(state) {
		defer fmt.Fprintf(tw, "refused PUK escrow:\t%s: the server does not know this card's Admin PIN (PUK); see the agent's log\n", f)
	}
	st, err := agent.QueryStatus(state)
	if errors.Is(err, agent.ErrNotRunning) {
		saved, paired, err := agent.LoadState(state)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "agent:\tnot running\n")
		if !paired {
			fmt.Fprintf(tw, "paired:\tno\n")
			return nil
		}
		fmt.Fprintf(tw, "paired:\tyes\nserver:\t%s\nworkstation:\t%d\n", saved.Server, saved.WorkstationID)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(tw, "agent:\trunning\nserver:\t%s\n", st.Server)
	if !st.Paired {
		fmt.Fprintf(tw, "paired:\tno (pairing code %s)\n", st.PairingCode)
	} else {
		fmt.Fprintf(tw, "paired:\tyes\nworkstation:\t%d\n", st.WorkstationID)
	}
	conn := "no"
	if st.Connected {
		conn = "yes, since " + st.ConnectedSince.Format("2006-01-02 15:04:05Z07:00")
	}
	fmt.Fprintf(tw, "connected:\t%s\n", conn)
	for _, r := range st.Readers {
		card := "empty"
		if r.Present {
			card = fmt.Sprintf("card %X serial %s", r.ATR, cmpOr(r.Serial, "?")) + readerNotes(r, st.CardStates)
		}
		fmt.Fprintf(tw, "reader %s:\t%s\n", r.Name, card)
	}
	if t := st.TPM; t != nil {
		tpm := "not usable: " + t.Reason
		if t.Usable {
			tpm = fmt.Sprintf("usable (%s, %s)", cmpOr(t.Manufacturer, "?"), t.Kind)
		}
		fmt.Fprintf(tw, "TPM:\t%s\n", tpm)
	}
	for _, v := range st.VirtualCards {
		fmt.Fprintf(tw, "virtual card %s:\t%s\n", v.Serial, v.Kind)
	}
	if a := st.AirCard; a != nil {
		fmt.Fprintf(tw, "%s\n", a.Indicator())
		for _, c := range a.Cards {
			fmt.Fprintf(tw, "AirCard %s:\tconnected\n", c.Serial)
		}
	}
	for _, s := range st.SoftStores {
		fmt.Fprintf(tw, "software store %s:\t%s\n", s.Scope, s.Dir)
	}
	return nil
}

func agentAirCardAdd(ctx context.Context, args []string) error {
	var state string
	fs := flag.NewFlagSet("agent aircard add", flag.ContinueOnError)
	fs.StringVar(&state, "state", agent.DefaultStateDir(), "the agent's state directory")
	pos, err := parse(fs, args)
	if err != nil || len(pos) != 1 {
		return errUsage
	}
	joined, err := agent.JoinAirCard(ctx, state, pos[0])
	if err != nil {
		return err
	}
	name := ""
	if joined.Name != "" {
		name = " (" + joined.Name + ")"
	}
	fmt.Printf("This computer may now use AirCard %s%s; the agent connects it within seconds (lanyard agent status).\n", joined.Serial, name)
	return nil
}
