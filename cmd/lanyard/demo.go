package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/agent/agenttpm"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/service/catalog"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/workstations"
)

// The demo (lanyard serve --demo, make run): everything a newcomer needs
// to issue a card in the browser without hardware. It is ordinary Lanyard
// — a user, a policy, a workstation agent and a PIV card — except that the
// agent runs inside the server process and its reader holds the PIV card
// emulator instead of a PC/SC reader.
const (
	demoLogin      = "demo"
	demoPolicy     = "demo"
	demoReader     = "Lanyard demo reader"
	demoPassFile   = "demo-password"
	demoCardFile   = "demo-card.state"
	demoCardKey    = "demo-card.key"
	demoAgentState = "demo-agent"
	demoTPMSeed    = "demo-tpm.seed"
	// The demo workstation's software stores: the machine store, and
	// one home directory that stands for every user's.
	demoMachineStore = "demo-store"
	demoHome         = "demo-home"
)

// startDemo sets the demo up (idempotently: a restart keeps the user, the
// card and the workstation) and starts the in-process agent. It returns
// the banner to print.
func startDemo(ctx context.Context, svc *service.Service, data, agentURL string, log *slog.Logger) (string, error) {
	setup := &lanyard.Principal{User: &lanyard.User{Login: "demo-setup"}, Roles: lanyard.Roles{lanyard.RoleAdministrator}}
	admin, err := svc.Identity.GetUser(ctx, setup, service.BootstrapLogin)
	if err != nil {
		return "", err
	}
	p := &lanyard.Principal{User: admin, Roles: admin.Roles}
	password, err := demoUser(ctx, svc, p, data)
	if err != nil {
		return "", err
	}
	if err := demoPolicyEnsure(ctx, svc, p); err != nil {
		return "", err
	}
	card, err := demoCard(data)
	if err != nil {
		return "", err
	}
	readers := agent.NewMemReaders(demoReader)
	if err := readers.Insert(demoReader, card); err != nil {
		return "", err
	}
	// The demo workstation's TPM is the reference simulator in this
	// process, its seeds kept in DATA/demo-tpm.seed: keys of its virtual
	// cards survive restarts. INSECURE, which is fine for a demo.
	if err := os.MkdirAll(filepath.Join(data, demoHome), 0o700); err != nil {
		return "", err
	}
	tpm := agenttpm.Open("simulator:"+filepath.Join(data, demoTPMSeed), log.With("component", "demo-tpm"))
	go func() {
		defer tpm.Close()
		err := agent.Run(ctx, agent.Config{
			TPM: tpm, Slots: readers,
			SoftStore: &agent.SoftStore{MachineDir: filepath.Join(data, demoMachineStore), Account: func(string) (agent.LocalAccount, error) {
				return agent.LocalAccount{Home: filepath.Join(data, demoHome), UID: -1, GID: -1}, nil
			}},
			Server: agentURL, StateDir: filepath.Join(data, demoAgentState), Readers: readers, Hostname: "demo-workstation",
			Log: log.With("component", "demo-agent"), Version: version,
			OnPairingCode: func(code string) {
				// The demo workstation belongs to the demo user; confirming
				// it here is what the user would do in Self-Service.
				go func() {
					if _, err := svc.Workstations.ConfirmPairing(ctx, p, workstations.PairConfirm{Code: code, Owner: demoLogin}); err != nil {
						log.Error("demo: confirming the demo agent's pairing failed", "err", err)
					}
				}()
			},
		})
		if err != nil && ctx.Err() == nil {
			log.Error("demo agent stopped", "err", err)
		}
	}()
	return fmt.Sprintf(`
Demo: an emulated PIV card is in "%s" at the demo workstation.
      Open the URL above and log in as %q with password %q,
      then click "Issue card" next to the connected card.
      The demo workstation has a simulated TPM 2.0: under "Virtual cards",
      issue a TPM virtual smart card or a platform credential. Under
      "Software stores", issue a PKCS#12 certificate store (files under %s).
`, demoReader, demoLogin, password, data), nil
}

// demoUser creates the demo user on first start, with a random password
// kept in DATA/demo-password (0600) so later starts can print it again.
func demoUser(ctx context.Context, svc *service.Service, p *lanyard.Principal, data string) (string, error) {
	file := filepath.Join(data, demoPassFile)
	if _, err := svc.Identity.GetUser(ctx, p, demoLogin); err == nil {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("the demo user exists but its password file is unreadable: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	} else if !lanyard.IsCode(err, lanyard.ENotFound) {
		return "", err
	}
	password := strings.ToLower(rand.Text()[:12])
	name, email := "Demo User", "demo@example.test"
	_, err := svc.Identity.CreateUser(ctx, p, identity.UserInput{Login: demoLogin, DisplayName: &name, Email: &email, UPN: &email, Password: &password})
	if err != nil {
		return "", err
	}
	return password, writeSecretFile(file, password+"\n")
}

// demoPolicyEnsure gives the demo user a policy with one required and
// one optional template, as the issue asks of the demo.
func demoPolicyEnsure(ctx context.Context, svc *service.Service, p *lanyard.Principal) error {
	if _, err := svc.Catalog.GetPolicy(ctx, demoPolicy); err == nil {
		return nil
	} else if !lanyard.IsCode(err, lanyard.ENotFound) {
		return err
	}
	pol := catalog.NewPolicyInput()
	pol.Name, pol.Description, pol.Priority = demoPolicy, "The demo user's policy (lanyard serve --demo).", 10
	pol.Assignments = []lanyard.Assignment{{Kind: lanyard.AssignUser, Name: demoLogin}}
	pol.Settings.Certificates = lanyard.CertificateSettings{Required: []string{"smartcard-logon"}, Optional: []string{"secure-email"}}
	pol.Settings.Issuance.MaxCardsPerUser = 0
	pol.Settings.AllowedCards = []string{"piv", "tpm-virtual-card", "platform-credential", "aircard", "software-store"}
	// The demo runs its AirCard service inside the server, so its user
	// may issue AirCards (off by default: the service must be deployed).
	pol.Settings.Workflow.IssueAirCard = true
	// The demo user updates their card's contents themselves (README,
	// "A card's life").
	pol.Settings.Workflow.IssuedCardOps.Update = true
	if _, err := svc.Catalog.CreatePolicy(ctx, p, pol); err != nil {
		return err
	}
	// The demo workstation has a (simulated) TPM: turn its card kinds on,
	// once; an administrator may turn them off again.
	_, err := svc.Catalog.PutFeatures(ctx, p, lanyard.Features{TPMVirtualCard: true, PlatformCredential: true})
	return err
}

// demoCard opens the demo card, whose state (keys, certificates, PIN)
// survives restarts in DATA/demo-card.state, sealed under a random
// passphrase in DATA/demo-card.key.
func demoCard(data string) (*emu.Card, error) {
	keyFile := filepath.Join(data, demoCardKey)
	pass, err := os.ReadFile(keyFile)
	if errors.Is(err, os.ErrNotExist) {
		pass = []byte(rand.Text())
		err = writeSecretFile(keyFile, string(pass))
	}
	if err != nil {
		return nil, err
	}
	store, err := emu.NewSealedFile(filepath.Join(data, demoCardFile), []byte(strings.TrimSpace(string(pass))), emu.KDFParams{Time: 1, MemoryKiB: 16 << 10, Threads: 1})
	if err != nil {
		return nil, err
	}
	return emu.New(emu.WithStateStore(store))
}
