package web

import (
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// Converters between the card workflows' types (internal/service/cardops)
// and their wire form (internal/apiv1). The shapes are the same; the
// structs that nest another of them are copied field by field. nil stays
// nil and empty stays empty: certificates and files are encoded without
// omitempty.

func toCardView(v *cardops.CardView) *apiv1.CardView {
	if v == nil {
		return nil
	}
	out := &apiv1.CardView{Card: v.Card, Kind: v.Kind, Owner: v.Owner, Operations: v.Operations, AllowedOperations: make([]string, len(v.AllowedOperations))}
	for i, op := range v.AllowedOperations {
		out.AllowedOperations[i] = string(op)
	}
	out.ReplacedBy, out.Replaces = toReplacement(v.ReplacedBy), toReplacement(v.Replaces)
	out.PIN = cardPIN(v.PIN)
	out.ContentStatus = v.ContentStatus
	out.Update = toCardUpdate(v.Update)
	out.RecoverableKeys = v.RecoverableKeys
	if v.Certificates != nil {
		out.Certificates = make([]*apiv1.CardCertificate, len(v.Certificates))
		for i, c := range v.Certificates {
			out.Certificates[i] = (*apiv1.CardCertificate)(c)
		}
	}
	return out
}

// cardPIN is a card's PIN status on the wire: the counts the card did
// not give (-1, 0) are left out.
func cardPIN(st *cardops.CardPIN) *apiv1.CardPIN {
	if st == nil {
		return nil
	}
	known := func(n, unknown int) *int {
		if n == unknown {
			return nil
		}
		return &n
	}
	return &apiv1.CardPIN{Blocked: st.Blocked, TriesLeft: known(st.TriesLeft, -1), TriesTotal: known(st.TriesTotal, 0), PUKTriesLeft: known(st.PUKTriesLeft, -1),
		ReportedAt: st.ReportedAt, WorkstationID: st.WorkstationID, Workstation: st.Workstation}
}

func cardView(v *cardops.CardView, err error) (*apiv1.CardView, error) { return toCardView(v), err }

func cardViews(v []*cardops.CardView, err error) ([]*apiv1.CardView, error) {
	if v == nil {
		return nil, err
	}
	out := make([]*apiv1.CardView, len(v))
	for i, c := range v {
		out[i] = toCardView(c)
	}
	return out, err
}

func connectedCard(c *cardops.ConnectedCard, err error) (*apiv1.ConnectedCard, error) {
	return (*apiv1.ConnectedCard)(c), err
}

func connectedCards(v []*cardops.ConnectedCard, err error) ([]*apiv1.ConnectedCard, error) {
	if v == nil {
		return nil, err
	}
	out := make([]*apiv1.ConnectedCard, len(v))
	for i, c := range v {
		out[i] = (*apiv1.ConnectedCard)(c)
	}
	return out, err
}

func issueOptions(r *cardops.IssueOptionsResult, err error) (*apiv1.IssueOptionsResult, error) {
	if r == nil {
		return nil, err
	}
	return &apiv1.IssueOptionsResult{Card: (*apiv1.ConnectedCard)(r.Card), Options: r.Options}, err
}

func issueCardResult(r *cardops.IssueCardResult, err error) (*apiv1.IssueCardResult, error) {
	if r == nil {
		return nil, err
	}
	return &apiv1.IssueCardResult{Card: toCardView(r.Card), OperationID: r.OperationID, State: r.State, RandomPIN: r.RandomPIN,
		PINMailedTo: r.PINMailedTo, PINMailNote: r.PINMailNote, PINMailChoices: r.PINMailChoices, SecretQuestionsNeeded: r.SecretQuestionsNeeded,
		RecoverableKeys: r.RecoverableKeys, RecoveryNote: r.RecoveryNote}, err
}

// historyAuthority is the service's form of a (nil: none).
func historyAuthority(a *apiv1.HistoryAuthority) *cardops.HistoryAuthority {
	if a == nil {
		return nil
	}
	return &cardops.HistoryAuthority{AccountPassword: a.AccountPassword, Code: a.Code, Requests: a.Requests}
}

func issueCardInput(in apiv1.IssueCardInput) cardops.IssueCardInput {
	return cardops.IssueCardInput{CardTarget: cardops.CardTarget(in.CardTarget), Templates: in.Templates, UserPIN: in.UserPIN,
		AdminPIN: in.AdminPIN, Tracked: in.Tracked, Name: in.Name, Recovery: historyAuthority(in.Recovery)}
}

func continueInput(in apiv1.ContinueInput) cardops.ContinueInput {
	return cardops.ContinueInput{CardTarget: cardops.CardTarget(in.CardTarget), UserPIN: in.UserPIN, AdminPIN: in.AdminPIN}
}

func clearInput(in apiv1.ClearInput) cardops.ClearInput {
	return cardops.ClearInput{CardTarget: cardops.CardTarget(in.CardTarget), AdminPIN: in.AdminPIN, Initialize: in.Initialize}
}

func pinSetupInput(in apiv1.PINSetupInput) cardops.PINSetupInput {
	return cardops.PINSetupInput{CardTarget: cardops.CardTarget(in.CardTarget), Password: in.Password, Code: in.Code, PIN: in.PIN}
}

func issuedPINs(v []*cardops.IssuedPIN, err error) ([]*apiv1.IssuedPIN, error) {
	if v == nil {
		return nil, err
	}
	out := make([]*apiv1.IssuedPIN, len(v))
	for i, p := range v {
		out[i] = (*apiv1.IssuedPIN)(p)
	}
	return out, err
}

func shownPIN(p *cardops.ShownPIN, err error) (*apiv1.ShownPIN, error) {
	return (*apiv1.ShownPIN)(p), err
}

func mailIssuePINResult(r *cardops.MailIssuePINResult, err error) (*apiv1.MailIssuePINResult, error) {
	return (*apiv1.MailIssuePINResult)(r), err
}

func virtualOptions(v []cardops.VirtualOption, err error) ([]apiv1.VirtualOption, error) {
	if v == nil {
		return nil, err
	}
	out := make([]apiv1.VirtualOption, len(v))
	for i, o := range v {
		out[i] = apiv1.VirtualOption(o)
	}
	return out, err
}

func softwareStoreOptions(v []cardops.SoftwareStoreOption, err error) ([]apiv1.SoftwareStoreOption, error) {
	if v == nil {
		return nil, err
	}
	out := make([]apiv1.SoftwareStoreOption, len(v))
	for i, o := range v {
		out[i] = apiv1.SoftwareStoreOption(o)
	}
	return out, err
}

func softwareStoreResult(r *cardops.SoftwareStoreResult, err error) (*apiv1.SoftwareStoreResult, error) {
	if r == nil {
		return nil, err
	}
	out := &apiv1.SoftwareStoreResult{Card: toCardView(r.Card)}
	if r.Files != nil {
		out.Files = make([]apiv1.SoftwareStoreFile, len(r.Files))
		for i, f := range r.Files {
			out.Files[i] = apiv1.SoftwareStoreFile(f)
		}
	}
	return out, err
}
