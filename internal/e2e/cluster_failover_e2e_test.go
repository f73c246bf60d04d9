//go:build integration

package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/clustertest"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// agentConnected is a replica's log line when an agent connects, and
// pairingRemote the address a pairing request came from.
var (
	agentConnected = mustRe(`"msg":"agent connected"`)
	pairingRemote  = mustRe(`"msg":"pairing requested".*"remote":"([^"]+)"`)
)

// TestClusterReplicaKilledMidIssue runs three replicas behind HAProxy:
// the workstation agent connects through HAProxy's TCP frontend (TLS and
// its client certificate end to end, the PROXY protocol to the replica)
// and lands on replica A. An issue sent to replica C is forwarded to A;
// the card holds back the GENERATE of the second key while A is killed
// with SIGKILL. The request fails (to be continued); the agent reconnects
// through HAProxy, now to B; Continue card issue sent through HAProxy's
// HTTP frontend (to B or C, forwarded to B) finishes the issue, and
// OpenSC signs with the card.
func TestClusterReplicaKilledMidIssue(t *testing.T) {
	k := newCluster(t, clustertest.Options{HAProxy: true, Replicas: 3})
	C := k.c.Replicas[2]
	ctx := context.Background()
	tok := k.user("cal")
	markA := k.A.Lines()
	k.pairAt(k.A, k.c.Proxy.AgentURL, "cal", clustertest.AgentOptions{})
	// HAProxy's agent backend takes the first server that is up: A.
	k.A.WaitLineAfter(markA, agentConnected, 10*time.Second)
	// HAProxy connects from its own address; the PROXY protocol header
	// gives A the agent's, which the pairing throttle counts by.
	if k.c.Has("agent-proxy-protocol") {
		m := k.A.WaitLineAfter(markA, pairingRemote, time.Second)
		if m[1] != "127.0.0.1" {
			t.Errorf("replica A saw the pairing agent at %s, want the agent's own 127.0.0.1 (HAProxy connects from %s with the PROXY protocol)", m[1], clustertest.AgentSource)
		}
	}
	c := newVCard(t)
	c.holdAt(isGenerate(0x9D))
	k.insert(c)
	k.waitCard(k.A, c.serial)

	errc := make(chan error, 1)
	go func() {
		var res apiv1.IssueCardResult
		_, err := as(C, tok).Post(ctx, "/api/v1/issue", apiv1.IssueCardInput{CardTarget: k.target(), Templates: []string{"secure-email"}, UserPIN: robustPIN}, &res)
		errc <- err
	}()
	select {
	case <-c.held:
	case err := <-errc:
		t.Fatalf("the issue through replica C (agent on A) ended before the card got the second GENERATE: %v%s\n%s", err, notForwarded(err), k.c.Describe())
	case <-time.After(30 * time.Second):
		t.Fatal("the card never received the GENERATE for slot 9D")
	}
	markB := k.B.Lines()
	k.A.Kill()
	c.release <- false // the command reached the card; no answer reaches anyone
	select {
	case err := <-errc:
		if err == nil {
			t.Fatal("the issue through C succeeded although the replica holding the agent was killed in its middle")
		}
		t.Logf("the issue through C after A was killed: %v (code %s)", err, lanyard.ErrorCode(err))
	case <-time.After(30 * time.Second):
		t.Fatal("the issue through C did not end within 30 s of killing replica A")
	}

	// The agent reconnects through HAProxy, to B.
	k.B.WaitLineAfter(markB, agentConnected, 30*time.Second)
	k.admin = k.B.Admin()
	k.waitCard(k.B, c.serial)
	v := k.cardBySerial(c.serial)
	proxied := mustClient(t, k.c.Proxy.URL, tok)
	var done apiv1.IssueCardResult
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := proxied.Post(ctx, "/api/v1/cards/"+itoa(v.ID)+"/continue", apiv1.ContinueInput{CardTarget: k.target(), UserPIN: robustPIN}, &done)
		if err == nil {
			break
		}
		// The route may still point at the dead replica for a few
		// heartbeats: 503 with Retry-After.
		if lanyard.ErrorCode(err) != lanyard.EUnavailable || time.Now().After(deadline) {
			t.Fatalf("Continue card issue through HAProxy after replica A was killed: %v%s\n%s", err, notForwarded(err), k.c.Describe())
		}
		time.Sleep(250 * time.Millisecond)
	}
	if done.State != string(lanyard.CardIssued) {
		t.Fatalf("Continue card issue ended %s, want issued", done.State)
	}
	k.agent.Stop()
	tk := openToken(t, k.reader)
	k.checkIssued(tk, v.ID, robustPIN, "9a", "9d")
}

// TestClusterAirCardAcrossReplicas has the AirCard service connected to
// replica A and the user's workstation agent to replica B: the user
// creates and issues an AirCard through B, the workstation's bridge puts
// it into its vpcd slot, and OpenSC signs with it there.
func TestClusterAirCardAcrossReplicas(t *testing.T) {
	k := newCluster(t, clustertest.Options{})
	ctx := context.Background()
	tok := k.user("amy")
	k.setPolicy(allowAirCards)
	air := k.c.StartAirCardService(k.A, k.A.AgentURL, "aircard-on-A")
	k.c.WaitWorkstation(k.A, air.WS, "online", 20*time.Second, func(w *apiv1.WorkstationView) bool { return w.Online })
	k.pairAt(k.B, k.B.AgentURL, "amy", clustertest.AgentOptions{VPCD: []string{k.vpcd}})
	amy := as(k.B, tok)

	var cc apiv1.ConnectedCard
	if _, err := amy.Post(ctx, "/api/v1/virtual-cards", apiv1.CreateVirtualInput{WorkstationID: k.ws, Kind: lanyard.KindAirCard, Name: "Air"}, &cc); err != nil {
		t.Fatalf("creating an AirCard through replica B (workstation on B, AirCard service on A): %v"+
			" — placement must see the AirCard services of every replica (issue 19)\n%s", err, k.c.Describe())
	}
	if cc.WorkstationID != air.WS {
		t.Fatalf("the AirCard was placed on workstation %d, want the AirCard service %d", cc.WorkstationID, air.WS)
	}
	const pin = "13572468"
	var res apiv1.IssueCardResult
	if _, err := amy.Post(ctx, "/api/v1/issue", apiv1.IssueCardInput{CardTarget: apiv1.CardTarget{WorkstationID: cc.WorkstationID, Reader: cc.Reader}, UserPIN: pin}, &res); err != nil {
		t.Fatalf("issuing the AirCard through replica B (its service on A): %v%s", err, notForwarded(err))
	}
	if res.Card == nil || res.Card.State != lanyard.CardIssued {
		t.Fatalf("the AirCard after its issue: %+v", res.Card)
	}
	// The workstation on B bridges the AirCard held by the service on A.
	k.waitCard(k.B, cc.Serial)
	tk := openToken(t, k.reader)
	certs := tk.certs()
	if certs["9a"] == nil {
		t.Fatalf("the bridged AirCard holds no 9A certificate: %v", certs)
	}
	tk.sign("9a", pin, certs["9a"])

	// Removing the computer through A takes the AirCard out of the
	// workstation's reader on B at once (a change notice, not a recheck).
	start := time.Now()
	if _, err := as(k.A, tok).Do(ctx, "DELETE", "/api/v1/cards/"+itoa(res.Card.ID)+"/computers/"+itoa(k.ws), nil, nil); err != nil {
		t.Fatalf("removing the computer through replica A: %v", err)
	}
	if _, err := k.c.PollWorkstation(k.B, k.ws, 2*time.Second, func(w *apiv1.WorkstationView) bool {
		for _, r := range w.Readers {
			if r.Name == k.reader {
				return !r.Present
			}
		}
		return false
	}); err != nil {
		t.Fatalf("the AirCard is still in the reader of the workstation on B %s after its computer was removed through A: %v"+
			" (the AirCard lists must reach the replica holding the workstation at once, issue 19)", time.Since(start).Round(time.Millisecond), err)
	}
	t.Logf("the AirCard left the workstation on B %s after the removal through A", time.Since(start).Round(time.Millisecond))
}

// TestClusterConcurrentRevocations revokes certificates on replicas A and
// B at the same moment, several times: every revocation succeeds (a CRL
// compare-and-set conflict is retried in the server, never a 409 to the
// user) and the CRL both replicas then serve lists every revoked serial.
func TestClusterConcurrentRevocations(t *testing.T) {
	k := newClusterNoCard(t)
	ctx := context.Background()
	if _, err := k.admin.Post(ctx, "/api/v1/templates", lanyard.Template{
		Name: "cluster-p256", KeyAlgs: []lanyard.KeyAlgorithm{lanyard.ECP256}, ValidityDays: 30,
		KeyUsage: []string{lanyard.KUDigitalSignature}, ExtKeyUsage: []string{lanyard.EKUClientAuth},
		Subject: lanyard.SubjectSpec{CommonName: "{display_name}"},
	}, nil); err != nil {
		t.Fatal(err)
	}
	issue := func() string {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		spki, _ := x509.MarshalPKIXPublicKey(key.Public())
		var res apiv1.IssueResult
		if _, err := k.admin.Post(ctx, "/api/v1/certificates", apiv1.IssueInput{Template: "cluster-p256", PublicKey: base64.StdEncoding.EncodeToString(spki)}, &res); err != nil || res.Certificate == nil {
			t.Fatalf("issuing a certificate: %v %+v", err, res)
		}
		return res.Certificate.Serial
	}
	var revoked []string
	for round := range 5 {
		serials := []string{issue(), issue()}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		for i, r := range []*clustertest.Replica{k.A, k.B} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				admin := r.Admin()
				<-start
				_, errs[i] = admin.Post(ctx, "/api/v1/certificates/"+serials[i]+"/revoke", apiv1.RevokeInput{Reason: "keyCompromise"}, nil)
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d: revoking %s through replica %s while the other replica revoked: %v (code %s)"+
					" — a CRL compare-and-set conflict must be retried in the server (issue 19)", round, serials[i], clustertest.Name(i), err, lanyard.ErrorCode(err))
				continue
			}
			revoked = append(revoked, serials[i])
		}
	}
	for _, r := range k.c.Replicas {
		crl := fetchCRL(t, r.URL+"/crl/builtin.crl")
		listed := map[string]bool{}
		for _, e := range crl.RevokedCertificateEntries {
			listed[strings.ToLower(e.SerialNumber.Text(16))] = true
		}
		for _, s := range revoked {
			if !listed[strings.ToLower(s)] {
				t.Errorf("the CRL replica %s serves (number %v) lacks revoked serial %s", clustertest.Name(r.Index), crl.Number, s)
			}
		}
	}
}

// fetchCRL downloads and parses a CRL.
func fetchCRL(t *testing.T, url string) *x509.RevocationList {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	der, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, der)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatalf("the CRL at %s does not parse: %v", url, err)
	}
	return crl
}
