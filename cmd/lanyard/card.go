package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/vpcd"
)

// envCardPassphrase holds the passphrase of an emulated card's state file
// when --passphrase-file is not given.
const envCardPassphrase = "LANYARD_CARD_PASSPHRASE"

func cardCommands() []command {
	return []command{
		{"card emulate", "card emulate --state FILE [--vpcd HOST:PORT] [--passphrase-file F] [--remote]",
			"run an emulated PIV card in pcscd's virtual reader (vsmartcard vpcd)", cardEmulate},
	}
}

// cardEmulate runs a PIV card emulator attached to vpcd until interrupted.
// The card's state (keys, objects, PIN) lives in a file sealed with a
// passphrase and is created, factory-fresh, on first use.
func cardEmulate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("card emulate", flag.ContinueOnError)
	addr := fs.String("vpcd", "localhost:35963", "address of pcscd's vpcd driver (Debian's default slot is 35963)")
	statePath := fs.String("state", "", "card state file, created on first use (required)")
	passFile := fs.String("passphrase-file", "", "file holding the state file's passphrase (default: $"+envCardPassphrase+")")
	remote := fs.Bool("remote", false, "allow a vpcd address outside loopback; APDUs, PINs included, cross the network in clear")
	pos, err := parse(fs, args)
	if err != nil || len(pos) != 0 || *statePath == "" {
		return errUsage
	}
	pass, err := cardPassphrase(*passFile)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	store, err := emu.NewSealedFile(*statePath, pass, emu.DefaultKDF)
	clear(pass)
	if err != nil {
		return err
	}
	_, statErr := os.Stat(*statePath)
	card, err := emu.New(emu.WithStateStore(store), emu.WithLogger(log))
	if err != nil {
		return err
	}
	if errors.Is(statErr, os.ErrNotExist) {
		log.Info("created a factory-fresh card (PIN 123456, PUK 12345678, default 3DES management key)", "state", *statePath)
	}

	opts := []vpcd.Option{vpcd.WithLogger(log)}
	if *remote {
		opts = append(opts, vpcd.WithRemote())
	}
	s, err := vpcd.Start(ctx, *addr, card, opts...)
	if err != nil {
		return err
	}
	log.Info("emulated PIV card ready; waiting for pcscd", "serial", card.Serial(), "vpcd", *addr, "state", *statePath)
	<-s.Done()
	return nil
}

// cardPassphrase reads the passphrase from file, or from the environment.
// One trailing newline is not part of it, as editors and echo add one.
func cardPassphrase(file string) ([]byte, error) {
	var pass []byte
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("passphrase file: %w", err)
		}
		pass = bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
	default:
		pass = []byte(os.Getenv(envCardPassphrase))
	}
	if len(pass) == 0 {
		return nil, fmt.Errorf("no passphrase for the card state: pass --passphrase-file or set %s", envCardPassphrase)
	}
	return pass, nil
}
