package workstations

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// AgentListenerValidity is the lifetime of the agent listener's server
// certificate; the hub renews it at half-life.
const AgentListenerValidity = 90 * 24 * time.Hour

// AgentServerCertificate issues the agent listener's TLS certificate for
// hosts (DNS names or IP addresses) with a new P-256 key that lives only
// in this process's memory. The certificate is recorded like any other
// (template "agent-listener") with an audit event. The returned
// certificate carries the whole chain, leaf, issuing CA and root, because
// an agent pairing for the first time pins the root it is sent.
func (s *Workstations) AgentServerCertificate(ctx context.Context, hosts []string) (*tls.Certificate, error) {
	authority, signer, err := s.machineCA()
	if err != nil {
		return nil, err
	}
	req := &ca.MachineRequest{CommonName: "Lanyard agent listener", Usage: x509.ExtKeyUsageServerAuth, Validity: AgentListenerValidity}
	for _, h := range hosts {
		h = strings.Trim(strings.TrimSpace(h), "[]")
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			req.IPAddresses = append(req.IPAddresses, ip)
		} else {
			req.DNSNames = append(req.DNSNames, h)
		}
	}
	if len(req.IPAddresses)+len(req.DNSNames) == 0 {
		return nil, lanyard.Errorf(lanyard.EInvalid, "the agent listener's certificate needs at least one host name or address")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), s.rand)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "no randomness for the agent listener's key")
	}
	req.PublicKey = &key.PublicKey
	cert, err := signer.SignMachine(ctx, req)
	if err != nil {
		return nil, err
	}
	chain, err := authority.Chain(ctx)
	if err != nil {
		return nil, err
	}
	rec := machineCertRecord(cert, authority.Name(), "agent-listener", s.rec.Clock())
	err = s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(lanyard.SystemPrincipal, "cert.issue", "certificate", rec.Serial,
			map[string]any{"ca": rec.CA, "template": rec.Template, "subject": rec.Subject, "hosts": hosts})
	}, func(tx lanyard.Tx) error { return tx.CreateCertificate(rec) })
	if err != nil {
		return nil, err
	}
	out := &tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	for _, c := range chain {
		out.Certificate = append(out.Certificate, c.Raw)
	}
	return out, nil
}

// AgentClientCAs is the pool agents' client certificates are verified
// against: the machine CA's root, with its issuing CA, which agents send.
func (s *Workstations) AgentClientCAs(ctx context.Context) (*x509.CertPool, error) {
	root, err := s.AgentRoot(ctx)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return pool, nil
}
