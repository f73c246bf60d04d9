package workstations

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// ReplicaCertificates are a cluster replica's peer certificates
// (docs/architecture.md, "Cluster"): Server for its peer listener,
// Client for its calls to other replicas, and Root, the machine CA's
// root, which both sides pin.
type ReplicaCertificates struct {
	Server, Client *tls.Certificate
	Root           *x509.Certificate
}

// ReplicaCertificates issues replica id's peer listener certificate for
// hosts and its client certificate, each with a new P-256 key that lives
// only in this process's memory, from the built-in machine CA — the one
// that certifies workstations, whose client certificates the peer
// listener must therefore refuse by serial (the replica directory holds
// the serials of replicas' client certificates). Both are recorded like
// any certificate (template "replica") with one audit event each.
func (s *Workstations) ReplicaCertificates(ctx context.Context, id string, hosts []string) (*ReplicaCertificates, error) {
	if id == "" {
		return nil, lanyard.Errorf(lanyard.EInvalid, "a replica certificate needs the replica's ID")
	}
	req := &ca.MachineRequest{CommonName: "Lanyard replica " + id, Usage: x509.ExtKeyUsageServerAuth, Validity: AgentListenerValidity}
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
		return nil, lanyard.Errorf(lanyard.EInvalid, "the peer listener's certificate needs at least one host name or address")
	}
	server, err := s.replicaCertificate(ctx, req, hosts)
	if err != nil {
		return nil, err
	}
	client, err := s.replicaCertificate(ctx, &ca.MachineRequest{CommonName: "Lanyard replica " + id, Usage: x509.ExtKeyUsageClientAuth, Validity: AgentListenerValidity}, nil)
	if err != nil {
		return nil, err
	}
	root, err := s.AgentRoot(ctx)
	if err != nil {
		return nil, err
	}
	return &ReplicaCertificates{Server: server, Client: client, Root: root}, nil
}

func (s *Workstations) replicaCertificate(ctx context.Context, req *ca.MachineRequest, hosts []string) (*tls.Certificate, error) {
	authority, signer, err := s.machineCA()
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), s.rand)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "no randomness for a replica key")
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
	rec := machineCertRecord(cert, authority.Name(), "replica", s.rec.Clock())
	usage := "client"
	if req.Usage == x509.ExtKeyUsageServerAuth {
		usage = "server"
	}
	err = s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(lanyard.SystemPrincipal, "cert.issue", "certificate", rec.Serial,
			map[string]any{"ca": rec.CA, "template": rec.Template, "subject": rec.Subject, "usage": usage, "hosts": hosts})
	}, func(tx lanyard.Tx) error { return tx.CreateCertificate(rec) })
	if err != nil {
		return nil, err
	}
	out := &tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
	for _, c := range chain[:len(chain)-1] { // the issuing CA; the root is pinned
		out.Certificate = append(out.Certificate, c.Raw)
	}
	return out, nil
}
