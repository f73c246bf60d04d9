package workstations

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"maps"
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
	req := &ca.MachineRequest{CommonName: "Lanyard agent listener", Usage: x509.ExtKeyUsageServerAuth, Validity: AgentListenerValidity}
	if !addHosts(req, hosts) {
		return nil, lanyard.Errorf(lanyard.EInvalid, "the agent listener's certificate needs at least one host name or address")
	}
	return s.issueMachineCert(ctx, req, "agent-listener", map[string]any{"hosts": hosts}, true)
}

// addHosts puts hosts (DNS names or IP addresses, brackets allowed) into
// req's subject alternative names and reports whether there was any.
func addHosts(req *ca.MachineRequest, hosts []string) bool {
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
	return len(req.IPAddresses)+len(req.DNSNames) > 0
}

// issueMachineCert issues req from the machine CA with a new P-256 key
// that lives only in this process's memory, records the certificate like
// any other (template, one cert.issue audit event with extra's fields)
// and returns it with the issuing CA's certificate — and the root too
// when withRoot: an agent pairing for the first time pins the root it is
// sent, while replicas pin it already.
func (s *Workstations) issueMachineCert(ctx context.Context, req *ca.MachineRequest, template string, extra map[string]any, withRoot bool) (*tls.Certificate, error) {
	authority, signer, err := s.machineCA()
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), s.rand)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "no randomness for a machine key")
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
	rec := machineCertRecord(cert, authority.Name(), template, s.rec.Clock())
	err = s.rec.Update(ctx, func() *lanyard.AuditEvent {
		details := map[string]any{"ca": rec.CA, "template": rec.Template, "subject": rec.Subject}
		maps.Copy(details, extra)
		return s.rec.Event(lanyard.SystemPrincipal, "cert.issue", "certificate", rec.Serial, details)
	}, func(tx lanyard.Tx) error { return tx.CreateCertificate(rec) })
	if err != nil {
		return nil, err
	}
	if !withRoot && len(chain) > 0 {
		chain = chain[:len(chain)-1]
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
