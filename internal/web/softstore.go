package web

import (
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// softStoreRoutes are the software store (the guide's "Registry"): where
// one can be issued, and issuing one. There is no route to reset or
// recover a key container password: it cannot be reset, and the remedy
// for a forgotten one is to issue again.
func (s *Server) softStoreRoutes() []*route {
	v1 := "/api/v1"
	return []*route{
		{method: "GET", path: v1 + "/software-stores/options", summary: "Whether a software store (machine or user) can be issued on each of the caller's workstations, why not, and what the dialog offers", tag: "cards", roles: anyone,
			out: []apiv1.SoftwareStoreOption{}, status: 200, query: []param{{"user", "string", "the user the store is for (staff)"}},
			h: func(c *call) (any, error) {
				return softwareStoreOptions(s.cards.SoftwareStoreOptions(c.r.Context(), c.p, c.r.URL.Query().Get("user")))
			}},
		{method: "POST", path: v1 + "/software-stores", summary: "Issue a software store: key pairs made on the workstation, certificates issued, written as PKCS#12 protected by the key container password (which cannot be reset)", tag: "cards", roles: anyone,
			in: apiv1.SoftwareStoreInput{}, out: &apiv1.SoftwareStoreResult{}, status: 201,
			h: func(c *call) (any, error) {
				var in apiv1.SoftwareStoreInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				c.w.Header().Set("Cache-Control", "no-store")
				return softwareStoreResult(s.cards.IssueSoftwareStore(c.r.Context(), c.p, cardops.SoftwareStoreInput(in)))
			}},
	}
}
