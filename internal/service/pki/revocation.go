package pki

import (
	"context"
	"errors"
	"math/big"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Revoke revokes a certificate and re-signs its CA's CRL in the same
// transaction, so the CRL served never lags a revocation that committed.
func (s *PKI) Revoke(ctx context.Context, p *lanyard.Principal, caName, serial string, reason lanyard.RevocationReason) (*lanyard.Certificate, error) {
	serial, err := parseSerial(serial)
	if err != nil {
		return nil, err
	}
	if caName == "" {
		caName = s.caOrder[0]
	}
	var out *lanyard.Certificate
	err = s.retryCRL(ctx, func(tx lanyard.Tx) error {
		c, err := tx.CertificateBySerial(caName, serial)
		if err != nil {
			return err
		}
		// Held, and read again: a card issue marking it written at the
		// same time does not overwrite the revocation, nor this the card.
		if err := tx.LockCertificate(c.ID); err != nil {
			return err
		}
		if c, err = tx.CertificateByID(c.ID); err != nil {
			return err
		}
		if c.UserID != p.User.ID && !p.IsStaff() {
			return lanyard.Errorf(lanyard.ENotFound, "certificate %s not found", serial)
		}
		switch c.Status {
		case lanyard.CertRevoked:
			return lanyard.Errorf(lanyard.EConflict, "certificate %s is already revoked", serial)
		case lanyard.CertValid, lanyard.CertWritten, lanyard.CertApproved:
		default:
			return lanyard.Errorf(lanyard.EConflict, "certificate %s is %s and cannot be revoked", serial, c.Status)
		}
		now := s.rec.Clock()
		c.Status, c.RevokedAt, c.Reason, c.ReasonName, c.HeldAt, c.UpdatedAt = lanyard.CertRevoked, now, reason, reason.String(), time.Time{}, now
		if err := tx.UpdateCertificate(c); err != nil {
			return err
		}
		if _, err := s.signCRL(ctx, tx, caName, c); err != nil {
			return err
		}
		out = c
		return tx.AppendAudit(s.rec.Event(p, "cert.revoke", "certificate", serial, map[string]any{"ca": caName, "reason": reason.String()}))
	})
	return out, err
}

// signCRL re-signs caName's CRL inside tx (RFC 5280 5: a complete CRL with
// a monotonically increasing CRL number). It lists the CA's revoked and
// held certificates, leaving out those that had expired before the
// previous CRL was issued: RFC 5280 3.3 lets an entry go only once it
// has appeared on a CRL issued beyond the certificate's validity, so a
// certificate valid at the previous CRL's thisUpdate is listed on this
// one, issued after it (the periodic RefreshCRLs issues one at least
// every half CRL lifetime). The certificates changed in this transaction
// (changed) are listed whatever their validity, so a certificate revoked
// after it expired still appears on one CRL. This CRL carries no
// ExpiredCertsOnCRL extension (X.509 8.5.2.12; ca/builtin CreateCRL), and
// OCSP still answers revoked for an expired revoked certificate (OCSP
// reads the certificate itself). Without this the CRL, and the time every
// revocation holds the single writer, would grow for good. It returns
// the number of the CRL it signed (0 for a CA that publishes its own).
func (s *PKI) signCRL(ctx context.Context, tx lanyard.Tx, caName string, changed ...*lanyard.Certificate) (number int64, err error) {
	signer, ok := s.cas[caName].(ca.CRLSigner)
	if !ok {
		return 0, nil // the CA publishes its own CRL
	}
	// Replicas sign one at a time: under the audit chain's lock (which
	// the transaction's audit event takes anyway) the CA's CRL number
	// and the revocations read below include every other signer's
	// committed ones, so the number increases (RFC 5280 5.2.3) and no
	// revocation committed meanwhile is left off.
	if err := tx.LockAudit(); err != nil {
		return 0, err
	}
	rec, err := tx.CAByName(caName)
	if err != nil {
		return 0, err
	}
	now := s.rec.Clock()
	listed, err := tx.CRLEntries(caName, rec.CRLUpdated) // zero before the first CRL: every entry
	if err != nil {
		return 0, err
	}
	for _, c := range changed {
		if c.CA == caName && (c.Status == lanyard.CertRevoked || c.OnHold()) &&
			!slices.ContainsFunc(listed, func(e *lanyard.CRLEntry) bool { return e.Serial == c.Serial }) {
			listed = append(listed, c.CRLEntry())
		}
	}
	entries := make([]ca.RevokedEntry, 0, len(listed))
	for _, e := range listed {
		n, ok := new(big.Int).SetString(e.Serial, 16)
		if !ok {
			return 0, lanyard.Errorf(lanyard.EInternal, "stored serial %q is not hex", e.Serial)
		}
		at, reason := revocationOf(e)
		entries = append(entries, ca.RevokedEntry{Serial: n, RevokedAt: at, Reason: reason})
	}
	number = rec.CRLNumber + 1
	der, err := signer.CreateCRL(ctx, number, entries, now, now.Add(s.crlLife))
	if err != nil {
		return 0, err
	}
	if err := tx.UpdateCACRL(caName, number, der, now); err != nil {
		if lanyard.IsCode(err, lanyard.EConflict) {
			return 0, &crlRace{err}
		}
		return 0, err
	}
	return number, nil
}

// crlRace is UpdateCACRL's conflict: another replica stored a CRL with
// this number first. The lock signCRL takes prevents it; should it
// happen anyway, retryCRL signs again.
type crlRace struct{ error }

func (e *crlRace) Unwrap() error { return e.error }

// crlAttempts bounds retryCRL.
const crlAttempts = 5

// retryCRL runs fn in a transaction, again (at most crlAttempts times in
// all, after a short random wait) when it failed only because another
// replica's CRL won the compare-and-set: the user's revocation is then
// signed into the next CRL instead of answering a conflict.
func (s *PKI) retryCRL(ctx context.Context, fn func(lanyard.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.rec.Store.Update(ctx, fn)
		var race *crlRace
		if !errors.As(err, &race) || attempt == crlAttempts {
			return err
		}
		s.log.Warn("CRL number taken by another replica; signing again", "attempt", attempt)
		wait := time.Duration(attempt) * (5*time.Millisecond + rand.N(20*time.Millisecond))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// revocationOf is how the CRL and OCSP report a certificate that is
// revoked or on hold: a certificate on hold (its card disabled) as
// revoked since it was held, reason certificateHold (RFC 5280 5.3.1);
// taken off hold, it is left out of the next CRL (a complete CRL simply
// no longer lists it, 5.3.1: removeFromCRL belongs only in delta CRLs).
func revocationOf(e *lanyard.CRLEntry) (time.Time, lanyard.RevocationReason) {
	if e.OnHold() {
		return e.HeldAt, lanyard.ReasonCertificateHold
	}
	return e.RevokedAt, e.Reason
}

// CRL returns the current DER CRL of caName, signing one first if none
// exists yet.
func (s *PKI) CRL(ctx context.Context, caName string) ([]byte, error) {
	var rec *lanyard.CARecord
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { rec, err = tx.CAByName(caName); return }); err != nil {
		return nil, err
	}
	if len(rec.CRLDER) > 0 {
		return rec.CRLDER, nil
	}
	if err := s.RefreshCRL(ctx, caName, true); err != nil {
		return nil, err
	}
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { rec, err = tx.CAByName(caName); return })
	if err != nil {
		return nil, err
	}
	return rec.CRLDER, nil
}

// RefreshCRL re-signs caName's CRL when it is older than half its validity
// (or always with force), so relying parties never see an expired CRL.
func (s *PKI) RefreshCRL(ctx context.Context, caName string, force bool) error {
	s.crlMu.Lock()
	defer s.crlMu.Unlock()
	return s.retryCRL(ctx, func(tx lanyard.Tx) error {
		rec, err := tx.CAByName(caName)
		if err != nil {
			return err
		}
		if !force && len(rec.CRLDER) > 0 && s.rec.Clock().Sub(rec.CRLUpdated) < s.crlLife/2 {
			return nil
		}
		// The number signCRL signed, read under the audit lock it
		// takes: rec, read before, may be another replica's CRL behind.
		number, err := s.signCRL(ctx, tx, caName)
		if err != nil || number == 0 {
			return err
		}
		return tx.AppendAudit(s.rec.Event(lanyard.SystemPrincipal, "ca.crl", "ca", caName, map[string]any{"crl_number": number}))
	})
}

// RefreshCRLs runs RefreshCRL for every CA; for a periodic job.
func (s *PKI) RefreshCRLs(ctx context.Context) {
	for _, name := range s.caOrder {
		if err := s.RefreshCRL(ctx, name, false); err != nil {
			s.log.Error("CRL refresh failed", "ca", name, "err", err)
		}
	}
}

// OCSP answers a DER OCSP request (RFC 6960) from the store's view of
// revocation, signed by the CA that the request names.
func (s *PKI) OCSP(ctx context.Context, req []byte) ([]byte, error) {
	if len(req) == 0 || len(req) > 8192 {
		return nil, lanyard.Errorf(lanyard.EInvalid, "OCSP request must be 1-8192 bytes")
	}
	for _, name := range s.caOrder {
		signer, ok := s.cas[name].(ca.OCSPSigner)
		if !ok {
			continue
		}
		oreq, mine, err := signer.ParseOCSPRequest(req)
		if err != nil {
			return nil, err
		}
		if !mine {
			continue
		}
		now := s.rec.Clock()
		st := ca.OCSPStatus{Serial: oreq.Serial, Hash: oreq.Hash, ThisUpdate: now, NextUpdate: now.Add(time.Hour)}
		var c *lanyard.Certificate
		err = s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
			c, err = tx.CertificateBySerial(name, lanyard.SerialHex(oreq.Serial))
			return
		})
		switch {
		case lanyard.IsCode(err, lanyard.ENotFound):
			st.Unknown = true
		case err != nil:
			return nil, err
		case c.Status == lanyard.CertRevoked || c.OnHold():
			st.RevokedAt, st.Reason = revocationOf(c.CRLEntry())
		case c.Status == lanyard.CertPending || c.Status == lanyard.CertRejected:
			st.Unknown = true
		default:
			st.Good = true
		}
		return signer.SignOCSP(ctx, st)
	}
	return nil, lanyard.Errorf(lanyard.ENotFound, "the OCSP request names no CA served here")
}

// RevokeCertificates revokes, in tx, the certificates of certs that
// revoke selects (reason cessation of operation, RFC 5280 5.3.1: what
// they certify is gone) and signs a new CRL of each CA concerned. It
// returns the serials revoked.
func (s *PKI) RevokeCertificates(ctx context.Context, tx lanyard.Tx, certs []*lanyard.Certificate, revoke func(*lanyard.Certificate) bool) ([]string, error) {
	return s.RevokeCertificatesFor(ctx, tx, certs, lanyard.ReasonCessationOfOperation, revoke)
}

// RevokeCertificatesFor is RevokeCertificates with the reason given: a
// card revoked as lost revokes its certificates for key compromise. A
// certificate on hold is revoked for good with the new reason (RFC 5280
// 5.3.1 lets a held certificate be revoked) and is no longer on hold.
func (s *PKI) RevokeCertificatesFor(ctx context.Context, tx lanyard.Tx, certs []*lanyard.Certificate, reason lanyard.RevocationReason,
	revoke func(*lanyard.Certificate) bool) ([]string, error) {
	now := s.rec.Clock()
	return s.changeCertificates(ctx, tx, certs, revoke, func(c *lanyard.Certificate) {
		c.Status, c.RevokedAt, c.Reason, c.ReasonName, c.HeldAt, c.UpdatedAt = lanyard.CertRevoked, now, reason, reason.String(), time.Time{}, now
	})
}

// HoldCertificates puts on hold (hold true) or takes off hold (false),
// in tx, the certificates of certs that sel selects, and signs a new CRL
// of each CA concerned: the CRL served lists a held certificate from the
// commit on, and stops listing it from the commit that releases it. A
// revoked certificate is never put on hold nor taken off it: revocation
// is for good. It returns the serials changed.
func (s *PKI) HoldCertificates(ctx context.Context, tx lanyard.Tx, certs []*lanyard.Certificate, hold bool, sel func(*lanyard.Certificate) bool) ([]string, error) {
	now := s.rec.Clock()
	return s.changeCertificates(ctx, tx, certs, func(c *lanyard.Certificate) bool {
		return c.Status != lanyard.CertRevoked && c.OnHold() != hold && sel(c)
	}, func(c *lanyard.Certificate) {
		c.HeldAt, c.UpdatedAt = time.Time{}, now
		if hold {
			c.HeldAt = now
		}
	})
}

// changeCertificates applies change to the certificates of certs that sel
// selects, writes them in tx and re-signs the CRL of each CA concerned.
func (s *PKI) changeCertificates(ctx context.Context, tx lanyard.Tx, certs []*lanyard.Certificate, sel func(*lanyard.Certificate) bool,
	change func(*lanyard.Certificate)) ([]string, error) {
	cas := map[string]bool{}
	var serials []string
	var changed []*lanyard.Certificate
	for _, read := range certs {
		// The caller read them before (often before card I/O): each is
		// held and read again, so that a change committed meanwhile (a
		// revocation, a write to the card) is decided on, not undone.
		if err := tx.LockCertificate(read.ID); err != nil {
			return nil, err
		}
		c, err := tx.CertificateByID(read.ID)
		if err != nil {
			return nil, err
		}
		if !sel(c) {
			continue
		}
		*read = *c
		c = read
		change(c)
		if err := tx.UpdateCertificate(c); err != nil {
			return nil, err
		}
		cas[c.CA] = true
		serials = append(serials, c.Serial)
		changed = append(changed, c)
	}
	for name := range cas {
		if _, err := s.signCRL(ctx, tx, name, changed...); err != nil {
			return nil, err
		}
	}
	return serials, nil
}
