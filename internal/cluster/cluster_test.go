//go:build integration

package cluster_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/aircard"
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/client"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service"
	"github.com/lanyard-cms/lanyard/internal/service/cardtest"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/store/postgres"
	"github.com/lanyard-cms/lanyard/internal/store/postgres/pgtest"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
)

// pair is a two-replica cluster on one PostgreSQL schema, each replica
// with its own hub, store connection and peer listener, and user alice
// with an API token.
type pair struct {
	a, b       *webtest.Server
	aliceToken string
	adminToken string
}

// clusterAgentHeartbeat is the agent connections' ping interval in these
// tests: two replicas, their agents and PostgreSQL share the machine with
// the rest of make test, where webtest's 300 ms (a silent agent dropped
// after three) has dropped a connection mid-test.
const clusterAgentHeartbeat = time.Second

func startPair(t *testing.T) *pair {
	t.Helper()
	ctx := context.Background()
	url := pgtest.FreshSchema(t)
	stA, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	a := webtest.StartWith(t, stA, webtest.Options{Replica: true, Heartbeat: clusterAgentHeartbeat})
	stB, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	b := webtest.StartWith(t, stB, webtest.Options{Replica: true, Key: a.Key, Heartbeat: clusterAgentHeartbeat})
	sys := &lanyard.Principal{User: &lanyard.User{Login: "system"}, Roles: lanyard.Roles{lanyard.RoleAdministrator}}
	admin, err := a.Service.Identity.GetUser(ctx, sys, service.BootstrapLogin)
	if err != nil {
		t.Fatal(err)
	}
	ap := &lanyard.Principal{User: admin, Roles: admin.Roles}
	name, upn, pw := "Alice", "alice@example.test", alicePassword
	if _, err := a.Service.Identity.CreateUser(ctx, ap, identity.UserInput{Login: "alice", DisplayName: &name, UPN: &upn, Email: &upn, Password: &pw}); err != nil {
		t.Fatal(err)
	}
	tok, err := a.Service.Identity.CreateToken(ctx, ap, identity.TokenInput{User: "alice", Name: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	return &pair{a: a, b: b, aliceToken: tok.Secret, adminToken: a.AdminToken}
}

const alicePassword = "correct horse battery staple 19"

func clientOf(t *testing.T, base, token string) *client.Client {
	t.Helper()
	c, err := client.New(base, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// runAgent pairs an agent with readers at srv's agent listener, owned by
// owner, and returns its workstation ID and state directory.
func runAgent(t *testing.T, srv *webtest.Server, adminToken, owner string, readers agent.Readers) (int64, string) {
	t.Helper()
	return runAgentWith(t, srv, adminToken, owner, agent.Config{Readers: readers})
}

// waitConnected waits until c lists the card with serial among the
// connected cards, and returns it.
func waitConnected(t *testing.T, c *client.Client, serial string) apiv1.ConnectedCard {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var cards []apiv1.ConnectedCard
		if err := c.Get(context.Background(), "/api/v1/connected-cards", &cards); err != nil {
			t.Fatal(err)
		}
		for _, cc := range cards {
			if cc.Serial == serial {
				return cc
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("card %s not among the connected cards: %+v", serial, cards)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestIssueThroughOtherReplica is the issue's reproduction: the agent is
// connected to replica A, the user calls replica B. B lists the card
// (gathered from A), forwards the issue whole to A (the body names the
// workstation), and forwards a PIN change that names none once it finds
// the card at A (ElsewhereError); A runs both with the card.
func TestIssueThroughOtherReplica(t *testing.T) {
	p := startPair(t)
	ctx := context.Background()
	readers := agent.NewMemReaders("Reader 0")
	card, err := emu.New()
	if err != nil {
		t.Fatal(err)
	}
	serial, err := cardtest.Serial(card)
	if err != nil {
		t.Fatal(err)
	}
	if err := readers.Insert("Reader 0", card); err != nil {
		t.Fatal(err)
	}
	ws, _ := runAgent(t, p.a, p.adminToken, "alice", readers)
	if !p.a.Hub.Connected(ws) || p.b.Hub.Connected(ws) {
		t.Fatalf("the agent should be connected to A only (A %v, B %v)", p.a.Hub.Connected(ws), p.b.Hub.Connected(ws))
	}
	alice := clientOf(t, p.b.URL, p.aliceToken)
	cc := waitConnected(t, alice, serial)
	if cc.WorkstationID != ws {
		t.Fatalf("connected card at workstation %d, want %d", cc.WorkstationID, ws)
	}
	st, ok := p.b.Cluster.CardAccess().WorkstationState(ws)
	if !ok || st.Replica != p.a.Cluster.ID() {
		t.Fatalf("B's state of the workstation: %+v, %v; want it held by replica %s", st, ok, p.a.Cluster.ID())
	}
	// The console's workstation states on B gather A's.
	admin := clientOf(t, p.b.URL, p.adminToken)
	var views []apiv1.WorkstationView
	if err := admin.Get(ctx, "/api/v1/workstations", &views); err != nil {
		t.Fatal(err)
	}
	if len(views) != 1 || !views[0].Online || len(views[0].Readers) != 1 || views[0].Replica != p.a.Cluster.ID() {
		t.Errorf("B's workstation list: %+v", views)
	}
	var res apiv1.IssueCardResult
	if _, err := alice.Post(ctx, "/api/v1/issue", apiv1.IssueCardInput{CardTarget: apiv1.CardTarget{WorkstationID: ws, Reader: cc.Reader}, UserPIN: "24681357"}, &res); err != nil {
		t.Fatalf("issue through B: %v", err)
	}
	if res.State != "issued" || res.Card == nil || res.Card.Serial != serial {
		t.Fatalf("issue through B: %+v", res)
	}
	// No workstation named: B finds the card at A's workstation by its
	// serial and forwards the request then. In a browser session opened
	// at B: A takes its cookie and CSRF token as B would.
	cookie, info := webtest.Login(t, p.b.URL, "alice", alicePassword)
	post := func(csrf string) *http.Response {
		req, _ := http.NewRequest("POST", p.b.URL+"/api/v1/cards/"+itoa(res.Card.ID)+"/pin-change", strings.NewReader(`{"old_pin":"24681357","new_pin":"13572468"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Cookie", cookie)
		req.Header.Set("X-CSRF-Token", csrf)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post("wrong"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("PIN change through B with a wrong CSRF token: %s", resp.Status)
	}
	if resp := post(info.CSRFToken); resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusOK {
		t.Fatalf("PIN change through B in a browser session: %s", resp.Status)
	}
	// B counted both forwards.
	var metrics []byte
	if err := admin.Get(ctx, "/metrics", &metrics); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`lanyard_cluster_forwarded_requests_total{outcome="ok",reason="workstation"} 1`,
		`lanyard_cluster_forwarded_requests_total{outcome="ok",reason="elsewhere"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("B's /metrics lacks %s", want)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestPeerListenerRefusesWorkstation: the machine CA certifies
// workstations and replicas alike; the peer listener admits only the
// client certificates of live replicas, so a paired workstation's
// certificate, valid for the agent listener, is refused.
func TestPeerListenerRefusesWorkstation(t *testing.T) {
	p := startPair(t)
	_, dir := runAgent(t, p.a, p.adminToken, "alice", agent.NewMemReaders("Reader 0"))
	hc := workstationClient(t, dir)
	for _, path := range []string{"/peer/v1/states", "/api/v1/issue"} {
		resp, err := hc.Post(p.b.PeerURL+path, "application/json", strings.NewReader(`{"ids":[1]}`))
		if err == nil {
			resp.Body.Close()
			t.Errorf("POST %s with a workstation's certificate: %s, want the handshake refused", path, resp.Status)
			continue
		}
		var alert tls.AlertError
		if !errors.As(err, &alert) && !strings.Contains(err.Error(), "certificate") {
			t.Errorf("POST %s with a workstation's certificate: %v, want a TLS alert", path, err)
		}
	}
	// No certificate at all is refused too.
	hc.Transport.(*http.Transport).TLSClientConfig.Certificates = nil
	if resp, err := hc.Post(p.b.PeerURL+"/peer/v1/states", "application/json", strings.NewReader(`{"ids":[1]}`)); err == nil {
		resp.Body.Close()
		t.Errorf("POST without a certificate: %s, want the handshake refused", resp.Status)
	}
	// The forwarding headers are stripped on the public listener: a
	// client cannot claim another address there.
	req, _ := http.NewRequest("GET", p.b.URL+"/api/v1/connected-cards", nil)
	req.Header.Set("Authorization", "Bearer "+p.aliceToken)
	req.Header.Set("Lanyard-Forwarded-By", p.a.Cluster.ID())
	req.Header.Set("Lanyard-Client-Addr", "203.0.113.9")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /api/v1/connected-cards with forwarding headers on the public listener: %s", resp.Status)
	}
}

// TestAirCardAcrossReplicas: the AirCard service is connected to replica
// A, alice's workstation to replica B. Placement through B sees A's
// service (the card is made there by a peer call), B's hub offers the
// AirCard to the workstation, the issue through B is forwarded to A, and
// the workstation's bridge reaches the card through B, whose hub relays
// the session to A over the peer link.
func TestAirCardAcrossReplicas(t *testing.T) {
	p := startPair(t)
	ctx := context.Background()
	dir := t.TempDir()
	kek, err := aircard.OpenKEK("file:" + filepath.Join(dir, "kek.key"))
	if err != nil {
		t.Fatal(err)
	}
	host, err := aircard.Open(filepath.Join(dir, "cards"), kek, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { host.Close() })
	svcID, _ := runAgentWith(t, p.a, p.adminToken, "", agent.Config{Readers: host, Role: string(lanyard.RoleAirCardService),
		Create: func(string) (string, error) { return host.Create() }})
	readers := agent.NewMemReaders("Local reader")
	ws, _ := runAgentWith(t, p.b, p.adminToken, "alice", agent.Config{Readers: readers, Slots: readers})
	if p.b.Hub.Connected(svcID) || p.a.Hub.Connected(ws) {
		t.Fatal("the AirCard service should be at A only, the workstation at B only")
	}

	sys := &lanyard.Principal{User: &lanyard.User{Login: "system"}, Roles: lanyard.Roles{lanyard.RoleAdministrator}}
	pol, err := p.a.Service.Catalog.GetPolicy(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	pol.Settings.AllowedCards = []string{"piv", "aircard"}
	pol.Settings.Workflow.IssueAirCard = true
	if _, err := p.a.Service.Catalog.UpdatePolicy(ctx, sys, "default", pol); err != nil {
		t.Fatal(err)
	}
	alice := clientOf(t, p.b.URL, p.aliceToken)
	var cc apiv1.ConnectedCard
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, err := alice.Post(ctx, "/api/v1/virtual-cards", apiv1.CreateVirtualInput{WorkstationID: ws, Kind: lanyard.KindAirCard, Name: "Air"}, &cc)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("creating an AirCard through B: %v", err)
		}
	}
	if cc.WorkstationID != svcID || cc.Kind != lanyard.KindAirCard {
		t.Fatalf("created %+v, want an AirCard at service %d", cc, svcID)
	}
	// Made once, at A's service: no AirCard left behind by B.
	if got := host.Serials(); len(got) != 1 || got[0] != cc.Serial {
		t.Fatalf("the AirCard service holds %v, want only %s", got, cc.Serial)
	}
	var res apiv1.IssueCardResult
	if _, err := alice.Post(ctx, "/api/v1/issue", apiv1.IssueCardInput{CardTarget: apiv1.CardTarget{WorkstationID: cc.WorkstationID, Reader: cc.Reader}, UserPIN: "13572468"}, &res); err != nil {
		t.Fatalf("issuing the AirCard through B: %v", err)
	}
	if res.Card == nil || res.Card.State != lanyard.CardIssued {
		t.Fatalf("AirCard after issue: %+v", res.Card)
	}
	// The workstation (on B) gets the AirCard in a reader of its own.
	airReader := ""
	for deadline := time.Now().Add(20 * time.Second); airReader == ""; time.Sleep(20 * time.Millisecond) {
		st, _ := p.b.Hub.State(ws)
		for _, r := range st.Readers {
			if r.Present && r.Serial == cc.Serial && r.Name != "Local reader" {
				airReader = r.Name
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the AirCard did not reach the workstation: %+v (workstation connected to A: %v, to B: %v; service connected to A: %v)",
				st.Readers, p.a.Hub.Connected(ws), p.b.Hub.Connected(ws), p.a.Hub.Connected(svcID))
		}
	}
	conn, err := readers.Connect(airReader, true)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	pc, err := piv.New(conn, piv.Config{Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.Select(ctx); err != nil {
		t.Fatalf("SELECT through B's relay to A: %v", err)
	}
	if err := pc.VerifyPIN(ctx, "13572468"); err != nil {
		t.Fatalf("VERIFY PIN through B's relay to A: %v", err)
	}
	conn.Close()

	// Replace card (an operator) with a new AirCard, asked of B: the new
	// card is made and issued at A, where the service is.
	var rep apiv1.ReplaceCardResult
	if _, err := clientOf(t, p.b.URL, p.adminToken).Post(ctx, "/api/v1/cards/"+itoa(res.Card.ID)+"/replace", apiv1.ReplaceCardInput{Reason: "damaged", WorkstationID: ws, AirCard: true, UserPIN: "24681357"}, &rep); err != nil {
		t.Fatalf("replacing the AirCard through B: %v", err)
	}
	// (An operator's replacement may wait for a second person: pending.)
	if rep.Card == nil || rep.Card.State != lanyard.CardIssued && rep.Card.State != lanyard.CardPending || rep.Card.Serial == cc.Serial {
		t.Fatalf("the replacement: %s %s (old %s), %+v", rep.Card.State, rep.Card.Serial, cc.Serial, rep.Card.Card)
	}
	var cards []apiv1.CardView
	if err := alice.Get(ctx, "/api/v1/cards", &cards); err != nil {
		t.Fatal(err)
	}
	if len(cards) != 2 {
		t.Errorf("alice has %d cards after the replacement, want 2 (no AirCard made twice)", len(cards))
	}
	if got := host.Serials(); len(got) != 2 {
		t.Errorf("the AirCard service holds %v after the replacement, want the old card and the new one", got)
	}
}

// runAgentWith is runAgent with a configuration of its own (an AirCard
// service, slots for virtual cards).
func runAgentWith(t *testing.T, srv *webtest.Server, adminToken, owner string, cfg agent.Config) (int64, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	dir, err := os.MkdirTemp("", "lyc")
	if err != nil {
		t.Fatal(err)
	}
	codes := make(chan string, 1)
	done := make(chan struct{})
	cfg.Server, cfg.StateDir, cfg.Hostname, cfg.Heartbeat = srv.AgentURL, dir, "pc-"+owner, clusterAgentHeartbeat
	cfg.OnPairingCode = func(c string) {
		select {
		case codes <- c:
		default:
		}
	}
	go func() { defer close(done); agent.Run(ctx, cfg) }()
	t.Cleanup(func() { cancel(); <-done; os.RemoveAll(dir) })
	var code string
	select {
	case code = <-codes:
	case <-time.After(30 * time.Second):
		t.Fatal("no pairing code within 30 s")
	}
	var w struct {
		ID int64 `json:"id"`
	}
	if _, err := clientOf(t, srv.URL, adminToken).Post(ctx, "/api/v1/workstations/pair", apiv1.PairConfirm{Code: code, Owner: owner}, &w); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(15 * time.Second); !srv.Hub.Connected(w.ID); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the agent did not connect within 15 s")
		}
	}
	return w.ID, dir
}

// workstationClient is an HTTP client presenting the client certificate
// of the agent paired in dir and pinning its root.
func workstationClient(t *testing.T, dir string) *http.Client {
	t.Helper()
	st, ok, err := agent.LoadState(dir)
	if err != nil || !ok {
		t.Fatalf("agent state: %v %v", ok, err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(raw)
	key, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	root, err := x509.ParseCertificate(st.Root)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	wsCert := tls.Certificate{Certificate: append([][]byte{st.Certificate}, st.Chain...), PrivateKey: key.(*ecdsa.PrivateKey)}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, Certificates: []tls.Certificate{wsCert}, MinVersion: tls.VersionTLS13}}}
}

// TestAgentUnblockThroughOtherReplica: the workstation's agent holds its
// connection at A, and its `lanyard agent unblock` request reaches B's
// agent listener (a load balancer's choice): B finds the card at A and
// has A run the unblock.
func TestAgentUnblockThroughOtherReplica(t *testing.T) {
	p := startPair(t)
	ctx := context.Background()
	readers := agent.NewMemReaders("Reader 0")
	card, err := emu.New()
	if err != nil {
		t.Fatal(err)
	}
	serial, err := cardtest.Serial(card)
	if err != nil {
		t.Fatal(err)
	}
	if err := readers.Insert("Reader 0", card); err != nil {
		t.Fatal(err)
	}
	ws, dir := runAgent(t, p.a, p.adminToken, "alice", readers)
	alice := clientOf(t, p.b.URL, p.aliceToken)
	cc := waitConnected(t, alice, serial)
	var res apiv1.IssueCardResult
	if _, err := alice.Post(ctx, "/api/v1/issue", apiv1.IssueCardInput{CardTarget: apiv1.CardTarget{WorkstationID: ws, Reader: cc.Reader}, UserPIN: "24681357"}, &res); err != nil {
		t.Fatal(err)
	}
	var answers []apiv1.SecretAnswerInput
	in := agentproto.Unblock{Serial: serial, NewPIN: "11223355"}
	for _, q := range identity.SecretQuestions[:3] {
		answers = append(answers, apiv1.SecretAnswerInput{Question: q, Answer: "the same answer"})
		in.Answers = append(in.Answers, agentproto.SecretAnswer{Question: q, Answer: "the same answer"})
	}
	if _, err := alice.Do(ctx, http.MethodPut, "/api/v1/me/secret-questions", apiv1.SecretAnswersInput{Answers: answers}, nil); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(in)
	resp, err := workstationClient(t, dir).Post(p.b.AgentURL+agentproto.PathUnblock, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out agentproto.Unblocked
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.Serial != serial {
		t.Fatalf("unblock through B's agent listener: %s %+v %v", resp.Status, out, err)
	}
}
