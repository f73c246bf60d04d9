package agenthub

import (
	"context"
	"crypto/tls"
	"sync"
	"time"
)

// TLSConfig returns the agent listener's TLS configuration: a server
// certificate from the machine CA for hosts, sent with its whole chain
// (an agent pairing for the first time pins the root it is sent), renewed
// at half its life; client certificates requested and, when sent,
// verified against the machine CA's root. Pairing needs no client
// certificate; the connect endpoint refuses requests without one.
// HTTP/1.1 only: the agent's connection is an HTTP/1.1 upgrade.
func (h *Hub) TLSConfig(ctx context.Context, hosts []string) (*tls.Config, error) {
	cert, err := h.ws.AgentServerCertificate(ctx, hosts)
	if err != nil {
		return nil, err
	}
	pool, err := h.ws.AgentClientCAs(ctx)
	if err != nil {
		return nil, err
	}
	r := &renewer{h: h, hosts: hosts, cert: cert}
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.get,
		ClientAuth:     tls.VerifyClientCertIfGiven,
		ClientCAs:      pool,
		NextProtos:     []string{"http/1.1"},
	}, nil
}

// renewer hands out the current server certificate and replaces it in
// the background once it is past half its life.
type renewer struct {
	h     *Hub
	hosts []string

	mu       sync.Mutex
	cert     *tls.Certificate
	renewing bool
}

func (r *renewer) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	leaf := r.cert.Leaf
	if half := leaf.NotBefore.Add(leaf.NotAfter.Sub(leaf.NotBefore) / 2); time.Now().After(half) && !r.renewing {
		r.renewing = true
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c, err := r.h.ws.AgentServerCertificate(ctx, r.hosts)
			r.mu.Lock()
			defer r.mu.Unlock()
			r.renewing = false
			if err != nil {
				r.h.log.Error("renewing the agent listener's certificate failed", "err", err)
				return
			}
			r.cert = c
		}()
	}
	return r.cert, nil
}
