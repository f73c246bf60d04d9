package archive

import (
	"context"
	"crypto"
	"crypto/x509"
	"strconv"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/policy"
)

// SecondFactor is the step-up that recovery asks of the person who takes
// a key out (internal/service/identity's VerifySecondFactor): their
// account password and a current code from their authenticator app,
// the same step-up as setting up a platform credential's PIN. A
// recovered key decrypts everything ever encrypted to its certificate, so
// a session left open on an unlocked screen must not be enough.
type SecondFactor interface {
	VerifySecondFactor(ctx context.Context, p *lanyard.Principal, password, code string) error
}

// Notifier queues the owner's notices of recoveries and recovery
// requests in the transaction that records them (internal/notify's
// Mailer). EUnavailable when notifications are off: the change then goes
// ahead without one.
type Notifier interface {
	QueueKeyRecovery(tx lanyard.Tx, to []string, n Notice) (int64, error)
	Wake()
}

// Notice kinds.
const (
	NoticeRecovered = "recovered" // the key was taken out as a PKCS #12 file
	NoticeRequested = "requested" // someone asked to recover it
	NoticeApproved  = "approved"  // a second person approved that request
	NoticeRejected  = "rejected"  // a second person rejected it
)

// Notice is one notice to an archived key's owner: never the key nor a
// password.
type Notice struct {
	Kind   string
	Owner  *lanyard.User
	Key    *lanyard.ArchivedKey
	By     string // the login who acted
	Reason string // the request's reason or the decider's comment
}

// RecoverInput is an owner's request to recover one of their archived
// keys as a PKCS #12 file.
type RecoverInput struct {
	KeyID int64
	// Password protects the PKCS #12 file; it follows the owner's
	// policy's rules for software-store key container passwords
	// (policy.CheckKeyPassword) and is always required. Never stored.
	Password string
	// AccountPassword and Code are the step-up (SecondFactor).
	AccountPassword, Code string
}

// Recovered is a recovered key's PKCS #12 file, returned once.
type Recovered struct {
	Key *lanyard.ArchivedKey // without its sealed key
	PFX []byte
}

// RecoverOwn opens p's own active archived key in.KeyID and returns it
// with its certificate and the CA chain as a PKCS #12 file encrypted with
// in.Password (AES-256-CBC with PBKDF2, SHA-256 MAC: go-pkcs12's
// Modern2023, the encoding software stores use), in one transaction with
// one key.recover event (never the key nor the password) and the owner's
// notice. Someone else's key is "not found"; a pending or discarded key
// is a conflict.
func (a *Archive) RecoverOwn(ctx context.Context, p *lanyard.Principal, in RecoverInput) (*Recovered, error) {
	if p == nil || p.User == nil || p.User.ID == 0 {
		return nil, lanyard.Errorf(lanyard.EForbidden, "an archived key is recovered by its owner; log in as one")
	}
	// Checks that need no step-up come first, so that a wrong key or
	// a weak password does not spend an authenticator code.
	var owner *lanyard.User
	err := a.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		owner, err = a.recoverable(tx, p.User.ID, in.KeyID)
		if err != nil {
			return err
		}
		return checkRecoveryPassword(tx, owner, in.Password)
	})
	if err != nil {
		return nil, err
	}
	return a.takeOut(ctx, p, owner, in, nil)
}

// takeOut checks p's step-up, then in one transaction runs first (when
// set: it records the state change that goes with the recovery and
// returns details for its event) and recoverTx.
func (a *Archive) takeOut(ctx context.Context, p *lanyard.Principal, owner *lanyard.User, in RecoverInput, first func(lanyard.Tx) (map[string]any, error)) (*Recovered, error) {
	if err := a.stepUp(ctx, p, in); err != nil {
		return nil, err
	}
	var out *Recovered
	queued := false
	err := a.rec.Store.Update(ctx, func(tx lanyard.Tx) (err error) {
		var extra map[string]any
		if first != nil {
			if extra, err = first(tx); err != nil {
				return err
			}
		}
		out, queued, err = a.recoverTx(ctx, tx, p, owner, in, extra)
		return err
	})
	if err != nil {
		return nil, err
	}
	a.wake(queued)
	return out, nil
}

// recoverTx opens active key in.KeyID of owner in tx, encodes it as a
// PKCS #12 file under in.Password, notifies the owner and appends the
// key.recover event, with extra details (the dual-control request). It
// reports whether a notice was queued.
func (a *Archive) recoverTx(ctx context.Context, tx lanyard.Tx, p *lanyard.Principal, owner *lanyard.User, in RecoverInput, extra map[string]any) (*Recovered, bool, error) {
	if _, err := a.recoverable(tx, owner.ID, in.KeyID); err != nil {
		return nil, false, err
	}
	k, key, err := a.OpenTx(tx, in.KeyID)
	if err != nil {
		return nil, false, err
	}
	pfx, err := a.pkcs12(ctx, tx, k, key, in.Password)
	if err != nil {
		return nil, false, err
	}
	k.SealedKey = nil
	queued, err := a.notify(tx, Notice{Kind: NoticeRecovered, Owner: owner, Key: k, By: p.User.Login})
	if err != nil {
		return nil, false, err
	}
	details := map[string]any{"owner": owner.Login, "card_id": k.CardID, "template": k.Template, "serial": k.CertificateSerial,
		"kra_version": k.KRAVersion, "format": "pkcs12", "notified": queued}
	for name, v := range extra {
		details[name] = v
	}
	if err := tx.AppendAudit(a.rec.Event(p, "key.recover", "archived_key", strconv.FormatInt(k.ID, 10), details)); err != nil {
		return nil, false, err
	}
	return &Recovered{Key: k, PFX: pfx}, queued, nil
}

// stepUp checks the step-up of p, who is about to take a key out.
func (a *Archive) stepUp(ctx context.Context, p *lanyard.Principal, in RecoverInput) error {
	if a.secondFactor == nil {
		return lanyard.Errorf(lanyard.EUnavailable, "key recovery needs the second-factor check, which this server lacks")
	}
	return a.secondFactor.VerifySecondFactor(ctx, p, in.AccountPassword, in.Code)
}

// recoverable reads archived key id and checks it belongs to ownerID and
// is active (it has a certificate). It returns the owner.
func (a *Archive) recoverable(tx lanyard.Tx, ownerID, id int64) (*lanyard.User, error) {
	k, err := tx.ArchivedKeyByID(id)
	if lanyard.IsCode(err, lanyard.ENotFound) || err == nil && k.OwnerID != ownerID {
		return nil, lanyard.Errorf(lanyard.ENotFound, "archived key %d not found", id)
	}
	if err != nil {
		return nil, err
	}
	if k.State != lanyard.ArchivedKeyActive {
		return nil, lanyard.Errorf(lanyard.EConflict, "archived key %d is %s: only a key with its certificate is recovered", id, k.State)
	}
	return tx.UserByID(ownerID)
}

// checkRecoveryPassword checks the file's password against the rules the
// owner's policy sets for software-store key container passwords (a
// PKCS #12 file is one); a recovered key always needs one. With no policy
// for the owner the built-in rule applies.
func checkRecoveryPassword(tx lanyard.Tx, owner *lanyard.User, password string) error {
	var rule lanyard.KeyPasswordSettings
	pols, err := tx.ListPolicies()
	if err != nil {
		return err
	}
	if p, ok := policy.Effective(owner, pols); ok {
		rule = p.Settings.Issuance.KeyPassword
	}
	return policy.CheckKeyPassword(rule, password, true)
}

// pkcs12 encodes key with its certificate (and the chain of its CA when
// that CA is running here) under password.
func (a *Archive) pkcs12(ctx context.Context, tx lanyard.Tx, k *lanyard.ArchivedKey, key crypto.Signer, password string) ([]byte, error) {
	tpl, err := tx.TemplateByName(k.Template)
	if err != nil {
		return nil, err
	}
	rec, err := tx.CertificateBySerial(tpl.CA, k.CertificateSerial)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EConflict, err, "the certificate of archived key "+strconv.FormatInt(k.ID, 10)+" is not on record")
	}
	cert, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "the certificate of archived key "+strconv.FormatInt(k.ID, 10)+" does not parse")
	}
	var chain []*x509.Certificate
	if c, ok := a.cas[tpl.CA]; ok {
		if chain, err = c.Chain(ctx); err != nil {
			return nil, err
		}
	}
	pfx, err := pkcs12.Modern2023.WithIterations(recoveryKDFIterations).WithRand(a.rand).Encode(key, cert, chain, password)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "encoding the PKCS #12 file failed")
	}
	return pfx, nil
}

// notify queues n to the owner; false when notifications are off or the
// owner has no e-mail address.
func (a *Archive) notify(tx lanyard.Tx, n Notice) (bool, error) {
	if a.notifier == nil || n.Owner.Email == "" {
		return false, nil
	}
	_, err := a.notifier.QueueKeyRecovery(tx, []string{n.Owner.Email}, n)
	if lanyard.IsCode(err, lanyard.EUnavailable) {
		return false, nil
	}
	return err == nil, err
}

// OwnKeys lists p's own archived keys of template (every template when
// ""), newest first, without their sealed keys: what the owner picks a
// key to recover from.
func (a *Archive) OwnKeys(ctx context.Context, p *lanyard.Principal, template string) ([]*lanyard.ArchivedKey, error) {
	if p == nil || p.User == nil || p.User.ID == 0 {
		return nil, lanyard.Errorf(lanyard.EForbidden, "archived keys belong to a user; log in as one")
	}
	return a.Keys(ctx, p.User.ID, template)
}

// recoveryKDFIterations is the PBKDF2 iteration count of a recovered
// key's PKCS #12 file (Modern2023's 2048 is too cheap for a file that
// opens the owner's whole mail history: a password at the policy's
// minimum must not fall to an offline guess). 600,000 is OWASP's figure
// for PBKDF2-HMAC-SHA256; OpenSSL and the platforms' key stores read it.
const recoveryKDFIterations = 600_000
