// Package catalog is the capability that keeps what issuance is made of:
// card types (with their sealed factory secrets), certificate templates,
// policies (which user gets which cards and certificates) and the
// server's feature switches. It serves the hot reads of issuance, a
// template and the effective policy, through short-lived caches
// (ttlcache.ReadTTL) that its own changes purge.
package catalog

import (
	"errors"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/seal"
	"github.com/lanyard-cms/lanyard/internal/service/internal/ttlcache"
)

// Config holds the catalog's dependencies; all are required.
type Config struct {
	Store  lanyard.Store
	Sealer seal.Sealer // seals card types' default secrets
	Now    func() time.Time
	// CAs are the names of the configured CAs, which templates may
	// name; the first is the default for templates that name none.
	CAs []string
}

// Catalog implements the catalog's operations.
type Catalog struct {
	rec    lanyard.Recorder // store, clock and audit events
	sealer seal.Sealer
	cas    []string // Config.CAs

	templates *ttlcache.Cache[string, *lanyard.Template]
	policies  *ttlcache.Cache[struct{}, []*lanyard.Policy] // the one key holds the list of all
}

// New checks cfg and returns a Catalog.
func New(cfg Config) (*Catalog, error) {
	if cfg.Store == nil || cfg.Sealer == nil || cfg.Now == nil || len(cfg.CAs) == 0 {
		return nil, errors.New("catalog: Store, Sealer, Now and CAs are required")
	}
	return &Catalog{
		rec:       lanyard.Recorder{Store: cfg.Store, Now: cfg.Now},
		sealer:    cfg.Sealer,
		cas:       cfg.CAs,
		templates: ttlcache.New[string, *lanyard.Template](cfg.Now, ttlcache.ReadTTL, 1000),
		policies:  ttlcache.New[struct{}, []*lanyard.Policy](cfg.Now, ttlcache.ReadTTL, 1),
	}, nil
}
