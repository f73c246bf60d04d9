package builtin_test

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/ca/catest"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func TestCreateCRL(t *testing.T) {
	c := mustNew(t, config(catest.NewStore(), catest.NewSealer(t), time.Now, nil))
	issuing, root := mustChain(t, c)
	this := time.Date(2026, 4, 2, 10, 0, 0, 0, time.UTC)
	next := this.Add(7 * 24 * time.Hour)
	revoked := []ca.RevokedEntry{
		{Serial: big.NewInt(0x1001), RevokedAt: this.Add(-time.Hour), Reason: lanyard.ReasonKeyCompromise},
		{Serial: big.NewInt(0x1002), RevokedAt: this.Add(-2 * time.Hour), Reason: lanyard.ReasonUnspecified},
		{Serial: new(big.Int).Lsh(big.NewInt(1), 126), RevokedAt: this.Add(-3 * time.Hour), Reason: lanyard.ReasonCertificateHold},
	}
	der, err := c.CreateCRL(t.Context(), 42, revoked, this, next)
	if err != nil {
		t.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(issuing); err != nil {
		t.Fatalf("CRL signature: %v", err)
	}
	if err := crl.CheckSignatureFrom(root); err == nil {
		t.Fatal("CRL verifies under the root key too")
	}
	if crl.Number.Int64() != 42 || !crl.ThisUpdate.Equal(this) || !crl.NextUpdate.Equal(next) ||
		!bytes.Equal(crl.AuthorityKeyId, issuing.SubjectKeyId) || !bytes.Equal(crl.RawIssuer, issuing.RawSubject) {
		t.Errorf("CRL number %v this %v next %v AKI %x issuer %s", crl.Number, crl.ThisUpdate, crl.NextUpdate, crl.AuthorityKeyId, crl.Issuer)
	}
	if len(crl.RevokedCertificateEntries) != len(revoked) {
		t.Fatalf("%d entries, want %d", len(crl.RevokedCertificateEntries), len(revoked))
	}
	for i, e := range crl.RevokedCertificateEntries {
		w := revoked[i]
		if e.SerialNumber.Cmp(w.Serial) != 0 || !e.RevocationTime.Equal(w.RevokedAt) || e.ReasonCode != int(w.Reason) {
			t.Errorf("entry %d = %x %v reason %d, want %x %v %d", i, e.SerialNumber, e.RevocationTime, e.ReasonCode, w.Serial, w.RevokedAt, w.Reason)
		}
		// RFC 5280 5.3.1: unspecified is expressed by leaving the extension out.
		if hasReasonExt := len(e.Extensions) > 0; hasReasonExt != (w.Reason != lanyard.ReasonUnspecified) {
			t.Errorf("entry %d: reason extension present = %v for reason %v", i, hasReasonExt, w.Reason)
		}
	}

	empty, err := c.CreateCRL(t.Context(), 0, nil, this, next)
	if err != nil {
		t.Fatal(err)
	}
	if crl, err := x509.ParseRevocationList(empty); err != nil || len(crl.RevokedCertificateEntries) != 0 || crl.Number.Sign() != 0 {
		t.Fatalf("empty CRL: %v", err)
	}

	for name, call := range map[string]func() error{
		"removeFromCRL": func() error {
			_, err := c.CreateCRL(t.Context(), 1, []ca.RevokedEntry{{Serial: big.NewInt(1), RevokedAt: this, Reason: lanyard.ReasonRemoveFromCRL}}, this, next)
			return err
		},
		"next before this": func() error { _, err := c.CreateCRL(t.Context(), 1, nil, next, this); return err },
		"negative number":  func() error { _, err := c.CreateCRL(t.Context(), -1, nil, this, next); return err },
		"no serial": func() error {
			_, err := c.CreateCRL(t.Context(), 1, []ca.RevokedEntry{{RevokedAt: this}}, this, next)
			return err
		},
	} {
		if err := call(); !lanyard.IsCode(err, lanyard.EInvalid) {
			t.Errorf("%s: error = %v, want %s", name, err, lanyard.EInvalid)
		}
	}
}

func TestOCSPRoundTrip(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	c := mustNew(t, config(catest.NewStore(), catest.NewSealer(t), fixedClock(now), nil))
	issuing, root := mustChain(t, c)
	leaf := mustSign(t, c, logonTemplate(), leafKey(t, lanyard.ECP256).Public())

	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		reqDER, err := ocsp.CreateRequest(leaf, issuing, &ocsp.RequestOptions{Hash: h})
		if err != nil {
			t.Fatal(err)
		}
		req, ok, err := c.ParseOCSPRequest(reqDER)
		if err != nil || !ok {
			t.Fatalf("%v: ParseOCSPRequest ok=%v err=%v", h, ok, err)
		}
		if req.Serial.Cmp(leaf.SerialNumber) != 0 || req.Hash != h {
			t.Fatalf("%v: parsed %+v", h, req)
		}
		statuses := []struct {
			name string
			st   ca.OCSPStatus
			want int
		}{
			{"good", ca.OCSPStatus{Good: true}, ocsp.Good},
			{"unknown", ca.OCSPStatus{Unknown: true}, ocsp.Unknown},
			{"revoked", ca.OCSPStatus{RevokedAt: now.Add(-time.Hour), Reason: lanyard.ReasonKeyCompromise}, ocsp.Revoked},
			{"revoked, unspecified", ca.OCSPStatus{RevokedAt: now.Add(-2 * time.Hour)}, ocsp.Revoked},
		}
		for _, s := range statuses {
			st := s.st
			st.Serial, st.Hash = req.Serial, req.Hash
			st.ThisUpdate, st.NextUpdate = now, now.Add(time.Hour)
			der, err := c.SignOCSP(t.Context(), st)
			if err != nil {
				t.Fatalf("%v %s: %v", h, s.name, err)
			}
			resp, err := ocsp.ParseResponseForCert(der, leaf, issuing) // verifies the signature with the issuing CA
			if err != nil {
				t.Fatalf("%v %s: %v", h, s.name, err)
			}
			if resp.Status != s.want || resp.SerialNumber.Cmp(leaf.SerialNumber) != 0 || resp.IssuerHash != h ||
				!resp.ThisUpdate.Equal(now) || !resp.NextUpdate.Equal(now.Add(time.Hour)) || resp.Certificate != nil ||
				!bytes.Equal(resp.RawResponderName, issuing.RawSubject) {
				t.Errorf("%v %s: status %d serial %x hash %v this %v next %v", h, s.name, resp.Status, resp.SerialNumber, resp.IssuerHash, resp.ThisUpdate, resp.NextUpdate)
			}
			if s.want == ocsp.Revoked && (!resp.RevokedAt.Equal(st.RevokedAt) || resp.RevocationReason != int(st.Reason)) {
				t.Errorf("%v %s: revoked at %v reason %d", h, s.name, resp.RevokedAt, resp.RevocationReason)
			}
			if err := resp.CheckSignatureFrom(root); err == nil {
				t.Errorf("%v %s: response verifies under the root key", h, s.name)
			}
		}
	}
}

func TestOCSPRequestForAnotherIssuer(t *testing.T) {
	c := mustNew(t, config(catest.NewStore(), catest.NewSealer(t), time.Now, nil))
	issuing, root := mustChain(t, c)
	other := mustNew(t, config(catest.NewStore(), catest.NewSealer(t), time.Now, nil))
	otherLeaf := mustSign(t, other, logonTemplate(), leafKey(t, lanyard.ECP256).Public())
	otherIssuing, _ := mustChain(t, other)

	// Same subject name, different key: the key hash must tell them apart.
	reqDER, err := ocsp.CreateRequest(otherLeaf, otherIssuing, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(otherIssuing.RawSubject, issuing.RawSubject) {
		t.Fatal("test assumes both CAs share a subject name")
	}
	if _, ok, err := c.ParseOCSPRequest(reqDER); ok || err != nil {
		t.Errorf("request about another CA with the same name: ok=%v err=%v", ok, err)
	}
	// The root is not this responder's issuer either.
	reqDER, err = ocsp.CreateRequest(issuing, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := c.ParseOCSPRequest(reqDER); ok || err != nil {
		t.Errorf("request about the issuing CA (issuer: root): ok=%v err=%v", ok, err)
	}
	for name, in := range map[string][]byte{"empty": nil, "garbage": []byte("GET / HTTP/1.1"), "truncated": reqDER[:len(reqDER)-2], "huge": make([]byte, 1<<20)} {
		if _, _, err := c.ParseOCSPRequest(in); !lanyard.IsCode(err, lanyard.EInvalid) {
			t.Errorf("%s: error = %v, want %s", name, err, lanyard.EInvalid)
		}
	}
}

func TestSignOCSPRefuses(t *testing.T) {
	c := mustNew(t, config(catest.NewStore(), catest.NewSealer(t), time.Now, nil))
	now := time.Now()
	for name, st := range map[string]ca.OCSPStatus{
		"no serial":        {Good: true},
		"good and unknown": {Serial: big.NewInt(1), Good: true, Unknown: true},
		"revoked, no time": {Serial: big.NewInt(1)},
		"remove from CRL":  {Serial: big.NewInt(1), RevokedAt: now, Reason: lanyard.ReasonRemoveFromCRL},
		"next before this": {Serial: big.NewInt(1), Good: true, ThisUpdate: now, NextUpdate: now.Add(-time.Second)},
		"unsupported hash": {Serial: big.NewInt(1), Good: true, Hash: crypto.MD5},
	} {
		if _, err := c.SignOCSP(t.Context(), st); !lanyard.IsCode(err, lanyard.EInvalid) {
			t.Errorf("%s: error = %v, want %s", name, err, lanyard.EInvalid)
		}
	}
	// A serial no CA issues still gets an answer: unknown.
	der, err := c.SignOCSP(t.Context(), ca.OCSPStatus{Serial: big.NewInt(-1), Unknown: true})
	if err != nil {
		t.Fatal(err)
	}
	issuing, _ := mustChain(t, c)
	if resp, err := ocsp.ParseResponse(der, issuing); err != nil || resp.Status != ocsp.Unknown || resp.SerialNumber.Int64() != -1 {
		t.Fatalf("unknown for serial -1: %v", err)
	}
}
