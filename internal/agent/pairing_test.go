package agent_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestPairingCodeExpires drives the pairing endpoint by hand: a code not
// confirmed within 15 minutes is refused with a clear message, and the
// same key asking again renews it.
func TestPairingCodeExpires(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	root, err := s.Service.Workstations.AgentRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "pc"}}, key)
	spki, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	code := agentproto.PairingCode(spki, root.Raw)

	pool := x509.NewCertPool()
	pool.AddCert(root)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	pair := func() agentproto.PairResponse {
		body, _ := json.Marshal(agentproto.PairRequest{CSR: csr, Hostname: "pc", AgentVersion: "test"})
		resp, err := hc.Post(s.AgentURL+agentproto.PathPair, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out agentproto.PairResponse
		if resp.StatusCode != http.StatusCreated || json.NewDecoder(resp.Body).Decode(&out) != nil {
			t.Fatalf("pair: %s", resp.Status)
		}
		return out
	}
	first := pair()

	s.offset.Store(int64(16 * time.Minute))
	_, err = confirm(t, s.admin, code, "")
	wantCode(t, "an expired code", err, lanyard.EInvalid)
	if err == nil || !strings.Contains(lanyard.ErrorMessage(err), "expired") {
		t.Errorf("message %q does not say the code expired", lanyard.ErrorMessage(err))
	}

	// The agent asks again (as it does when its poll reports expiry): the
	// same pending workstation, a fresh 15 minutes, the same code.
	again := pair()
	if again.ID != first.ID {
		t.Errorf("renewed pairing has id %d, first %d", again.ID, first.ID)
	}
	w, err := confirm(t, s.admin, code, "")
	if err != nil {
		t.Fatal(err)
	}
	if w.OwnerID != 0 || w.Status != lanyard.WorkstationActive {
		t.Errorf("staff-confirmed workstation without owner: %+v", w.Workstation)
	}

	// Polling needs the agent's signature.
	req, _ := http.NewRequest("GET", s.AgentURL+agentproto.PathPair+"/"+itoa(first.ID), nil)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("poll without proof: %s", resp.Status)
	}
}
