package web

import (
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// features converts the catalog's feature switches to their wire form,
// passing the service's error through.
func features(f lanyard.Features, err error) (apiv1.Features, error) {
	return apiv1.Features(f), err
}
