package workstations

import (
	"context"
	"crypto/tls"
	"crypto/x509"

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
	if !addHosts(req, hosts) {
		return nil, lanyard.Errorf(lanyard.EInvalid, "the peer listener's certificate needs at least one host name or address")
	}
	server, err := s.issueMachineCert(ctx, req, "replica", map[string]any{"usage": "server", "hosts": hosts}, false)
	if err != nil {
		return nil, err
	}
	client, err := s.issueMachineCert(ctx, &ca.MachineRequest{CommonName: "Lanyard replica " + id, Usage: x509.ExtKeyUsageClientAuth, Validity: AgentListenerValidity},
		"replica", map[string]any{"usage": "client"}, false)
	if err != nil {
		return nil, err
	}
	root, err := s.AgentRoot(ctx)
	if err != nil {
		return nil, err
	}
	return &ReplicaCertificates{Server: server, Client: client, Root: root}, nil
}
