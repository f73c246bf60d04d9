package web

import (
	"context"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// updateRoutes are Update card contents (docs/lifecycle.md, "Update card
// contents"): the dialog's options, the update, Continue card update and
// Cancel card update. The card workflows decide with cardperm (update:
// the owner when the policy allows it, operators and administrators;
// cancel: administrators), 403 when the person may not, 409 when the
// card's state does not allow it.
func (s *Server) updateRoutes() []*route {
	v1 := "/api/v1"
	return []*route{
		{method: "POST", path: v1 + "/cards/{id}/update/options", summary: "Open the Update card dialog for the card in a reader: per slot keep, renew, add or remove, with reasons and key mode; the optional templates and tracked certificates that may be picked; cautions to accept", tag: "cards", roles: anyone,
			in: apiv1.UpdateTarget{}, out: &apiv1.UpdateOptionsResult{}, status: 200,
			h: func(c *call) (any, error) {
				id, in, err := decodeCardBody[apiv1.UpdateTarget](c)
				if err != nil {
					return nil, err
				}
				if err := s.readerHolds(c.r.Context(), c.p, id, in); err != nil {
					return nil, err
				}
				r, err := s.cards.UpdateOptions(c.r.Context(), c.p, cardops.CardTarget{WorkstationID: in.WorkstationID, Reader: in.Reader}, id)
				if err != nil {
					return nil, err
				}
				// Read-only, so the card the service read from the reader
				// is checked against the path once more afterwards.
				if err := sameCard(id, in, r.Card); err != nil {
					return nil, err
				}
				return &apiv1.UpdateOptionsResult{Card: (*apiv1.ConnectedCard)(r.Card), UpdateOptions: r.UpdateOptions}, nil
			}},
		{method: "POST", path: v1 + "/cards/{id}/update", summary: "Update card contents: renew, add and remove certificates of the card in a reader (done, or pending while a certificate waits for an approval)", tag: "cards", roles: anyone,
			in: apiv1.UpdateCardInput{}, out: &apiv1.UpdateCardResult{}, status: 200,
			h: func(c *call) (any, error) {
				id, in, err := decodeCardBody[apiv1.UpdateCardInput](c)
				if err != nil {
					return nil, err
				}
				if err := s.readerHolds(c.r.Context(), c.p, id, in.UpdateTarget); err != nil {
					return nil, err
				}
				return updateCardResult(s.cards.UpdateCard(c.r.Context(), c.p, cardops.UpdateCardInput{
					CardTarget: cardops.CardTarget{WorkstationID: in.WorkstationID, Reader: in.Reader},
					CardID:     id,
					Templates:  in.Templates, Tracked: in.Tracked, Renew: in.Renew, AcceptKeyLoss: in.AcceptKeyLoss,
				}))
			}},
		{method: "POST", path: v1 + "/cards/{id}/update/continue", summary: "Continue card update: finish an interrupted or approved pending update from its last recorded step (no PIN is asked)", tag: "cards", roles: anyone,
			in: apiv1.UpdateTarget{}, out: &apiv1.UpdateCardResult{}, status: 200,
			h: func(c *call) (any, error) {
				id, in, err := decodeCardBody[apiv1.UpdateTarget](c)
				if err != nil {
					return nil, err
				}
				return updateCardResult(s.cards.ContinueCardUpdate(c.r.Context(), c.p, id, cardops.CardTarget{WorkstationID: in.WorkstationID, Reader: in.Reader}))
			}},
		{method: "POST", path: v1 + "/cards/{id}/update/cancel", summary: "Cancel card update (administrators; a comment is required): the pending update's requests are withdrawn and its certificates not yet in use revoked; refused once the card may use a new key", tag: "cards", roles: []lanyard.Role{lanyard.RoleAdministrator},
			in: apiv1.CancelUpdateInput{}, out: &apiv1.CardView{}, status: 200,
			h: func(c *call) (any, error) {
				id, in, err := decodeCardBody[apiv1.CancelUpdateInput](c)
				if err != nil {
					return nil, err
				}
				if strings.TrimSpace(in.Comment) == "" {
					return nil, lanyard.Errorf(lanyard.EInvalid, "comment is required: say why the card update is cancelled")
				}
				return cardView(s.cards.CancelCardUpdate(c.r.Context(), c.p, id, cardops.CancelUpdateInput{Comment: in.Comment}))
			}},
	}
}

// decodeCardBody reads the card ID of the path and the request body.
func decodeCardBody[T any](c *call) (int64, T, error) {
	var in T
	id, err := c.pathInt("id")
	if err != nil {
		return 0, in, err
	}
	return id, in, c.decode(&in)
}

// readerHolds checks the path's card before an update of the card in a
// reader (the service then refuses any other card it reads there): card
// id must be
// one the caller may see (404 otherwise), their own unless they are card
// staff (403: the service's cardperm check then decides on the card it
// finds, which is card id), and the reader, as its workstation last
// reported it, must not hold another card (409). A reader the caller's
// connected cards do not list is left to the service, which answers for
// it when it opens the reader.
func (s *Server) readerHolds(ctx context.Context, p *lanyard.Principal, id int64, t apiv1.UpdateTarget) error {
	v, err := s.cards.GetCard(ctx, p, id)
	if err != nil {
		return err
	}
	if v.OwnerID != p.User.ID && !p.IsCardStaff() {
		return lanyard.Errorf(lanyard.EForbidden, "you may not update card %d: it is not yours", id)
	}
	cards, err := s.cards.ConnectedCards(ctx, p, false)
	if err != nil {
		return err
	}
	for _, c := range cards {
		if c.WorkstationID == t.WorkstationID && c.Reader == t.Reader {
			return sameCard(id, t, c)
		}
	}
	return nil
}

// sameCard checks that the card found in the reader is card id.
func sameCard(id int64, t apiv1.UpdateTarget, c *cardops.ConnectedCard) error {
	switch {
	case c == nil || c.CardID == id:
		return nil
	case c.CardID == 0:
		return lanyard.Errorf(lanyard.EConflict, "reader %q holds card %s, which is not card %d (it is not registered): put card %d in the reader", t.Reader, c.Serial, id, id)
	}
	return lanyard.Errorf(lanyard.EConflict, "reader %q holds card %s (ID %d), not card %d: put card %d in the reader", t.Reader, c.Serial, c.CardID, id, id)
}

func updateCardResult(r *cardops.UpdateCardResult, err error) (*apiv1.UpdateCardResult, error) {
	if r == nil {
		return nil, err
	}
	out := &apiv1.UpdateCardResult{Card: toCardView(r.Card), OperationID: r.OperationID, State: r.State, Slots: make([]apiv1.UpdatedSlot, len(r.Slots))}
	for i, u := range r.Slots {
		out.Slots[i] = apiv1.UpdatedSlot(u)
	}
	return out, err
}

// toCardUpdate is a card view's update state on the wire.
func toCardUpdate(u *cardops.UpdateStatus) *apiv1.CardUpdate {
	if u == nil {
		return nil
	}
	out := &apiv1.CardUpdate{Due: u.Due, Changes: u.Changes, UnfinishedOperation: u.Unfinished}
	if out.Changes == nil {
		out.Changes = []issuance.UpdateSlot{}
	}
	return out
}
