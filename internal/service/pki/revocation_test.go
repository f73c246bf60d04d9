package pki_test

import (
	"context"
	"crypto/x509"
	"maps"
	"math/big"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
)

// TestCRLLeavesOutExpired: a revoked or held certificate is on the CRL
// until its validity ends, and absent from the first CRL signed after
// (RFC 5280 5.1.2.6; the CRL carries no ExpiredCertsOnCRL), so the CRL
// and the time each revocation holds the writer stop growing for good.
// OCSP still answers revoked for it: it reads the certificate, not the
// CRL. A certificate revoked after it was held is listed as revoked.
func TestCRLLeavesOutExpired(t *testing.T) {
	ctx := context.Background()
	clock := servicetest.NewClock(time.Date(2026, time.June, 1, 12, 0, 0, 0, time.UTC))
	st := servicetest.New(t, servicetest.Options{Now: clock.Now})
	pki, caName := st.Service.PKI, st.CA.Name()
	start := clock.Now()
	// Serial, validity left, on hold; all valid at first.
	type spec struct {
		serial string
		left   time.Duration
		held   bool
	}
	specs := []spec{
		{"a1", time.Hour, false},      // revoked, expires: leaves the CRL
		{"a2", 48 * time.Hour, false}, // revoked, still valid: stays
		{"a3", time.Hour, true},       // held, expires: leaves the CRL
		{"a4", 48 * time.Hour, true},  // held, still valid: stays
		{"a5", 2 * time.Hour, false},  // revoked, valid to the instant of the CRL: stays
		{"a6", time.Hour, false},      // revoked only after it expired
	}
	certs := map[string]*lanyard.Certificate{}
	err := st.Store.Update(ctx, func(tx lanyard.Tx) error {
		for _, sp := range specs {
			c := &lanyard.Certificate{Serial: sp.serial, CA: caName, UserID: st.Admin.User.ID, Subject: "CN=" + sp.serial,
				NotBefore: start.Add(-time.Hour), NotAfter: start.Add(sp.left), Status: lanyard.CertWritten, Source: lanyard.SourceManaged,
				KeySHA256: sp.serial, DER: []byte{0x30}, CreatedAt: start, UpdatedAt: start}
			if err := tx.CreateCertificate(c); err != nil {
				return err
			}
			certs[sp.serial] = c
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range specs {
		if sp.serial == "a6" {
			continue
		}
		if sp.held {
			err = st.Store.Update(ctx, func(tx lanyard.Tx) error {
				_, err := pki.HoldCertificates(ctx, tx, []*lanyard.Certificate{certs[sp.serial]}, true, func(*lanyard.Certificate) bool { return true })
				return err
			})
		} else {
			_, err = pki.Revoke(ctx, st.Admin, caName, sp.serial, lanyard.ReasonKeyCompromise)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	chain, err := st.CA.Chain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	issuer := chain[0]
	// crl returns the reason of each serial on the CA's CRL, its
	// signature checked.
	crl := func() map[string]int {
		t.Helper()
		der, err := pki.CRL(ctx, caName)
		if err != nil {
			t.Fatal(err)
		}
		l, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.CheckSignatureFrom(issuer); err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, e := range l.RevokedCertificateEntries {
			out[e.SerialNumber.Text(16)] = e.ReasonCode
		}
		return out
	}
	keyCompromise, hold := int(lanyard.ReasonKeyCompromise), int(lanyard.ReasonCertificateHold)
	want := map[string]int{"a1": keyCompromise, "a2": keyCompromise, "a3": hold, "a4": hold, "a5": keyCompromise}
	if got := crl(); !maps.Equal(got, want) {
		t.Fatalf("CRL before expiry: %v, want %v", got, want)
	}

	clock.Add(2 * time.Hour)
	if err := pki.RefreshCRL(ctx, caName, true); err != nil {
		t.Fatal(err)
	}
	// RFC 5280 3.3: an entry stays until it has appeared on a CRL issued
	// beyond the certificate's validity; a1 and a3 were valid when the
	// previous CRL was issued, so this one, after their expiry, lists
	// them once more, and the next one no longer does.
	if got := crl(); !maps.Equal(got, want) {
		t.Errorf("first CRL after a1 and a3 expired: %v, want them listed once more: %v", got, want)
	}
	if err := pki.RefreshCRL(ctx, caName, true); err != nil {
		t.Fatal(err)
	}
	want = map[string]int{"a2": keyCompromise, "a4": hold, "a5": keyCompromise}
	if got := crl(); !maps.Equal(got, want) {
		t.Errorf("CRL after a1 and a3 expired: %v, want %v", got, want)
	}
	// A certificate revoked after it expired still appears on one CRL.
	if _, err := pki.Revoke(ctx, st.Admin, caName, "a6", lanyard.ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	want["a6"] = keyCompromise
	if got := crl(); !maps.Equal(got, want) {
		t.Errorf("CRL after revoking the expired a6: %v, want %v", got, want)
	}
	clock.Add(time.Minute)
	if err := pki.RefreshCRL(ctx, caName, true); err != nil {
		t.Fatal(err)
	}
	delete(want, "a6")
	if got := crl(); !maps.Equal(got, want) {
		t.Errorf("the CRL after the one listing a6: %v, want %v", got, want)
	}
	// A revocation signs the CRL too: revoking the held a4 for good lists
	// it as revoked, and the expired ones stay out — a5 too now, which
	// expired at the instant of the CRLs at +2h and was listed on the one
	// issued a minute after.
	delete(want, "a5")
	if _, err := pki.Revoke(ctx, st.Admin, caName, "a4", lanyard.ReasonSuperseded); err != nil {
		t.Fatal(err)
	}
	want["a4"] = int(lanyard.ReasonSuperseded)
	if got := crl(); !maps.Equal(got, want) {
		t.Errorf("CRL after revoking a4: %v, want %v", got, want)
	}

	// OCSP answers from the certificate: the expired ones are still
	// revoked, with their reason.
	for serial, reason := range map[string]int{"a1": ocsp.KeyCompromise, "a3": ocsp.CertificateHold, "a2": ocsp.KeyCompromise} {
		n, _ := new(big.Int).SetString(serial, 16)
		req, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: n}, issuer, nil)
		if err != nil {
			t.Fatal(err)
		}
		der, err := pki.OCSP(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := ocsp.ParseResponse(der, issuer)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Status != ocsp.Revoked || resp.RevocationReason != reason {
			t.Errorf("OCSP %s: status %d reason %d, want revoked, reason %d", serial, resp.Status, resp.RevocationReason, reason)
		}
	}
}
