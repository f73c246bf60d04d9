package web

import (
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// cardStateRoutes are the card state operations that need no card in a
// reader (docs/lifecycle.md): Disable, Enable, Revoke with a reason and
// Withdraw. Anyone signed in may call them (withdraw is staff's, and
// cardperm says so); the card workflows decide
// with cardperm who may do what to which card (403 when the person may
// not, 409 when the card's state does not allow it).
func (s *Server) cardStateRoutes() []*route {
	v1 := "/api/v1"
	byID := func(do func(c *call, id int64) (*cardops.CardView, error)) func(c *call) (any, error) {
		return func(c *call) (any, error) {
			id, err := c.pathInt("id")
			if err != nil {
				return nil, err
			}
			return cardView(do(c, id))
		}
	}
	return []*route{
		{method: "POST", path: v1 + "/cards/{id}/disable", summary: "Disable card: out of use for a while; certificates whose template says so go on hold (certificateHold)", tag: "cards", roles: anyone,
			out: &apiv1.CardView{}, status: 200,
			h: byID(func(c *call, id int64) (*cardops.CardView, error) { return s.cards.DisableCard(c.r.Context(), c.p, id) })},
		{method: "POST", path: v1 + "/cards/{id}/enable", summary: "Enable card: back in use; its certificates on hold come off hold", tag: "cards", roles: anyone,
			out: &apiv1.CardView{}, status: 200,
			h: byID(func(c *call, id int64) (*cardops.CardView, error) { return s.cards.EnableCard(c.r.Context(), c.p, id) })},
		{method: "POST", path: v1 + "/cards/{id}/revoke", summary: "Revoke card with a reason (lost, compromised, damaged, superseded, withdrawn), the card absent: its certificates are revoked; clear it when it is connected later", tag: "cards", roles: anyone,
			in: apiv1.RevokeCardInput{}, out: &apiv1.CardView{}, status: 200,
			h: byID(func(c *call, id int64) (*cardops.CardView, error) {
				var in apiv1.RevokeCardInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				return s.cards.RevokeCard(c.r.Context(), c.p, id, cardops.RevokeCardInput{Reason: lanyard.CardRevocationReason(in.Reason), Comment: in.Comment})
			})},
		{method: "POST", path: v1 + "/cards/{id}/withdraw", summary: "Withdraw a revoked card that holds nothing of Lanyard's: to stock (clean, no owner) or to its owner for a new issue", tag: "cards", roles: anyone,
			in: apiv1.WithdrawCardInput{}, out: &apiv1.CardView{}, status: 200,
			h: byID(func(c *call, id int64) (*cardops.CardView, error) {
				var in apiv1.WithdrawCardInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				return s.cards.WithdrawCard(c.r.Context(), c.p, id, cardops.WithdrawCardInput(in))
			})},
	}
}
