package personalize

import (
	"context"
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The domain names key algorithms and management key kinds as Lanyard
// configures them (card types, templates); the card speaks PIV algorithm
// identifiers (SP 800-78-4 table 6-2). These functions are the one
// mapping between the two, so that the PIV client does not depend on the
// server's domain.

// KeyAlg returns the PIV algorithm of a key algorithm Lanyard issues to;
// others fail with piv.ErrUnsupported.
func KeyAlg(k lanyard.KeyAlgorithm) (pivspec.Algorithm, error) {
	switch k {
	case lanyard.RSA2048:
		return pivspec.AlgRSA2048, nil
	case lanyard.RSA3072:
		return pivspec.AlgRSA3072, nil
	case lanyard.RSA4096:
		return pivspec.AlgRSA4096, nil
	case lanyard.ECP256:
		return pivspec.AlgECCP256, nil
	case lanyard.ECP384:
		return pivspec.AlgECCP384, nil
	}
	return 0, fmt.Errorf("%w: key algorithm %q", piv.ErrUnsupported, k)
}

// AdminAlg returns the PIV algorithm of a management key kind; unknown
// kinds fail with piv.ErrUnsupported.
func AdminAlg(k lanyard.AdminKeyKind) (pivspec.Algorithm, error) {
	switch k {
	case lanyard.AdminKey3DES:
		return pivspec.Alg3DES, nil
	case lanyard.AdminKeyAES128:
		return pivspec.AlgAES128, nil
	case lanyard.AdminKeyAES192:
		return pivspec.AlgAES192, nil
	case lanyard.AdminKeyAES256:
		return pivspec.AlgAES256, nil
	}
	return 0, fmt.Errorf("%w: management key kind %q", piv.ErrUnsupported, k)
}

// Authenticate authenticates the management key k on c (GENERAL
// AUTHENTICATE 9B, piv.Card.Authenticate) and returns the session that
// may personalise the card.
func Authenticate(ctx context.Context, c *piv.Card, k Key) (*piv.Admin, error) {
	alg, err := AdminAlg(k.Kind)
	if err != nil {
		return nil, fmt.Errorf("piv: GENERAL AUTHENTICATE 9B: %w", err)
	}
	return c.Authenticate(ctx, alg, k.Value)
}

// SetKey replaces the card's management key with k (SET MANAGEMENT KEY,
// piv.Admin.SetManagementKey).
func SetKey(ctx context.Context, a *piv.Admin, k Key) error {
	alg, err := AdminAlg(k.Kind)
	if err != nil {
		return fmt.Errorf("piv: SET MANAGEMENT KEY: %w", err)
	}
	return a.SetManagementKey(ctx, alg, k.Value)
}
