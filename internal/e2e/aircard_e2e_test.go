//go:build integration

package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/agenthub"
	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/aircard"
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/client"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/workstations"
	"github.com/lanyard-cms/lanyard/internal/web/uitest"
)

// airService is an AirCard service in this process, connected to the
// stack's agent listener like `lanyard aircard serve`.
type airService struct {
	host   *aircard.Host
	cancel context.CancelFunc
	done   chan error
	ws     int64
	once   sync.Once
}

// startAirService opens an AirCard host in dir, pairs it as the AirCard
// service name (the administrator confirms its code) or reconnects it,
// and waits until the hub has it online.
func (s *stack) startAirService(dir, name string, pair bool) *airService {
	s.t.Helper()
	kek, err := aircard.OpenKEK("file:" + filepath.Join(dir, "kek.key"))
	if err != nil {
		s.t.Fatal(err)
	}
	host, err := aircard.Open(filepath.Join(dir, "cards"), kek, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &airService{host: host, cancel: cancel, done: make(chan error, 1)}
	codes := make(chan string, 4)
	go func() {
		a.done <- agent.Run(ctx, agent.Config{
			Server: s.agentURL, StateDir: filepath.Join(dir, "agent"), Readers: host, Hostname: name,
			Role: string(lanyard.RoleAirCardService), Heartbeat: heartbeat,
			Create:        func(kind string) (string, error) { return host.Create() },
			Destroy:       host.Delete,
			OnPairingCode: func(code string) { codes <- code },
		})
	}()
	s.t.Cleanup(func() { a.stop(s.t) })
	if pair {
		var code string
		select {
		case code = <-codes:
		case <-time.After(15 * time.Second):
			s.t.Fatal("the AirCard service showed no pairing code")
		}
		var w apiv1.WorkstationView
		if _, err := s.admin.Post(ctx, "/api/v1/workstations/pair", apiv1.PairConfirm{Code: code}, &w); err != nil {
			s.t.Fatalf("confirming the AirCard service's pairing: %v", err)
		}
		if w.Role != lanyard.RoleAirCardService {
			s.t.Fatalf("the AirCard service paired as %q", w.Role)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		for _, st := range s.hub.States() {
			if st.Role == lanyard.RoleAirCardService && st.Online && st.Name == name {
				a.ws = st.ID
				return a
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatal("the AirCard service did not come online")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the service, as stopping its process does; twice is fine.
func (a *airService) stop(t *testing.T) {
	a.once.Do(func() {
		a.cancel()
		select {
		case <-a.done:
		case <-time.After(15 * time.Second):
			t.Error("the AirCard service did not stop")
		}
		a.host.Close()
	})
}

// secondAgent is another workstation on this machine: the lanyard agent
// binary in its own process (one PC/SC client per process, as on real
// workstations), with its own state directory and vpcd slot, paired to
// owner. It returns the state directory and the workstation ID.
func (s *stack) secondAgent(owner, slot string) (string, int64) {
	s.t.Helper()
	dir := s.t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, lanyardBinary(s.t), "agent", "--server", s.agentURL, "--state", dir, "--tpm", "none", "--vpcd", slot)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { cancel(); cmd.Wait() })
	codes := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		re := regexp.MustCompile(`Pairing code: ([A-Z2-7]{5}-[A-Z2-7]{5})`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case codes <- m[1]:
				default:
				}
			}
		}
	}()
	var code string
	select {
	case code = <-codes:
	case <-time.After(30 * time.Second):
		s.t.Fatal("the second agent showed no pairing code")
	}
	var w apiv1.WorkstationView
	if _, err := s.admin.Post(ctx, "/api/v1/workstations/pair", apiv1.PairConfirm{Code: code, Owner: owner}, &w); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, online := s.hub.State(w.ID); online {
			return dir, w.ID
		}
		if time.Now().After(deadline) {
			s.t.Fatal("the second agent did not connect")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitAirCard waits until workstation ws shows the AirCard serial in a
// reader (present) or in none (!present), and returns the reader.
func (s *stack) waitAirCard(ws int64, serial string, present bool) string {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st, _ := s.hub.State(ws)
		found := ""
		for _, r := range st.Readers {
			if r.Present && r.Serial == serial {
				found = r.Name
			}
		}
		if (found != "") == present {
			return found
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("workstation %d: AirCard %s present=%v not reached in 20 s; readers %+v", ws, serial, present, st.Readers)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitIndicator(t *testing.T, dir, want string) *agent.Status {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := agent.QueryStatus(dir)
		if err == nil && st.AirCard != nil && strings.Contains(st.AirCard.Indicator(), want) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent status in %s: %+v, %v; want the indicator %q", dir, st.AirCard, err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAirCard is the guide's AirCard on the real stack: an AirCard
// service (sealed cards under a key file), two workstations' agents on
// this machine, each bridging into its own vpcd slot of pcscd. The user
// issues an AirCard from the first workstation; OpenSC signs with it
// there; an operator's connection code joins the second, where OpenSC
// signs too; used, expired and unauthenticated joins are refused;
// removing the second computer takes the AirCard out of its reader; the
// indicator follows the AirCard service stopping and coming back.
func TestAirCard(t *testing.T) {
	s := newStack(t)
	slot1 := s.secondSlot()
	s.slots = []string{s.vpcd}
	ctx := context.Background()

	amy, _ := s.user("amy")
	// The card type alone is not the Issue AirCard permission (issue 13):
	// the API refuses to create one for amy until the policy grants it.
	s.setPolicy(func(set map[string]any) { set["allowed_card_types"] = []string{"piv", "aircard"} })
	airDir := t.TempDir()
	air := s.startAirService(airDir, "aircard-service", true)
	s.pair("amy")
	wsA := s.ws
	var cc apiv1.ConnectedCard
	if code, err := amy.Post(ctx, "/api/v1/virtual-cards", apiv1.CreateVirtualInput{WorkstationID: wsA, Kind: lanyard.KindAirCard, Name: "Air"}, &cc); code != 403 ||
		err == nil || !strings.Contains(err.Error(), "Issue AirCard") {
		t.Fatalf("an AirCard without the Issue AirCard permission: %d %v", code, err)
	}
	s.setPolicy(allowAirCards)

	// Issue AirCard from workstation A: Create a new AirCard → Issue.
	if _, err := amy.Post(ctx, "/api/v1/virtual-cards", apiv1.CreateVirtualInput{WorkstationID: wsA, Kind: lanyard.KindAirCard, Name: "Air"}, &cc); err != nil {
		t.Fatal(err)
	}
	if cc.WorkstationID != air.ws || cc.Kind != lanyard.KindAirCard {
		t.Fatalf("created %+v", cc)
	}
	var res apiv1.IssueCardResult
	if _, err := amy.Post(ctx, "/api/v1/issue", apiv1.IssueCardInput{CardTarget: apiv1.CardTarget{WorkstationID: cc.WorkstationID, Reader: cc.Reader}, UserPIN: "13572468"}, &res); err != nil {
		t.Fatal(err)
	}
	if res.Card.State != lanyard.CardIssued {
		t.Fatalf("AirCard after issue: %s", res.Card.State)
	}
	cardID := res.Card.ID

	// Workstation A has it in pcscd: OpenSC signs with it.
	readerA := s.waitAirCard(wsA, cc.Serial, true)
	stA := waitIndicator(t, s.agentDir, "AirCard: connected (1)")
	if len(stA.AirCard.Cards) != 1 || stA.AirCard.Cards[0].Serial != cc.Serial {
		t.Errorf("agent status lists %+v", stA.AirCard.Cards)
	}
	tk := openToken(t, readerA)
	cert := tk.certs()["9a"]
	if cert == nil || cert.PublicKeyAlgorithm != x509.RSA {
		t.Fatalf("the AirCard's slot 9a: %v", cert)
	}
	tk.sign("9a", "13572468", cert)

	// Workstation B, not allowed yet: no AirCard there.
	dirB, wsB := s.secondAgent("amy", slot1)
	waitIndicator(t, dirB, "no AirCard is allowed on this computer")

	// An operator's code, sent to amy by e-mail (guide: "enter the code
	// sent by the administrator"), joins B; a second use, an expired code
	// and a caller without a workstation certificate are refused.
	mail := s.startMail()
	var code apiv1.AirCardCode
	if _, err := s.admin.Post(ctx, "/api/v1/cards/"+strconv.FormatInt(cardID, 10)+"/aircard-codes", apiv1.AirCardCodeInput{Mail: true}, &code); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(code.MailedTo, []string{"amy@example.com"}) || code.MailNote != "" {
		t.Fatalf("the code was not mailed: %+v", code)
	}
	sent := s.mail(mail, "amy@example.com", 1)[0]
	wantMail(t, sent, "amy@example.com", "Connection code for your AirCard "+cc.Serial, "lanyard agent aircard add "+code.Code, "works once, for one hour")
	if strings.Contains(sent.Subject, code.Code) {
		t.Errorf("the subject shows the code: %q", sent.Subject)
	}
	mailed := regexp.MustCompile(`aircard add ([A-Z2-7]{5}-[A-Z2-7]{5})`).FindStringSubmatch(sent.Text)
	if mailed == nil {
		t.Fatalf("no code in the mail:\n%s", sent.Text)
	}
	joined, err := agent.JoinAirCard(ctx, dirB, mailed[1])
	if err != nil {
		t.Fatal(err)
	}
	if joined.Serial != cc.Serial {
		t.Fatalf("joined %+v", joined)
	}
	if _, err := agent.JoinAirCard(ctx, dirB, code.Code); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("a used code: %v", err)
	}
	expired := "DDDDD-DDDDD"
	if err := s.srv.Store.Update(ctx, func(tx lanyard.Tx) error {
		return tx.CreateAirCardCode(&lanyard.AirCardCode{CardID: cardID, CodeHash: workstations.HashAirCardCode(expired), CreatedBy: "admin",
			CreatedAt: time.Now().Add(-2 * time.Hour), ExpiresAt: time.Now().Add(-time.Hour)})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.JoinAirCard(ctx, s.agentDir, expired); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("an expired code: %v", err)
	}
	if _, err := agent.JoinAirCard(ctx, t.TempDir(), code.Code); err == nil || !strings.Contains(err.Error(), "not paired") {
		t.Fatalf("an unpaired computer: %v", err)
	}
	// Without a client certificate the agent listener refuses outright.
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Post(s.agentURL+agentproto.PathAirCardJoin, "application/json", strings.NewReader(`{"code":"`+code.Code+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a join without a workstation certificate: %s", resp.Status)
	}

	readerB := s.waitAirCard(wsB, cc.Serial, true)
	waitIndicator(t, dirB, "AirCard: connected (1)")
	openToken(t, readerB).sign("9a", "13572468", cert)

	// Removing B disconnects the AirCard there, not at A.
	if _, err := amy.Do(ctx, http.MethodDelete, "/api/v1/cards/"+strconv.FormatInt(cardID, 10)+"/computers/"+strconv.FormatInt(wsB, 10), nil, nil); err != nil {
		t.Fatal(err)
	}
	s.waitAirCard(wsB, cc.Serial, false)
	waitPortEmpty(t, s.port+1)
	waitIndicator(t, dirB, "no AirCard is allowed on this computer")
	s.waitAirCard(wsA, cc.Serial, true)

	// The AirCard service stops: the indicator says so and the card leaves
	// A's reader; it comes back with the service, keys intact.
	air.stop(t)
	waitIndicator(t, s.agentDir, "AirCard: not connected (the AirCard service is not reachable)")
	s.waitAirCard(wsA, cc.Serial, false)
	s.startAirService(airDir, "aircard-service", false)
	readerA = s.waitAirCard(wsA, cc.Serial, true)
	waitIndicator(t, s.agentDir, "AirCard: connected (1)")
	openToken(t, readerA).sign("9a", "13572468", cert)

}

// TestBrowserAirCard is Issue AirCard in Self-Service (Chromium): card
// name → Create a new AirCard → Issue; the card page lists the allowed
// computer; an operator creates a connection code on the console's card
// page (shown once); the user removes the computer and the AirCard leaves
// the workstation's reader.
func TestBrowserAirCard(t *testing.T) {
	s := newStack(t)
	s.slots = []string{s.vpcd}
	ctx := context.Background()
	s.user("ida")
	s.user("otto", lanyard.RoleOperator)
	s.user("cara", lanyard.RoleCAManager)
	// The AirCard card type is allowed, the Issue AirCard permission is
	// not yet (issue 14 item 4).
	s.setPolicy(func(set map[string]any) {
		allowAirCards(set)
		section(set, "workflow")["issue_aircard"] = false
	})
	s.startAirService(t.TempDir(), "aircard-service", true)
	s.pair("ida")

	b := mustBrowser(t, s.srv.URL)
	b.Login("ida", password)
	refusal := b.airCardRefusal()
	if !strings.Contains(refusal, "does not allow you to issue AirCards") || !strings.Contains(refusal, "Issue AirCard option in User permissions → General") {
		t.Errorf("without the permission Self-Service says %q; want why and where an administrator enables it", refusal)
	}
	b.Shot("aircard-00-refused")

	s.setPolicy(allowAirCards)
	b.Visit("/")
	b.WaitFor("Issue AirCard", `document.querySelector('#virtual button[data-kind="aircard"]')`)
	b.Run("Issue AirCard", chromedp.Click(`#virtual button[data-kind="aircard"]`))
	b.WaitFor("the card name step", `document.querySelector('#virtual-form')`)
	if got := b.Text("#virtual-create"); got != "Create a new AirCard" {
		t.Errorf("the create button says %q", got)
	}
	b.CheckAccessible("Issue AirCard")
	b.Run("name it", chromedp.SendKeys("#virtual-name", "Travel card"))
	b.Run("Create a new AirCard", chromedp.Click("#virtual-create"))
	b.WaitFor("the Issue card form", `document.querySelector('#issue-form')`)
	b.Run("User PIN", chromedp.SendKeys("#user-pin", "24682468"), chromedp.SendKeys("#user-pin2", "24682468"))
	b.Run("Issue", chromedp.Click(`#issue-form button[type=submit]`))
	b.WaitFor("issued", `(document.querySelector('#issue-result-title')?.textContent || '') === 'Card issued' || document.querySelector('#issue-form .error[role=alert]')?.textContent`)
	if got := b.Text("#issue-body"); !strings.Contains(got, "Card issued") {
		t.Fatalf("Issue AirCard: %q", got)
	}
	b.Shot("aircard-01-issued")

	var cards []*apiv1.CardView
	ida := mustClientFor(t, s, "ida")
	if err := ida.Get(ctx, "/api/v1/cards", &cards); err != nil || len(cards) != 1 || cards[0].Kind != lanyard.KindAirCard {
		t.Fatalf("ida's cards: %+v, %v", cards, err)
	}
	card := cards[0]
	s.waitAirCard(s.ws, card.Serial, true)

	// The card page: allowed computers.
	b.Visit("/cards/" + strconv.FormatInt(card.ID, 10))
	b.WaitFor("allowed computers", `document.querySelector('#computers table')`)
	if got := b.Text("#computers"); !strings.Contains(got, "e2e-pc") {
		t.Fatalf("allowed computers: %q", got)
	}
	if b.exists("#aircard-code-create") {
		t.Error("a user is offered a connection code")
	}
	b.CheckAccessible("AirCard page")
	b.Shot("aircard-02-computers")

	// An operator's connection code, on the console's card page: shown
	// once, and (the checkbox is on by default) mailed to ida.
	mail := s.startMail()
	ob := mustBrowser(t, s.srv.URL)
	ob.Login("otto", password)
	ob.Visit("/console/cards/" + strconv.FormatInt(card.ID, 10))
	ob.WaitFor("the code button", `document.querySelector('#aircard-code-create')`)
	if !uitest.Eval[bool](ob.Browser, `document.querySelector("#aircard-code-mail").checked`) || !strings.Contains(ob.Text("label:has(#aircard-code-mail)"), "ida") {
		t.Errorf("the mail checkbox is off or does not name the owner: %q", ob.Text("label:has(#aircard-code-mail)"))
	}
	ob.Run("Create connection code", chromedp.Click("#aircard-code-create"))
	ob.WaitFor("the code", `document.querySelector('#aircard-code-value')`)
	code := ob.Text("#aircard-code-value")
	if !regexp.MustCompile(`^[A-Z2-7]{5}-[A-Z2-7]{5}$`).MatchString(code) {
		t.Fatalf("connection code %q", code)
	}
	if hint := ob.Text("#aircard-code-hint"); !strings.Contains(hint, "It was sent to ida@example.com") || !strings.Contains(hint, "aircard add "+code) {
		t.Errorf("the code's hint says %q", hint)
	}
	ob.CheckAccessible("connection code")
	ob.Shot("aircard-03-code")
	wantMail(t, s.mail(mail, "ida@example.com", 1)[0], "ida@example.com", "Connection code for your AirCard "+card.Serial, "lanyard agent aircard add "+code)

	// A CA manager reads the card in the console, but not its allowed
	// computers (workstations are not theirs to read) and makes no code.
	cb := mustBrowser(t, s.srv.URL)
	cb.Login("cara", password)
	cb.Visit("/console/cards/" + strconv.FormatInt(card.ID, 10))
	cb.WaitFor("the card", `document.querySelector('#main').textContent.includes(`+uitest.JSString(card.Serial)+`)`)
	if cb.exists("#computers") || cb.exists("#aircard-code-create") {
		t.Error("a CA manager's card page shows the allowed computers or the code button")
	}
	cb.CheckConsole()

	// The console's workstation list counts the service's AirCards.
	ob.Visit("/console/workstations")
	ob.WaitFor("the workstation list", `document.querySelector('#ws-list table')`)
	if got := ob.Text("#ws-list"); !strings.Contains(got, "aircard-service") || !strings.Contains(got, "1 AirCard hosted") {
		t.Errorf("the console's workstation list says %q", got)
	}

	// The user removes the computer: the AirCard leaves its reader.
	b.Run("Remove", chromedp.Click(`#computers button[aria-label="Remove e2e-pc"]`))
	b.WaitFor("removed", `document.querySelector('#computers').textContent.includes('No computer may use this AirCard')`)
	s.waitAirCard(s.ws, card.Serial, false)
	b.CheckConsole()
}

// airCardRefusal waits for the AirCard entry of Self-Service's virtual
// cards and returns the reason it shows in place of the Issue AirCard
// button; it fails the test if the button is offered.
func (b *browser) airCardRefusal() string {
	b.t.Helper()
	b.WaitFor("the AirCard entry", `document.querySelector('#virtual [data-kind="aircard"]')`)
	if b.exists(`#virtual button[data-kind="aircard"]`) {
		b.t.Fatal("Self-Service offers Issue AirCard without the policy's Issue AirCard permission")
	}
	return b.Text(`#virtual li:has(span[data-kind="aircard"])`)
}

// mustClientFor is an API client with a new token of login.
func mustClientFor(t *testing.T, s *stack, login string) *client.Client {
	t.Helper()
	var tok apiv1.NewToken
	if _, err := s.admin.Post(context.Background(), "/api/v1/tokens", apiv1.TokenInput{User: login}, &tok); err != nil {
		t.Fatal(err)
	}
	return mustClient(t, s.srv.URL, tok.Secret)
}

// TestAirCardServices: with two AirCard services (each its own state
// directory and pairing), new AirCards go to the one hosting fewer, a
// workstation bridges the AirCards of both, and when one service stops
// only its AirCard leaves the workstation's reader: the other keeps
// working, and the indicator says the service is unreachable only once
// both are gone.
func TestAirCardServices(t *testing.T) {
	s := newStack(t)
	slot1 := s.secondSlot()
	s.slots = []string{s.vpcd, slot1}
	ctx := context.Background()

	amy, _ := s.user("amy")
	s.setPolicy(func(set map[string]any) {
		allowAirCards(set)
		section(set, "issuance")["max_cards_per_user"] = 0
	})
	airA := s.startAirService(t.TempDir(), "aircard-a", true)
	airB := s.startAirService(t.TempDir(), "aircard-b", true)
	if airA.ws == airB.ws {
		t.Fatalf("both services paired as workstation %d", airA.ws)
	}
	s.pair("amy")

	var cards [2]apiv1.ConnectedCard
	for i, name := range []string{"Air 1", "Air 2"} {
		if _, err := amy.Post(ctx, "/api/v1/virtual-cards", apiv1.CreateVirtualInput{WorkstationID: s.ws, Kind: lanyard.KindAirCard, Name: name}, &cards[i]); err != nil {
			t.Fatal(err)
		}
	}
	if got := []int64{cards[0].WorkstationID, cards[1].WorkstationID}; !slices.Contains(got, airA.ws) || !slices.Contains(got, airB.ws) {
		t.Fatalf("the two AirCards went to services %v, want one on each of %d and %d", got, airA.ws, airB.ws)
	}
	for _, cc := range cards {
		s.waitAirCard(s.ws, cc.Serial, true)
	}
	waitIndicator(t, s.agentDir, "AirCard: connected (2)")

	// Self-Service lists both, each at its own service.
	var connected []*apiv1.ConnectedCard
	if err := amy.Get(ctx, "/api/v1/connected-cards", &connected); err != nil {
		t.Fatal(err)
	}
	for _, cc := range cards {
		found := false
		for _, c := range connected {
			found = found || (c.Serial == cc.Serial && c.WorkstationID == cc.WorkstationID && c.Reader == cc.Reader)
		}
		if !found {
			t.Errorf("connected cards %+v lack AirCard %s at service %d", connected, cc.Serial, cc.WorkstationID)
		}
	}

	// An AirCard the server could not register is removed from its
	// service (the destroy message): its sealed file and reader go.
	orphan, err := s.hub.CreateVirtual(ctx, airA.ws, agentproto.KindAirCard)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(airA.host.Serials(), orphan.Serial) {
		t.Fatalf("service A does not host the new AirCard %s: %v", orphan.Serial, airA.host.Serials())
	}
	if err := s.hub.DestroyVirtual(ctx, airA.ws, orphan.Serial); err != nil {
		t.Fatal(err)
	}
	if slices.Contains(airA.host.Serials(), orphan.Serial) {
		t.Errorf("service A still hosts the destroyed AirCard %s", orphan.Serial)
	}
	if err := s.hub.DestroyVirtual(ctx, airB.ws, orphan.Serial); !errors.Is(err, agenthub.ErrNoReader) {
		t.Errorf("destroying an AirCard at a service that does not host it: %v, want %v", err, agenthub.ErrNoReader)
	}

	// The console's list counts each service's AirCards instead of
	// listing them (a reader each, thousands); the workstation's own
	// page lists them.
	var list []apiv1.WorkstationView
	if err := s.admin.Get(ctx, "/api/v1/workstations", &list); err != nil {
		t.Fatal(err)
	}
	for _, air := range []*airService{airA, airB} {
		i := slices.IndexFunc(list, func(w apiv1.WorkstationView) bool { return w.ID == air.ws })
		if i < 0 {
			t.Fatalf("service %d is not in the workstation list", air.ws)
		}
		if w := list[i]; len(w.Readers) != 0 || w.ReaderCount != 1 || !w.Online {
			t.Errorf("the list shows service %d with %d readers, count %d, online %v; want online, 1 AirCard counted, none listed", air.ws, len(w.Readers), w.ReaderCount, w.Online)
		}
	}
	var one apiv1.WorkstationView
	if err := s.admin.Get(ctx, "/api/v1/workstations/"+strconv.FormatInt(airA.ws, 10), &one); err != nil || len(one.Readers) != 1 || one.ReaderCount != 1 {
		t.Errorf("service A's own page: %d readers, count %d, %v", len(one.Readers), one.ReaderCount, err)
	}

	// The service of the first stops: only its AirCard leaves.
	first, second := airA, airB
	if cards[0].WorkstationID == airB.ws {
		first, second = airB, airA
	}
	first.stop(t)
	s.waitAirCard(s.ws, cards[0].Serial, false)
	st := waitIndicator(t, s.agentDir, "AirCard: connected (1)")
	if len(st.AirCard.Cards) != 1 || st.AirCard.Cards[0].Serial != cards[1].Serial {
		t.Errorf("with one service stopped the agent lists %+v, want only %s", st.AirCard.Cards, cards[1].Serial)
	}
	s.waitAirCard(s.ws, cards[1].Serial, true)
	second.stop(t)
	waitIndicator(t, s.agentDir, "AirCard: not connected (the AirCard service is not reachable)")
	s.waitAirCard(s.ws, cards[1].Serial, false)
}

// allowAirCards lets the default policy's users issue AirCards: the card
// type and the Issue AirCard permission.
func allowAirCards(set map[string]any) {
	set["allowed_card_types"] = []string{"piv", "aircard"}
	section(set, "workflow")["issue_aircard"] = true
}
