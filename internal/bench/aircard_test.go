package bench

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/aircard"
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/client"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
)

// BenchmarkAirCardSign is one RSA 2048 signature (GENERAL AUTHENTICATE,
// PIN verified once) as an application on the workstation makes it, in
// the same run: "local" on an emulated card in the workstation's reader;
// "aircard" on an AirCard in the workstation's reader, each APDU going
// agent → server (hub) → AirCard service and back over the two
// mutually authenticated agent connections. The workstation's readers
// are in process (MemReaders), so pcscd is not in either figure; all on
// loopback.
func BenchmarkAirCardSign(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "lanyard.db"))
	if err != nil {
		b.Fatal(err)
	}
	srv := webtest.Start(b, st)
	ctx := context.Background()
	admin, err := client.New(srv.URL, srv.AdminToken, nil)
	if err != nil {
		b.Fatal(err)
	}

	// The AirCard service.
	dir := b.TempDir()
	kek, err := aircard.OpenKEK("file:" + filepath.Join(dir, "kek.key"))
	if err != nil {
		b.Fatal(err)
	}
	host, err := aircard.Open(filepath.Join(dir, "cards"), kek, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { host.Close() })
	runAgent(b, admin, agent.Config{Server: srv.AgentURL, StateDir: filepath.Join(dir, "agent"), Readers: host,
		Role: string(lanyard.RoleAirCardService), Create: func(string) (string, error) { return host.Create() }}, "")

	// The workstation, with a local card and room for the AirCard.
	readers := agent.NewMemReaders("Local reader")
	local := newEmuCard(b)
	if err := readers.Insert("Local reader", local); err != nil {
		b.Fatal(err)
	}
	name := "bench"
	u, err := srv.Service.Identity.CreateUser(ctx, systemAdmin(b, srv), identity.UserInput{Login: name, DisplayName: &name})
	if err != nil {
		b.Fatal(err)
	}
	ws := runAgent(b, admin, agent.Config{Server: srv.AgentURL, StateDir: b.TempDir(), Readers: readers, Slots: readers}, name)
	p, err := srv.Service.Catalog.GetPolicy(ctx, "default")
	if err != nil {
		b.Fatal(err)
	}
	p.Settings.AllowedCards = []string{"piv", "aircard"}
	p.Settings.Workflow.IssueAirCard = true
	if _, err := srv.Service.Catalog.UpdatePolicy(ctx, systemAdmin(b, srv), "default", p); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if opts, _ := srv.Service.Cards.VirtualOptions(ctx, &lanyard.Principal{User: u, Roles: u.Roles}, ""); len(opts) > 0 && opts[len(opts)-1].Available {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the AirCard service is not online")
		}
	}
	cc, err := srv.Service.Cards.CreateVirtualCard(ctx, &lanyard.Principal{User: u, Roles: u.Roles}, cardops.CreateVirtualInput{WorkstationID: ws, Kind: lanyard.KindAirCard})
	if err != nil {
		b.Fatal(err)
	}
	airReader := ""
	for deadline := time.Now().Add(10 * time.Second); airReader == ""; time.Sleep(10 * time.Millisecond) {
		st, _ := srv.Hub.State(ws)
		for _, r := range st.Readers {
			if r.Present && r.Serial == cc.Serial && strings.HasPrefix(r.Name, "Lanyard virtual") {
				airReader = r.Name
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("the AirCard did not reach the workstation: %+v", st.Readers)
		}
	}

	for _, tc := range []struct{ name, reader string }{{"local", "Local reader"}, {"aircard", airReader}} {
		b.Run(tc.name, func(b *testing.B) {
			c, err := readers.Connect(tc.reader, true)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			pc, err := piv.New(c, piv.Config{Rand: rand.Reader})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := pc.Select(ctx); err != nil {
				b.Fatal(err)
			}
			a, err := pc.Authenticate(ctx, pivspec.Alg3DES, pivspec.DefaultManagementKey())
			if err != nil {
				b.Fatal(err)
			}
			pub, err := a.GenerateKey(ctx, pivspec.SlotSignature, pivspec.AlgRSA2048, piv.KeyPolicy{})
			if err != nil {
				b.Fatal(err)
			}
			if err := pc.VerifyPIN(ctx, pivspec.DefaultPIN); err != nil {
				b.Fatal(err)
			}
			digest := sha256.Sum256([]byte("signed through " + tc.name))
			for b.Loop() {
				if _, err := pc.Sign(ctx, pivspec.SlotSignature, pub, digest[:], crypto.SHA256); err != nil {
					b.Fatal(err)
				}
				// Slot 9C asks for the PIN before each signature.
				if err := pc.VerifyPIN(ctx, pivspec.DefaultPIN); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// runAgent runs an agent with cfg until the benchmark ends, confirms its
// pairing as the administrator (owner: login, "" for none) and returns
// its workstation ID once it is online.
func runAgent(b *testing.B, admin *client.Client, cfg agent.Config, owner string) int64 {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	codes := make(chan string, 1)
	done := make(chan error, 1)
	cfg.OnPairingCode = func(c string) { codes <- c }
	cfg.Heartbeat = webtest.AgentHeartbeat
	go func() { done <- agent.Run(ctx, cfg) }()
	b.Cleanup(func() { cancel(); <-done })
	var code string
	select {
	case code = <-codes:
	case err := <-done:
		b.Fatal(err)
	}
	var w struct {
		ID int64 `json:"id"`
	}
	if _, err := admin.Post(ctx, "/api/v1/workstations/pair", apiv1.PairConfirm{Code: code, Owner: owner}, &w); err != nil {
		b.Fatal(err)
	}
	return w.ID
}

// systemAdmin is the bootstrap administrator as a principal.
func systemAdmin(b *testing.B, srv *webtest.Server) *lanyard.Principal {
	b.Helper()
	setup := &lanyard.Principal{User: &lanyard.User{Login: "bench-setup"}, Roles: lanyard.Roles{lanyard.RoleAdministrator}}
	u, err := srv.Service.Identity.GetUser(context.Background(), setup, service.BootstrapLogin)
	if err != nil {
		b.Fatal(err)
	}
	return &lanyard.Principal{User: u, Roles: u.Roles}
}
