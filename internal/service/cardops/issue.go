package cardops

import (
	"context"
	"encoding/hex"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
)

// CardTarget names a card in a reader of a workstation, and the user it
// is issued to (operators issue on a user's behalf; default: the caller).
type CardTarget struct {
	WorkstationID int64
	Reader        string
	User          string
}

// IssueOptionsResult is what the Issue card dialog shows for a card.
type IssueOptionsResult struct {
	Card *ConnectedCard
	issuance.Options
}

// IssueCardInput is the Issue card dialog's answer. PINs are used on the
// card and forgotten; they are never stored or logged.
type IssueCardInput struct {
	CardTarget
	Templates []string // optional templates chosen
	UserPIN   string
	// AdminPIN is the card's current Admin PIN (PUK) when it is not the
	// card type's default; the card gets its own random PUK.
	AdminPIN string
	Tracked  []string // slots of found certificates to track
	Name     string
	// Recovery is the authority to put the owner's earlier archived keys
	// on the card (issuehistory.go); without it the card gets none.
	Recovery *HistoryAuthority
}

// IssueCardResult reports an issue. RandomPIN is set once, in this
// response, when the policy sets a random user PIN shown to the user.
type IssueCardResult struct {
	Card        *CardView
	OperationID int64
	State       string // issued or pending
	RandomPIN   string
	PINMailedTo []string
	PINMailNote string
	// PINMailChoices are whom the user may still e-mail the shown random
	// PIN to (user, manager), once, within PINMailWindow (MailIssuePIN).
	PINMailChoices        []string
	SecretQuestionsNeeded bool
	// RecoverableKeys is how many of the owner's earlier archived keys
	// the card could still get with Recover keys onto card (the issue had
	// no authority for them, or they were not its to give); RecoveryNote
	// says so in a sentence ("" when none).
	RecoverableKeys int
	RecoveryNote    string
}

// IssueOptions opens the Issue card dialog for the card in a reader:
// whether it may be issued and what the dialog offers.
func (s *Cards) IssueOptions(ctx context.Context, p *lanyard.Principal, t CardTarget) (*IssueOptionsResult, error) {
	cc, err := s.openPIV(ctx, p, t)
	if err != nil {
		return nil, err
	}
	defer cc.sess.Close()
	pc, serial, r, ws := cc.pc, cc.serial, cc.r, cc.ws
	_, in, err := s.loadIssue(ctx, p, t, r, serial)
	if err != nil {
		return nil, err
	}
	if err := s.findTracked(ctx, pc, in); err != nil {
		return nil, err
	}
	o, err := issuance.Offer(*in)
	if err != nil {
		return nil, err
	}
	card := &ConnectedCard{WorkstationID: ws.ID, Workstation: ws.Name, Reader: r.Name, ATR: hex.EncodeToString(r.ATR), Serial: serial, CardType: in.CardType.Name}
	if in.Card != nil {
		card.CardID, card.State = in.Card.ID, in.Card.State
	}
	return &IssueOptionsResult{Card: card, Options: *o}, nil
}

// IssueCard runs the guide's Issue card operation on the card in a reader:
// checks, optional initialization, the card's management key, keys
// generated on the card, certificates issued and written, PINs, tracked
// certificates, and the card record. Each step is recorded in the
// operation before the next starts; if the card, the agent or this server
// goes away, the operation is left interrupted and ContinueCardIssue
// finishes it.
func (s *Cards) IssueCard(ctx context.Context, p *lanyard.Principal, in IssueCardInput) (*IssueCardResult, error) {
	return s.issueCard(ctx, p, in, nil)
}

// issueCard is IssueCard, as the new card of a replacement when rs is
// set: rs checks the card and the choice, and its start (the old card
// revoked or disabled, the link recorded) is one transaction with the
// issue's start (replace.go).
func (s *Cards) issueCard(ctx context.Context, p *lanyard.Principal, in IssueCardInput, rs *replaceStart) (*IssueCardResult, error) {
	cc, err := s.openPIV(ctx, p, in.CardTarget)
	if err != nil {
		return nil, err
	}
	defer cc.sess.Close()
	pc, serial, r, ws := cc.pc, cc.serial, cc.r, cc.ws
	j, input, err := s.loadIssue(ctx, p, in.CardTarget, r, serial)
	if err != nil {
		return nil, err
	}
	if j.ct.Kind == lanyard.KindPlatformCredential {
		var except int64
		if j.card != nil {
			except = j.card.ID
		}
		if err := s.rec.View(ctx, func(tx lanyard.Tx) error { return s.platformLimits(tx, j.ct, j.user, ws.ID, except) }); err != nil {
			return nil, err
		}
	}
	if j.card != nil {
		if op, err := s.unfinishedIssue(ctx, j.card.ID); err != nil {
			return nil, err
		} else if op != nil {
			return nil, lanyard.Errorf(lanyard.EConflict, "an issue of card %s was interrupted (%s); continue it with Continue card issue", serial, op.Error)
		}
	}
	if rs != nil {
		if err := rs.loaded(j, input); err != nil {
			return nil, err
		}
	}
	if err := s.findTracked(ctx, pc, input); err != nil {
		return nil, err
	}
	o, err := issuance.Offer(*input)
	if err != nil {
		return nil, err
	}
	choice := issuance.Choice{Optional: in.Templates, UserPIN: in.UserPIN, AdminPIN: in.AdminPIN, Tracked: in.Tracked, Name: in.Name}
	if rs != nil {
		if choice.Optional, err = rs.optional(o); err != nil {
			return nil, err
		}
	}
	plan, err := issuance.Decide(*input, o, choice, s.rand)
	if err != nil {
		return nil, err
	}
	j.pc, j.plan, j.found, j.id = pc, plan, input.Found, cc.id
	j.data = issueData{Plan: *plan, Certs: map[string]string{}, Written: map[string]bool{}}
	if rs != nil {
		if err := rs.planned(j, input); err != nil {
			return nil, err
		}
	}
	// The authority for the owner's earlier keys, checked last before
	// anything is written: a refused issue spends no authenticator code.
	if rs != nil {
		j.data.Recovery = rs.grant
	} else if j.data.Recovery, err = s.checkHistoryAuthority(ctx, p, j.user, in.Recovery); err != nil {
		return nil, err
	}
	if err := s.startIssue(ctx, j, serial, r, ws); err != nil {
		return nil, err
	}
	return s.runIssue(ctx, j)
}

// runIssue carries the plan out from wherever the operation stands.
func (s *Cards) runIssue(ctx context.Context, j *issueJob) (*IssueCardResult, error) {
	// A random PIN is shown and mailed by the run that sets it on the
	// card: Continue card issue after that stage draws one it never uses.
	pinWasSet := j.data.PINSet
	pending, err := s.issueSteps(ctx, j)
	if err != nil {
		return nil, s.stop(ctx, j, err)
	}
	newRandomPIN := j.plan != nil && j.plan.RandomPIN && !pinWasSet && j.data.PINSet && j.plan.UserPIN != ""
	var held []*lanyard.HeldPIN
	var mailCopy *lanyard.HeldPIN
	if newRandomPIN {
		mailCopy = s.keepPINCopy(j, s.pinMailChoices(j))
		for _, h := range []*lanyard.HeldPIN{mailCopy, s.keepPINForOwner(j)} {
			if h != nil {
				held = append(held, h)
			}
		}
	}
	now := s.rec.Clock()
	j.card.State = lanyard.CardIssued
	j.op.State = lanyard.OpDone
	action := "card.issue"
	if pending {
		j.card.State, j.op.State, action = lanyard.CardPending, lanyard.OpPending, "card.issue.pending"
	} else {
		j.card.IssuedAt = now
		if j.data.Plan.PINSetup {
			j.card.State = lanyard.CardPINSetup
		}
	}
	// The held PIN copies and the documents are recorded with the step.
	final := func(tx lanyard.Tx) error {
		if err := holdPINs(tx, j, newRandomPIN, held); err != nil {
			return err
		}
		if pending {
			return s.requireIssueDocuments(tx, j)
		}
		return replacementIssued(tx, j.card, now)
	}
	details := map[string]any{"serial": j.card.Serial, "user": j.user.Login, "operation": j.op.ID, "templates": planTemplates(&j.data.Plan)}
	if newRandomPIN {
		details["random_pin"] = randomPINFate(j, held)
	}
	err = j.run.Step(ctx, operation.Done, operation.WithCard(), operation.Also(final), operation.Event(s.rec.Event(j.p, action, "card", strconv.FormatInt(j.card.ID, 10), details)))
	if err != nil {
		return nil, err
	}
	if pending {
		s.notifyCardIssue(ctx, "pending", j.user, j.card, "", "")
	}
	res := &IssueCardResult{OperationID: j.op.ID, State: string(j.card.State)}
	if newRandomPIN {
		if j.showPIN() {
			res.RandomPIN, res.PINMailChoices = j.plan.UserPIN, choices(mailCopy)
		}
		res.PINMailedTo, res.PINMailNote = s.mailRandomPIN(ctx, j, j.plan.UserPIN)
	}
	var answers []lanyard.SecretAnswer
	var skipped []*lanyard.ArchivedKey
	err = s.rec.View(ctx, func(tx lanyard.Tx) error {
		var err error
		if res.Card, err = s.cardView(tx, j.card, false); err != nil {
			return err
		}
		if err := s.addAllowed(tx, j.p, res.Card); err != nil {
			return err
		}
		if res.Card.RecoverableKeys, err = recoverableKeys(tx, j.card, j.ct.Kind); err != nil {
			return err
		}
		if j.data.Recovery != nil || len(j.data.History) > 0 {
			// The earlier keys a TPM card could not take (recoverkinds.go).
			if skipped, err = skippedKeysTx(tx, j.user.ID, j.ct.Kind, issueSerials(j)); err != nil {
				return err
			}
		}
		answers, err = tx.SecretAnswers(j.user.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	res.SecretQuestionsNeeded = len(answers) == 0 && j.user.ID == j.p.User.ID
	res.RecoverableKeys, res.RecoveryNote = res.Card.RecoverableKeys, joinNotes(RecoverableNote(res.Card.RecoverableKeys), SkippedNote(j.ct.Kind, len(skipped)))
	return res, nil
}

// randomPINFate is what the issue's audit event says of the random PIN it
// set: whether the caller was shown it, which sealed copies are held
// (mail: the result dialog's mail choices; owner: for the owner's first
// look) and whether the owner's copy, due when staff issue without being
// shown the PIN, could not be kept (then nobody knows the PIN, and the
// card's PIN must be reset).
func randomPINFate(j *issueJob, held []*lanyard.HeldPIN) map[string]any {
	purposes := []string{}
	owner := false
	for _, h := range held {
		purposes = append(purposes, string(h.Purpose))
		owner = owner || h.Purpose == lanyard.HeldPINOwner
	}
	fate := map[string]any{"shown_to_caller": j.showPIN(), "held": purposes}
	if j.user.ID != j.p.User.ID && j.plan.ShowPIN && !owner {
		fate["owner_copy_failed"] = true
	}
	return fate
}

// showPIN reports whether the caller of this stage sees the random PIN it
// set: the owner as the policy's "shown to the user" says, anyone else
// (staff issuing on the owner's behalf) only if the policy shows
// generated PINs to administrators.
func (j *issueJob) showPIN() bool {
	if j.user.ID == j.p.User.ID {
		return j.plan.ShowPIN
	}
	return j.plan.ShowPINToStaff
}

// requireIssueDocuments creates, in tx, the documents check's forms the
// user signs and uploads for j's pending certificates (guide: "Sign and
// upload the following documents"), with the pending state they belong
// to.
func (s *Cards) requireIssueDocuments(tx lanyard.Tx, j *issueJob) error {
	for _, sl := range j.data.Plan.Slots {
		var kinds []lanyard.DocumentKind
		if sl.NeedCA {
			kinds = append(kinds, lanyard.DocCertificateRequest)
		}
		if sl.NeedForm {
			kinds = append(kinds, lanyard.DocCertificateForm)
		}
		if len(kinds) == 0 || j.data.Written[sl.Slot] {
			continue
		}
		if err := s.documents.RequireDocuments(tx, j.card, j.user, sl.Slot, sl.Template, kinds...); err != nil {
			return err
		}
	}
	return nil
}
