package cardops

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
	"github.com/lanyard-cms/lanyard/internal/policy"
	"github.com/lanyard-cms/lanyard/internal/unblockcode"
)

// issueSteps runs the card steps not yet recorded. It reports pending when
// a certificate waits for CA approval (documents check).
func (s *Cards) issueSteps(ctx context.Context, j *issueJob) (pending bool, err error) {
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
		j.card.SealedPUK, j.card.PUKState, j.card.PUKReleasedAt = nil, lanyard.PUKDefault, time.Time{}
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
	// A TPM card's offline unblock code, armed with that PUK (offlinetpm.go).
	if tpmOffline(j.ct.Kind) && !d.OfflineArmed {
		if err := s.armAtIssue(ctx, j, admin); err != nil {
			return false, err
		}
	}

	// A card not initialized may hold an earlier owner's keys in its
	// retired slots (recovered onto it before it was cleared by an older
	// server): they go before the card is the new owner's.
	if !d.Initialized && !d.RetiredCleared {
		if _, err := personalize.ClearRetiredKeys(ctx, j.pc, admin); err != nil {
			return false, err
		}
		d.RetiredCleared = true // recorded with the next step
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
		tpl = shortened(tpl, d.MaxValidityDays)
		var pub crypto.PublicKey
		var archived int64 // the archived key's ID (issuearchive.go)
		if tpl.KeyArchival {
			pub, archived, err = s.importArchivedKey(ctx, j, admin, slot, sl, tpl)
		} else {
			pub, err = personalize.GenerateKey(ctx, admin, slot, sl.Algorithm)
		}
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
		if err := s.signSlot(ctx, j, sl, tpl, pub, archived); err != nil {
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

	// The owner's earlier archived keys into the retired slots.
	if err := s.recoverHistory(ctx, j, admin); err != nil {
		return false, err
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

// signSlot has the template's CA sign pub for slot sl (no approval
// needed) and records the certificate, bound to the card and, for an
// archive-key template, to its archived key (archived: its ID, for the
// event), in the step issued:slot.
func (s *Cards) signSlot(ctx context.Context, j *issueJob, sl issuance.SlotPlan, tpl *lanyard.Template, pub crypto.PublicKey, archived int64) error {
	d := &j.data
	authority, ok := s.cas[tpl.CA]
	if !ok {
		return lanyard.Errorf(lanyard.EUnavailable, "CA %q of template %q is not running", tpl.CA, tpl.Name)
	}
	cert, err := authority.Sign(ctx, &ca.SignRequest{Template: tpl, User: j.user, PublicKey: pub})
	if err != nil {
		return err
	}
	rec := lanyard.ManagedCertificate(cert, tpl, j.user, s.rec.Clock())
	rec.CardID, rec.Slot = j.card.ID, sl.Slot
	d.Certs[sl.Slot] = rec.Serial
	details := map[string]any{"ca": rec.CA, "template": tpl.Name, "user": j.user.Login, "subject": rec.Subject, "card": j.card.ID, "slot": sl.Slot}
	if archived != 0 {
		details["archived_key"] = archived
	}
	ev := s.rec.Event(j.p, "cert.issue", "certificate", rec.Serial, details)
	recordCert := func(tx lanyard.Tx) error {
		if err := tx.CreateCertificate(rec); err != nil {
			return err
		}
		_, err := s.certifyArchived(tx, j, tpl.Name, rec.DER)
		return err
	}
	if err := j.run.Step(ctx, operation.Issued.On(sl.Slot), operation.Also(recordCert), operation.Event(ev)); err != nil {
		delete(d.Certs, sl.Slot)
		return err
	}
	return nil
}

// resetPIN sets the User PIN to want when a resumed change found the old
// one refused (the change may have reached the card, its reply lost):
// with the card's own PUK (RESET RETRY COUNTER, no guess, the tries
// restored), else — for a card from before PUKs were stored, and a PIN
// the user entered, never one drawn afresh — by trying want once while
// two tries are left.
func (s *Cards) resetPIN(ctx context.Context, j *issueJob, want string, changeErr error) bool {
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
func (s *Cards) cardAdmin(ctx context.Context, j *issueJob, keys personalize.Keys) (*piv.Admin, error) {
	if j.ct.AdminMode != lanyard.AdminKeyRandom {
		// Probed before the management session, which no answer
		// to an unknown command may disturb.
		scheme, err := personalize.ProbeOfflineScheme(ctx, j.pc)
		if err != nil {
			return nil, err
		}
		j.card.OfflineScheme = offlineScheme(j.ct.Kind, scheme)
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
		admin, err := personalize.AuthenticateDerived(ctx, j.pc, j.ct.AdminKey, m, ident)
		if err != nil {
			return nil, err
		}
		return admin, s.enableOffline(ctx, j, admin, m, ident)
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
	return admin, s.enableOffline(ctx, j, admin, m, ident)
}

// enableOffline gives a card with its own management key the key its
// offline unblock is checked with (personalize.EnableOfflineUnblock),
// every time an issue authenticates to it: the instruction is idempotent,
// and a card issued before offline unblock existed gets it at its next
// issue or continue. The card's answer fixes its offline scheme
// (Card.OfflineScheme), written with the card at the issue's end: a card
// that does not know the instruction is a standard PIV card.
func (s *Cards) enableOffline(ctx context.Context, j *issueJob, admin *piv.Admin, m personalize.Master, ident []byte) error {
	k, err := personalize.DiversifiedKey(m, j.ct.AdminKey, ident)
	if err != nil {
		return err
	}
	scheme, err := personalize.EnableOfflineUnblock(ctx, admin, k, j.card.Serial)
	if err != nil {
		return err
	}
	j.card.OfflineScheme = offlineScheme(j.ct.Kind, scheme)
	return nil
}

// offlineScheme is the offline scheme recorded for a card of kind k whose
// answer to Lanyard's instructions said probed. A TPM card refuses SET
// OFFLINE KEY (6A81) like a standard PIV card, but its code is armed in
// its TPM (offlinetpm.go): it is lanyard-tpm, never piv-puk, so no
// challenge of it can ask for its PUK.
func offlineScheme(k lanyard.CardKind, probed unblockcode.Scheme) string {
	if tpmOffline(k) {
		return unblockcode.SchemeLanyardTPM.String()
	}
	return probed.String()
}

// writeCertificate writes the slot's certificate to the card, after
// checking that the slot's key is the certified one when the card can
// tell (GET METADATA).
func (s *Cards) writeCertificate(ctx context.Context, j *issueJob, admin *piv.Admin, sl issuance.SlotPlan) error {
	slot, err := personalize.ParseSlot(sl.Slot)
	if err != nil {
		return err
	}
	return s.writeCertificateTo(ctx, j, admin, sl, slot)
}

// writeCertificateTo is writeCertificate into the card's slot, which an
// update's staged key puts elsewhere than the certificate's slot sl.Slot
// (the slot recorded with the certificate).
func (s *Cards) writeCertificateTo(ctx context.Context, j *issueJob, admin *piv.Admin, sl issuance.SlotPlan, slot piv.Slot) error {
	rec, err := s.slotCertificate(ctx, j, sl)
	if err != nil {
		return err
	}
	if rec.Status != lanyard.CertValid && rec.Status != lanyard.CertApproved {
		// Revoked meanwhile (key compromise reported while the issue
		// waited): writing it would put a dead certificate on the card.
		return lanyard.Errorf(lanyard.EConflict, "the %s certificate %s is %s and is not written; %s", sl.Template, rec.Serial, rec.Status, j.startAgain())
	}
	cert, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		return lanyard.Wrap(lanyard.EInternal, err, "stored certificate does not parse")
	}
	if err := personalize.WriteCertificate(ctx, j.pc, admin, slot, cert); err != nil {
		return err
	}
	j.data.Written[sl.Slot] = true
	ev := s.rec.Event(j.p, "cert.write", "certificate", rec.Serial, map[string]any{"card": j.card.ID, "slot": sl.Slot})
	markWritten := func(tx lanyard.Tx) error {
		cur, err := heldCertificate(tx, rec)
		if err != nil {
			return err
		}
		if cur.Status != lanyard.CertValid && cur.Status != lanyard.CertApproved {
			// Revoked while it was being written: the record keeps the
			// revocation (and the CRL the certificate); the card holds a
			// dead certificate until it is cleared.
			return lanyard.Errorf(lanyard.EConflict, "the %s certificate %s was %s while it was written to the card; %s", sl.Template, cur.Serial, cur.Status, j.startAgain())
		}
		cur.Status, cur.CardID, cur.Slot, cur.UpdatedAt = lanyard.CertWritten, j.card.ID, sl.Slot, s.rec.Clock()
		return tx.UpdateCertificate(cur)
	}
	if err := j.run.Step(ctx, operation.Written.On(sl.Slot), operation.Also(markWritten), operation.Event(ev)); err != nil {
		delete(j.data.Written, sl.Slot)
		return err
	}
	return nil
}

// slotCertificate reads the certificate issued (or approved) for slot sl
// in j's record.
func (s *Cards) slotCertificate(ctx context.Context, j *issueJob, sl issuance.SlotPlan) (*lanyard.Certificate, error) {
	caName := s.caOrder[0]
	if tpl := j.tpls[sl.Template]; tpl != nil {
		caName = tpl.CA
	}
	var rec *lanyard.Certificate
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		rec, err = tx.CertificateBySerial(caName, j.data.Certs[sl.Slot])
		return
	})
	return rec, err
}

// trackedCA names the issuer of a third-party certificate where Lanyard's
// own CAs are named: a serial number is unique only per issuer (RFC 5280,
// 4.1.2.2), so two issuers' certificates with one serial are two records.
// Before, every tracked certificate was filed under "external", and the
// second of two such certificates was taken for the first.
func trackedCA(c *x509.Certificate) string { return "external:" + c.Issuer.String() }

// trackCertificates records the third-party certificates the user chose
// (or the policy tracks) so that their validity is followed.
func (s *Cards) trackCertificates(ctx context.Context, j *issueJob) error {
	var recs []*lanyard.Certificate
	now := s.rec.Clock()
	for _, slot := range j.data.Plan.Tracked {
		for _, f := range j.found {
			if f.Slot != slot || f.Certificate == nil {
				continue
			}
			rec := lanyard.ManagedCertificate(f.Certificate, &lanyard.Template{}, j.user, now)
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
		return s.rec.Event(j.p, "card.track", "card", strconv.FormatInt(j.card.ID, 10), details)
	}))
}

// heldCertificate reads c again inside tx, holding its row until tx ends
// (Tx.LockCertificate): a step that changes a certificate read earlier
// (outside tx, before card I/O) starts from this, not from its old copy,
// so a revocation committed meanwhile is seen and not overwritten.
func heldCertificate(tx lanyard.CertificateStore, c *lanyard.Certificate) (*lanyard.Certificate, error) {
	if err := tx.LockCertificate(c.ID); err != nil {
		return nil, err
	}
	return tx.CertificateByID(c.ID)
}
