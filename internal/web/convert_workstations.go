package web

import (
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/service/workstations"
)

// airCardComputers converts an AirCard's allowed computers to their wire
// form (internal/apiv1), nil staying nil, passing the error through.
func airCardComputers(v []workstations.AirCardComputer, err error) ([]apiv1.AirCardComputer, error) {
	if v == nil {
		return nil, err
	}
	out := make([]apiv1.AirCardComputer, len(v))
	for i, k := range v {
		out[i] = apiv1.AirCardComputer(k)
	}
	return out, err
}
