package cardops

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
)

// SoftwareStoreOption is whether a software store of Scope can be issued
// on a workstation for a user, and if not, why; when it can, Offer is
// what the dialog shows. Self-Service shows "Issue software store
// (machine)" and "(user)" per workstation from this list.
type SoftwareStoreOption struct {
	WorkstationID int64
	Workstation   string
	Scope         string
	Available     bool
	Reason        string
	Offer         *issuance.SoftwareStoreOptions
}

// SoftwareStoreInput is the guide's "Registry" issue: Issue card → name →
// Software store — machine or — user → Issue, with the key container
// password. The password is used once, by the agent, and never stored or
// logged; it cannot be reset: the remedy for a forgotten one is to issue
// again.
type SoftwareStoreInput struct {
	WorkstationID int64
	Scope         string // machine or user
	Name          string
	Password      string
	Templates     []string // optional templates chosen
	User          string
}

// SoftwareStoreResult reports an issued software store: the card record
// and, per certificate, the file the agent wrote.
type SoftwareStoreResult struct {
	Card  *CardView
	Files []SoftwareStoreFile
}

// SoftwareStoreFile is one certificate with its key in a software store.
type SoftwareStoreFile struct {
	Template    string
	Certificate string // serial
	lanyard.SoftwareStored
}

// softData is a software store issue's record (Operation.Data).
type softData struct {
	Kind  string                       `json:"kind"` // "software_store"
	Scope string                       `json:"scope"`
	Plan  issuance.SoftwareStorePlan   `json:"plan"`
	Certs map[string]string            `json:"certs"` // template → certificate serial
	Files map[string]SoftwareStoredRec `json:"files"` // template → where it was written
}

// SoftwareStoredRec is what is recorded of a written store file.
type SoftwareStoredRec struct {
	Path string `json:"path"`
	NSS  bool   `json:"nss"`
}

// softJob is one software store issue in progress.
type softJob struct {
	p    *lanyard.Principal
	user *lanyard.User
	ct   *lanyard.CardType
	ws   lanyard.WorkstationState
	tpls map[string]*lanyard.Template
	plan *issuance.SoftwareStorePlan
	card *lanyard.Card
	op   *lanyard.Operation
	data softData
	run  *operation.Run[softData] // its Op, Card and Data are op, card and &data
}

// SoftwareStoreOptions lists, for every connected workstation the caller
// may use, whether each software store scope can be issued there for user
// (login; "" = the caller).
func (s *Cards) SoftwareStoreOptions(ctx context.Context, p *lanyard.Principal, login string) ([]SoftwareStoreOption, error) {
	out := []SoftwareStoreOption{}
	err := s.eachUsableWorkstation(ctx, p, login, func(tx lanyard.Tx, u *lanyard.User, ws *lanyard.WorkstationState) error {
		for _, scope := range []string{lanyard.ScopeMachine, lanyard.ScopeUser} {
			o := SoftwareStoreOption{WorkstationID: ws.ID, Workstation: ws.Name, Scope: scope}
			in, err := s.softInput(tx, p, u)
			if err == nil {
				o.Offer, err = issuance.OfferSoftwareStore(*in)
			}
			if err == nil {
				err = softScopeAllowed(ws, scope)
			}
			if o.Available, o.Reason, err = optionOutcome(err); err != nil {
				return err
			}
			if !o.Available {
				o.Offer = nil
			}
			out = append(out, o)
		}
		return nil
	})
	return out, err
}

// softInput gathers what the software store decisions need.
func (s *Cards) softInput(tx lanyard.Tx, p *lanyard.Principal, u *lanyard.User) (*issuance.Input, error) {
	in := &issuance.Input{Staff: isCardStaff(p), Requester: p.User.ID, OwnerID: u.ID, Owner: u}
	pol, err := s.catalog.PolicyFor(tx, u)
	if err != nil {
		return nil, lanyard.Errorf(lanyard.EForbidden, "no policy applies to %s; ask your administrator", u.Login)
	}
	in.Settings, in.PolicyName = pol.Settings, pol.Name
	types, err := tx.ListCardTypes()
	if err != nil {
		return nil, err
	}
	for _, t := range types {
		if t.Kind == lanyard.KindSoftwareStore && slices.Contains(pol.Settings.AllowedCards, t.Name) {
			in.CardType = t
			break
		}
	}
	if in.OwnedCards, err = tx.CountCards(u.ID); err != nil {
		return nil, err
	}
	in.Templates, err = templatesByName(tx)
	return in, err
}

// softScopeAllowed checks that the workstation's agent writes the scope.
func softScopeAllowed(ws *lanyard.WorkstationState, scope string) error {
	switch {
	case scope != lanyard.ScopeMachine && scope != lanyard.ScopeUser:
		return lanyard.Errorf(lanyard.EInvalid, "scope must be %s or %s", lanyard.ScopeMachine, lanyard.ScopeUser)
	case len(ws.SoftwareStores) == 0:
		return lanyard.Errorf(lanyard.EUnavailable, "the Lanyard agent of workstation %s does not write software stores; update it", ws.Name)
	case !slices.Contains(ws.SoftwareStores, scope) && scope == lanyard.ScopeMachine:
		return lanyard.Errorf(lanyard.EUnavailable, "the Lanyard agent of workstation %s cannot write the machine store (it does not run as root)", ws.Name)
	case !slices.Contains(ws.SoftwareStores, scope):
		return lanyard.Errorf(lanyard.EUnavailable, "the Lanyard agent of workstation %s cannot write user stores", ws.Name)
	}
	return nil
}

// IssueSoftwareStore issues a software store: for each certificate of
// the policy (required, and the optional ones chosen) the workstation's
// agent makes a key pair, the CA certifies its public key, and the agent
// writes key and certificate chain as PKCS#12 protected by the key
// container password into the machine's or the user's store (and the
// user's NSS database). The private keys never leave the workstation.
// The store is recorded as a card of the software store card type with
// an operation; each step is one transaction with its audit event. A
// failed issue cannot be continued (the keys are gone with the agent's
// memory): its certificates are revoked and the record too; the user
// issues again.
func (s *Cards) IssueSoftwareStore(ctx context.Context, p *lanyard.Principal, in SoftwareStoreInput) (*SoftwareStoreResult, error) {
	access := s.cardAccess()
	if access == nil {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "no workstation agents are connected to this server")
	}
	if in.Scope != lanyard.ScopeMachine && in.Scope != lanyard.ScopeUser {
		return nil, lanyard.Errorf(lanyard.EInvalid, "scope must be %s or %s", lanyard.ScopeMachine, lanyard.ScopeUser)
	}
	ws, ok := access.WorkstationState(in.WorkstationID)
	if !ok || !ws.Online || (ws.OwnerID != p.User.ID && !isCardStaff(p)) {
		return nil, lanyard.Errorf(lanyard.ENotFound, "workstation %d is not connected or not yours", in.WorkstationID)
	}
	j := &softJob{p: p, ws: ws}
	if err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		var err error
		if j.user, err = s.cardUser(tx, p, in.User); err != nil {
			return err
		}
		input, err := s.softInput(tx, p, j.user)
		if err != nil {
			return err
		}
		o, err := issuance.OfferSoftwareStore(*input)
		if err != nil {
			return err
		}
		if j.plan, err = issuance.DecideSoftwareStore(*input, o, issuance.SoftwareStoreChoice{Optional: in.Templates, Password: in.Password, Name: in.Name}); err != nil {
			return err
		}
		j.ct, j.tpls = input.CardType, input.Templates
		return softScopeAllowed(&ws, in.Scope)
	}); err != nil {
		return nil, err
	}
	j.data = softData{Kind: string(lanyard.KindSoftwareStore), Scope: in.Scope, Plan: *j.plan, Certs: map[string]string{}, Files: map[string]SoftwareStoredRec{}}
	if err := s.startSoft(ctx, j); err != nil {
		return nil, err
	}
	files, err := s.softSteps(ctx, j, in.Password)
	if err != nil {
		return nil, s.failSoft(ctx, j, err)
	}
	now := s.rec.Clock()
	j.card.State, j.card.IssuedAt, j.op.State = lanyard.CardIssued, now, lanyard.OpDone
	if err := j.run.Step(ctx, operation.Done, operation.WithCard(), operation.Event(s.rec.Event(p, "card.issue", "card", strconv.FormatInt(j.card.ID, 10), map[string]any{
		"serial": j.card.Serial, "user": j.user.Login, "operation": j.op.ID, "kind": string(lanyard.KindSoftwareStore), "scope": in.Scope,
		"templates": softTemplates(j.plan)}))); err != nil {
		return nil, err
	}
	res := &SoftwareStoreResult{Files: files}
	err = s.rec.View(ctx, func(tx lanyard.Tx) (err error) { res.Card, err = s.cardView(tx, j.card, true); return })
	return res, err
}

func softTemplates(p *issuance.SoftwareStorePlan) []string {
	out := make([]string, len(p.Slots))
	for i, sl := range p.Slots {
		out[i] = sl.Template
	}
	return out
}

// startSoft records the software store as a card assigned to its owner
// and its operation as running, in one transaction.
func (s *Cards) startSoft(ctx context.Context, j *softJob) error {
	var id [8]byte
	if _, err := s.rand.Read(id[:]); err != nil {
		return err
	}
	now := s.rec.Clock()
	c := &lanyard.Card{Serial: "SW-" + strings.ToUpper(hex.EncodeToString(id[:])), CardType: j.ct.Name, OwnerID: j.user.ID, Name: j.plan.Name,
		State: lanyard.CardAssigned, WorkstationID: j.ws.ID, CreatedAt: now, UpdatedAt: now}
	run, err := operation.Start(ctx, s.runner, operation.Begin{
		Card: c, Op: lanyard.Operation{Kind: lanyard.OpIssue, UserID: j.user.ID, ActorID: j.p.User.ID},
		// Counted again in the transaction: two issues at once must not
		// both pass the maximum.
		Check: func(tx lanyard.Tx) error { return s.checkMaxCards(tx, j.user, 0) },
		Event: func(c *lanyard.Card, op *lanyard.Operation) *lanyard.AuditEvent {
			return s.rec.Event(j.p, "card.issue.start", "card", strconv.FormatInt(c.ID, 10), map[string]any{
				"serial": c.Serial, "card_type": c.CardType, "user": j.user.Login, "operation": op.ID, "kind": string(lanyard.KindSoftwareStore),
				"scope": j.data.Scope, "workstation": j.ws.Name, "templates": softTemplates(j.plan)})
		}}, &j.data)
	if err != nil {
		return err
	}
	j.run, j.card, j.op = run, run.Card, run.Op
	return nil
}

// softSteps makes each key pair, has its certificate issued and the
// store written.
func (s *Cards) softSteps(ctx context.Context, j *softJob, password string) ([]SoftwareStoreFile, error) {
	access := s.cardAccess()
	var files []SoftwareStoreFile
	for _, sl := range j.plan.Slots {
		tpl := j.tpls[sl.Template]
		sc, err := s.softCertificate(ctx, j.ws.ID, tpl, sl.Algorithm, j.user)
		if err != nil {
			return nil, err
		}
		rec := lanyard.ManagedCertificate(sc.cert, tpl, j.user, s.rec.Clock())
		rec.CardID = j.card.ID
		j.data.Certs[sl.Template] = rec.Serial
		ev := s.rec.Event(j.p, "cert.issue", "certificate", rec.Serial, map[string]any{"ca": rec.CA, "template": tpl.Name,
			"user": j.user.Login, "subject": rec.Subject, "card": j.card.ID})
		if err := j.run.Step(ctx, operation.Issued.On(sl.Template), operation.Also(func(tx lanyard.Tx) error { return tx.CreateCertificate(rec) }), operation.Event(ev)); err != nil {
			delete(j.data.Certs, sl.Template)
			return nil, err
		}

		req := sc.request(password, j.data.Scope, j.user.Login, softFileName(j.card, sl.Template, len(j.plan.Slots)))
		stored, err := access.SoftwareStore(ctx, j.ws.ID, req)
		if err != nil {
			return nil, err
		}
		j.data.Files[sl.Template] = SoftwareStoredRec{Path: stored.Path, NSS: stored.NSS}
		rec.Status, rec.UpdatedAt = lanyard.CertWritten, s.rec.Clock()
		ev = s.rec.Event(j.p, "cert.write", "certificate", rec.Serial, map[string]any{"card": j.card.ID, "scope": j.data.Scope,
			"path": stored.Path, "nss": stored.NSS})
		if err := j.run.Step(ctx, operation.Written.On(sl.Template), operation.Also(func(tx lanyard.Tx) error { return tx.UpdateCertificate(rec) }), operation.Event(ev)); err != nil {
			return nil, err
		}
		files = append(files, SoftwareStoreFile{Template: sl.Template, Certificate: rec.Serial, SoftwareStored: stored})
	}
	return files, nil
}

// softCert is a key pair the workstation's agent made for a software
// store, and the certificate the CA issued for it with its chain.
type softCert struct {
	key   lanyard.SoftwareKey
	cert  *x509.Certificate
	chain []*x509.Certificate
}

// softCertificate has the agent of workstation wsID make a key pair of
// alg and the CA of tpl certify it for user. Nothing is recorded: the
// caller records the certificate before the store is written.
func (s *Cards) softCertificate(ctx context.Context, wsID int64, tpl *lanyard.Template, alg lanyard.KeyAlgorithm, user *lanyard.User) (*softCert, error) {
	authority, ok := s.cas[tpl.CA]
	if !ok {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "CA %q of template %q is not running", tpl.CA, tpl.Name)
	}
	chain, err := authority.Chain(ctx)
	if err != nil {
		return nil, err
	}
	key, err := s.cardAccess().SoftwareKey(ctx, wsID, alg)
	if err != nil {
		return nil, err
	}
	pub, err := x509.ParsePKIXPublicKey(key.PublicKey)
	if err != nil {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "the workstation's agent sent a public key that does not parse: %v", err)
	}
	if err := ca.CheckPublicKey(tpl, pub); err != nil {
		return nil, err
	}
	if lanyard.KeyAlgorithmOf(pub) != alg {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "the workstation's agent made a %s key instead of %s", lanyard.KeyAlgorithmOf(pub), alg)
	}
	cert, err := authority.Sign(ctx, &ca.SignRequest{Template: tpl, User: user, PublicKey: pub})
	if err != nil {
		return nil, err
	}
	return &softCert{key: key, cert: cert, chain: chain}, nil
}

// request is the agent's store request for sc: the key's handle and
// the chain, written with password into scope (a user store: the
// account of login) as name.
func (sc *softCert) request(password, scope, login, name string) lanyard.SoftwareStoreRequest {
	ders := [][]byte{sc.cert.Raw}
	for _, c := range sc.chain {
		ders = append(ders, c.Raw)
	}
	req := lanyard.SoftwareStoreRequest{Handle: sc.key.Handle, Chain: ders[:min(len(ders), agentproto.MaxChain)], Password: password, Scope: scope, Name: name}
	if scope == lanyard.ScopeUser {
		req.Account = login
	}
	return req
}

// softFileName is the store file's name (without extension): the card's
// name made safe for a file name, else its serial; with the template
// when the store holds several certificates.
func softFileName(c *lanyard.Card, template string, n int) string {
	base := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '-'
	}, c.Name)
	base = strings.Trim(base, ".-")
	if len(base) > 60 {
		base = base[:60]
	}
	if base == "" {
		base = c.Serial
	}
	if n > 1 {
		base += "." + template
	}
	if !agentproto.ValidStoreName(base) {
		return c.Serial
	}
	return base
}

// failSoft ends a software store issue that failed, in one transaction:
// the certificates it issued are revoked (their keys are gone, or in a
// file the server cannot vouch for), the operation failed and the card
// record revoked. The user issues again.
func (s *Cards) failSoft(ctx context.Context, j *softJob, cause error) error {
	msg := lanyard.ErrorMessage(cause)
	s.log.Warn("software store issue failed", "operation", j.op.ID, "card", j.card.ID, "error", cause)
	was := *j.card
	j.card.State = lanyard.CardRevoked
	var revoked []string
	revoke := func(tx lanyard.Tx) error {
		certs, err := tx.ListCertificates(lanyard.CertFilter{CardID: j.card.ID})
		if err != nil {
			return err
		}
		revoked, err = s.pki.RevokeCertificates(ctx, tx, certs, func(c *lanyard.Certificate) bool {
			return c.Status == lanyard.CertValid || c.Status == lanyard.CertWritten
		})
		if err != nil {
			return err
		}
		// A revoked card keeps no copy of a PIN.
		_, err = tx.DeleteCardHeldPINs(j.card.ID)
		return err
	}
	err := j.run.Stop(ctx, lanyard.OpFailed, msg, operation.WithCard(), operation.Also(revoke), operation.EventAfter(func() *lanyard.AuditEvent {
		return s.rec.Event(j.p, "card.issue.fail", "card", strconv.FormatInt(j.card.ID, 10), map[string]any{
			"operation": j.op.ID, "step": j.op.Step, "error": msg, "revoked": revoked})
	}))
	if err != nil {
		*j.card = was
		s.log.Error("recording a failed software store issue failed", "operation", j.op.ID, "error", err)
	}
	return lanyard.Wrap(lanyard.ErrorCode(cause), cause, msg+"; the software store was not issued: issue it again")
}
