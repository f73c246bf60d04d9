package web

import (
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// pinRoutes are Change PIN and Reset user PIN (online unblock) of a
// connected card (docs/lifecycle.md).
func (s *Server) pinRoutes() []*route {
	v1 := "/api/v1"
	return []*route{
		{method: "POST", path: v1 + "/cards/{id}/pin-change", summary: "Change PIN: the owner's card, connected at one of their workstations; old PIN, then the new one within the PIN rules (a wrong old PIN costs a try on the card)", tag: "cards", roles: anyone,
			in: apiv1.PINChangeInput{}, out: &apiv1.CardView{}, status: 200,
			h: func(c *call) (any, error) {
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				var in apiv1.PINChangeInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				return cardView(s.cards.ChangePIN(c.r.Context(), c.p, id, cardops.ChangePINInput{
					CardTarget: cardops.CardTarget{WorkstationID: in.WorkstationID, Reader: in.Reader}, OldPIN: in.OldPIN, NewPIN: in.NewPIN}))
			}},
		{method: "POST", path: v1 + "/cards/{id}/pin-reset", summary: "Reset user PIN (staff, as the owner's policy allows) or online unblock (the owner, after their secret answers): the card's own PUK sets the new PIN, then the PUK is rotated; a random PIN is returned once when the policy sets one and the caller may see it", tag: "cards", roles: anyone,
			in: apiv1.PINResetInput{}, out: &apiv1.PINResetResult{}, status: 200,
			h: func(c *call) (any, error) {
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				var in apiv1.PINResetInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				c.w.Header().Set("Cache-Control", "no-store")
				return pinResetResult(s.cards.ResetPIN(c.r.Context(), c.p, id, pinResetInput(in)))
			}},
	}
}

func pinResetInput(in apiv1.PINResetInput) cardops.ResetPINInput {
	out := cardops.ResetPINInput{CardTarget: cardops.CardTarget{WorkstationID: in.WorkstationID, Reader: in.Reader}, NewPIN: in.NewPIN}
	for _, a := range in.Answers {
		out.Answers = append(out.Answers, cardops.SecretAnswer{Question: a.Question, Answer: a.Answer})
	}
	return out
}

func pinResetResult(r *cardops.ResetPINResult, err error) (*apiv1.PINResetResult, error) {
	if r == nil {
		return nil, err
	}
	return &apiv1.PINResetResult{Card: toCardView(r.Card), RandomPIN: r.RandomPIN, PINHeldForOwner: r.PINHeldForOwner,
		PINMailedTo: r.PINMailedTo, PINMailNote: r.PINMailNote}, err
}
