package web

import (
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// cardRoutes are the card operations: Your cards, the cards connected at
// the caller's workstations, the Issue card dialog, Continue card issue,
// and the secret questions offered after an issue.
func (s *Server) cardRoutes() []*route {
	v1 := "/api/v1"
	return []*route{
		{method: "GET", path: v1 + "/cards", summary: "List cards (users see their own)", tag: "cards", roles: anyone, out: []*apiv1.CardView{}, status: 200,
			query: []param{{"user", "string", "owner login"}, {"state", "string", "card state"}, {"card_type", "string", "card type"}, {"q", "string", "substring of serial or name"}, {"puk_state", "string", "which PUK the card holds: default (the shared one), unknown or random (its own)"}, {"pin_blocked", "boolean", "true: only the cards whose PIN was last seen blocked"}, {"content_status", "string", "the Card Monitor's content status: none, managed_expiring, managed_expired, tracked_expiring or tracked_expired"}, {"limit", "integer", "at most this many (max 1000)"}, {"offset", "integer", "skip this many"}},
			h:     s.listCards},
		{method: "POST", path: v1 + "/cards", summary: "Register a card (it can then be issued without the user adding it)", tag: "cards", roles: staff, in: apiv1.RegisterCardInput{}, out: &lanyard.Card{}, status: 201,
			h: func(c *call) (any, error) {
				var in apiv1.RegisterCardInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				return s.cards.RegisterCard(c.r.Context(), c.p, cardops.RegisterCardInput(in))
			}},
		{method: "GET", path: v1 + "/cards/{id}", summary: "Get a card with its contents and operations", tag: "cards", roles: anyone, out: &apiv1.CardView{}, status: 200,
			h: func(c *call) (any, error) {
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				return cardView(s.cards.GetCard(c.r.Context(), c.p, id))
			}},
		{method: "POST", path: v1 + "/cards/{id}/continue", summary: "Continue card issue (an interrupted or approved pending issue)", tag: "cards", roles: anyone, in: apiv1.ContinueInput{}, out: &apiv1.IssueCardResult{}, status: 200,
			h: func(c *call) (any, error) {
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				var in apiv1.ContinueInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				c.w.Header().Set("Cache-Control", "no-store") // may carry a new random PIN
				return issueCardResult(s.cards.ContinueCardIssue(c.r.Context(), c.p, id, continueInput(in)))
			}},
		{method: "GET", path: v1 + "/me/issued-pins", summary: "The caller's cards issued by someone else whose random PIN waits to be shown to them once", tag: "cards", roles: anyone, out: []*apiv1.IssuedPIN{}, status: 200,
			h: func(c *call) (any, error) { return issuedPINs(s.cards.IssuedPINs(c.r.Context(), c.p)) }},
		{method: "POST", path: v1 + "/cards/{id}/issued-pin", summary: "Show, once, the random PIN of a card someone else issued for the caller (the sealed copy is erased; card owner only)", tag: "cards", roles: anyone, in: apiv1.ShowIssuedPINInput{}, out: &apiv1.ShownPIN{}, status: 200,
			h: func(c *call) (any, error) {
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				var in apiv1.ShowIssuedPINInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				c.w.Header().Set("Cache-Control", "no-store") // carries the PIN
				return shownPIN(s.cards.ShowIssuedPIN(c.r.Context(), c.p, id, cardops.ShowIssuedPINInput(in)))
			}},
		{method: "POST", path: v1 + "/cards/{id}/mail-pin", summary: "E-mail the random PIN of the issue just finished to its user or their manager (once, from the server's sealed copy; card owner only)", tag: "cards", roles: anyone, in: apiv1.MailIssuePINInput{}, out: &apiv1.MailIssuePINResult{}, status: 200,
			h: func(c *call) (any, error) {
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				var in apiv1.MailIssuePINInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				return mailIssuePINResult(s.cards.MailIssuePIN(c.r.Context(), c.p, id, cardops.MailIssuePINInput(in)))
			}},
		{method: "POST", path: v1 + "/cards/{id}/revoke-clear", summary: "Revoke and clear card: revoke what was issued for it, withdraw pending requests, clear it for a new issue", tag: "cards", roles: anyone, in: apiv1.ClearInput{}, out: &apiv1.CardView{}, status: 200,
			h: func(c *call) (any, error) {
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				var in apiv1.ClearInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				return cardView(s.cards.RevokeAndClearCard(c.r.Context(), c.p, id, clearInput(in)))
			}},
		{method: "GET", path: v1 + "/connected-cards", summary: "Cards in the readers of the caller's workstations (staff: all, or their own with own=true)", tag: "cards", roles: anyone, out: []*apiv1.ConnectedCard{}, status: 200,
			query: []param{{"own", "boolean", "only the caller's own workstations (staff issuing a card they hold)"}},
			h: func(c *call) (any, error) {
				return connectedCards(s.cards.ConnectedCards(c.r.Context(), c.p, c.r.URL.Query().Get("own") == "true"))
			}},
		{method: "POST", path: v1 + "/issue/options", summary: "Open the Issue card dialog: what may be issued on this card", tag: "cards", roles: anyone, in: apiv1.CardTarget{}, out: &apiv1.IssueOptionsResult{}, status: 200,
			h: func(c *call) (any, error) {
				var in apiv1.CardTarget
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				return issueOptions(s.cards.IssueOptions(c.r.Context(), c.p, cardops.CardTarget(in)))
			}},
		{method: "POST", path: v1 + "/issue", summary: "Issue card (the random user PIN, if any, is in this response only)", tag: "cards", roles: anyone, in: apiv1.IssueCardInput{}, out: &apiv1.IssueCardResult{}, status: 201,
			h: func(c *call) (any, error) {
				var in apiv1.IssueCardInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				c.w.Header().Set("Cache-Control", "no-store")
				return issueCardResult(s.cards.IssueCard(c.r.Context(), c.p, issueCardInput(in)))
			}},
		{method: "GET", path: v1 + "/me/secret-questions", summary: "The caller's secret questions (answers are never returned)", tag: "cards", roles: anyone, out: &apiv1.SecretQuestionsInfo{}, status: 200,
			h: func(c *call) (any, error) { return secretQuestions(s.identity.MySecretQuestions(c.r.Context(), c.p)) }},
		{method: "PUT", path: v1 + "/me/secret-questions", summary: "Set the caller's secret answers (stored hashed)", tag: "cards", roles: anyone, in: apiv1.SecretAnswersInput{}, out: &apiv1.SecretQuestionsInfo{}, status: 200,
			h: func(c *call) (any, error) {
				var in apiv1.SecretAnswersInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				return secretQuestions(s.identity.SetMySecretAnswers(c.r.Context(), c.p, secretAnswers(in)))
			}},
	}
}

func (s *Server) listCards(c *call) (any, error) {
	q := c.r.URL.Query()
	limit, offset, err := c.page()
	if err != nil {
		return nil, err
	}
	f := lanyard.CardFilter{State: lanyard.CardState(q.Get("state")), CardType: q.Get("card_type"), Query: q.Get("q"), Limit: limit, Offset: offset}
	if f.State != "" && !f.State.Valid() {
		return nil, lanyard.Errorf(lanyard.EInvalid, "unknown card state %q", f.State)
	}
	if f.PUKState, err = pukStateFilter(q.Get("puk_state")); err != nil {
		return nil, err
	}
	if f.PINBlocked, err = pinBlockedFilter(q.Get("pin_blocked")); err != nil {
		return nil, err
	}
	if f.ContentStatus, err = contentStatusFilter(q.Get("content_status")); err != nil {
		return nil, err
	}
	if login := q.Get("user"); login != "" {
		u, err := s.identity.GetUser(c.r.Context(), c.p, login)
		if err != nil {
			return nil, err
		}
		f.OwnerID = u.ID
	}
	return cardViews(s.cards.ListCards(c.r.Context(), c.p, f))
}

// pukStateFilter reads the puk_state filter of the cards list: which
// cards still have a shared PUK (issue 13). Only the states a filter can
// select are accepted; the empty one (factory) would match every card.
func pukStateFilter(v string) (lanyard.PUKState, error) {
	switch s := lanyard.PUKState(v); s {
	case lanyard.PUKFactory, lanyard.PUKDefault, lanyard.PUKUnknown, lanyard.PUKRandom:
		return s, nil
	}
	return "", lanyard.Errorf(lanyard.EInvalid, "puk_state %q: want default, unknown or random", v)
}

// pinBlockedFilter reads the pin_blocked filter of the cards list
// (docs/lifecycle.md, "PIN blocked cards"); false and absent list every
// card.
func pinBlockedFilter(v string) (bool, error) {
	switch v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, lanyard.Errorf(lanyard.EInvalid, "pin_blocked %q: want true or false", v)
}
