package service

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
	"github.com/lanyard-cms/lanyard/internal/policy"
	"github.com/lanyard-cms/lanyard/internal/service/pki"
)

// CardTarget names a card in a reader of a workstation, and the user it
// is issued to (operators issue on a user's behalf; default: the caller).
type CardTarget struct {
	WorkstationID int64  `json:"workstation_id"`
	Reader        string `json:"reader"`
	User          string `json:"user,omitempty"`
}

// IssueOptionsResult is what the Issue card dialog shows for a card.
type IssueOptionsResult struct {
	Card *ConnectedCard `json:"card"`
	issuance.Options
}

// IssueCardInput is the Issue card dialog's answer. PINs are used on the
// card and forgotten; they are never stored or logged.
type IssueCardInput struct {
	CardTarget
	Templates []string `json:"templates,omitempty"` // optional templates chosen
	UserPIN   string   `json:"user_pin,omitempty"`
	// AdminPIN is the card's current Admin PIN (PUK) when it is not the
	// card type's default; the card gets its own random PUK.
	AdminPIN string   `json:"admin_pin,omitempty"`
	Tracked  []string `json:"tracked,omitempty"` // slots of found certificates to track
	Name     string   `json:"name,omitempty"`
}

// IssueCardResult reports an issue. RandomPIN is set once, in this
// response, when the policy sets a random user PIN shown to the user.
type IssueCardResult struct {
	Card        *CardView `json:"card"`
	OperationID int64     `json:"operation_id"`
	State       string    `json:"state"` // issued or pending
	RandomPIN   string    `json:"random_pin,omitempty"`
	PINMailedTo []string  `json:"pin_mailed_to,omitempty"`
	PINMailNote string    `json:"pin_mail_note,omitempty"`
	// PINMailChoices are whom the user may still e-mail the shown random
	// PIN to (user, manager), once, within PINMailWindow (MailIssuePIN).
	PINMailChoices        []string `json:"pin_mail_choices,omitempty"`
	SecretQuestionsNeeded bool     `json:"secret_questions_needed"`
}

// issueJob is one issue operation in progress in this process.
type issueJob struct {
	p       *Principal
	user    *lanyard.User
	ct      *lanyard.CardType
	secrets *lanyard.CardTypeSecrets
	card    *lanyard.Card
	op      *lanyard.Operation
	data    issueData
	// run records the steps; its Op, Card and Data are op, card and
	// &data.
	run   *operation.Run[issueData]
	plan  *issuance.Plan
	tpls  map[string]*lanyard.Template
	found []issuance.Found
	pc    *piv.Card
	id    personalize.Identity
	// resumeAt is, for a Continue, the PIN step the interrupted run had
	// reached ("puk" or "pin"; "" before them): its change may have
	// reached the card with the reply lost.
	resumeAt string
}

// resumePoint is the PIN step an interrupted issue recorded as d had
// reached once every certificate step is done (written, or waiting for
// the CA): "pin" when the Admin PIN is recorded (since issue 13 it is set
// before the first key), "puk" when not (an operation recorded by an
// older server), "" otherwise.
func resumePoint(d *issueData) string {
	if d.PINSet {
		return ""
	}
	for _, sl := range d.Plan.Slots {
		if !d.Written[sl.Slot] && !(d.Requests[sl.Slot] != 0 && d.Certs[sl.Slot] == "") {
			return ""
		}
	}
	if d.PUKSet {
		return "pin"
	}
	return "puk"
}

// issueData is the issue operation's record (Operation.Data): the plan and
// what has been done, step by step. A resumed operation skips what is
// recorded here.
type issueData struct {
	Plan        issuance.Plan     `json:"plan"`
	Initialized bool              `json:"initialized,omitempty"`
	Certs       map[string]string `json:"certs"`              // slot → serial of the certificate issued for its key
	Written     map[string]bool   `json:"written"`            // slot → certificate written to the card
	Requests    map[string]int64  `json:"requests,omitempty"` // slot → CA request waiting for approval
	// TakeoverVersion is the master secret version this operation moves
	// the card's management key to; TakeoverDone once the card has it.
	TakeoverVersion int  `json:"takeover_version,omitempty"`
	TakeoverDone    bool `json:"takeover_done,omitempty"`
	// NewPUK is the card's own random PUK, sealed (CardPUKAAD), drawn and
	// recorded before it is sent to the card: a run resumed after the
	// change reached the card, its reply lost, still knows it. It moves to
	// the card record once the card has it (PUKSet).
	NewPUK  []byte `json:"new_puk,omitempty"`
	PUKSet  bool   `json:"puk_set,omitempty"`
	PINSet  bool   `json:"pin_set,omitempty"`
	Tracked bool   `json:"tracked,omitempty"`
	// The random user PIN is never in this record, sealed or not: the
	// copies the result dialog's mail choices and the card's owner may
	// use are held apart (lanyard.HeldPIN). Records written before that
	// may still name pin_copy and owner_pin; they are ignored.
}

// openCard finds the target's reader and opens an exclusive session.
func (s *Service) openCard(ctx context.Context, p *Principal, t CardTarget) (CardSession, *ReaderState, *WorkstationState, error) {
	access := s.cardAccess()
	if access == nil {
		return nil, nil, nil, lanyard.Errorf(lanyard.EUnavailable, "no workstation agents are connected to this server")
	}
	// The AirCard service is nobody's workstation: its readers are the
	// AirCards, each open to its owner (and staff).
	air := false
	if ws, ok := access.WorkstationState(t.WorkstationID); ok && ws.Role == lanyard.RoleAirCardService {
		air = true
	}
	if ws, ok := access.WorkstationState(t.WorkstationID); ok && (ws.OwnerID == p.User.ID || isCardStaff(p) || air) {
		if !ws.Online {
			return nil, nil, nil, lanyard.Errorf(lanyard.EUnavailable, "workstation %s is not connected", ws.Name)
		}
		for _, r := range ws.Readers {
			if r.Name == t.Reader && r.Present && (!air || s.AirCardOwned(ctx, p, r)) {
				sess, err := access.Open(ctx, ws.ID, r.Name)
				if err != nil {
					return nil, nil, nil, err
				}
				return sess, &r, &ws, nil
			}
		}
		return nil, nil, nil, lanyard.Errorf(lanyard.ENotFound, "there is no card in reader %q of workstation %s", t.Reader, ws.Name)
	}
	return nil, nil, nil, lanyard.Errorf(lanyard.ENotFound, "workstation %d is not connected or not yours", t.WorkstationID)
}

// loadIssue reads what an issue decision needs, in one read transaction.
func (s *Service) loadIssue(ctx context.Context, p *Principal, t CardTarget, r *ReaderState, serial string) (*issueJob, *issuance.Input, error) {
	j := &issueJob{p: p}
	in := &issuance.Input{Staff: isCardStaff(p), Requester: p.User.ID}
	err := s.view(ctx, func(tx lanyard.Tx) error {
		var err error
		switch {
		case t.User == "" || t.User == p.User.Login:
			// Read afresh: the card and the e-mails use the current
			// attributes, not the session's copy.
			if j.user, err = tx.UserByID(p.User.ID); err != nil {
				return err
			}
		case !isCardStaff(p):
			return lanyard.Errorf(lanyard.EForbidden, "you can issue cards only for yourself")
		default:
			if j.user, err = tx.UserByLogin(t.User); err != nil {
				return err
			}
		}
		if j.user.Disabled {
			return lanyard.Errorf(lanyard.EConflict, "user %q is disabled", j.user.Login)
		}
		in.OwnerID, in.Owner = j.user.ID, j.user
		pol, err := s.Catalog.PolicyFor(tx, j.user)
		if err != nil {
			return lanyard.Errorf(lanyard.EForbidden, "no policy applies to %s; ask your administrator", j.user.Login)
		}
		in.Settings, in.PolicyName = pol.Settings, pol.Name
		types, err := tx.ListCardTypes()
		if err != nil {
			return err
		}
		if j.ct = recognize(types, r.ATR, serial != ""); j.ct == nil {
			return lanyard.Errorf(lanyard.EInvalid, "no card type recognizes this card (ATR %x); ask your administrator to add its card type", r.ATR)
		}
		in.CardType = j.ct
		switch c, err := tx.CardBySerial(j.ct.Name, serial); {
		case err == nil:
			j.card, in.Card = c, c
		case !lanyard.IsCode(err, lanyard.ENotFound):
			return err
		}
		if in.OwnedCards, err = tx.CountCards(j.user.ID); err != nil {
			return err
		}
		tpls, err := tx.ListTemplates()
		if err != nil {
			return err
		}
		j.tpls = map[string]*lanyard.Template{}
		for _, t := range tpls {
			j.tpls[t.Name] = t
		}
		in.Templates = j.tpls
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if j.secrets, err = s.Catalog.CardTypeSecrets(j.ct); err != nil {
		return nil, nil, err
	}
	return j, in, nil
}

// cardConn is an open, identified card: an exclusive session with the PIV
// application selected.
type cardConn struct {
	sess   CardSession
	pc     *piv.Card
	serial string
	id     personalize.Identity
	r      *ReaderState
	ws     *WorkstationState
}

// openPIV opens the target's card and identifies it. The caller closes
// the session.
func (s *Service) openPIV(ctx context.Context, p *Principal, t CardTarget) (*cardConn, error) {
	release, err := s.cardSlots.acquire(ctx)
	if err != nil {
		return nil, err
	}
	raw, r, ws, err := s.openCard(ctx, p, t)
	if err != nil {
		release()
		return nil, err
	}
	sess := &slotSession{CardSession: raw, release: release}
	pc, id, err := personalize.Connect(ctx, sess, s.rand, r.Serial, r.Name)
	if err != nil {
		sess.Close()
		return nil, err
	}
	return &cardConn{sess: sess, pc: pc, serial: id.Serial, id: id, r: r, ws: ws}, nil
}

// findTracked reads third-party certificates on the card when the policy
// searches for them.
func (s *Service) findTracked(ctx context.Context, pc *piv.Card, in *issuance.Input) error {
	if !in.Settings.Workflow.SearchTrackedCertificates {
		return nil
	}
	managed := func(c *x509.Certificate) bool {
		var known bool
		_ = s.view(ctx, func(tx lanyard.Tx) error {
			for _, name := range s.caOrder {
				if _, err := tx.CertificateBySerial(name, pki.SerialHex(c.SerialNumber)); err == nil {
					known = true
				}
			}
			return nil
		})
		return known
	}
	found, err := personalize.ReadFound(ctx, pc, managed)
	if err != nil {
		return err
	}
	in.Found = found
	return nil
}

// IssueOptions opens the Issue card dialog for the card in a reader:
// whether it may be issued and what the dialog offers.
func (s *Service) IssueOptions(ctx context.Context, p *Principal, t CardTarget) (*IssueOptionsResult, error) {
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
func (s *Service) IssueCard(ctx context.Context, p *Principal, in IssueCardInput) (*IssueCardResult, error) {
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
		if err := s.view(ctx, func(tx lanyard.Tx) error { return s.platformLimits(tx, j.ct, j.user, ws.ID, except) }); err != nil {
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
	if err := s.findTracked(ctx, pc, input); err != nil {
		return nil, err
	}
	o, err := issuance.Offer(*input)
	if err != nil {
		return nil, err
	}
	plan, err := issuance.Decide(*input, o, issuance.Choice{Optional: in.Templates, UserPIN: in.UserPIN, AdminPIN: in.AdminPIN, Tracked: in.Tracked, Name: in.Name}, s.rand)
	if err != nil {
		return nil, err
	}
	j.pc, j.plan, j.found, j.id = pc, plan, input.Found, cc.id
	j.data = issueData{Plan: *plan, Certs: map[string]string{}, Written: map[string]bool{}}
	if err := s.startIssue(ctx, j, serial, r, ws); err != nil {
		return nil, err
	}
	return s.runIssue(ctx, j)
}

// startIssue records the card (registering it when new) as assigned to
// its owner and the operation as running, in one transaction.
func (s *Service) startIssue(ctx context.Context, j *issueJob, serial string, r *ReaderState, ws *WorkstationState) error {
	now := s.clock()
	c := j.card
	var was lanyard.Card // the card as the decision read it
	if c == nil {
		c = &lanyard.Card{Serial: serial, CardType: j.ct.Name, CreatedAt: now}
	} else {
		was = *c
	}
	c.OwnerID, c.State, c.ATR, c.WorkstationID, c.UpdatedAt = j.user.ID, lanyard.CardAssigned, r.ATR, ws.ID, now
	if err := personalize.CheckIdentity(c, j.id); err != nil {
		return err
	}
	c.GUID = j.id.GUID
	if j.plan.Name != "" {
		c.Name = j.plan.Name
	}
	check := func(tx lanyard.Tx) error {
		// The decision was made outside this transaction, with card I/O
		// since: what it relied on is checked again here. An AirCard
		// takes several sessions at once, so two issues can reach this
		// point for one card; and two cards issued at once for one user
		// must not both pass the policy's maximum.
		if c.ID != 0 {
			if err := tx.LockCard(c.ID); err != nil {
				return err
			}
			if err := unchangedForIssue(tx, &was); err != nil {
				return err
			}
		}
		if err := identityFree(tx, c, j.id); err != nil {
			return err
		}
		counted := c.ID != 0 && was.OwnerID == j.user.ID && was.State != lanyard.CardRevoked
		return s.checkMaxCards(tx, j.user, counted)
	}
	run, err := operation.Start(ctx, s.runner, operation.Begin{
		Card: c, Op: lanyard.Operation{Kind: lanyard.OpIssue, UserID: j.user.ID, ActorID: j.p.User.ID}, Check: check,
		Event: func(c *lanyard.Card, op *lanyard.Operation) *lanyard.AuditEvent {
			return s.event(j.p, "card.issue.start", "card", strconv.FormatInt(c.ID, 10), map[string]any{
				"serial": c.Serial, "card_type": c.CardType, "user": j.user.Login, "operation": op.ID,
				"templates": planTemplates(j.plan), "initialize": j.plan.Initialize, "registered": j.card != nil,
			})
		}}, &j.data)
	if err != nil {
		return err
	}
	s.attachIssue(j, run)
	return nil
}

// attachIssue makes run j's record: j.op and j.card are the run's, and
// a step recorded without an event of its own gets card.issue.step.
func (s *Service) attachIssue(j *issueJob, run *operation.Run[issueData]) {
	run.StepEvent = func(step operation.Step) *lanyard.AuditEvent {
		return s.event(j.p, "card.issue.step", "card", strconv.FormatInt(run.Card.ID, 10), map[string]any{"operation": run.Op.ID, "step": string(step)})
	}
	j.run, j.card, j.op = run, run.Card, run.Op
}

// unchangedForIssue fails with EConflict when the card changed since the
// issue decision read it as was, or has an unfinished operation.
func unchangedForIssue(tx lanyard.Tx, was *lanyard.Card) error {
	cur, err := tx.CardByID(was.ID)
	if err != nil {
		return err
	}
	if !cur.UpdatedAt.Equal(was.UpdatedAt) || cur.State != was.State || cur.OwnerID != was.OwnerID {
		return lanyard.Errorf(lanyard.EConflict, "card %s changed while it was being read (another issue?); look at the card and try again", was.Serial)
	}
	ops, err := tx.ListOperations(lanyard.OperationFilter{CardID: was.ID, Unfinished: true, Limit: 1})
	if err != nil {
		return err
	}
	if len(ops) > 0 {
		return lanyard.Errorf(lanyard.EConflict, "card %s already has an operation under way (%s)", was.Serial, ops[0].Step)
	}
	return nil
}

// checkMaxCards checks the policy's maximum cards per user inside the
// transaction that adds a card to u or assigns one, with u held
// (Tx.LockUser) so that two such transactions at once cannot both pass:
// on PostgreSQL they would otherwise both count before either wrote.
// counted says the card concerned is already among u's cards.
func (s *Service) checkMaxCards(tx lanyard.Tx, u *lanyard.User, counted bool) error {
	if err := tx.LockUser(u.ID); err != nil {
		return err
	}
	pol, err := s.Catalog.PolicyFor(tx, u)
	if err != nil {
		return lanyard.Errorf(lanyard.EForbidden, "no policy applies to %s; ask your administrator", u.Login)
	}
	max := pol.Settings.Issuance.MaxCardsPerUser
	if max <= 0 {
		return nil
	}
	n, err := tx.CountCards(u.ID)
	if err != nil {
		return err
	}
	if counted {
		n--
	}
	if n >= max {
		return lanyard.Errorf(lanyard.EConflict, "the policy allows at most %d card(s) per user, and %s already has %d", max, u.Login, n)
	}
	return nil
}

func planTemplates(p *issuance.Plan) []string {
	out := make([]string, len(p.Slots))
	for i, sl := range p.Slots {
		out[i] = sl.Template
	}
	return out
}

// unfinishedIssue returns the card's running, interrupted or pending
// issue, if any: found by kind and state, however many other operations
// (failed clears) came after it.
func (s *Service) unfinishedIssue(ctx context.Context, cardID int64) (*lanyard.Operation, error) {
	var out *lanyard.Operation
	err := s.view(ctx, func(tx lanyard.Tx) (err error) { out, err = unfinishedIssueTx(tx, cardID); return })
	return out, err
}

// unfinishedIssueTx is unfinishedIssue in tx.
func unfinishedIssueTx(tx lanyard.Tx, cardID int64) (*lanyard.Operation, error) {
	ops, err := tx.ListOperations(lanyard.OperationFilter{CardID: cardID, Kind: lanyard.OpIssue, Unfinished: true, Limit: 1})
	if err != nil || len(ops) == 0 {
		return nil, err
	}
	return ops[0], nil
}

// stop ends a run that failed: the operation becomes interrupted (the
// card, the agent or the connection went away; resumable) or failed (the
// card refused; a new issue is needed), with one audit event.
func (s *Service) stop(ctx context.Context, j *issueJob, cause error) error {
	state, action := lanyard.OpInterrupted, "card.issue.interrupt"
	if lanyard.IsCode(cause, lanyard.EConflict) || lanyard.IsCode(cause, lanyard.EInvalid) || lanyard.IsCode(cause, lanyard.EForbidden) {
		state, action = lanyard.OpFailed, "card.issue.fail"
	}
	msg := lanyard.ErrorMessage(cause)
	s.log.Warn("card issue stopped", "operation", j.op.ID, "card", j.card.ID, "state", state, "error", cause)
	withdraw := func(tx lanyard.Tx) error {
		if state != lanyard.OpFailed {
			return nil
		}
		// A failed issue cannot continue: its requests still waiting in
		// the CA are withdrawn, so none is approved later into a
		// certificate bound to no card.
		return s.withdrawRequests(tx, j.p, &j.data, "the card issue failed")
	}
	ev := s.event(j.p, action, "card", strconv.FormatInt(j.card.ID, 10), map[string]any{"operation": j.op.ID, "step": j.op.Step, "error": msg})
	if err := j.run.Stop(ctx, state, msg, operation.Also(withdraw), operation.Event(ev)); err != nil {
		s.log.Error("recording a stopped card issue failed", "operation", j.op.ID, "error", err)
		j.op.State, j.op.Error = state, msg
	}
	if state == lanyard.OpInterrupted {
		return lanyard.Wrap(lanyard.EUnavailable, cause, msg+"; the card issue can be continued (Continue card issue)")
	}
	return cause
}

// runIssue carries the plan out from wherever the operation stands.
func (s *Service) runIssue(ctx context.Context, j *issueJob) (*IssueCardResult, error) {
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
	now := s.clock()
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
		return nil
	}
	details := map[string]any{"serial": j.card.Serial, "user": j.user.Login, "operation": j.op.ID, "templates": planTemplates(&j.data.Plan)}
	if newRandomPIN {
		details["random_pin"] = randomPINFate(j, held)
	}
	err = j.run.Step(ctx, operation.Done, operation.WithCard(), operation.Also(final), operation.Event(s.event(j.p, action, "card", strconv.FormatInt(j.card.ID, 10), details)))
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
	err = s.view(ctx, func(tx lanyard.Tx) error {
		var err error
		if res.Card, err = s.cardView(tx, j.card, false); err != nil {
			return err
		}
		answers, err = tx.SecretAnswers(j.user.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	res.SecretQuestionsNeeded = len(answers) == 0 && j.user.ID == j.p.User.ID
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
func (s *Service) requireIssueDocuments(tx lanyard.Tx, j *issueJob) error {
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
		if err := s.RequireDocuments(tx, j.card, j.user, sl.Slot, sl.Template, kinds...); err != nil {
			return err
		}
	}
	return nil
}

// issueSteps runs the card steps not yet recorded. It reports pending when
// a certificate waits for CA approval (documents check).
func (s *Service) issueSteps(ctx context.Context, j *issueJob) (pending bool, err error) {
	d := &j.data
	keys := personalize.TypeKeys(j.ct, j.secrets)
	factory := personalize.FactoryKeys()

	// Initialize card: everything on it is deleted (the dialog warned).
	if d.Plan.Initialize && !d.Initialized {
		pinTries, pukTries := j.ct.PIN.PINRetries, j.ct.PIN.PUKRetries
		if k, err := personalize.Initialize(ctx, j.pc, pinTries, pukTries); err != nil {
			return false, err
		} else {
			keys = k
		}
		d.Initialized = true
		d.TakeoverVersion, d.TakeoverDone, d.NewPUK = 0, false, nil
		// RESET wrote a new CHUID (or none) and the factory PUK.
		if err := s.reidentify(ctx, j); err != nil {
			return false, err
		}
		j.card.AdminKeyVersion, j.card.CardID = 0, ""
		j.card.SealedPUK, j.card.PUKState = nil, lanyard.PUKDefault
		if err := j.run.Step(ctx, operation.Initialized, operation.WithCard()); err != nil {
			return false, err
		}
	} else if d.Initialized {
		keys = factory
	}

	admin, err := s.cardAdmin(ctx, j, keys)
	if err != nil {
		return false, err
	}
	// The card's own random Admin PIN (PUK) before any key or certificate
	// reaches it: a card pulled, or an issue failing, after that never
	// holds a logon certificate with the shared PUK (which resets its
	// PIN). The management session stays open: CHANGE REFERENCE of the
	// PUK does not touch it.
	if !d.PUKSet {
		if err := s.setCardPUK(ctx, j, keys.PUK); err != nil {
			return false, err
		}
	}

	// Keys on the card and their certificates.
	for _, sl := range d.Plan.Slots {
		if d.Certs[sl.Slot] != "" {
			continue
		}
		if id := d.Requests[sl.Slot]; id != 0 {
			waiting, err := s.approvedCertificate(ctx, j, sl, id)
			if err != nil {
				return false, err
			}
			pending = pending || waiting
			continue
		}
		slot, err := personalize.ParseSlot(sl.Slot)
		if err != nil {
			return false, err
		}
		tpl := j.tpls[sl.Template]
		if tpl == nil {
			return false, lanyard.Errorf(lanyard.EUnavailable, "template %q no longer exists", sl.Template)
		}
		pub, err := personalize.GenerateKey(ctx, admin, slot, sl.Algorithm)
		if err != nil {
			return false, err
		}
		if err := ca.CheckPublicKey(tpl, pub); err != nil {
			return false, err
		}
		if sl.NeedCA {
			// Documents check: the request waits in the CA's queue; the key
			// stays on the card and Continue card issue writes the
			// certificate once a CA manager approved it.
			if err := s.queueCardRequest(ctx, j, sl, tpl, pub); err != nil {
				return false, err
			}
			pending = true
			continue
		}
		authority, ok := s.cas[tpl.CA]
		if !ok {
			return false, lanyard.Errorf(lanyard.EUnavailable, "CA %q of template %q is not running", tpl.CA, tpl.Name)
		}
		cert, err := authority.Sign(ctx, &ca.SignRequest{Template: tpl, User: j.user, PublicKey: pub})
		if err != nil {
			return false, err
		}
		rec := pki.CertRecord(cert, tpl, j.user, s.clock())
		rec.CardID, rec.Slot = j.card.ID, sl.Slot
		d.Certs[sl.Slot] = rec.Serial
		ev := s.event(j.p, "cert.issue", "certificate", rec.Serial, map[string]any{"ca": rec.CA, "template": tpl.Name,
			"user": j.user.Login, "subject": rec.Subject, "card": j.card.ID, "slot": sl.Slot})
		if err := j.run.Step(ctx, operation.Issued.On(sl.Slot), operation.Also(func(tx lanyard.Tx) error { return tx.CreateCertificate(rec) }), operation.Event(ev)); err != nil {
			delete(d.Certs, sl.Slot)
			return false, err
		}
	}
	for _, sl := range d.Plan.Slots {
		if d.Written[sl.Slot] || d.Certs[sl.Slot] == "" {
			continue
		}
		if sl.NeedForm {
			// The certificate is issued (valid) but reaches the card only
			// once an administrator approved its signed certificate form.
			ok, err := s.formApproved(ctx, j, sl)
			if err != nil {
				return false, err
			}
			if !ok {
				pending = true
				continue
			}
		}
		if err := s.writeCertificate(ctx, j, admin, sl); err != nil {
			return false, err
		}
	}

	// The user PIN, falling back to the card type.
	if !d.PINSet {
		want := j.newPIN()
		if want == "" && d.Plan.PINSetup {
			// Nobody knows the PIN until Set up PIN; a new random one
			// does as well as the one drawn before the interruption.
			var err error
			if want, err = policy.RandomPIN(lanyard.RandomPINSettings{Length: 8, Groups: []lanyard.PINCharGroup{lanyard.PINDigits}, MailTo: lanyard.PINMailNobody}, s.rand); err != nil {
				return false, err
			}
		}
		if want == "" {
			// A random PIN drawn before an interruption is gone with the
			// request that drew it; draw again.
			return false, lanyard.Errorf(lanyard.EInvalid, "enter the User PIN again to continue")
		}
		if want != keys.PIN {
			if err := j.pc.ChangePIN(ctx, keys.PIN, want); err != nil && !(j.resumeAt == "pin" && personalize.WrongSecret(err, 1) && s.resetPIN(ctx, j, want, err)) {
				return false, personalize.CardError(err, "setting the User PIN failed")
			}
		}
		d.PINSet = true
		if err := j.run.Step(ctx, operation.PIN); err != nil {
			return false, err
		}
	}

	if !d.Tracked {
		if err := s.trackCertificates(ctx, j); err != nil {
			return false, err
		}
	}
	return pending, nil
}

// resetPIN sets the User PIN to want when a resumed change found the old
// one refused (the change may have reached the card, its reply lost):
// with the card's own PUK (RESET RETRY COUNTER, no guess, the tries
// restored), else — for a card from before PUKs were stored, and a PIN
// the user entered, never one drawn afresh — by trying want once while
// two tries are left.
func (s *Service) resetPIN(ctx context.Context, j *issueJob, want string, changeErr error) bool {
	puk, err := s.cardPUK(j.card)
	if err != nil {
		puk = ""
	}
	drawn := j.data.Plan.RandomPIN || j.data.Plan.PINSetup
	return personalize.UnblockOrProbePIN(ctx, j.pc, puk, want, drawn, changeErr)
}

// newPIN is the user PIN the card gets: the one entered or drawn, else the
// card type's default, else the factory value.
func (j *issueJob) newPIN() string {
	switch {
	case j.plan != nil && j.plan.UserPIN != "":
		return j.plan.UserPIN
	case j.plan == nil && (j.data.Plan.RandomPIN || j.data.Plan.PINSetup):
		return ""
	case j.secrets.UserPIN != "":
		return j.secrets.UserPIN
	}
	return pivspec.DefaultPIN
}

// cardAdmin authenticates with the card's management key, moving the card
// to its diversified key first when the card type asks for random keys
// (docs/architecture.md, "Principles"). The key version is recorded with the
// card before anything else happens, so the key can always be derived
// again.
func (s *Service) cardAdmin(ctx context.Context, j *issueJob, keys personalize.Keys) (*piv.Admin, error) {
	if j.ct.AdminMode != lanyard.AdminKeyRandom {
		return personalize.AuthenticateStatic(ctx, j.pc, keys.Admin)
	}
	// Checked before any key derived for this card is used or sent: the
	// card must be the one recorded (serial, CHUID GUID, bound identifier).
	ident, err := personalize.KeyIdent(ctx, j.pc, j.card, j.id)
	if err != nil {
		return nil, err
	}
	d := &j.data
	if v := j.card.AdminKeyVersion; v > 0 && (d.TakeoverVersion != v || d.TakeoverDone) {
		// The card has had its diversified key since an earlier issue, or
		// this operation's takeover finished.
		m, err := s.adminMaster(ctx, v)
		if err != nil {
			return nil, err
		}
		return personalize.AuthenticateDerived(ctx, j.pc, j.ct.AdminKey, m, ident)
	}
	var m personalize.Master
	if d.TakeoverVersion == 0 {
		if m, err = s.adminMaster(ctx, 0); err != nil {
			return nil, err
		}
		// Record the version first: if the card, the agent or the server
		// goes away between SET MANAGEMENT KEY and the next record, the
		// resumed takeover finds the diversified key already in place
		// (Takeover accepts it) and still knows which version it is.
		// The store holds each identifier for one card only: binding it
		// here fails if another card holds it already.
		d.TakeoverVersion = m.Version
		j.card.AdminKeyVersion, j.card.CardID = m.Version, hex.EncodeToString(ident)
		if err := j.run.Step(ctx, operation.AdminKey, operation.WithCard()); err != nil {
			return nil, err
		}
	} else if m, err = s.adminMaster(ctx, d.TakeoverVersion); err != nil {
		return nil, err
	}
	admin, err := personalize.Takeover(ctx, j.pc, keys.Admin, j.ct.AdminKey, m, ident)
	if err != nil {
		return nil, personalize.CardError(err, "setting the card's Lanyard management key")
	}
	d.TakeoverDone = true
	if err := j.run.Step(ctx, operation.AdminKeySet); err != nil {
		return nil, err
	}
	return admin, nil
}

// writeCertificate writes the slot's certificate to the card, after
// checking that the slot's key is the certified one when the card can
// tell (GET METADATA).
func (s *Service) writeCertificate(ctx context.Context, j *issueJob, admin *piv.Admin, sl issuance.SlotPlan) error {
	slot, err := personalize.ParseSlot(sl.Slot)
	if err != nil {
		return err
	}
	tpl := j.tpls[sl.Template]
	caName := s.caOrder[0]
	if tpl != nil {
		caName = tpl.CA
	}
	var rec *lanyard.Certificate
	if err := s.view(ctx, func(tx lanyard.Tx) (err error) {
		rec, err = tx.CertificateBySerial(caName, j.data.Certs[sl.Slot])
		return
	}); err != nil {
		return err
	}
	if rec.Status != lanyard.CertValid && rec.Status != lanyard.CertApproved {
		// Revoked meanwhile (key compromise reported while the issue
		// waited): writing it would put a dead certificate on the card.
		return lanyard.Errorf(lanyard.EConflict, "the %s certificate %s is %s and is not written; revoke and clear the card, then issue it again", sl.Template, rec.Serial, rec.Status)
	}
	cert, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		return lanyard.Wrap(lanyard.EInternal, err, "stored certificate does not parse")
	}
	if err := personalize.WriteCertificate(ctx, j.pc, admin, slot, cert); err != nil {
		return err
	}
	j.data.Written[sl.Slot] = true
	rec.Status, rec.CardID, rec.Slot, rec.UpdatedAt = lanyard.CertWritten, j.card.ID, sl.Slot, s.clock()
	ev := s.event(j.p, "cert.write", "certificate", rec.Serial, map[string]any{"card": j.card.ID, "slot": sl.Slot})
	if err := j.run.Step(ctx, operation.Written.On(sl.Slot), operation.Also(func(tx lanyard.Tx) error { return tx.UpdateCertificate(rec) }), operation.Event(ev)); err != nil {
		delete(j.data.Written, sl.Slot)
		return err
	}
	return nil
}

// trackedCA names the issuer of a third-party certificate where Lanyard's
// own CAs are named: a serial number is unique only per issuer (RFC 5280,
// 4.1.2.2), so two issuers' certificates with one serial are two records.
// Before, every tracked certificate was filed under "external", and the
// second of two such certificates was taken for the first.
func trackedCA(c *x509.Certificate) string { return "external:" + c.Issuer.String() }

// trackCertificates records the third-party certificates the user chose
// (or the policy tracks) so that their validity is followed.
func (s *Service) trackCertificates(ctx context.Context, j *issueJob) error {
	var recs []*lanyard.Certificate
	now := s.clock()
	for _, slot := range j.data.Plan.Tracked {
		for _, f := range j.found {
			if f.Slot != slot || f.Certificate == nil {
				continue
			}
			rec := pki.CertRecord(f.Certificate, &lanyard.Template{}, j.user, now)
			rec.CA, rec.Source, rec.Status, rec.CardID, rec.Slot = trackedCA(f.Certificate), lanyard.SourceTracked, lanyard.CertValid, j.card.ID, f.Slot
			if now.After(f.Certificate.NotAfter) {
				rec.Status = lanyard.CertExpired
			}
			recs = append(recs, rec)
		}
	}
	j.data.Tracked = true
	// A certificate already recorded under its issuer and serial is
	// tracked already: by an earlier issue of this card, or — a copy:
	// certificates are public — on another card. Such a conflict is
	// never rebound to this card; the audit event names it for staff.
	var conflicts []string
	return j.run.Step(ctx, operation.Tracked, operation.Also(func(tx lanyard.Tx) error {
		conflicts = nil
		for _, rec := range recs {
			old, err := tx.CertificateBySerial(rec.CA, rec.Serial)
			if err == nil {
				if old.CardID != rec.CardID || old.KeySHA256 != rec.KeySHA256 {
					conflicts = append(conflicts, rec.Serial)
					s.log.Warn("a tracked certificate is already recorded for another card", "card", j.card.ID, "ca", rec.CA, "serial", rec.Serial, "recorded_for_card", old.CardID)
				}
				continue
			}
			if !lanyard.IsCode(err, lanyard.ENotFound) {
				return err
			}
			if err := tx.CreateCertificate(rec); err != nil {
				return err
			}
		}
		return nil
	}), operation.EventAfter(func() *lanyard.AuditEvent {
		details := map[string]any{"operation": j.op.ID, "tracked": len(recs) - len(conflicts)}
		if len(conflicts) > 0 {
			details["recorded_for_another_card"] = conflicts
		}
		return s.event(j.p, "card.track", "card", strconv.FormatInt(j.card.ID, 10), details)
	}))
}
