package web

import (
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// offlineRoutes is the offline PIN unblock: the response to a challenge
// read from a card on a workstation that cannot reach the server.
func (s *Server) offlineRoutes() []*route {
	v1 := "/api/v1"
	return []*route{
		{method: "POST", path: v1 + "/cards/{id}/offline-unblock", summary: "Unblock card offline: the response to a challenge read from the card (owner with secret answers; operators per policy); each challenge is answered once", tag: "cards", roles: anyone,
			in: apiv1.OfflineUnblockInput{}, out: &apiv1.OfflineUnblockResult{}, status: 200,
			h: func(c *call) (any, error) {
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				var in apiv1.OfflineUnblockInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				r, err := s.cards.OfflineUnblock(c.r.Context(), c.p, id, offlineUnblockInput(in))
				if err != nil {
					return nil, err
				}
				return (*apiv1.OfflineUnblockResult)(r), nil
			}},
	}
}

func offlineUnblockInput(in apiv1.OfflineUnblockInput) cardops.OfflineUnblockInput {
	out := cardops.OfflineUnblockInput{Challenge: in.Challenge}
	for _, a := range in.Answers {
		out.Answers = append(out.Answers, cardops.SecretAnswer(a))
	}
	return out
}
