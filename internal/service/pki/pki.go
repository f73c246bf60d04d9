// Package pki is the capability that speaks for the CAs: issuing
// certificates from a CSR or a public key (written through a group-commit
// writer, batch.go), the CA managers' request queue, revocation with the
// CRL re-signed in the same transaction, CRLs and OCSP answers, and the
// description of each running CA. Card issues use its certificate record
// and revocation helpers; what a request means for a card is the card
// code's, reached through RequestHook.
package pki

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Catalog is what pki reads of the catalog (catalog.Catalog implements it):
// templates and the policy that says which a user may request.
type Catalog interface {
	CachedTemplate(name string) (*lanyard.Template, bool)
	Template(tx lanyard.TemplateStore, name string) (*lanyard.Template, error)
	PolicyFor(tx lanyard.PolicyStore, u *lanyard.User) (*lanyard.Policy, error)
}

// RequestHook is what a CA decision asks of the card issue that may have
// made the request; both run inside the decision's transaction, so a card
// issue and its requests never disagree.
type RequestHook interface {
	// CheckApprove refuses the approval of r by p when the card issue
	// forbids it (a card-only template's request from no card issue, a
	// signed request form still missing).
	CheckApprove(tx lanyard.Tx, p *lanyard.Principal, r *lanyard.CertRequest, tpl *lanyard.Template) error
	// Decided binds the certificate issued for r (nil: r was rejected)
	// to its card and returns what to tell the owner once the decision
	// committed (nil: nothing).
	Decided(tx lanyard.Tx, r *lanyard.CertRequest, cert *lanyard.Certificate) (after func(context.Context), err error)
}

// RequestValidity is implemented by a RequestHook that bounds the
// validity of the certificate approved for a request (a temporary
// replacement card's: docs/lifecycle.md, "Replace"): MaxValidityDays
// returns the bound in days, 0 for none.
type RequestValidity interface {
	MaxValidityDays(tx lanyard.Tx, r *lanyard.CertRequest) (int, error)
}

// Config holds the pki capability's dependencies. All are required except
// Log and BaseURL.
type Config struct {
	Store   lanyard.Store
	CAs     []ca.CA // the first is the default CA for calls that name none
	Now     func() time.Time
	Log     *slog.Logger
	BaseURL string // the CRL and OCSP URLs that ListCAs reports start with it
	// CRLValidity is how long a CRL is valid; it is re-signed at half of it.
	CRLValidity time.Duration
	Catalog     Catalog
	Requests    RequestHook
}

// PKI implements the certificate operations.
type PKI struct {
	rec     lanyard.Recorder // store, clock and audit events
	cas     map[string]ca.CA
	caOrder []string
	log     *slog.Logger
	baseURL string
	crlLife time.Duration
	catalog Catalog
	hook    RequestHook

	certWriter *certWriter
	crlMu      sync.Mutex // serializes CRL regeneration per process
	closeOnce  sync.Once
}

// New checks cfg and returns a PKI. Call Close to stop its background
// certificate writer.
func New(cfg Config) (*PKI, error) {
	if cfg.Store == nil || len(cfg.CAs) == 0 || cfg.Now == nil || cfg.CRLValidity <= 0 || cfg.Catalog == nil || cfg.Requests == nil {
		return nil, errors.New("pki: Store, CAs, Now, CRLValidity, Catalog and Requests are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &PKI{
		rec: lanyard.Recorder{Store: cfg.Store, Now: cfg.Now}, cas: map[string]ca.CA{}, log: cfg.Log,
		baseURL: cfg.BaseURL, crlLife: cfg.CRLValidity, catalog: cfg.Catalog, hook: cfg.Requests,
		certWriter: newCertWriter(cfg.Store, 256),
	}
	for _, c := range cfg.CAs {
		s.cas[c.Name()] = c
		s.caOrder = append(s.caOrder, c.Name())
	}
	return s, nil
}

// Close stops the background certificate writer; it waits for the writes
// already queued.
func (s *PKI) Close() { s.closeOnce.Do(s.certWriter.close) }
