package web

import (
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// replaceRoutes are Replace card and the resolution of a temporary
// replacement (docs/lifecycle.md, "Replace"). Anyone signed in may call
// them: the card workflows decide with cardperm (operators and
// administrators replace; the owner gets a temporary card when the
// policy's Issued card operations allow it), 403 when the person may not,
// 409 when the card's state does not allow it.
func (s *Server) replaceRoutes() []*route {
	v1 := "/api/v1"
	return []*route{
		{method: "POST", path: v1 + "/cards/{id}/replace", summary: "Replace card: permanent (the old card revoked with the reason) or temporary (the original disabled); a new card in a reader, or an AirCard, is issued to the owner", tag: "cards", roles: anyone,
			in: apiv1.ReplaceCardInput{}, out: &apiv1.ReplaceCardResult{}, status: 200,
			h: func(c *call) (any, error) {
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				var in apiv1.ReplaceCardInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				c.w.Header().Set("Cache-Control", "no-store") // may carry the new card's random PIN
				return replaceResult(s.cards.ReplaceCard(c.r.Context(), c.p, id, cardops.ReplaceCardInput{
					Kind: lanyard.ReplacementKind(in.Kind), Reason: lanyard.CardRevocationReason(in.Reason), Comment: in.Comment,
					CardTarget: cardops.CardTarget{WorkstationID: in.WorkstationID, Reader: in.Reader}, AirCard: in.AirCard,
					Templates: in.Templates, UserPIN: in.UserPIN, AdminPIN: in.AdminPIN, Name: in.Name, Recovery: historyAuthority(in.Recovery),
				}))
			}},
		{method: "POST", path: v1 + "/cards/{id}/replace/resolve", summary: "Resolve a temporary replacement (the original's or the temporary card's ID): found (the temporary card revoked, the original back to its state before: enabled, or still disabled when it was disabled before) or not found (the original revoked, the temporary card kept)", tag: "cards", roles: anyone,
			in: apiv1.ResolveReplacementInput{}, out: &apiv1.ResolveReplacementResult{}, status: 200,
			h: func(c *call) (any, error) {
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				var in apiv1.ResolveReplacementInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				r, err := s.cards.ResolveReplacement(c.r.Context(), c.p, id, cardops.ResolveReplacementInput{Found: in.Found})
				if err != nil {
					return nil, err
				}
				return &apiv1.ResolveReplacementResult{Original: toCardView(r.Original), Temporary: toCardView(r.Temporary), Replacement: r.Replacement}, nil
			}},
	}
}

func replaceResult(r *cardops.ReplaceCardResult, err error) (*apiv1.ReplaceCardResult, error) {
	if err != nil {
		return nil, err
	}
	issued, _ := issueCardResult(r.IssueCardResult, nil)
	return &apiv1.ReplaceCardResult{IssueCardResult: *issued, OldCard: toCardView(r.Old), Replacement: r.Replacement}, nil
}

func toReplacement(r *cardops.ReplacementView) *apiv1.Replacement {
	if r == nil {
		return nil
	}
	return &apiv1.Replacement{CardReplacement: r.CardReplacement, OldSerial: r.OldSerial, NewSerial: r.NewSerial}
}
