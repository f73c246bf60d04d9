package web

import (
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// softUpdateRoutes are Update card contents for a software store (its
// re-issue): cardperm decides as for a card's update (the owner when
// the policy allows it, operators and administrators), 403 when the
// person may not, 409 when the store's state does not allow it or
// nothing is due.
func (s *Server) softUpdateRoutes() []*route {
	v1 := "/api/v1"
	return []*route{
		{method: "POST", path: v1 + "/cards/{id}/software-store/reissue", summary: "Re-issue a software store (Update card contents): its certificates due renewed and the policy's added or removed, with new keys made on the workstation and written into new files protected by the key container password, asked again; the old certificates are revoked superseded and their files left in place", tag: "cards", roles: anyone,
			in: apiv1.StoreReissueInput{}, out: &apiv1.StoreReissueResult{}, status: 200,
			h: func(c *call) (any, error) {
				id, in, err := decodeCardBody[apiv1.StoreReissueInput](c)
				if err != nil {
					return nil, err
				}
				c.w.Header().Set("Cache-Control", "no-store")
				return storeReissueResult(s.cards.ReissueSoftwareStore(c.r.Context(), c.p, id, cardops.StoreReissueInput(in)))
			}},
	}
}

func storeReissueResult(r *cardops.StoreReissueResult, err error) (*apiv1.StoreReissueResult, error) {
	if r == nil {
		return nil, err
	}
	out := &apiv1.StoreReissueResult{Card: toCardView(r.Card), OperationID: r.OperationID, Files: make([]apiv1.StoreReissuedFile, len(r.Files))}
	for i, f := range r.Files {
		out.Files[i] = apiv1.StoreReissuedFile(f)
	}
	return out, err
}
