package web

import (
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// recoverKeysRoutes is Recover keys onto card (docs/lifecycle.md, "Key
// archival"). Anyone signed in may call it: the card workflow decides
// (the owner with the step-up, staff with approved key recovery
// requests), 404 for someone else's card.
func (s *Server) recoverKeysRoutes() []*route {
	return []*route{
		{method: "POST", path: "/api/v1/cards/{id}/recover-keys", summary: "Recover keys onto card: the owner's earlier archived encryption keys into an issued card's retired key slots (82 up, with the key history: PIV cards, TPM cards, AirCards; a TPM card takes RSA 2048 and 3072 keys only and skips the others, named in note), so that mail encrypted to earlier certificates opens. The owner gives their account password and a current authenticator code; an operator or administrator gives their key recovery requests a second person approved (each used once)", tag: "cards", roles: anyone,
			in: apiv1.RecoverKeysInput{}, out: &apiv1.RecoverKeysResult{}, status: 200,
			h: func(c *call) (any, error) {
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				var in apiv1.RecoverKeysInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				r, err := s.cards.RecoverKeysOntoCard(c.r.Context(), c.p, id, cardops.RecoverKeysInput{
					CardTarget:      cardops.CardTarget{WorkstationID: in.WorkstationID, Reader: in.Reader},
					AccountPassword: in.AccountPassword, Code: in.Code, Requests: in.Requests,
				})
				if err != nil {
					return nil, err
				}
				out := &apiv1.RecoverKeysResult{Card: toCardView(r.Card), Keys: make([]apiv1.ArchivedKey, len(r.Keys)), Note: r.Note}
				for i, k := range r.Keys {
					out.Keys[i] = archivedKey(k)
				}
				return out, nil
			}},
	}
}
