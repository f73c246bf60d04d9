package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
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
	// Renew issues a new pair (workstations.ReplicaCertificates again);
	// the heartbeat calls it once either certificate is past half its
	// validity. Nil: never renewed.
	Renew func(ctx context.Context) (server, client *tls.Certificate, err error)
}

// certPair is the certificates a replica presents now.
type certPair struct{ server, client *tls.Certificate }

// useTLS makes p's certificates the ones presented, unless some already
// are (ServerTLS and Start both call it).
func (c *Cluster) useTLS(p *PeerTLS) {
	c.certs.CompareAndSwap(nil, &certPair{server: p.Server, client: p.Client})
}

// pastHalfLife reports whether cert is past half its validity at now
// (renewed then, so a renewal failing for days still leaves time).
func pastHalfLife(cert *x509.Certificate, now time.Time) bool {
	return now.After(cert.NotBefore.Add(cert.NotAfter.Sub(cert.NotBefore) / 2))
}

// renewCerts renews the peer certificates once either is past half its
// validity: the new serials are written to the replica directory first
// (PutReplica), and only then presented, so that every replica finds
// them when it next reads the directory; the previous client
// certificate, still on connections made before, stays accepted until
// it expires (replicaOfClient). A renewal whose registration failed is
// registered again at the next heartbeat, not issued again.
func (c *Cluster) renewCerts(ctx context.Context, now time.Time) {
	if c.renew == nil {
		return
	}
	next := c.pending
	if next == nil {
		cur := c.certs.Load()
		if !pastHalfLife(cur.server.Leaf, now) && !pastHalfLife(cur.client.Leaf, now) {
			return
		}
		server, client, err := c.renew(ctx)
		if err != nil {
			c.log.Warn("renewing the peer link's certificates failed; trying again at the next heartbeat", "err", err)
			return
		}
		next = &certPair{server: server, client: client}
		c.pending = next
	}
	c.mu.Lock()
	oldClient, oldServer := c.self.ClientSerial, c.self.ServerSerial
	c.self.ClientSerial, c.self.ServerSerial = serialOf(next.client.Leaf), serialOf(next.server.Leaf)
	c.mu.Unlock()
	// The time of this registration, not of the heartbeat that started
	// the renewal (which may have been slow): it renews the heartbeat too.
	if err := c.register(ctx, c.now()); err != nil {
		c.mu.Lock()
		c.self.ClientSerial, c.self.ServerSerial = oldClient, oldServer
		c.mu.Unlock()
		c.log.Warn("registering the renewed peer certificates failed; trying again at the next heartbeat", "err", err)
		return
	}
	c.pending = nil
	c.certs.Store(next)
	c.client.renewed()
	c.log.Info("the peer link's certificates were renewed", "client_serial", serialOf(next.client.Leaf),
		"server_serial", serialOf(next.server.Leaf), "until", next.server.Leaf.NotAfter)
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
	c.useTLS(p)
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		// The certificate of the moment: renewed at half its life.
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return c.certs.Load().server, nil },
		ClientAuth:     tls.RequireAndVerifyClientCert,
		ClientCAs:      p.pool(),
		NextProtos:     []string{"h2", "http/1.1"},
		Time:           c.now,
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
// is. A serial found in no fresh read of the directory is refused without
// reading it again for a heartbeat (any workstation's certificate passes
// the chain check, so each handshake must not cost a query), and the
// refusals are logged at most once a minute, with how many there were.
func (c *Cluster) replicaOfClient(ctx context.Context, cert *x509.Certificate) (*lanyard.Replica, error) {
	serial := serialOf(cert)
	if c.refusedRecently(serial) {
		return nil, fmt.Errorf("certificate %s is not a live replica's client certificate", serial)
	}
	for _, fresh := range []bool{false, true} {
		list, err := c.replicas(ctx, fresh)
		if err != nil {
			return nil, err
		}
		for _, r := range list {
			if r.ID == "" {
				continue
			}
			// The previous certificate of a replica that renewed its
			// own, until it expires: connections made before still
			// carry it.
			if r.ClientSerial == serial || c.previous(r.ID).client == serial && c.now().Before(cert.NotAfter) {
				return r, nil
			}
		}
	}
	c.refuse(serial, cert)
	return nil, fmt.Errorf("certificate %s is not a live replica's client certificate", serial)
}

// maxRefused bounds the refused serials remembered; past it they are
// forgotten together (a flood of distinct certificates costs a query
// each again, no memory).
const maxRefused = 4096

// refusals are the client certificates the peer listener refused lately.
type refusals struct {
	mu         sync.Mutex
	at         map[string]time.Time // serial → when it was refused
	lastWarn   time.Time
	suppressed int
}

// refusedRecently reports whether serial was refused within the last
// heartbeat.
func (c *Cluster) refusedRecently(serial string) bool {
	c.refused.mu.Lock()
	defer c.refused.mu.Unlock()
	at, ok := c.refused.at[serial]
	return ok && c.now().Sub(at) < c.heartbeat
}

func (c *Cluster) refuse(serial string, cert *x509.Certificate) {
	now := c.now()
	c.refused.mu.Lock()
	if c.refused.at == nil || len(c.refused.at) >= maxRefused {
		c.refused.at = map[string]time.Time{}
	}
	c.refused.at[serial] = now
	warn := c.refused.lastWarn.IsZero() || now.Sub(c.refused.lastWarn) >= refusalWarnEvery
	suppressed := c.refused.suppressed
	if warn {
		c.refused.lastWarn, c.refused.suppressed = now, 0
	} else {
		c.refused.suppressed++
	}
	c.refused.mu.Unlock()
	if warn {
		c.log.Warn("the peer listener refused a certificate that is no live replica's", "serial", serial,
			"subject", cert.Subject.String(), "refused_since_last_warning", suppressed)
	}
}

// refusalWarnEvery is how often the peer listener logs refused
// certificates at most.
const refusalWarnEvery = time.Minute

// clientTLS is the peer client's TLS configuration: the root pinned (no
// system roots), the replica's client certificate, and a server accepted
// only with the peer certificate of a live replica.
func (c *Cluster) clientTLS(p *PeerTLS) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return c.certs.Load().client, nil
		},
		RootCAs: p.pool(),
		Time:    c.now,
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
					if r.ServerSerial == serial || c.previous(r.ID).server == serial {
						return nil
					}
				}
			}
			return fmt.Errorf("the peer's certificate %s is no live replica's", serial)
		},
	}
}
