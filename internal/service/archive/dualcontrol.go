package archive

import (
	"context"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Recovery of someone else's archived key is under dual control
// (docs/lifecycle.md, "Key recovery"): an operator or administrator
// requests it with a reason; an administrator who is another person than
// the requester and the owner approves or rejects it; the requester then
// downloads the PKCS #12 file once, with a password they set and their
// own step-up. The person who requests never approves, and the approver
// never holds the key: taking a key out always takes two people. Every
// step is one transaction with its audit event and the owner's notice.
//
// "Another person" is checked as far as the server can: another account,
// and not one with the requester's or the owner's e-mail address (one
// person's second account usually shares it). The owner's notice is the
// check an administrator cannot quietly get around: the request records
// the address it went to, and approval and download are refused when the
// owner's address has changed since, so an administrator who redirects
// it to themselves stops the recovery instead of hiding it.

// MaxRecoveryReason bounds a request's reason and a decision's comment.
const MaxRecoveryReason = 1000

// RequestRecovery records p's request to recover archived key keyID of
// another user, pending a second person's decision.
func (a *Archive) RequestRecovery(ctx context.Context, p *lanyard.Principal, keyID int64, reason string) (*lanyard.KeyRecoveryRequest, error) {
	if !p.Has(lanyard.RoleOperator, lanyard.RoleAdministrator) {
		return nil, lanyard.Errorf(lanyard.EForbidden, "only an operator or an administrator requests the recovery of someone else's key")
	}
	reason = strings.TrimSpace(reason)
	if err := checkText("reason", reason, true); err != nil {
		return nil, err
	}
	var r *lanyard.KeyRecoveryRequest
	queued := false
	err := a.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		k, err := tx.ArchivedKeyByID(keyID)
		if err != nil {
			return err
		}
		if k.OwnerID == p.User.ID {
			return lanyard.Errorf(lanyard.EInvalid, "archived key %d is yours: recover it yourself (lanyard key recover)", keyID)
		}
		owner, err := a.recoverable(tx, k.OwnerID, keyID)
		if err != nil {
			return err
		}
		now := a.rec.Clock()
		r = &lanyard.KeyRecoveryRequest{ArchivedKeyID: k.ID, OwnerID: owner.ID, RequestedBy: p.User.ID, Reason: reason,
			State: lanyard.KeyRecoveryPending, CreatedAt: now, UpdatedAt: now, OwnerEmail: owner.Email, ExpiresAt: a.expiresAt(now)}
		if err := tx.CreateKeyRecoveryRequest(r); err != nil {
			return err
		}
		if queued, err = a.notify(tx, Notice{Kind: NoticeRequested, Owner: owner, Key: k, By: p.User.Login, Reason: reason}); err != nil {
			return err
		}
		return tx.AppendAudit(a.rec.Event(p, "key.recovery.request", "key_recovery_request", strconv.FormatInt(r.ID, 10), map[string]any{
			"archived_key": k.ID, "owner": owner.Login, "owner_email": owner.Email, "template": k.Template, "serial": k.CertificateSerial,
			"reason": reason, "notified": queued, "expires_at": r.ExpiresAt,
		}))
	})
	if err != nil {
		return nil, err
	}
	a.wake(queued)
	return r, nil
}

// Decision is an administrator's decision of a key recovery request.
type Decision struct {
	Approve bool
	Comment string
	// AccountPassword and Code are the approver's step-up
	// (SecondFactor), required to approve: an approval is half of
	// taking a key out, so a session left open must not be enough for
	// it either. A rejection needs none.
	AccountPassword, Code string
}

// DecideRecovery approves or rejects pending request id. Only an
// administrator decides, and never one who requested it or whose key it
// is, nor one with the requester's or the owner's e-mail address. An
// approval is refused when the owner's e-mail address is not the one the
// request recorded (checkOwnerEmail); a rejection never is. Approving
// takes the approver's step-up, after the checks that need none (so that
// a refused approval does not spend an authenticator code).
func (a *Archive) DecideRecovery(ctx context.Context, p *lanyard.Principal, id int64, d Decision) (*lanyard.KeyRecoveryRequest, error) {
	if !p.Has(lanyard.RoleAdministrator) {
		return nil, lanyard.Errorf(lanyard.EForbidden, "only an administrator approves or rejects a key recovery request")
	}
	comment := strings.TrimSpace(d.Comment)
	if err := checkText("comment", comment, false); err != nil {
		return nil, err
	}
	if err := a.expireDue(ctx); err != nil {
		return nil, err
	}
	if d.Approve {
		if err := a.rec.View(ctx, func(tx lanyard.Tx) error { _, _, _, err := a.decidable(tx, p, id, true); return err }); err != nil {
			return nil, err
		}
		if err := a.stepUp(ctx, p, RecoverInput{AccountPassword: d.AccountPassword, Code: d.Code}); err != nil {
			return nil, err
		}
	}
	var r *lanyard.KeyRecoveryRequest
	queued := false
	err := a.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		var k *lanyard.ArchivedKey
		var owner *lanyard.User
		var err error
		if r, k, owner, err = a.decidable(tx, p, id, d.Approve); err != nil {
			return err
		}
		state, action, kind := lanyard.KeyRecoveryRejected, "key.recovery.reject", NoticeRejected
		if d.Approve {
			state, action, kind = lanyard.KeyRecoveryApproved, "key.recovery.approve", NoticeApproved
		}
		r.State, r.DecidedBy, r.Comment, r.UpdatedAt = state, p.User.ID, comment, a.rec.Clock()
		if err := tx.UpdateKeyRecoveryRequest(r, lanyard.KeyRecoveryPending); err != nil {
			return err
		}
		if queued, err = a.notify(tx, Notice{Kind: kind, Owner: owner, Key: k, By: p.User.Login, Reason: comment}); err != nil {
			return err
		}
		return tx.AppendAudit(a.rec.Event(p, action, "key_recovery_request", strconv.FormatInt(r.ID, 10), map[string]any{
			"archived_key": k.ID, "owner": owner.Login, "comment": comment, "notified": queued, "step_up": d.Approve,
		}))
	})
	if err != nil {
		return nil, err
	}
	a.wake(queued)
	return r, nil
}

// decidable reads pending request id, its key and owner, and checks that
// p may decide it (approve: approving).
func (a *Archive) decidable(tx lanyard.Tx, p *lanyard.Principal, id int64, approve bool) (*lanyard.KeyRecoveryRequest, *lanyard.ArchivedKey, *lanyard.User, error) {
	r, err := tx.KeyRecoveryRequestByID(id)
	if err != nil {
		return nil, nil, nil, err
	}
	switch {
	case r.RequestedBy == p.User.ID:
		return nil, nil, nil, lanyard.Errorf(lanyard.EForbidden, "you requested key recovery %d: a second person must decide it", id)
	case r.OwnerID == p.User.ID:
		return nil, nil, nil, lanyard.Errorf(lanyard.EForbidden, "key recovery %d is of your own key: another administrator must decide it", id)
	case r.State != lanyard.KeyRecoveryPending:
		return nil, nil, nil, lanyard.Errorf(lanyard.EConflict, "key recovery %d is %s already", id, r.State)
	case expired(r, a.rec.Clock()):
		return nil, nil, nil, lanyard.Errorf(lanyard.EConflict, "key recovery %d expired undecided at %s; request again", id, r.ExpiresAt.Format(time.RFC3339))
	}
	k, err := tx.ArchivedKeyByID(r.ArchivedKeyID)
	if err != nil {
		return nil, nil, nil, err
	}
	owner, err := tx.UserByID(r.OwnerID)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := checkOtherPerson(tx, p.User, r, owner); err != nil {
		return nil, nil, nil, err
	}
	if approve {
		if err := checkOwnerEmail(r, owner); err != nil {
			return nil, nil, nil, err
		}
	}
	return r, k, owner, nil
}

// DownloadRecovery gives the requester of approved request id the key as
// a PKCS #12 file under in.Password (the owner's policy's rule), once,
// after their step-up; in.KeyID is ignored. The request becomes
// downloaded in the same transaction as the key.recover event, so a
// second download, even a concurrent one, is refused.
func (a *Archive) DownloadRecovery(ctx context.Context, p *lanyard.Principal, id int64, in RecoverInput) (*Recovered, error) {
	if p == nil || p.User == nil || p.User.ID == 0 {
		return nil, lanyard.Errorf(lanyard.EForbidden, "log in as the person who requested the recovery")
	}
	var owner *lanyard.User
	err := a.rec.View(ctx, func(tx lanyard.Tx) error {
		r, err := a.downloadable(tx, p, id)
		if err != nil {
			return err
		}
		if owner, err = a.recoverable(tx, r.OwnerID, r.ArchivedKeyID); err != nil {
			return err
		}
		if err := checkOwnerEmail(r, owner); err != nil {
			return err
		}
		in.KeyID = r.ArchivedKeyID
		return checkRecoveryPassword(tx, owner, in.Password)
	})
	if err != nil {
		return nil, err
	}
	return a.takeOut(ctx, p, owner, in, func(tx lanyard.Tx) (map[string]any, error) {
		r, err := a.downloadable(tx, p, id)
		if err != nil {
			return nil, err
		}
		if err := checkOwnerEmail(r, owner); err != nil {
			return nil, err
		}
		r.State, r.UpdatedAt = lanyard.KeyRecoveryDownloaded, a.rec.Clock()
		if err := tx.UpdateKeyRecoveryRequest(r, lanyard.KeyRecoveryApproved); err != nil {
			return nil, err
		}
		return map[string]any{"request": r.ID, "approved_by": r.DecidedBy}, nil
	})
}

// downloadable reads request id and checks p requested it and it is
// approved and not downloaded yet. Another person's request is not found.
func (a *Archive) downloadable(tx lanyard.Tx, p *lanyard.Principal, id int64) (*lanyard.KeyRecoveryRequest, error) {
	r, err := tx.KeyRecoveryRequestByID(id)
	if lanyard.IsCode(err, lanyard.ENotFound) || err == nil && r.RequestedBy != p.User.ID {
		return nil, lanyard.Errorf(lanyard.ENotFound, "key recovery request %d not found (only its requester downloads it)", id)
	}
	if err != nil {
		return nil, err
	}
	switch r.State {
	case lanyard.KeyRecoveryApproved:
		return r, nil
	case lanyard.KeyRecoveryDownloaded:
		return nil, lanyard.Errorf(lanyard.EConflict, "key recovery %d was downloaded already; a key is handed out once per request", id)
	}
	return nil, lanyard.Errorf(lanyard.EConflict, "key recovery %d is %s, not approved", id, r.State)
}

// RecoveryRequests lists the key recovery requests in state ("" for all),
// newest first: operators, administrators and auditors.
func (a *Archive) RecoveryRequests(ctx context.Context, p *lanyard.Principal, state lanyard.KeyRecoveryState) ([]*lanyard.KeyRecoveryRequest, error) {
	if !p.Has(lanyard.RoleOperator, lanyard.RoleAdministrator, lanyard.RoleAuditor) {
		return nil, lanyard.Errorf(lanyard.EForbidden, "only operators, administrators and auditors see key recovery requests")
	}
	if state != "" && !state.Valid() {
		return nil, lanyard.Errorf(lanyard.EInvalid, "state %q: want pending, approved, rejected, downloaded or expired", state)
	}
	if err := a.expireDue(ctx); err != nil {
		return nil, err
	}
	var out []*lanyard.KeyRecoveryRequest
	err := a.rec.View(ctx, func(tx lanyard.Tx) (err error) { out, err = tx.ListKeyRecoveryRequests(state); return })
	return out, err
}

// checkOtherPerson refuses decider as the decider of r when they share
// the requester's or the owner's e-mail address: a second account of the
// same person (the account checks come before this).
func checkOtherPerson(tx lanyard.Tx, decider *lanyard.User, r *lanyard.KeyRecoveryRequest, owner *lanyard.User) error {
	requester, err := tx.UserByID(r.RequestedBy)
	if err != nil {
		return err
	}
	// The decider's account as stored, not as the session saw it.
	me, err := tx.UserByID(decider.ID)
	if err != nil {
		return err
	}
	switch {
	case sameEmail(me.Email, requester.Email):
		return lanyard.Errorf(lanyard.EForbidden, "you share the e-mail address %s with %s, who requested key recovery %d: a second person must decide it",
			me.Email, requester.Login, r.ID)
	case sameEmail(me.Email, owner.Email):
		return lanyard.Errorf(lanyard.EForbidden, "you share the e-mail address %s with %s, whose key recovery %d is: another administrator must decide it",
			me.Email, owner.Login, r.ID)
	}
	return nil
}

// sameEmail reports whether a and b are the same address (the domain is
// case-insensitive, and mail systems treat the local part so too); no
// address is nobody's.
func sameEmail(a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	return a != "" && strings.EqualFold(a, b)
}

// checkOwnerEmail refuses to go on with r when its owner's e-mail address
// is not the one the request recorded: the owner was told of the request
// at that address, so that they can object; a change since (by an
// administrator, a directory sync) may have sent their later notices
// elsewhere. A new request notifies the new address.
func checkOwnerEmail(r *lanyard.KeyRecoveryRequest, owner *lanyard.User) error {
	if strings.EqualFold(strings.TrimSpace(owner.Email), strings.TrimSpace(r.OwnerEmail)) {
		return nil
	}
	was := r.OwnerEmail
	if was == "" {
		was = "none"
	}
	return lanyard.Errorf(lanyard.EConflict, "the e-mail address of %s changed since key recovery %d was requested (was %s, now %q): "+
		"their notice went to the old address; reject this request and request again", owner.Login, r.ID, was, owner.Email)
}

func (a *Archive) wake(queued bool) {
	if queued {
		a.notifier.Wake()
	}
}

// checkText checks a reason or comment: required when asked, bounded.
func checkText(name, s string, required bool) error {
	switch {
	case required && s == "":
		return lanyard.Errorf(lanyard.EInvalid, "a %s is required", name)
	case !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxRecoveryReason:
		return lanyard.Errorf(lanyard.EInvalid, "the %s is text of at most %d characters", name, MaxRecoveryReason)
	}
	return nil
}
