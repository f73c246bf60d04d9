package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// PeerTLS is a replica's side of the peer link: its peer listener's
// certificate, its client certificate, and the machine CA's root that
// both ends pin (workstations.ReplicaCertificates). Each leaf carries
// its issuing CA after it.
type PeerTLS struct {
	Server, Client *tls.Certificate
	Root           *x509.Certificate
}

func (p *PeerTLS) pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.Root)
	return pool
}

// serialOf is a certificate's serial as the store keys it.
func serialOf(c *x509.Certificate) string { return lanyard.SerialHex(c.SerialNumber) }

// ServerTLS is the peer listener's TLS configuration (RFC 8446): TLS 1.3
// only, a client certificate chaining to the machine CA's root required,
// and admitted only if it is the client certificate of a live replica.
// The machine CA also certifies every paired workstation, so the chain
// alone proves nothing: the serial must be in the replica directory.
func (c *Cluster) ServerTLS(p *PeerTLS) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{*p.Server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    p.pool(),
		NextProtos:   []string{"h2", "http/1.1"},
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("a replica's client certificate is required")
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, err := c.replicaOfClient(ctx, cs.PeerCertificates[0])
			return err
		},
	}
}

// replicaOfClient returns the live replica whose client certificate cert
// is.
func (c *Cluster) replicaOfClient(ctx context.Context, cert *x509.Certificate) (*lanyard.Replica, error) {
	serial := serialOf(cert)
	for _, fresh := range []bool{false, true} {
		list, err := c.replicas(ctx, fresh)
		if err != nil {
			return nil, err
		}
		for _, r := range list {
			if r.ClientSerial == serial && r.ID != "" {
				return r, nil
			}
		}
	}
	c.log.Warn("the peer listener refused a certificate that is no live replica's", "serial", serial, "subject", cert.Subject.String())
	return nil, fmt.Errorf("certificate %s is not a live replica's client certificate", serial)
}

// clientTLS is the peer client's TLS configuration: the root pinned (no
// system roots), the replica's client certificate, and a server accepted
// only with the peer certificate of a live replica.
func (c *Cluster) clientTLS(p *PeerTLS) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{*p.Client},
		RootCAs:      p.pool(),
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the peer presented no certificate")
			}
			serial := serialOf(cs.PeerCertificates[0])
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for _, fresh := range []bool{false, true} {
				list, err := c.replicas(ctx, fresh)
				if err != nil {
					return err
				}
				for _, r := range list {
					if r.ServerSerial == serial {
						return nil
					}
				}
			}
			return fmt.Errorf("the peer's certificate %s is no live replica's", serial)
		},
	}
}
