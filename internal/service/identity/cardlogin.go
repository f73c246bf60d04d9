package identity

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"slices"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Smart card sign-in (docs/security.md, "Smart card sign-in"): the web
// layer hands over the certificate chain the client presented in the TLS
// handshake of the HTTPS listener, whose CertificateVerify proved that
// the client holds the certificate's private key (RFC 8446 4.4.3; TLS
// 1.2: RFC 5246 7.4.8). For a Lanyard card that key never leaves the
// card and signs only after the card's PIN: possession and knowledge, two
// factors. What is checked here is everything else: the certificate is
// one of Lanyard's own, on a card in use, for sign-in, naming an account.

// cardCredential is a presented certificate found good for sign-in: its
// record, its card and the user its UPN names.
type cardCredential struct {
	user *lanyard.User
	cert *lanyard.Certificate
	card *lanyard.Card
}

// msgNoCard answers a sign-in without a client certificate.
const msgNoCard = "no card certificate was presented: insert your card and let the browser offer its certificate to this server " +
	"(smart card sign-in works only over Lanyard's own HTTPS listener)"

// CardLogin signs in with the certificate chain the client presented on
// the TLS connection (chain[0] is the client's certificate). The card
// counts as the second factor: a session opened this way records it
// (SecondFactorAt), so a staff account skips the authenticator app's
// code. One transaction with its audit event (session.login, method
// "card"); a refusal writes session.login_failed when it knows whose
// certificate it was. Errors: EUnauthenticated with the reason.
func (s *Identity) CardLogin(ctx context.Context, chain []*x509.Certificate, remote string) (*LoginResult, error) {
	cred, err := s.verifyCard(ctx, chain, remote)
	if err != nil {
		return nil, err
	}
	return s.openSessionWith(ctx, cred.user, remote, nil, nil, cred, nil)
}

// CompleteLoginCard is a login's second step by card instead of a code:
// the password was right (challengeID is the login cookie's secret from
// Login) and the same TLS connection presents a valid card of the same
// user. Errors: EUnauthenticated with the reason, also when the card is
// someone else's.
func (s *Identity) CompleteLoginCard(ctx context.Context, challengeID string, chain []*x509.Certificate, remote string) (*LoginResult, error) {
	c, u, err := s.loginChallenge(ctx, challengeID)
	if err != nil {
		return nil, err
	}
	cred, err := s.verifyCard(ctx, chain, remote)
	if err != nil {
		return nil, err
	}
	if cred.user.ID != u.ID {
		s.refuseCard(ctx, u, remote, "the card of another user")
		return nil, lanyard.Errorf(lanyard.EUnauthenticated, "the card presented is not yours: sign in with your own card or the code of your authenticator app")
	}
	return s.openSessionWith(ctx, u, remote, nil, c, cred, nil)
}

// cardStepUp is the step-up's second factor by card (VerifySecondFactor,
// after u's password was found right): the card p's TLS connection
// presents must be one that signs u in. Recorded in one transaction with
// its audit event (session.step_up, method "card"), after checking the
// card again. A refused card is EStepUpFailed with the reason; it is not
// counted in the throttle, as nothing was guessed.
func (s *Identity) cardStepUp(ctx context.Context, p *lanyard.Principal, u *lanyard.User) error {
	if p.ClientCertificatesRefused != "" {
		s.refuseCard(ctx, u, p.RemoteAddr, "a stale or resumed TLS connection")
		return lanyard.Errorf(lanyard.EStepUpFailed, "%s", p.ClientCertificatesRefused)
	}
	cred, err := s.verifyCard(ctx, p.ClientCertificates, p.RemoteAddr)
	if lanyard.IsCode(err, lanyard.EUnauthenticated) {
		return lanyard.Errorf(lanyard.EStepUpFailed, "%s", lanyard.ErrorMessage(err))
	}
	if err != nil {
		return err
	}
	if cred.user.ID != u.ID {
		s.refuseCard(ctx, u, p.RemoteAddr, "the card of another user")
		return lanyard.Errorf(lanyard.EStepUpFailed, "the card presented is not yours: use your own card or the code of your authenticator app")
	}
	err = s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(p, "session.step_up", "user", u.Login, map[string]any{"method": "card", "ca": cred.cert.CA, "serial": cred.cert.Serial, "card_id": cred.card.ID})
	}, func(tx lanyard.Tx) error { return stillUsable(tx, cred, s.rec.Clock()) })
	if lanyard.IsCode(err, lanyard.EUnauthenticated) {
		return lanyard.Errorf(lanyard.EStepUpFailed, "%s", lanyard.ErrorMessage(err))
	}
	return err
}

// verifyCard checks chain for sign-in (what the checks are and why:
// docs/security.md). Every refusal is EUnauthenticated with a message
// for the person at the card.
func (s *Identity) verifyCard(ctx context.Context, chain []*x509.Certificate, remote string) (*cardCredential, error) {
	refuse := func(format string, args ...any) error {
		return lanyard.Errorf(lanyard.EUnauthenticated, format, args...)
	}
	if len(chain) == 0 || chain[0] == nil {
		return nil, refuse(msgNoCard)
	}
	leaf := chain[0]
	caName, err := s.cardIssuer(ctx, leaf)
	if err != nil {
		return nil, err
	}
	cred := &cardCredential{}
	err = s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		cred.cert, err = tx.CertificateBySerial(caName, lanyard.SerialHex(leaf.SerialNumber))
		if lanyard.IsCode(err, lanyard.ENotFound) {
			return refuse("Lanyard has no record of this certificate (serial %s); it cannot sign in", lanyard.SerialHex(leaf.SerialNumber))
		}
		if err != nil {
			return err
		}
		if !bytes.Equal(cred.cert.DER, leaf.Raw) {
			return refuse("this certificate differs from the one Lanyard issued with its serial; it cannot sign in")
		}
		if cred.cert.CardID != 0 {
			if cred.card, err = tx.CardByID(cred.cert.CardID); err != nil {
				return err
			}
			ct, err := tx.CardTypeByName(cred.card.CardType)
			if err != nil {
				return err
			}
			// A software store's key is a file guarded by no card's PIN:
			// it is not the second factor a card is.
			if ct.Kind == lanyard.KindSoftwareStore {
				return refuse("the certificate is in a software certificate store, not on a card; only cards sign in")
			}
		}
		if cred.cert.UserID != 0 {
			// Whose it was, for the audit of a refusal; ENotFound when
			// the account is gone.
			if u, err := tx.UserByID(cred.cert.UserID); err == nil {
				cred.user = u
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	owner := cred.user
	if err := cardUsable(cred.cert, cred.card, s.rec.Clock()); err != nil {
		s.refuseCard(ctx, owner, remote, lanyard.ErrorMessage(err))
		return nil, err
	}
	if err := signInUsage(leaf); err != nil {
		s.refuseCard(ctx, owner, remote, lanyard.ErrorMessage(err))
		return nil, err
	}
	upn, err := ca.CertificateUPN(leaf)
	if errors.Is(err, ca.ErrNoUPN) {
		s.refuseCard(ctx, owner, remote, "no UPN")
		return nil, refuse("the certificate names no user principal name (UPN), so it does not say whose account it opens; sign in with your card's logon certificate")
	}
	if err != nil {
		s.refuseCard(ctx, owner, remote, err.Error())
		return nil, refuse("%s", err.Error())
	}
	var u *lanyard.User
	err = s.rec.View(ctx, func(tx lanyard.Tx) (err error) { u, err = tx.UserByUPN(upn); return })
	if lanyard.IsCode(err, lanyard.ENotFound) {
		s.refuseCard(ctx, owner, remote, "UPN of no user")
		return nil, refuse("no user has the UPN %q that the certificate names", upn)
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		s.refuseCard(ctx, u, remote, "account disabled")
		return nil, refuse("the account %q is disabled; ask an administrator", u.Login)
	}
	// The certificate opens only the account it was issued to, on that
	// account's own card. The store ties a UPN to its first holder for
	// good (upn_history), so this holds by construction; checked again
	// here because the UPN is all the certificate says.
	if owner == nil || u.ID != owner.ID || cred.card.OwnerID != u.ID {
		s.refuseCard(ctx, owner, remote, "UPN of another user")
		return nil, refuse("the certificate's UPN %q names another account than the one it was issued to; it cannot sign in", upn)
	}
	cred.user = u
	return cred, nil
}

// cardIssuer returns the name of the CA among Lanyard's (in
// configuration order) that issued leaf, after verifying the path from
// leaf to that CA's root at the service's clock (RFC 5280 6.1). The
// trust anchors are read from the CAs on every sign-in, so a CA's new
// chain counts at once. Only the CA's own chain is used for the path:
// intermediates the client sent are ignored.
func (s *Identity) cardIssuer(ctx context.Context, leaf *x509.Certificate) (string, error) {
	now := s.rec.Clock()
	for _, c := range s.cas {
		chain, err := c.Chain(ctx)
		if err != nil {
			return "", err
		}
		if len(chain) == 0 || !bytes.Equal(leaf.RawIssuer, chain[0].RawSubject) || leaf.CheckSignatureFrom(chain[0]) != nil {
			continue
		}
		roots, inter := x509.NewCertPool(), x509.NewCertPool()
		roots.AddCert(chain[len(chain)-1])
		for _, ic := range chain[:len(chain)-1] {
			inter.AddCert(ic)
		}
		// ExtKeyUsageAny: crypto/x509 knows no smart card logon purpose;
		// signInUsage checks the leaf's purposes itself.
		_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
		var inv x509.CertificateInvalidError
		if errors.As(err, &inv) && inv.Reason == x509.Expired {
			return "", lanyard.Errorf(lanyard.EUnauthenticated, "the certificate (or its CA) is not valid now: it expired on %s or is not yet valid; renew your card",
				leaf.NotAfter.UTC().Format(time.DateOnly))
		}
		if err != nil {
			return "", lanyard.Errorf(lanyard.EUnauthenticated, "the certificate does not chain to Lanyard's CA %q: %v", c.Name(), err)
		}
		return c.Name(), nil
	}
	return "", lanyard.Errorf(lanyard.EUnauthenticated, "the certificate was not issued by this Lanyard's CA (issuer %q): only cards Lanyard issued sign in", leaf.Issuer.String())
}

// cardUsable refuses a certificate record that is not a Lanyard-issued
// certificate written to a card in use, or is revoked, on hold or past
// its end at now.
func cardUsable(cert *lanyard.Certificate, card *lanyard.Card, now time.Time) error {
	refuse := func(format string, args ...any) error {
		return lanyard.Errorf(lanyard.EUnauthenticated, format, args...)
	}
	switch {
	case cert.Source != lanyard.SourceManaged:
		return refuse("the certificate is not one Lanyard issued (it only tracks it); it cannot sign in")
	case cert.Status == lanyard.CertRevoked:
		return refuse("the certificate is revoked (%s); it cannot sign in", cert.ReasonName)
	case card == nil:
		return refuse("the certificate is not on a card Lanyard manages; it cannot sign in")
	case card.State == lanyard.CardRevoked:
		return refuse("the card is revoked; it cannot sign in")
	case card.State == lanyard.CardDisabled:
		return refuse("the card is disabled; ask the help desk to enable it")
	case card.State != lanyard.CardIssued:
		return refuse("the card is not issued (it is %s); it cannot sign in", card.State)
	case cert.OnHold():
		return refuse("the certificate is on hold; it cannot sign in until it is released")
	case cert.Status == lanyard.CertExpired || !now.Before(cert.NotAfter):
		return refuse("the certificate expired on %s; renew your card", cert.NotAfter.UTC().Format(time.DateOnly))
	case cert.Status != lanyard.CertWritten:
		return refuse("the certificate is %s, not in use on the card; it cannot sign in", cert.Status)
	}
	return nil
}

// signInUsage refuses a certificate not meant for signing in: its
// extended key usage (RFC 5280 4.2.1.12) must name smart card logon
// (1.3.6.1.4.1.311.20.2.2) or TLS client authentication
// (1.3.6.1.5.5.7.3.2) — an e-mail or document signing certificate on the
// same card does not open the account — and a key usage extension, if
// present, must allow digitalSignature, which the TLS handshake's
// CertificateVerify is (RFC 5280 4.2.1.3).
func signInUsage(leaf *x509.Certificate) error {
	logon := slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) ||
		slices.ContainsFunc(leaf.UnknownExtKeyUsage, ca.OIDExtKeyUsageSmartCardLogon.Equal)
	if !logon {
		return lanyard.Errorf(lanyard.EUnauthenticated, "the certificate is not meant for signing in (no smart card logon or client authentication purpose); use your card's logon certificate")
	}
	if leaf.KeyUsage != 0 && leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return lanyard.Errorf(lanyard.EUnauthenticated, "the certificate's key may not sign (no digitalSignature key usage); it cannot sign in")
	}
	return nil
}

// stillUsable checks the card credential again inside the transaction
// that opens the session, so that a card revoked or disabled after
// verifyCard's read opens nothing.
func stillUsable(tx lanyard.Tx, cred *cardCredential, now time.Time) error {
	cert, err := tx.CertificateByID(cred.cert.ID)
	if err != nil {
		return err
	}
	card, err := tx.CardByID(cred.card.ID)
	if err != nil {
		return err
	}
	return cardUsable(cert, card, now)
}

// refuseCard audits a refused card sign-in of u (nil: nobody known, only
// logged). The reason goes to the audit and the log; nothing secret is in
// it.
func (s *Identity) refuseCard(ctx context.Context, u *lanyard.User, remote, reason string) {
	s.log.Info("card sign-in refused", "reason", reason, "remote", remote)
	if u == nil {
		return
	}
	_ = s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(&lanyard.Principal{User: u, RemoteAddr: remote}, "session.login_failed", "user", u.Login,
			map[string]any{"method": "card", "reason": reason})
	}, func(lanyard.Tx) error { return nil })
}
