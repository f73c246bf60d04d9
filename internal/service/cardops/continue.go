package cardops

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
)

// ContinueInput continues an interrupted or pending card issue on the card
// in a reader. The PINs are asked again: they were never stored. Empty
// PINs fall back as in the Issue card dialog; a random PIN is drawn anew
// if it had not reached the card. AdminPIN is the card's current Admin PIN,
// asked again only when it was entered at issue and the card does not
// have its own PUK yet.
type ContinueInput struct {
	CardTarget
	UserPIN  string
	AdminPIN string
}

// ContinueCardIssue finishes the card's unfinished issue operation
// ("Continue card issue" in the card menu) from the last recorded step.
func (s *Cards) ContinueCardIssue(ctx context.Context, p *lanyard.Principal, cardID int64, in ContinueInput) (*IssueCardResult, error) {
	var card *lanyard.Card
	var user *lanyard.User
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		if card, err = tx.CardByID(cardID); err != nil {
			return err
		}
		if card.OwnerID != p.User.ID && !isCardStaff(p) {
			return lanyard.Errorf(lanyard.ENotFound, "card %d not found", cardID)
		}
		user, err = tx.UserByID(card.OwnerID)
		return err
	}); err != nil {
		return nil, err
	}
	op, err := s.unfinishedIssue(ctx, card.ID)
	if err != nil {
		return nil, err
	}
	if op == nil || op.Kind != lanyard.OpIssue {
		return nil, lanyard.Errorf(lanyard.EConflict, "card %s has no card issue to continue", card.Serial)
	}
	in.User = user.Login
	cc, err := s.openPIV(ctx, p, in.CardTarget)
	if err != nil {
		return nil, err
	}
	defer cc.sess.Close()
	pc, serial, r := cc.pc, cc.serial, cc.r
	// Read again inside the exclusive session: another Continue (or a
	// Revoke and clear) may have run while this one waited for the card;
	// its record, not the one read before, is where to go on from. (Each
	// step is also a compare-and-set on the operation.)
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { card, err = tx.CardByID(cardID); return }); err != nil {
		return nil, err
	}
	if op, err = s.unfinishedIssue(ctx, card.ID); err != nil {
		return nil, err
	}
	if op == nil || op.Kind != lanyard.OpIssue {
		return nil, lanyard.Errorf(lanyard.EConflict, "card %s has no card issue to continue (it finished meanwhile)", card.Serial)
	}
	if serial != card.Serial {
		return nil, lanyard.Errorf(lanyard.EConflict, "the card in reader %q is %s, not card %s", r.Name, serial, card.Serial)
	}
	j, input, err := s.loadIssue(ctx, p, in.CardTarget, r, serial)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(op.Data, &j.data); err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "the operation's record does not parse")
	}
	if err := s.refuseOtherContinuer(ctx, j); err != nil {
		return nil, err
	}
	if j.data.Certs == nil {
		j.data.Certs = map[string]string{}
	}
	if j.data.Written == nil {
		j.data.Written = map[string]bool{}
	}
	o, err := issuance.Offer(issuance.Input{Settings: input.Settings, PolicyName: input.PolicyName, Staff: true, CardType: j.ct,
		Card: nil, OwnerID: user.ID, Templates: j.tpls})
	if err != nil {
		return nil, err
	}
	// The plan is the one recorded; only the PINs are chosen again.
	plan := j.data.Plan
	// The card's current Admin PIN is asked again only if it was entered
	// at issue and the card does not have its own PUK yet; afterwards the
	// server knows the card's PUK.
	o.ShowAdminPIN = (plan.EnteredAdminPIN || card.PUKState == lanyard.PUKUnknown) && !j.data.PUKSet
	if !o.ShowAdminPIN {
		in.AdminPIN = ""
	}
	o.ShowUserPIN = !plan.Initialize && !plan.RandomPIN
	o.RandomPIN, o.Initialize = plan.RandomPIN, plan.Initialize
	pins, err := issuance.Decide(issuance.Input{Settings: input.Settings, Staff: true, CardType: j.ct, OwnerID: user.ID, Templates: j.tpls},
		o, issuance.Choice{UserPIN: in.UserPIN, AdminPIN: in.AdminPIN}, s.rand)
	if err != nil {
		return nil, err
	}
	plan.UserPIN, plan.AdminPIN = pins.UserPIN, pins.AdminPIN
	j.pc, j.plan, j.resumeAt, j.id = pc, &plan, resumePoint(&j.data), cc.id
	if err := personalize.CheckIdentity(card, cc.id); err != nil {
		return nil, err
	}
	s.attachIssue(j, operation.Attach(s.runner, op, card, &j.data))
	if err := j.run.Resume(ctx, s.rec.Event(p, "card.issue.continue", "card", strconv.FormatInt(card.ID, 10),
		map[string]any{"operation": op.ID, "from_step": op.Step})); err != nil {
		return nil, err
	}
	return s.runIssue(ctx, j)
}

// OperationIdleLimit is how long a running operation may go without
// recording a step before it counts as abandoned: a card step takes well
// under a second, so a minute means its server or request is gone.
const OperationIdleLimit = time.Minute

// RecoverOperations marks running operations that recorded nothing for
// idle as interrupted, so that their owners see them and continue them:
// the server that ran them stopped or lost the request. The server calls
// it at start and periodically; with several replicas, idle keeps it from
// touching another replica's live operation. (Continuing does not depend
// on it: an exclusive card session keeps two runs apart.)
//
// A card issue or update becomes interrupted (Continue card issue or
// update resumes it); any other operation (Revoke and clear) failed: it is repeated, not
// resumed, and must not keep the card from a new issue.
func (s *Cards) RecoverOperations(ctx context.Context, idle time.Duration) (int, error) {
	const msg = "the server stopped during the operation"
	return s.runner.Sweep(ctx, idle, func(op *lanyard.Operation) (lanyard.OperationState, string, func() *lanyard.AuditEvent) {
		state, action := lanyard.OpInterrupted, "card."+string(op.Kind)+".interrupt"
		if op.Kind != lanyard.OpIssue && op.Kind != lanyard.OpUpdate {
			state, action = lanyard.OpFailed, "card."+string(op.Kind)+".fail"
		}
		return state, msg, func() *lanyard.AuditEvent {
			return s.rec.Event(lanyard.SystemPrincipal, action, "card", strconv.FormatInt(op.CardID, 10),
				map[string]any{"operation": op.ID, "step": op.Step, "error": msg})
		}
	})
}

// queueCardRequest puts the slot's key in the CA's approval queue and
// records the request in the operation, in one transaction.
func (s *Cards) queueCardRequest(ctx context.Context, j *issueJob, sl issuance.SlotPlan, tpl *lanyard.Template, pub crypto.PublicKey) error {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return lanyard.Wrap(lanyard.EInternal, err, "public key cannot be encoded")
	}
	sum := sha256.Sum256(spki)
	// Who asked is who started the issue (the operation's actor), also
	// when someone else continues it: four eyes hold against them.
	r := &lanyard.CertRequest{
		CA: tpl.CA, Template: tpl.Name, UserID: j.user.ID, RequestedBy: j.op.ActorID, PublicKey: spki,
		KeySHA256: hex.EncodeToString(sum[:]), Subject: lanyard.ExpandSubject(tpl.Subject.CommonName, j.user),
		Status: lanyard.RequestPending, CreatedAt: s.rec.Clock(), OperationID: j.op.ID,
	}
	if j.data.Requests == nil {
		j.data.Requests = map[string]int64{}
	}
	err = j.run.Step(ctx, operation.Requested.On(sl.Slot), operation.Also(func(tx lanyard.Tx) error {
		if err := tx.CreateRequest(r); err != nil {
			return err
		}
		j.data.Requests[sl.Slot] = r.ID
		return nil
	}))
	if err != nil {
		delete(j.data.Requests, sl.Slot)
	}
	return err
}

// approvedCertificate looks at the slot's CA request: still pending
// (waiting), rejected (the issue cannot finish: revoke and clear the card
// and start again), or issued, in which case its certificate is bound to
// the card and will be written.
func (s *Cards) approvedCertificate(ctx context.Context, j *issueJob, sl issuance.SlotPlan, id int64) (waiting bool, err error) {
	var r *lanyard.CertRequest
	var cert *lanyard.Certificate
	if err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		var err error
		if r, err = tx.RequestByID(id); err != nil {
			return err
		}
		if r.Status == lanyard.RequestIssued {
			cert, err = tx.CertificateByID(r.CertificateID)
		}
		return err
	}); err != nil {
		return false, err
	}
	switch r.Status {
	case lanyard.RequestPending:
		return true, nil
	case lanyard.RequestRejected:
		return false, lanyard.Errorf(lanyard.EConflict, "the CA rejected the %s certificate request: %s; %s", sl.Template, r.Comment, j.startAgain())
	}
	if cert.Status != lanyard.CertValid && cert.Status != lanyard.CertApproved {
		return false, lanyard.Errorf(lanyard.EConflict, "the %s certificate %s is %s; %s", sl.Template, cert.Serial, cert.Status, j.startAgain())
	}
	cert.CardID, cert.Slot, cert.UpdatedAt = j.card.ID, sl.Slot, s.rec.Clock()
	if cert.Status == lanyard.CertValid && !sl.NeedForm {
		cert.Status = lanyard.CertApproved // guide: approved in the CA, to be written by Continue card issue
	}
	j.data.Certs[sl.Slot] = cert.Serial
	step := operation.Approved.On(sl.Slot)
	var archived int64
	err = j.run.Step(ctx, step, operation.Also(func(tx lanyard.Tx) error {
		if err := tx.UpdateCertificate(cert); err != nil {
			return err
		}
		archived, err = s.certifyArchived(tx, j, sl.Template, cert.DER) // a key archived before the request waited
		return err
	}), operation.EventAfter(func() *lanyard.AuditEvent {
		// The step's event names the certificate and, when the template
		// archives keys, the archived key it bound: the audit trail of a
		// recoverable key starts here on this path, as cert.issue starts
		// it on the direct one.
		details := map[string]any{"operation": j.op.ID, "step": string(step), "serial": cert.Serial}
		if archived != 0 {
			details["archived_key"] = archived
		}
		return s.rec.Event(j.p, "card.issue.step", "card", strconv.FormatInt(j.card.ID, 10), details)
	}))
	if err != nil {
		delete(j.data.Certs, sl.Slot)
	}
	return false, err
}
