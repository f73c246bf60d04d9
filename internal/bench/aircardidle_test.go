package bench

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/agenthub"
	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/aircard"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/workstations"
	"github.com/lanyard-cms/lanyard/internal/store/sqlite"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
)

// Environment of the agents' child process (TestAirCardAgents).
const (
	envIdleChild  = "LANYARD_BENCH_AIRCARD_AGENTS" // the agent listener's URL
	envIdleCount  = "LANYARD_BENCH_AIRCARDS"       // how many (default 1000)
	envIdleStates = "LANYARD_BENCH_AIRCARD_STATES" // their state directories' parent
	// envIdleProfile names a directory for the idle server's heap and
	// goroutine profiles (optional).
	envIdleProfile = "LANYARD_BENCH_PROFILE"
)

// BenchmarkAirCardIdle is how many AirCards one server keeps connected:
// N workstations (LANYARD_BENCH_AIRCARDS, default 1000; the target is
// 10,000 under 1 GB), each a real agent with one AirCard bridged into its
// reader and a session open on it at the AirCard service, all idle. The
// server — store, service, hub with its N mutually authenticated agent
// connections and the built-in AirCard service hosting the N AirCards —
// is this process; the agents run in a child process (this test binary
// again, TestAirCardAgents), so the figures are the server's alone:
// heap in use plus goroutine stacks after a GC, and the resident set.
//
//	LANYARD_BENCH_AIRCARDS=10000 go test -run '^$' -bench AirCardIdle -benchtime 1x -timeout 30m ./internal/bench/
func BenchmarkAirCardIdle(b *testing.B) {
	n := 1000
	if v := os.Getenv(envIdleCount); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("%s=%q", envIdleCount, v)
		}
	}
	for b.Loop() {
		benchAirCardIdle(b, n)
	}
}

func benchAirCardIdle(b *testing.B, n int) {
	if os.Getenv(envIdleProfile) != "" {
		runtime.MemProfileRate = 4096 // a finer heap profile than the default 512 KiB
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "lanyard.db"))
	if err != nil {
		b.Fatal(err)
	}
	// The hub as lanyard serve runs it (default heartbeat), with room for
	// a mass enrolment from one address.
	lim := agenthub.PairLimits
	lim.MaxFailures = 10 * n
	srv := webtest.StartWith(b, st, webtest.Options{Heartbeat: agentproto.DefaultHeartbeat, PairLimits: &lim})
	admin := systemAdmin(b, srv)
	svc := srv.Service
	hub := srv.Hub
	tlsCfg, err := hub.TLSConfig(ctx, []string{"127.0.0.1"})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: hub.Handler(), ReadHeaderTimeout: 30 * time.Second}
	go hs.Serve(tls.NewListener(ln, tlsCfg))
	b.Cleanup(func() { hs.Close() })
	agentURL := "https://" + ln.Addr().String()

	// The AirCard service in this process, holding N AirCards.
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
	serials := make([]string, n)
	for i := range serials {
		if serials[i], err = host.Create(); err != nil {
			b.Fatal(err)
		}
	}
	svcCodes := make(chan string, 1)
	sctx, scancel := context.WithCancel(ctx)
	b.Cleanup(scancel)
	go agent.Run(sctx, agent.Config{Server: agentURL, StateDir: filepath.Join(dir, "agent"), Readers: host,
		Role: string(lanyard.RoleAirCardService), OnPairingCode: func(c string) { svcCodes <- c }})
	if _, err := svc.Workstations.ConfirmPairing(ctx, admin, workstations.PairConfirm{Code: <-svcCodes}); err != nil {
		b.Fatal(err)
	}
	name := "bench"
	user, err := svc.Identity.CreateUser(ctx, admin, identity.UserInput{Login: name, DisplayName: &name})
	if err != nil {
		b.Fatal(err)
	}
	// One user with one AirCard among the N: what their Self-Service
	// pages cost at this scale.
	oneName := "bench-one"
	one, err := svc.Identity.CreateUser(ctx, admin, identity.UserInput{Login: oneName, DisplayName: &oneName})
	if err != nil {
		b.Fatal(err)
	}

	// The agents: the child prints each pairing code; each confirmed
	// workstation gets its AirCard.
	child := exec.Command(os.Args[0], "-test.run=^TestAirCardAgents$", "-test.timeout=0")
	child.Env = append(os.Environ(), envIdleChild+"="+agentURL, envIdleCount+"="+strconv.Itoa(n), envIdleStates+"="+b.TempDir())
	out, err := child.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		b.Fatal(err)
	}
	childDone := make(chan error, 1) // the agents' process exited (it should not)
	go func() { childDone <- child.Wait() }()
	b.Cleanup(func() { child.Process.Kill(); <-childDone })
	childExited := func() error {
		select {
		case err := <-childDone:
			childDone <- err // for the cleanup
			return fmt.Errorf("the agents' process exited (%v); its output is above", err)
		default:
			return nil
		}
	}
	start := time.Now()
	codes := make(chan string, n)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if code, ok := strings.CutPrefix(sc.Text(), "code "); ok {
				codes <- code
			}
		}
		close(codes)
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	all := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var code string
				var ok bool
				select {
				case code, ok = <-codes:
					if !ok {
						b.Error(childExited())
						return
					}
				case <-all:
					return
				}
				w, err := svc.Workstations.ConfirmPairing(ctx, admin, workstations.PairConfirm{Code: code, Owner: name})
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				serial, owner := serials[next], user
				if next == 0 {
					owner = one
				}
				next++
				if next == n {
					close(all)
				}
				mu.Unlock()
				err = st.Update(ctx, func(tx lanyard.Tx) error {
					now := time.Now()
					c := &lanyard.Card{Serial: serial, CardType: "aircard", OwnerID: owner.ID, State: lanyard.CardIssued, WorkstationID: w.ID,
						CreatedAt: now, UpdatedAt: now}
					if err := tx.CreateCard(c); err != nil {
						return err
					}
					return tx.AddAirCardComputer(&lanyard.AirCardComputer{CardID: c.ID, WorkstationID: w.ID, AddedBy: name, AddedAt: now})
				})
				if err != nil {
					b.Error(err)
					return
				}
				hub.AirCardsChanged(w.ID)
			}
		}()
	}
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	b.Logf("%d agents paired and their AirCards registered in %v", n, time.Since(start).Round(time.Millisecond))

	// Wait until every workstation shows its AirCard with its serial read
	// through the bridge: a session is open on each at the service.
	deadline := time.Now().Add(10*time.Minute + time.Duration(n)*10*time.Millisecond)
	for {
		connected := 0
		for _, s := range hub.States() {
			if s.Role != lanyard.RoleWorkstation {
				continue
			}
			for _, r := range s.Readers {
				if r.Present && r.Serial != "" {
					connected++
					break
				}
			}
		}
		if connected == n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d AirCards connected", connected, n)
		}
		if err := childExited(); err != nil {
			b.Fatalf("%d of %d AirCards connected: %v", connected, n, err)
		}
		time.Sleep(time.Second)
	}
	b.Logf("all %d AirCards connected after %v", n, time.Since(start).Round(time.Millisecond))

	// Self-Service's connected cards for the user with one AirCard.
	oneP := &lanyard.Principal{User: one, Roles: one.Roles}
	const calls = 20
	if dir := os.Getenv(envIdleProfile); dir != "" {
		f, err := os.Create(filepath.Join(dir, "connected-cards-cpu.pprof"))
		if err != nil {
			b.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	t0 := time.Now()
	for range calls {
		cards, err := svc.Cards.ConnectedCards(ctx, oneP, false)
		if err != nil {
			b.Fatal(err)
		}
		if len(cards) != 1 { // at the AirCard service (the workstations are bench's)
			b.Fatalf("the user with one AirCard sees %d connected cards, want 1", len(cards))
		}
	}
	b.ReportMetric(float64(time.Since(t0).Microseconds())/1000/calls, "connected-cards-ms")
	time.Sleep(2 * time.Second) // idle
	debug.FreeOSMemory()        // a GC, and freed pages back to the system, as an idle server's scavenger does in time
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap := float64(ms.HeapInuse+ms.StackInuse) / (1 << 20)
	b.ReportMetric(float64(n), "aircards")
	b.ReportMetric(heap, "heap+stacks-MiB")
	b.ReportMetric(float64(ms.StackInuse)/(1<<20), "stacks-MiB")
	b.ReportMetric(heap*1024/float64(n), "KiB/aircard")
	b.ReportMetric(float64(procStatusKiB(b, "VmRSS"))/1024, "rss-MiB")
	b.ReportMetric(float64(procStatusKiB(b, "VmHWM"))/1024, "peak-rss-MiB") // during set-up, garbage included
	b.ReportMetric(float64(runtime.NumGoroutine()), "goroutines")
	if dir := os.Getenv(envIdleProfile); dir != "" {
		writeProfiles(b, dir)
	}
}

// writeProfiles writes the heap and goroutine profiles of the idle
// server into dir, for go tool pprof.
func writeProfiles(b *testing.B, dir string) {
	for _, name := range []string{"heap", "goroutine"} {
		f, err := os.Create(filepath.Join(dir, name+".pprof"))
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// procStatusKiB is a size from this process's /proc/self/status (Linux):
// VmRSS, the resident set; VmHWM, its peak.
func procStatusKiB(b *testing.B, field string) int {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			kb, _ := strconv.Atoi(strings.Fields(v)[0])
			return kb
		}
	}
	b.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// TestAirCardAgents is BenchmarkAirCardIdle's child process: N agents,
// each with a reader slot for its AirCard, printing their pairing codes.
// Outside the benchmark it has nothing to do.
func TestAirCardAgents(t *testing.T) {
	server := os.Getenv(envIdleChild)
	if server == "" {
		return // run by BenchmarkAirCardIdle only
	}
	n, _ := strconv.Atoi(os.Getenv(envIdleCount))
	parent := os.Getenv(envIdleStates)
	var out sync.Mutex
	sem := make(chan struct{}, 128) // pairing requests in flight
	for i := range n {
		readers := agent.NewMemReaders()
		cfg := agent.Config{Server: server, StateDir: filepath.Join(parent, strconv.Itoa(i)), Readers: readers, Slots: readers,
			Hostname: fmt.Sprintf("ws-%05d", i), NoStatusSocket: true, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
			OnPairingCode: func(code string) {
				out.Lock()
				fmt.Printf("code %s\n", code)
				out.Unlock()
				<-sem
			}}
		sem <- struct{}{}
		go agent.Run(context.Background(), cfg)
	}
	select {} // until the benchmark kills this process
}
