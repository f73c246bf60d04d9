package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/aircard"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/service/workstations"
)

func aircardCommands() []command {
	return []command{
		{"aircard serve", "aircard serve --server https://HOST:8443 [--state DIR] [--name NAME] [--kek file:PATH|pkcs11:module=...;token=...;key=...;pin-env=VAR]",
			"run the AirCard service on its own (pairs on first start; an administrator approves its code)", aircardServe},
	}
}

// defaultAirCardState is where a stand-alone AirCard service keeps its
// cards and its agent identity.
const defaultAirCardState = "/var/lib/lanyard/aircard"

func aircardServe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("aircard serve", flag.ContinueOnError)
	server := fs.String("server", os.Getenv("LANYARD_AGENT_SERVER"), "the server's agent listener, https://HOST:8443 (LANYARD_AGENT_SERVER); only needed to pair")
	state := fs.String("state", defaultAirCardState, "state directory: the sealed AirCards and the service's client identity")
	kek := fs.String("kek", "", "key-encryption key of the AirCards: file:PATH (default file:STATE/kek.key) or a PKCS#11 HSM key, pkcs11:module=PATH;token=LABEL;key=LABEL;pin-env=VAR")
	name := fs.String("name", defaultAirCardName(), "the name the service pairs with, shown in the console (several services each have their own)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if pos, err := parse(fs, args); err != nil || len(pos) != 0 {
		return errUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level: %v", err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	agentDir := filepath.Join(*state, "agent")
	if _, paired, err := agent.LoadState(agentDir); err != nil {
		return err
	} else if !paired && *server == "" {
		return errors.New("not paired yet: give --server https://HOST:8443 (the server's --agent-listen address)")
	}
	host, err := openAirCardHost(*state, *kek, log)
	if err != nil {
		return err
	}
	defer host.Close()
	cfg := airCardAgent(host, *server, agentDir, log, nil)
	cfg.Hostname = *name
	return agent.Run(ctx, cfg)
}

// defaultAirCardName names a stand-alone AirCard service after its
// machine, so that several are told apart in the console.
func defaultAirCardName() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return "aircard-service@" + h
	}
	return "aircard-service"
}

// openAirCardHost opens the AirCards in STATE/cards under the KEK spec
// (default: a key file in the state directory).
func openAirCardHost(state, kekSpec string, log *slog.Logger) (*aircard.Host, error) {
	if err := os.MkdirAll(state, 0o700); err != nil {
		return nil, err
	}
	if kekSpec == "" {
		kekSpec = "file:" + filepath.Join(state, "kek.key")
	}
	kek, err := aircard.OpenKEK(kekSpec)
	if err != nil {
		return nil, err
	}
	return aircard.Open(filepath.Join(state, "cards"), kek, log)
}

// airCardAgent is the AirCard service as an agent: its readers are the
// AirCards, it creates AirCards when the server asks, and it pairs with
// the AirCard service role.
func airCardAgent(host *aircard.Host, server, dir string, log *slog.Logger, onCode func(string)) agent.Config {
	return agent.Config{
		Server: server, StateDir: dir, Readers: host, Log: log.With("component", "aircard-service"), Version: version,
		Role: string(lanyard.RoleAirCardService), Hostname: "aircard-service",
		Create: func(kind string) (string, error) {
			if kind != agentproto.KindAirCard {
				return "", fmt.Errorf("the AirCard service makes AirCards, not %s", kind)
			}
			return host.Create()
		},
		Destroy:       host.Delete,
		OnPairingCode: onCode,
	}
}

// startAirCardService runs the AirCard service inside lanyard serve: the
// same service as `lanyard aircard serve`, connected to this server's own
// agent listener, its pairing confirmed by the server itself.
func startAirCardService(ctx context.Context, svc *service.Service, state, kekSpec, agentURL string, log *slog.Logger) error {
	host, err := openAirCardHost(state, kekSpec, log)
	if err != nil {
		return err
	}
	admin, err := bootstrapAdmin(ctx, svc)
	if err != nil {
		host.Close()
		return err
	}
	cfg := airCardAgent(host, agentURL, filepath.Join(state, "agent"), log, func(code string) {
		go func() {
			if _, err := svc.Workstations.ConfirmPairing(ctx, admin, workstations.PairConfirm{Code: code}); err != nil {
				log.Error("confirming the built-in AirCard service's pairing failed", "err", err)
			}
		}()
	})
	go func() {
		defer host.Close()
		if err := agent.Run(ctx, cfg); err != nil && ctx.Err() == nil {
			log.Error("the built-in AirCard service stopped", "err", err)
		}
	}()
	return nil
}

// bootstrapAdmin acts as the first administrator, for what the server
// sets up itself.
func bootstrapAdmin(ctx context.Context, svc *service.Service) (*lanyard.Principal, error) {
	setup := &lanyard.Principal{User: &lanyard.User{Login: "lanyard-setup"}, Roles: lanyard.Roles{lanyard.RoleAdministrator}}
	admin, err := svc.Identity.GetUser(ctx, setup, service.BootstrapLogin)
	if err != nil {
		return nil, err
	}
	return &lanyard.Principal{User: admin, Roles: admin.Roles}, nil
}
