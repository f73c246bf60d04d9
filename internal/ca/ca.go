// Package ca defines what Lanyard needs of a certification authority and a
// registry of CA kinds. The built-in CA (ca/builtin) is the default; external
// CAs (step-ca first) plug in as further kinds. The interface is small, in
// the manner of smallstep's cas/apiv1: signing is required; CRLs and OCSP
// are optional capabilities detected at run time.
package ca

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"sort"
	"sync"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/seal"
)

// CA signs certificates.
type CA interface {
	// Name is the CA's name as templates refer to it.
	Name() string
	// Chain returns the issuing certificate first and the root last.
	Chain(ctx context.Context) ([]*x509.Certificate, error)
	// Sign issues a certificate for req. The CA picks the serial number and
	// clamps validity to its own.
	Sign(ctx context.Context, req *SignRequest) (*x509.Certificate, error)
}

// SignRequest is a request to sign: the template says what the certificate
// looks like, the user supplies subject attributes, PublicKey is the key to
// certify (already checked against the template's allowed algorithms).
type SignRequest struct {
	Template  *lanyard.Template
	User      *lanyard.User
	PublicKey crypto.PublicKey
}

// RevokedEntry is one line of a CRL.
type RevokedEntry struct {
	Serial    *big.Int
	RevokedAt time.Time
	Reason    lanyard.RevocationReason
}

// CRLSigner is implemented by CAs that sign their own CRLs (RFC 5280 5).
type CRLSigner interface {
	CreateCRL(ctx context.Context, number int64, revoked []RevokedEntry, thisUpdate, nextUpdate time.Time) ([]byte, error)
}

// OCSPRequest is the part of an OCSP request (RFC 6960 4.1.1) a responder
// acts on.
type OCSPRequest struct {
	Serial *big.Int
	// Hash is the algorithm of the request's CertID. The response's CertID
	// must use the same one: clients find their answer by comparing CertIDs,
	// hash algorithm included (RFC 6960 4.2.1; OpenSSL's OCSP_resp_find).
	Hash crypto.Hash
}

// OCSPStatus is what the OCSP responder knows of one certificate.
type OCSPStatus struct {
	Serial     *big.Int
	Hash       crypto.Hash // OCSPRequest.Hash, echoed in the response's CertID; zero means SHA-1
	Good       bool        // issued by this CA and not revoked
	Unknown    bool        // not issued by this CA
	RevokedAt  time.Time
	Reason     lanyard.RevocationReason
	ThisUpdate time.Time
	NextUpdate time.Time
}

// OCSPSigner is implemented by CAs that answer OCSP themselves (RFC 6960).
type OCSPSigner interface {
	// ParseOCSPRequest decodes a DER request and checks that it is about
	// this CA (issuer name and key hashes); ok is false otherwise, and the
	// responder answers "unauthorized" (RFC 6960 2.3).
	ParseOCSPRequest(der []byte) (req OCSPRequest, ok bool, err error)
	SignOCSP(ctx context.Context, st OCSPStatus) ([]byte, error)
}

// Config is what a CA kind needs to start.
type Config struct {
	Name    string
	Store   lanyard.Store // where a locally run CA keeps its record
	Sealer  seal.Sealer   // seals a locally run CA's private key
	BaseURL string        // e.g. "http://127.0.0.1:8080": CRL DP and OCSP AIA URLs are built from it
	Now     func() time.Time
	Rand    io.Reader
	Options map[string]string // kind-specific, e.g. "key_algorithm": "ecp256"
}

// Constructor creates a CA of one kind.
type Constructor func(ctx context.Context, cfg Config) (CA, error)

var (
	mu       sync.RWMutex
	registry = map[string]Constructor{}
)

// Register makes a CA kind available under name. It panics on duplicates,
// which are programming errors found at start-up.
func Register(kind string, c Constructor) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[kind]; dup {
		panic("ca: Register called twice for kind " + kind)
	}
	registry[kind] = c
}

// Kinds lists the registered kinds.
func Kinds() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(registry))
	for k := range registry {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// New creates a CA of the given kind.
func New(ctx context.Context, kind string, cfg Config) (CA, error) {
	mu.RLock()
	c, ok := registry[kind]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("ca: unknown kind %q (known: %v)", kind, Kinds())
	}
	return c(ctx, cfg)
}
