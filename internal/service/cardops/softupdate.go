package cardops

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/cardperm"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
)

// Software store re-issue (docs/lifecycle.md, "Update card contents",
// software stores): Update card contents for a software store. The plan
// is the card's (issuance.DecideStoreReissue: certificates due, templates
// the policy added or dropped). Per certificate renewed or added, the
// workstation's agent makes a new key pair, the CA certifies it, and the
// agent writes it with the key container password, asked again (it is
// never stored), into a new file; the old certificate is revoked
// (superseded) in the transaction that records the new file. The old
// file stays where it is, holding its revoked certificate and its key:
// the agent protocol has no request to delete a file, and a decryption
// key in it still opens what was encrypted to the old certificate.
//
// Like a store's issue, a re-issue is not resumable: the new key lives
// in the agent's memory until written. A failure before a new file is
// written revokes no old certificate (the new certificate, whose key is
// lost, is revoked); certificates already renewed stay renewed, and the
// next re-issue does the rest.

// StoreReissueInput is the re-issue dialog's answer.
type StoreReissueInput struct {
	// WorkstationID is the store's workstation (the card's; 0 means it).
	WorkstationID int64
	// Password is the key container password of the new files, checked
	// against the policy's rules as at issue; never stored or logged.
	Password string
	// Templates are optional templates to add (where the policy lets the
	// user choose); those held are kept anyway.
	Templates []string
}

// StoreReissueResult reports a re-issue: the store as it is now and, per
// certificate changed, the new file and the old one.
type StoreReissueResult struct {
	Card        *CardView
	OperationID int64
	Files       []StoreReissuedFile
}

// StoreReissuedFile is one certificate of a re-issue: renewed or added
// (written to a new file) or removed (only revoked).
type StoreReissuedFile struct {
	Template  string
	Action    issuance.SlotAction
	OldSerial string // the certificate superseded ("" for add)
	NewSerial string // "" for remove
	// OldPath is the file of the old certificate, left in place with its
	// revoked certificate (delete it when nothing encrypted to it is
	// needed any more); "" when not known.
	OldPath string
	lanyard.SoftwareStored
}

// storeReissueData is a re-issue's record (Operation.Data). Kind, Scope
// and Files are named as softData's, so the store's files are found in
// its issue's and re-issues' records alike (storeFiles).
type storeReissueData struct {
	Kind       string                       `json:"kind"` // "software_store"
	Scope      string                       `json:"scope"`
	Plan       issuance.UpdatePlan          `json:"plan"`
	Certs      map[string]string            `json:"certs"` // template → new certificate serial
	Files      map[string]SoftwareStoredRec `json:"files"` // template → new file
	Superseded map[string]string            `json:"superseded,omitempty"`
}

// storeReissue is one re-issue in progress.
type storeReissue struct {
	p     *lanyard.Principal
	owner *lanyard.User
	ws    lanyard.WorkstationState
	tpls  map[string]*lanyard.Template
	card  *lanyard.Card
	old   map[string]string // template → the file it was written to
	op    *lanyard.Operation
	data  storeReissueData
	run   *operation.Run[storeReissueData]
	files []StoreReissuedFile
}

// ReissueSoftwareStore re-issues the software store cardID: the update
// its policy asks for now, with new keys in new files written with
// in.Password. The owner may when the policy's Update card permission
// allows it, staff as for a card (cardperm.Update); the store's
// workstation must be connected. A store with nothing due is refused
// (EConflict, "up to date").
func (s *Cards) ReissueSoftwareStore(ctx context.Context, p *lanyard.Principal, cardID int64, in StoreReissueInput) (*StoreReissueResult, error) {
	access := s.cardAccess()
	if access == nil {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "no workstation agents are connected to this server")
	}
	j := &storeReissue{p: p}
	if err := s.rec.View(ctx, func(tx lanyard.Tx) error { return s.loadStoreReissue(tx, j, cardID, in) }); err != nil {
		return nil, err
	}
	ws, ok := access.WorkstationState(j.card.WorkstationID)
	if !ok || !ws.Online || (ws.OwnerID != p.User.ID && !isCardStaff(p)) {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "the workstation of software store %s (%d) is not connected; re-issue it from that workstation", j.card.Serial, j.card.WorkstationID)
	}
	if err := softScopeAllowed(&ws, j.data.Scope); err != nil {
		return nil, err
	}
	j.ws = ws
	if err := s.startStoreReissue(ctx, j); err != nil {
		return nil, err
	}
	if err := s.storeReissueSteps(ctx, j, in.Password); err != nil {
		return nil, s.failStoreReissue(ctx, j, err)
	}
	j.op.State = lanyard.OpDone
	err := j.run.Step(ctx, operation.Done, operation.Event(s.rec.Event(p, "card.update", "card", strconv.FormatInt(j.card.ID, 10), j.details(map[string]any{
		"superseded": j.data.Superseded, "files": j.newPaths()}))))
	if err != nil {
		return nil, err
	}
	s.notifyUpdate(ctx, "updated", j.card, p.User.Login, "")
	res := &StoreReissueResult{OperationID: j.op.ID, Files: j.files}
	res.Card, err = s.GetCard(ctx, p, j.card.ID)
	return res, err
}

// loadStoreReissue reads and decides the re-issue of cardID, in tx:
// the store, the caller's permission, the plan and the store's files.
func (s *Cards) loadStoreReissue(tx lanyard.Tx, j *storeReissue, cardID int64, in StoreReissueInput) error {
	card, err := tx.CardByID(cardID)
	if err != nil {
		return err
	}
	if card.OwnerID != j.p.User.ID && !isCardStaff(j.p) {
		return lanyard.Errorf(lanyard.ENotFound, "card %d not found", cardID)
	}
	ct, err := tx.CardTypeByName(card.CardType)
	if err != nil {
		return err
	}
	if ct.Kind != lanyard.KindSoftwareStore {
		return lanyard.Errorf(lanyard.EInvalid, "card %s is not a software store; use Update card with the card in a reader", card.Serial)
	}
	if in.WorkstationID != 0 && in.WorkstationID != card.WorkstationID {
		return lanyard.Errorf(lanyard.EInvalid, "software store %s is on workstation %d, not %d: it is re-issued there", card.Serial, card.WorkstationID, in.WorkstationID)
	}
	if err := s.checkUpdatePerm(tx, j.p, card, cardperm.Update); err != nil {
		return err
	}
	uin, err := s.updateInput(tx, j.p, card)
	if err != nil {
		return err
	}
	if uin == nil {
		return lanyard.Errorf(lanyard.EConflict, "software store %s has no owner or no policy applies to its owner", card.Serial)
	}
	plan, err := issuance.DecideStoreReissue(*uin, in.Templates, in.Password)
	if err != nil {
		return err
	}
	scope, files, err := storeFiles(tx, card.ID)
	if err != nil {
		return err
	}
	if j.tpls, err = templatesByName(tx); err != nil {
		return err
	}
	j.card, j.owner, j.old = card, uin.Owner, files
	j.data = storeReissueData{Kind: string(lanyard.KindSoftwareStore), Scope: scope, Plan: *plan, Certs: map[string]string{},
		Files: map[string]SoftwareStoredRec{}, Superseded: map[string]string{}}
	return nil
}

// storeFiles is the scope of the software store cardID and, per
// template, the file its current certificate is in: from the records of
// its issue and re-issues, the latest winning.
func storeFiles(tx lanyard.Tx, cardID int64) (string, map[string]string, error) {
	ops, err := tx.ListOperations(lanyard.OperationFilter{CardID: cardID})
	if err != nil {
		return "", nil, err
	}
	slices.SortFunc(ops, func(a, b *lanyard.Operation) int { return int(a.ID - b.ID) })
	scope, files := "", map[string]string{}
	for _, op := range ops {
		var d struct {
			Kind  string                       `json:"kind"`
			Scope string                       `json:"scope"`
			Files map[string]SoftwareStoredRec `json:"files"`
		}
		if json.Unmarshal(op.Data, &d) != nil || d.Kind != string(lanyard.KindSoftwareStore) {
			continue
		}
		if d.Scope != "" {
			scope = d.Scope
		}
		for t, f := range d.Files {
			files[t] = f.Path
		}
	}
	if scope == "" {
		return "", nil, lanyard.Errorf(lanyard.EConflict, "the records do not say which store (machine or user) software store %d is in; issue a new one", cardID)
	}
	return scope, files, nil
}

// details is a re-issue's audit details: the plan's, the store's and d.
func (j *storeReissue) details(d map[string]any) map[string]any {
	out := planDetails(&j.data.Plan)
	out["serial"], out["user"], out["operation"], out["kind"], out["scope"] = j.card.Serial, j.owner.Login, j.op.ID, string(lanyard.KindSoftwareStore), j.data.Scope
	for k, v := range d {
		out[k] = v
	}
	return out
}

func (j *storeReissue) newPaths() map[string]string {
	out := map[string]string{}
	for t, f := range j.data.Files {
		out[t] = f.Path
	}
	return out
}

// startStoreReissue records the re-issue as running, in one transaction
// with the checks that what the decision read still holds. The store
// stays issued.
func (s *Cards) startStoreReissue(ctx context.Context, j *storeReissue) error {
	was := *j.card
	plan := &j.data.Plan
	run, err := operation.Start(ctx, s.runner, operation.Begin{
		Card: j.card, Op: lanyard.Operation{Kind: lanyard.OpReissueStore, UserID: j.owner.ID, ActorID: j.p.User.ID},
		Check: func(tx lanyard.Tx) error {
			if err := tx.LockCard(was.ID); err != nil {
				return err
			}
			if err := unchangedForUpdate(tx, &was); err != nil {
				return err
			}
			return oldStillHeld(tx, &was, plan)
		},
		Event: func(c *lanyard.Card, op *lanyard.Operation) *lanyard.AuditEvent {
			j.op = op
			return s.rec.Event(j.p, "card.update.start", "card", strconv.FormatInt(c.ID, 10), j.details(map[string]any{"workstation": j.ws.Name}))
		}}, &j.data)
	if err != nil {
		return err
	}
	j.run, j.card, j.op = run, run.Card, run.Op
	return nil
}

// storeReissueSteps renews and adds each certificate into a new file,
// then revokes the certificates the policy no longer names.
func (s *Cards) storeReissueSteps(ctx context.Context, j *storeReissue, password string) error {
	rows := j.data.Plan.Changes()
	kept := 0
	for _, r := range j.data.Plan.Slots {
		if r.Action != issuance.ActionRemove {
			kept++
		}
	}
	for _, r := range rows {
		if r.Action == issuance.ActionRemove {
			continue
		}
		if err := s.reissueOne(ctx, j, r, password, kept); err != nil {
			return err
		}
	}
	for _, r := range rows {
		if r.Action != issuance.ActionRemove {
			continue
		}
		ev := s.rec.Event(j.p, "cert.supersede", "certificate", r.Old, map[string]any{"card": j.card.ID, "template": r.Template, "old": r.Old,
			"new": "", "operation": j.op.ID, "file_kept": j.old[r.Template]})
		if err := j.run.Step(ctx, operation.Removed.On(r.Template), operation.Also(func(tx lanyard.Tx) error { return s.supersede(ctx, tx, &r) }), operation.Event(ev)); err != nil {
			return err
		}
		j.data.Superseded[r.Old] = ""
		j.files = append(j.files, StoreReissuedFile{Template: r.Template, Action: r.Action, OldSerial: r.Old, OldPath: j.old[r.Template]})
	}
	return nil
}

// reissueOne makes the new key and certificate of row r, has the agent
// write them into a new file, and records the file with the old
// certificate revoked (superseded), in one transaction. n is how many
// certificates the store holds (its file names carry the template when
// more than one).
func (s *Cards) reissueOne(ctx context.Context, j *storeReissue, r issuance.UpdateSlot, password string, n int) error {
	tpl := j.tpls[r.Template]
	if tpl == nil {
		return lanyard.Errorf(lanyard.EUnavailable, "template %q does not exist; ask your administrator", r.Template)
	}
	sc, err := s.softCertificate(ctx, j.ws.ID, tpl, r.Algorithm, j.owner)
	if err != nil {
		return err
	}
	rec := lanyard.ManagedCertificate(sc.cert, tpl, j.owner, s.rec.Clock())
	rec.CardID = j.card.ID
	j.data.Certs[r.Template] = rec.Serial
	ev := s.rec.Event(j.p, "cert.issue", "certificate", rec.Serial, map[string]any{"ca": rec.CA, "template": tpl.Name,
		"user": j.owner.Login, "subject": rec.Subject, "card": j.card.ID, "operation": j.op.ID})
	if err := j.run.Step(ctx, operation.Issued.On(r.Template), operation.Also(func(tx lanyard.Tx) error { return tx.CreateCertificate(rec) }), operation.Event(ev)); err != nil {
		delete(j.data.Certs, r.Template)
		return err
	}
	name := reissueFileName(j.card, r.Template, n, s.rec.Clock().Format("20060102"))
	stored, err := s.cardAccess().SoftwareStore(ctx, j.ws.ID, sc.request(password, j.data.Scope, j.owner.Login, name))
	if err != nil {
		return err
	}
	j.data.Files[r.Template] = SoftwareStoredRec{Path: stored.Path, NSS: stored.NSS}
	if r.Old != "" {
		j.data.Superseded[r.Old] = rec.Serial
	}
	rec.Status, rec.UpdatedAt = lanyard.CertWritten, s.rec.Clock()
	action, details := "cert.write", map[string]any{"card": j.card.ID, "scope": j.data.Scope, "path": stored.Path, "nss": stored.NSS, "operation": j.op.ID}
	if r.Old != "" {
		action = "cert.supersede"
		details["old"], details["new"], details["template"], details["file_kept"] = r.Old, rec.Serial, r.Template, j.old[r.Template]
	}
	write := func(tx lanyard.Tx) error {
		cur, err := storeStillIssued(tx, j.card, rec)
		if err != nil {
			return err
		}
		cur.Status, cur.UpdatedAt = lanyard.CertWritten, rec.UpdatedAt
		if err := tx.UpdateCertificate(cur); err != nil {
			return err
		}
		return s.supersede(ctx, tx, &r)
	}
	if err := j.run.Step(ctx, operation.Written.On(r.Template), operation.Also(write), operation.Event(s.rec.Event(j.p, action, "certificate", rec.Serial, details))); err != nil {
		// Not recorded as written: failStoreReissue revokes the new
		// certificate as unused (its file holds a dead certificate).
		delete(j.data.Superseded, r.Old)
		delete(j.data.Files, r.Template)
		return err
	}
	j.files = append(j.files, StoreReissuedFile{Template: r.Template, Action: r.Action, OldSerial: r.Old, NewSerial: rec.Serial, OldPath: j.old[r.Template], SoftwareStored: stored})
	return nil
}

// storeStillIssued locks the store's card row and the new certificate
// rec, read earlier (before the agent wrote the file), and returns the
// certificate as it is now, or EConflict when the store was disabled,
// revoked or otherwise left the issued state, or the certificate was
// revoked or put on hold, while the agent wrote: recording the file from
// the old copy would lift the hold on a disabled store.
func storeStillIssued(tx lanyard.Tx, card *lanyard.Card, rec *lanyard.Certificate) (*lanyard.Certificate, error) {
	if err := tx.LockCard(card.ID); err != nil {
		return nil, err
	}
	c, err := tx.CardByID(card.ID)
	if err != nil {
		return nil, err
	}
	if c.State != lanyard.CardIssued {
		return nil, lanyard.Errorf(lanyard.EConflict, "software store %s became %s while its new file was written; the new certificate is revoked", card.Serial, c.State)
	}
	cur, err := heldCertificate(tx, rec)
	if err != nil {
		return nil, err
	}
	if cur.Status != lanyard.CertValid || cur.OnHold() {
		what := string(cur.Status)
		if cur.OnHold() {
			what = "put on hold"
		}
		return nil, lanyard.Errorf(lanyard.EConflict, "the %s certificate %s was %s while its file was written; the new certificate is revoked", rec.Template, rec.Serial, what)
	}
	return cur, nil
}

// reissueFileName is a re-issued certificate's file name: the store's
// (softFileName) with the day, so the new file stands beside the old
// one (the agent never overwrites a file, adding -2 and so on).
func reissueFileName(c *lanyard.Card, template string, n int, day string) string {
	name := softFileName(c, template, n) + "-" + day
	if !agentproto.ValidStoreName(name) {
		return c.Serial + "-" + day
	}
	return name
}

// failStoreReissue ends a re-issue that failed, in one transaction: the
// new certificates issued but not written are revoked (their keys are
// lost with the agent's memory, cessation of operation); the old ones of
// those stay valid, as do the renewals already written. The store stays
// issued.
func (s *Cards) failStoreReissue(ctx context.Context, j *storeReissue, cause error) error {
	msg := lanyard.ErrorMessage(cause)
	s.log.Warn("software store re-issue failed", "operation", j.op.ID, "card", j.card.ID, "error", cause)
	var revoked []string
	revoke := func(tx lanyard.Tx) error {
		for t, serial := range j.data.Certs {
			if _, written := j.data.Files[t]; written {
				continue
			}
			c, err := tx.CertificateBySerial(j.tpls[t].CA, serial)
			if err != nil {
				return err
			}
			r, err := s.pki.RevokeCertificatesFor(ctx, tx, []*lanyard.Certificate{c}, lanyard.ReasonCessationOfOperation, func(c *lanyard.Certificate) bool { return c.Status != lanyard.CertRevoked })
			if err != nil {
				return err
			}
			revoked = append(revoked, r...)
		}
		return nil
	}
	err := j.run.Stop(ctx, lanyard.OpFailed, msg, operation.Also(revoke), operation.EventAfter(func() *lanyard.AuditEvent {
		return s.rec.Event(j.p, "card.update.fail", "card", strconv.FormatInt(j.card.ID, 10), j.details(map[string]any{
			"step": j.op.Step, "error": msg, "revoked": revoked, "superseded": j.data.Superseded}))
	}))
	if err != nil {
		s.log.Error("recording a failed software store re-issue failed", "operation", j.op.ID, "error", err)
	}
	return lanyard.Wrap(lanyard.ErrorCode(cause), cause, msg+"; the software store was not re-issued (its certificates not renewed yet stay valid): re-issue it again")
}
