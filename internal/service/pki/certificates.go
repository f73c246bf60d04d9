package pki

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// IssueInput asks for a certificate. Exactly one of CSR and PublicKey is
// given: a PKCS#10 request (its signature is checked; its subject is ignored
// because the template builds the subject from the user's attributes), or a
// bare SubjectPublicKeyInfo for keys generated on a card (staff only: a
// user proves possession of the key with a CSR).
type IssueInput struct {
	Template  string
	User      string // login; default: the caller
	CSR       string // PEM or base64 DER
	PublicKey string // PEM or base64 DER SubjectPublicKeyInfo
}

// IssueResult is either an issued certificate or a queued request.
type IssueResult struct {
	Certificate *lanyard.Certificate
	PEM         string
	Request     *lanyard.CertRequest // set when the template requires CA approval
}

// decodeInput accepts PEM or base64 DER.
func decodeInput(s, what string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-----BEGIN") {
		return []byte(s), nil // the ca parsers accept PEM
	}
	der, err := decodeBase64(s)
	if err != nil {
		return nil, lanyard.Errorf(lanyard.EInvalid, "%s: want PEM or base64-encoded DER", what)
	}
	return der, nil
}

// Issue issues a certificate, or queues the request when it needs a CA
// manager's approval: the template asks for it, the owner's policy's
// documents check does, or the caller asks on another person's behalf
// (issuance.Approvals, the card flow's rule). Templates whose keys must be
// generated on a card are refused here.
func (s *PKI) Issue(ctx context.Context, p *lanyard.Principal, in IssueInput) (*IssueResult, error) {
	if (in.CSR == "") == (in.PublicKey == "") {
		return nil, lanyard.Errorf(lanyard.EInvalid, "give exactly one of csr and public_key")
	}
	var pub crypto.PublicKey
	var csrDER []byte
	if in.CSR != "" {
		raw, err := decodeInput(in.CSR, "csr")
		if err != nil {
			return nil, err
		}
		csr, err := ca.ParseCSR(raw)
		if err != nil {
			return nil, err
		}
		pub, csrDER = csr.PublicKey, csr.Raw
	} else {
		raw, err := decodeInput(in.PublicKey, "public_key")
		if err != nil {
			return nil, err
		}
		if pub, err = ca.ParsePublicKey(raw); err != nil {
			return nil, err
		}
	}
	if in.User == "" {
		in.User = p.User.Login
	}
	if in.User != p.User.Login && !p.IsStaff() {
		return nil, lanyard.Errorf(lanyard.EForbidden, "you can request certificates only for yourself")
	}
	if csrDER == nil && !p.IsStaff() {
		// Proof of possession (RFC 4211 4): the CSR's signature shows the
		// caller holds the private key; a bare public key shows nothing.
		return nil, lanyard.Errorf(lanyard.EForbidden, "send a certificate signing request (csr) signed with your key; only staff may send a bare public key")
	}
	var tpl *lanyard.Template
	var user *lanyard.User
	var docs lanyard.DocumentsSettings // the owner's documents check; staff: none
	if t, ok := s.catalog.CachedTemplate(in.Template); ok && in.User == p.User.Login && p.IsStaff() {
		// The hot path of bulk issuance by a service account: everything
		// needed is already in memory.
		tpl, user = t, p.User
	} else {
		err := s.rec.View(ctx, func(tx lanyard.Tx) error {
			var err error
			if tpl, err = s.catalog.Template(tx, in.Template); err != nil {
				return err
			}
			if in.User == p.User.Login {
				user = p.User
			} else if user, err = tx.UserByLogin(in.User); err != nil {
				return err
			}
			if !p.IsStaff() {
				pol, err := s.catalog.PolicyFor(tx, user)
				if err != nil {
					return lanyard.Errorf(lanyard.EForbidden, "no policy lets you request certificates")
				}
				c := pol.Settings.Certificates
				if !slices.Contains(c.Required, tpl.Name) && !slices.Contains(c.Optional, tpl.Name) {
					return lanyard.Errorf(lanyard.EForbidden, "your policy %q does not include template %q", pol.Name, tpl.Name)
				}
				docs = pol.Settings.Documents
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if user.Disabled {
		return nil, lanyard.Errorf(lanyard.EConflict, "user %q is disabled", user.Login)
	}
	// The rules of the card flow (issuance): no card-only template for a
	// key from outside a card, and the same approvals.
	if err := issuance.Issuable(tpl, nil); err != nil {
		return nil, err
	}
	needCA, needForm := issuance.Approvals(docs, tpl, issuance.SecondPerson(p.User.ID, user.ID))
	if needForm {
		return nil, lanyard.Errorf(lanyard.EForbidden, "certificate %q needs its signed certificate form approved (documents check), which only a card issue records; issue it on a card", tpl.Name)
	}
	if err := ca.CheckPublicKey(tpl, pub); err != nil {
		return nil, err
	}
	authority, ok := s.cas[tpl.CA]
	if !ok {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "CA %q of template %q is not running", tpl.CA, tpl.Name)
	}
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EInvalid, err, "public key cannot be encoded")
	}
	if needCA {
		return s.queueRequest(ctx, p, tpl, user, spki, csrDER)
	}
	cert, err := authority.Sign(ctx, &ca.SignRequest{Template: tpl, User: user, PublicKey: pub})
	if err != nil {
		return nil, err
	}
	rec := lanyard.ManagedCertificate(cert, tpl, user, s.rec.Clock())
	ev := s.rec.Event(p, "cert.issue", "certificate", rec.Serial, map[string]any{"ca": rec.CA, "template": tpl.Name, "user": user.Login, "subject": rec.Subject})
	err = s.certWriter.write(ctx, rec, ev)
	if err != nil {
		return nil, err
	}
	return &IssueResult{Certificate: rec, PEM: certPEM(cert.Raw)}, nil
}

func (s *PKI) queueRequest(ctx context.Context, p *lanyard.Principal, tpl *lanyard.Template, user *lanyard.User, spki, csr []byte) (*IssueResult, error) {
	sum := sha256.Sum256(spki)
	r := &lanyard.CertRequest{
		CA: tpl.CA, Template: tpl.Name, UserID: user.ID, RequestedBy: p.User.ID, PublicKey: spki, CSR: csr,
		KeySHA256: hex.EncodeToString(sum[:]), Subject: lanyard.ExpandSubject(tpl.Subject.CommonName, user),
		Status: lanyard.RequestPending, CreatedAt: s.rec.Clock(),
	}
	err := s.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		if err := tx.CreateRequest(r); err != nil {
			return err
		}
		return tx.AppendAudit(s.rec.Event(p, "request.create", "request", strconv.FormatInt(r.ID, 10),
			map[string]any{"template": tpl.Name, "user": user.Login}))
	})
	if err != nil {
		return nil, err
	}
	return &IssueResult{Request: r}, nil
}

// parseSerial accepts hex with or without colons or a 0x prefix.
func parseSerial(s string) (string, error) {
	t := strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"), ":", ""))
	n, ok := new(big.Int).SetString(t, 16)
	if !ok || n.Sign() <= 0 || len(t) > 64 {
		return "", lanyard.Errorf(lanyard.EInvalid, "serial %q: want a positive hexadecimal number", s)
	}
	return lanyard.SerialHex(n), nil
}

func certPEM(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.Join(strings.Fields(s), "")
	if b, err := base64.StdEncoding.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
