package agent

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
)

// pair runs the pairing protocol (docs/architecture.md, "Pairing") until
// the code is confirmed, and returns the state to save.
//
// Trust on first use, made safe by the code: the first connection
// accepts any server certificate whose chain hangs together, and records
// the root at its end. The code shown binds that root and the agent's
// key; a person comparing it with the code the server computed (from the
// key in the CSR and its own root) rules out a man in the middle. From
// the pairing request on, the agent only talks to servers chaining to the
// recorded root.
func (a *Agent) pair(ctx context.Context, key *ecdsa.PrivateKey) (*State, error) {
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	root, err := a.firstContact(ctx)
	if err != nil {
		return nil, err
	}
	code := agentproto.PairingCode(spki, root.Raw)
	a.setStatus(func(s *Status) { s.PairingCode = code })
	pinned := a.httpClient(&tls.Config{RootCAs: poolOf(root), ServerName: a.host, MinVersion: tls.VersionTLS12})
	// Pairing happens once: its keep-alive connection would otherwise sit
	// next to the agent's connection for as long as the server allows.
	defer pinned.CloseIdleConnections()
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: a.cfg.Hostname}}, key)
	if err != nil {
		return nil, err
	}
	req := agentproto.PairRequest{CSR: csr, Hostname: a.cfg.Hostname, AgentVersion: a.cfg.Version, TPM: a.virtual.status().Usable, Role: a.cfg.Role}
	for {
		var started agentproto.PairResponse
		if err := a.postJSON(ctx, pinned, agentproto.PathPair, req, &started); err != nil {
			return nil, err
		}
		a.cfg.OnPairingCode(code)
		a.log.Info("waiting for the pairing code to be confirmed", "workstation", started.ID, "code", code, "expires", started.ExpiresAt)
		st, err := a.poll(ctx, pinned, key, started.ID)
		if err != nil {
			return nil, err
		}
		switch st.Status {
		case agentproto.PairExpired:
			a.log.Warn("the pairing code expired unconfirmed; asking again")
			continue
		case agentproto.PairRevoked:
			return nil, errors.New("agent: the server refused this pairing (workstation revoked)")
		}
		cert, err := x509.ParseCertificate(st.Certificate)
		if err != nil {
			return nil, fmt.Errorf("agent: the server sent a certificate that does not parse: %w", err)
		}
		if !bytes.Equal(cert.RawSubjectPublicKeyInfo, spki) {
			return nil, errors.New("agent: the server's certificate is not for this agent's key")
		}
		if len(st.Chain) == 0 || !bytes.Equal(st.Chain[len(st.Chain)-1], root.Raw) {
			return nil, errors.New("agent: the certificate's chain does not end at the pinned root")
		}
		return &State{Server: a.cfg.Server, WorkstationID: started.ID, Certificate: st.Certificate, Chain: st.Chain, Root: root.Raw}, nil
	}
}

// firstContact connects once accepting any server certificate and returns
// the root at the end of the chain the server sent, after checking that
// the chain is one (each certificate signed by the next, the last
// self-signed) and names the server.
func (a *Agent) firstContact(ctx context.Context) (*x509.Certificate, error) {
	var root *x509.Certificate
	cfg := &tls.Config{
		InsecureSkipVerify: true, // verified below, against the root it brings; the pairing code authenticates that root
		MinVersion:         tls.VersionTLS12,
		ServerName:         a.host,
		VerifyConnection: func(cs tls.ConnectionState) error {
			certs := cs.PeerCertificates
			if len(certs) < 2 {
				return errors.New("the server sent no CA chain; is this a Lanyard agent listener?")
			}
			last := certs[len(certs)-1]
			if err := last.CheckSignatureFrom(last); err != nil || !last.IsCA {
				return errors.New("the server's chain does not end at a self-signed root CA")
			}
			inter := x509.NewCertPool()
			for _, c := range certs[1 : len(certs)-1] {
				inter.AddCert(c)
			}
			if _, err := certs[0].Verify(x509.VerifyOptions{Roots: poolOf(last), Intermediates: inter, DNSName: a.host}); err != nil {
				return fmt.Errorf("the server's certificate does not verify against the root it sent: %w", err)
			}
			root = last
			return nil
		},
	}
	c := a.httpClient(cfg)
	defer c.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.cfg.Server+agentproto.PathPair+"/0", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("agent: first contact with %s: %w", a.cfg.Server, err)
	}
	resp.Body.Close()
	if root == nil {
		return nil, errors.New("agent: no root CA recorded on first contact")
	}
	return root, nil
}

// poll long-polls the pairing's status, proving possession of the key
// with each request, until it is no longer pending.
func (a *Agent) poll(ctx context.Context, c *http.Client, key *ecdsa.PrivateKey, id int64) (*agentproto.PairStatus, error) {
	for {
		now := time.Now().Unix()
		sum := sha256.Sum256(agentproto.ProofMessage(id, now))
		sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.cfg.Server+agentproto.PathPair+"/"+strconv.FormatInt(id, 10), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set(agentproto.ProofHeader, base64.StdEncoding.EncodeToString(sig))
		req.Header.Set(agentproto.ProofTimeHeader, strconv.FormatInt(now, 10))
		var st agentproto.PairStatus
		err = a.do(c, req, &st)
		switch {
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			var pe *problemError
			if errors.As(err, &pe) {
				return nil, err // the server refused: retrying will not help
			}
			a.log.Warn("polling the pairing failed; retrying", "err", err)
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(2 * time.Second):
			}
		case st.Status != agentproto.PairPending:
			return &st, nil
		}
	}
}

func (a *Agent) postJSON(ctx context.Context, c *http.Client, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.Server+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return a.do(c, req, out)
}

// problemError is an error answer of the agent listener.
type problemError struct {
	Status int
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

func (e *problemError) Error() string {
	return fmt.Sprintf("agent: the server answered %d: %s (%s)", e.Status, e.Detail, e.Code)
}

func (a *Agent) do(c *http.Client, req *http.Request, out any) error {
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeResponse(resp, out)
}

// decodeResponse decodes a JSON answer into out (nil: ignore it), or the
// problem of an error answer.
func decodeResponse(resp *http.Response, out any) error {
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		pe := &problemError{Status: resp.StatusCode}
		json.Unmarshal(body, pe)
		return pe
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(body, out)
}

func poolOf(c *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c)
	return p
}
