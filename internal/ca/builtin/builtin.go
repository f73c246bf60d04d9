// Package builtin is Lanyard's embedded CA: a root and an issuing CA created
// on first start, their keys sealed at rest (internal/seal) in the store,
// the issuing key kept in memory to sign certificates, CRLs (RFC 5280 5)
// and OCSP responses (RFC 6960). It registers itself as CA kind "builtin".
//
// The root key is used once, to certify the issuing CA, and is then only
// kept sealed (setting "ca/<name>/root-key") for a later rollover of the
// issuing CA; it is never held in memory while serving.
package builtin

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"io"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Kind is the registry name of the built-in CA.
const Kind = "builtin"

// OptionKeyAlgorithm selects the key algorithm of a new CA's root and
// issuing keys: ecp256 (default), ecp384, rsa2048, rsa3072 or rsa4096. It
// applies only when the CA is created.
const OptionKeyAlgorithm = "key_algorithm"

func init() {
	ca.Register(Kind, func(ctx context.Context, cfg ca.Config) (ca.CA, error) {
		c, err := New(ctx, cfg)
		if err != nil {
			return nil, err // not a typed nil inside the interface
		}
		return c, nil
	})
}

// CA is the built-in CA. It is safe for concurrent use.
type CA struct {
	name     string
	alg      lanyard.KeyAlgorithm
	signer   crypto.Signer       // the issuing CA's private key
	cert     *x509.Certificate   // the issuing CA's certificate
	chain    []*x509.Certificate // issuing first, root last
	chainPEM []byte
	urls     ca.URLs
	ocspIDs  map[crypto.Hash]issuerID
	now      func() time.Time
	rand     io.Reader
}

var (
	_ ca.CA         = (*CA)(nil)
	_ ca.CRLSigner  = (*CA)(nil)
	_ ca.OCSPSigner = (*CA)(nil)
)

// New opens the CA named cfg.Name from cfg.Store, creating it (root and
// issuing CA, one transaction, one audit event) when it does not exist yet.
// Several processes may start at once: the one whose CreateCA loses on the
// unique name reloads what the winner stored, so there is only ever one CA.
func New(ctx context.Context, cfg ca.Config) (*CA, error) {
	alg, explicit, err := checkConfig(&cfg)
	if err != nil {
		return nil, err
	}
	rec, err := loadRecord(ctx, cfg.Store, cfg.Name)
	if lanyard.IsCode(err, lanyard.ENotFound) {
		rec, err = create(ctx, &cfg, alg)
		if lanyard.IsCode(err, lanyard.EConflict) {
			rec, err = loadRecord(ctx, cfg.Store, cfg.Name)
		}
	}
	if err != nil {
		return nil, err
	}
	c, err := open(&cfg, rec)
	if err != nil {
		return nil, err
	}
	if explicit && c.alg != alg {
		return nil, lanyard.Errorf(lanyard.EInvalid, "CA %q already exists with %s keys; option %s=%s applies only when a CA is created", cfg.Name, c.alg, OptionKeyAlgorithm, alg)
	}
	return c, nil
}

// checkConfig validates cfg and returns the requested key algorithm and
// whether it was given explicitly. A non-thread-safe Rand is wrapped so
// that concurrent Sign calls may share it.
func checkConfig(cfg *ca.Config) (alg lanyard.KeyAlgorithm, explicit bool, err error) {
	switch {
	case !lanyard.ValidName(cfg.Name):
		return "", false, lanyard.Errorf(lanyard.EInvalid, "builtin CA: name %q: use 1-64 letters, digits, '-', '_' or '.'", cfg.Name)
	case cfg.Store == nil, cfg.Sealer == nil, cfg.Now == nil, cfg.Rand == nil:
		return "", false, lanyard.Errorf(lanyard.EInvalid, "builtin CA %q: Store, Sealer, Now and Rand are required", cfg.Name)
	}
	u, perr := url.Parse(cfg.BaseURL)
	if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		// Certificates carry URLs built from it; without a reachable base,
		// relying parties could not check revocation (RFC 5280 4.2.1.13).
		return "", false, lanyard.Errorf(lanyard.EInvalid, "builtin CA %q: base URL %q must be an absolute http or https URL without query", cfg.Name, cfg.BaseURL)
	}
	alg = lanyard.ECP256
	for k, v := range cfg.Options {
		if k != OptionKeyAlgorithm {
			return "", false, lanyard.Errorf(lanyard.EInvalid, "builtin CA %q: unknown option %q (known: %s)", cfg.Name, k, OptionKeyAlgorithm)
		}
		alg, explicit = lanyard.KeyAlgorithm(v), true
		if !alg.Valid() {
			return "", false, lanyard.Errorf(lanyard.EInvalid, "builtin CA %q: %s %q: use ecp256, ecp384, rsa2048, rsa3072 or rsa4096", cfg.Name, OptionKeyAlgorithm, v)
		}
	}
	if cfg.Rand != rand.Reader {
		cfg.Rand = &lockedReader{r: cfg.Rand}
	}
	return alg, explicit, nil
}

func loadRecord(ctx context.Context, st lanyard.Store, name string) (*lanyard.CARecord, error) {
	var rec *lanyard.CARecord
	err := st.View(ctx, func(tx lanyard.Tx) error {
		var err error
		rec, err = tx.CAByName(name)
		return err
	})
	return rec, err
}

// open builds the in-memory CA from its stored record: it parses and checks
// the chain, unseals the issuing key and checks that it belongs to the
// issuing certificate, and precomputes what Sign and OCSP need.
func open(cfg *ca.Config, rec *lanyard.CARecord) (*CA, error) {
	if rec.Kind != Kind {
		return nil, lanyard.Errorf(lanyard.EConflict, "CA %q exists with kind %q, not %s", rec.Name, rec.Kind, Kind)
	}
	if len(rec.ChainDER) != 2 || !bytes.Equal(rec.CertDER, rec.ChainDER[0]) {
		return nil, lanyard.Errorf(lanyard.EInternal, "CA %q: stored chain is not [issuing, root]", rec.Name)
	}
	chain := make([]*x509.Certificate, 2)
	for i, der := range rec.ChainDER {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, lanyard.Wrap(lanyard.EInternal, err, "CA "+rec.Name+": stored certificate does not parse")
		}
		chain[i] = c
	}
	if err := chain[0].CheckSignatureFrom(chain[1]); err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "CA "+rec.Name+": issuing certificate is not signed by the root")
	}
	signer, err := openKey(cfg.Sealer, rec.SealedKey, keyAAD(rec.Name, "issuing"))
	if err != nil {
		return nil, err
	}
	if !publicKeyEqual(signer.Public(), chain[0].PublicKey) {
		return nil, lanyard.Errorf(lanyard.EInternal, "CA %q: sealed key does not belong to the issuing certificate", rec.Name)
	}
	ids, err := issuerIDs(chain[0])
	if err != nil {
		return nil, err
	}
	return &CA{
		name:     rec.Name,
		alg:      lanyard.KeyAlgorithmOf(chain[0].PublicKey),
		signer:   signer,
		cert:     chain[0],
		chain:    chain,
		chainPEM: ca.ChainPEM(chain),
		urls:     ca.CAURLs(cfg.BaseURL, rec.Name),
		ocspIDs:  ids,
		now:      cfg.Now,
		rand:     cfg.Rand,
	}, nil
}

// Name is the CA's name as templates refer to it.
func (c *CA) Name() string { return c.name }

// Chain returns the issuing certificate first and the root last.
func (c *CA) Chain(context.Context) ([]*x509.Certificate, error) { return slices.Clone(c.chain), nil }

// ChainPEM returns the chain (issuing first, root last) as PEM, for
// "lanyard ca cert".
func (c *CA) ChainPEM() []byte { return bytes.Clone(c.chainPEM) }

// lockedReader serializes reads from a reader that may not be safe for
// concurrent use (test readers, a DRBG); crypto/rand.Reader is used as is.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}
