package archive

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Request names what an archived key is for.
type Request struct {
	OwnerID  int64
	CardID   int64
	Template *lanyard.Template
	// Algorithm of the key; "" is the template's first (the one cards
	// generate).
	Algorithm lanyard.KeyAlgorithm
}

// algorithm checks r and returns the key algorithm to generate.
func (r Request) algorithm() (lanyard.KeyAlgorithm, error) {
	t := r.Template
	if t == nil || r.OwnerID == 0 || r.CardID == 0 {
		return "", lanyard.Errorf(lanyard.EInvalid, "an archived key needs an owner, a card and a template")
	}
	if !t.KeyArchival {
		return "", lanyard.Errorf(lanyard.EInvalid, "template %q does not archive its key", t.Name)
	}
	// A template saved before the rule with a signing or logon usage had
	// archive key turned off by the migration; this refuses one changed
	// in the database behind the rule's back.
	if err := t.CheckKeyArchival(); err != nil {
		return "", err
	}
	alg := r.Algorithm
	if alg == "" && len(t.KeyAlgs) > 0 {
		alg = t.KeyAlgs[0]
	}
	if !t.AllowsKey(alg) {
		return "", lanyard.Errorf(lanyard.EInvalid, "template %q does not allow key algorithm %q", t.Name, alg)
	}
	return alg, nil
}

// Generate makes a key pair on the server for r and archives it (state
// pending) in one transaction with its key.archive event. The caller puts
// the returned key on the card and asks for its certificate, then calls
// Certify (or Discard when the issue ends without one). The private key
// is never logged; the caller drops it once it is on the card.
func (a *Archive) Generate(ctx context.Context, p *lanyard.Principal, r Request) (*lanyard.ArchivedKey, crypto.Signer, error) {
	alg, err := r.algorithm()
	if err != nil {
		return nil, nil, err
	}
	key, err := lanyard.GenerateKey(alg, a.rand)
	if err != nil {
		return nil, nil, lanyard.Wrap(lanyard.EInternal, err, "generating the key to archive failed")
	}
	var k *lanyard.ArchivedKey
	err = a.rec.Store.Update(ctx, func(tx lanyard.Tx) (err error) {
		k, err = a.ArchiveTx(tx, p, r, key)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return k, key, nil
}

// ArchiveTx archives key, generated on the server for r, in the caller's
// transaction and appends its key.archive event there: for a caller that
// records the key with other state of its own (an issue step), whose
// transaction then carries this one event.
func (a *Archive) ArchiveTx(tx lanyard.Tx, p *lanyard.Principal, r Request, key crypto.Signer) (*lanyard.ArchivedKey, error) {
	alg, err := r.algorithm()
	if err != nil {
		return nil, err
	}
	if got := lanyard.KeyAlgorithmOf(key.Public()); got != alg {
		return nil, lanyard.Errorf(lanyard.EInvalid, "the key to archive is %q, the request asks for %q", got, alg)
	}
	cur, err := tx.CurrentKRAKey()
	if lanyard.IsCode(err, lanyard.ENotFound) {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "there is no key recovery key yet (the server makes one at start)")
	}
	if err != nil {
		return nil, err
	}
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "encoding the archived public key failed")
	}
	now := a.rec.Clock()
	k := &lanyard.ArchivedKey{OwnerID: r.OwnerID, CardID: r.CardID, Template: r.Template.Name, Algorithm: alg, PublicKey: spki,
		KRAVersion: cur.Version, State: lanyard.ArchivedKeyPending, CreatedAt: now, UpdatedAt: now}
	if k.SealedKey, err = a.sealKey(tx, k, key); err != nil {
		return nil, err
	}
	if err := tx.CreateArchivedKey(k); err != nil {
		return nil, err
	}
	return k, tx.AppendAudit(a.rec.Event(p, "key.archive", "archived_key", strconv.FormatInt(k.ID, 10), map[string]any{
		"owner_id": k.OwnerID, "card_id": k.CardID, "template": k.Template, "key_algorithm": string(alg), "kra_version": k.KRAVersion,
	}))
}

// Certify records cert as the certificate of archived key id (pending →
// active) in one transaction with its key.certify event; the sealed key is
// sealed again with the serial bound in (under the current KRA key
// version). Certifying again with the same certificate changes nothing (a
// resumed issue step).
func (a *Archive) Certify(ctx context.Context, p *lanyard.Principal, id int64, cert *x509.Certificate) error {
	return a.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		k, changed, err := a.CertifyTx(tx, id, cert)
		if err != nil || !changed {
			return err
		}
		return tx.AppendAudit(a.rec.Event(p, "key.certify", "archived_key", strconv.FormatInt(id, 10), map[string]any{
			"owner_id": k.OwnerID, "card_id": k.CardID, "template": k.Template, "serial": k.CertificateSerial, "kra_version": k.KRAVersion,
		}))
	})
}

// CertifyTx is Certify in the caller's transaction without an event of its
// own: the caller's event (card issue's cert.issue) names the archived
// key. changed is false when the key was certified with cert already.
func (a *Archive) CertifyTx(tx lanyard.Tx, id int64, cert *x509.Certificate) (k *lanyard.ArchivedKey, changed bool, err error) {
	k, key, err := a.OpenTx(tx, id)
	if err != nil {
		return nil, false, err
	}
	serial := cert.SerialNumber.Text(16)
	if !bytes.Equal(cert.RawSubjectPublicKeyInfo, k.PublicKey) {
		return nil, false, lanyard.Errorf(lanyard.EInvalid, "certificate %s is not for archived key %d", serial, id)
	}
	switch {
	case k.State == lanyard.ArchivedKeyActive && k.CertificateSerial == serial:
		return k, false, nil
	case k.State != lanyard.ArchivedKeyPending:
		return nil, false, lanyard.Errorf(lanyard.EConflict, "archived key %d is %s (certificate %s); it takes no other certificate", id, k.State, k.CertificateSerial)
	}
	cur, err := tx.CurrentKRAKey()
	if err != nil {
		return nil, false, err
	}
	k.CertificateSerial, k.KRAVersion, k.State, k.UpdatedAt = serial, cur.Version, lanyard.ArchivedKeyActive, a.rec.Clock()
	if k.SealedKey, err = a.sealKey(tx, k, key); err != nil {
		return nil, false, err
	}
	if err := tx.UpdateArchivedKey(k); err != nil {
		return nil, false, err
	}
	return k, true, nil
}

// RecertifyTx records cert, a newer certificate of the same key, as the
// certificate of active archived key id, in the caller's transaction (a
// reuse-key renewal: Update card contents certifies the card's key
// again). The sealed key is sealed again with the new serial bound in,
// under the current KRA key version. It returns the serial the key had
// (for the caller's event); a key already certified by cert is left as
// it is (previous == its serial).
func (a *Archive) RecertifyTx(tx lanyard.Tx, id int64, cert *x509.Certificate) (k *lanyard.ArchivedKey, previous string, err error) {
	k, key, err := a.OpenTx(tx, id)
	if err != nil {
		return nil, "", err
	}
	serial := cert.SerialNumber.Text(16)
	if !bytes.Equal(cert.RawSubjectPublicKeyInfo, k.PublicKey) {
		return nil, "", lanyard.Errorf(lanyard.EInvalid, "certificate %s is not for archived key %d", serial, id)
	}
	if k.State != lanyard.ArchivedKeyActive {
		return nil, "", lanyard.Errorf(lanyard.EConflict, "archived key %d is %s; only an active key is certified again", id, k.State)
	}
	previous = k.CertificateSerial
	if previous == serial {
		return k, previous, nil
	}
	cur, err := tx.CurrentKRAKey()
	if err != nil {
		return nil, "", err
	}
	k.CertificateSerial, k.KRAVersion, k.UpdatedAt = serial, cur.Version, a.rec.Clock()
	if k.SealedKey, err = a.sealKey(tx, k, key); err != nil {
		return nil, "", err
	}
	return k, previous, tx.UpdateArchivedKey(k)
}

// Discard erases the sealed copy of a pending archived key whose issue
// ended without a certificate (pending → discarded), in one transaction
// with its key.discard event. An active key is never discarded: its
// certificate may have encrypted data.
func (a *Archive) Discard(ctx context.Context, p *lanyard.Principal, id int64) error {
	return a.rec.Store.Update(ctx, func(tx lanyard.Tx) error { return a.DiscardTx(tx, p, id, nil) })
}

// OpenTx reads archived key id and opens its private key, in the caller's
// transaction: for recovery, whose own event (it says who recovered which
// key where) goes in that same transaction. It checks that the key opened
// is the one recorded (its public key). A discarded key does not open.
func (a *Archive) OpenTx(tx lanyard.Tx, id int64) (*lanyard.ArchivedKey, crypto.Signer, error) {
	k, err := tx.ArchivedKeyByID(id)
	if err != nil {
		return nil, nil, err
	}
	if k.State == lanyard.ArchivedKeyDiscarded {
		return nil, nil, lanyard.Errorf(lanyard.EConflict, "archived key %d was discarded", id)
	}
	s, err := a.kraSealer(tx, k.KRAVersion)
	if err != nil {
		return nil, nil, err
	}
	der, err := s.Open(k.SealedKey, keyAAD(k))
	if err != nil {
		return nil, nil, lanyard.Wrap(lanyard.EInternal, err, fmt.Sprintf("archived key %d does not open", id))
	}
	defer clear(der)
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, nil, lanyard.Wrap(lanyard.EInternal, err, fmt.Sprintf("archived key %d is not a private key", id))
	}
	key, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, nil, lanyard.Errorf(lanyard.EInternal, "archived key %d is not a usable private key", id)
	}
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil || !bytes.Equal(spki, k.PublicKey) {
		return nil, nil, lanyard.Errorf(lanyard.EInternal, "archived key %d does not match its recorded public key", id)
	}
	return k, key, nil
}

// Keys lists owner's archived keys of template, newest first (the order
// recovery fills the current slot and then the retired key slots), without
// their sealed keys.
func (a *Archive) Keys(ctx context.Context, ownerID int64, template string) ([]*lanyard.ArchivedKey, error) {
	var ks []*lanyard.ArchivedKey
	err := a.rec.View(ctx, func(tx lanyard.Tx) (err error) { ks, err = tx.ArchivedKeysOf(ownerID, template); return })
	for _, k := range ks {
		k.SealedKey = nil
	}
	return ks, err
}

// sealKey seals key as PKCS #8 (RFC 5208) under KRA key version
// k.KRAVersion with k's associated data, and wipes the plaintext encoding.
func (a *Archive) sealKey(tx lanyard.Tx, k *lanyard.ArchivedKey, key crypto.Signer) ([]byte, error) {
	s, err := a.kraSealer(tx, k.KRAVersion)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "encoding the key to archive failed")
	}
	defer clear(der)
	sealed, err := s.Seal(der, keyAAD(k))
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInternal, err, "sealing the archived key failed")
	}
	return sealed, nil
}
