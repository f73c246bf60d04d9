package lanyard

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Key usages a template may request (RFC 5280 4.2.1.3).
const (
	KUDigitalSignature  = "digital_signature"
	KUContentCommitment = "content_commitment" // non-repudiation
	KUKeyEncipherment   = "key_encipherment"
	KUKeyAgreement      = "key_agreement"
)

// AllKeyUsages lists the usages a template may name.
var AllKeyUsages = []string{KUDigitalSignature, KUContentCommitment, KUKeyEncipherment, KUKeyAgreement}

// Extended key usages a template may request (RFC 5280 4.2.1.12 and the
// Microsoft smart card logon OID 1.3.6.1.4.1.311.20.2.2).
const (
	EKUSmartCardLogon   = "smartcard_logon"
	EKUClientAuth       = "client_auth"
	EKUEmailProtection  = "email_protection"
	EKUDocumentSigning  = "document_signing" // 1.3.6.1.5.5.7.3.36 (RFC 9336)
	EKUServerAuth       = "server_auth"
	EKUCodeSigning      = "code_signing"
	EKUOCSPSigning      = "ocsp_signing"
	EKUTimeStamping     = "time_stamping"
	EKUAnyExtendedUsage = "any"
)

// AllExtKeyUsages lists the extended usages a template may name.
var AllExtKeyUsages = []string{EKUSmartCardLogon, EKUClientAuth, EKUEmailProtection, EKUDocumentSigning, EKUServerAuth, EKUCodeSigning, EKUTimeStamping}

// ForbiddenExtKeyUsages are the extended usages no end-entity template
// may carry, with the reason. A certificate with id-kp-OCSPSigning issued
// straight by the issuing CA is a delegated OCSP responder for every
// certificate of that CA (RFC 6960 4.2.2.2): its holder could answer
// "good" for revoked ones. anyExtendedKeyUsage (RFC 5280 4.2.1.12)
// includes that purpose and every other one.
var ForbiddenExtKeyUsages = map[string]string{
	EKUOCSPSigning:      "it would make the holder a delegated OCSP responder for the whole CA (RFC 6960 4.2.2.2)",
	EKUAnyExtendedUsage: "it allows every purpose, OCSP signing included (RFC 5280 4.2.1.12)",
}

// SubjectSpec builds a certificate subject from user attributes. Each field
// is text in which {login}, {display_name}, {email}, {upn} and {group} are
// replaced by the user's values; empty fields are left out.
type SubjectSpec struct {
	CommonName         string `json:"common_name"`
	Organization       string `json:"organization,omitempty"`
	OrganizationalUnit string `json:"organizational_unit,omitempty"`
	Country            string `json:"country,omitempty"`
	// Subject alternative names from the user's attributes.
	SANEmail bool `json:"san_email"` // rfc822Name from e-mail
	SANUPN   bool `json:"san_upn"`   // otherName UPN (1.3.6.1.4.1.311.20.2.3), needed for smart card logon
}

// Placeholders usable in SubjectSpec fields.
var SubjectPlaceholders = []string{"{login}", "{display_name}", "{email}", "{upn}", "{group}"}

// Template describes what a certificate looks like and how its issue is
// approved.
type Template struct {
	ID          int64          `json:"id"`
	Name        string         `json:"name"`
	DisplayName string         `json:"display_name"`
	CA          string         `json:"ca"`             // name of the CA that signs, "builtin" by default
	KeyAlgs     []KeyAlgorithm `json:"key_algorithms"` // allowed; the first is generated on cards
	// ValidityDays is the certificate lifetime; the issuing CA may shorten it
	// to its own expiry.
	ValidityDays int         `json:"validity_days"`
	KeyUsage     []string    `json:"key_usage"`
	ExtKeyUsage  []string    `json:"ext_key_usage"`
	Subject      SubjectSpec `json:"subject"`
	Slot         string      `json:"slot,omitempty"` // PIV slot on cards: 9a, 9c, 9d, 9e
	// Approval and handling flags: who must approve before the
	// certificate is signed or written, and how its key is kept.
	RequiresCAApproval   bool `json:"requires_ca_approval"`
	RequiresFormApproval bool `json:"requires_form_approval"`
	PromptKeyPassword    bool `json:"prompt_key_password"`
	KeyArchival          bool `json:"key_archival"`
	// CardKeysOnly: the template certifies only keys generated on a card
	// (PIV, TPM virtual card, platform credential, AirCard), never a key
	// from a CSR or a software store. Always on with smart card logon
	// (NormalizeCardKeysOnly); administrators set it on others.
	CardKeysOnly bool `json:"card_keys_only"`
	// RevokeOnDisable ("Put certificate on hold when the card is
	// disabled"): disabling the card puts the certificate on hold (RFC
	// 5280 certificateHold) and enabling it takes it off again.
	// Templates saved before the setting existed have it off (migration
	// 0020); the console and the CLI turn it on for new ones.
	RevokeOnDisable bool `json:"revoke_on_disable"`
	// RenewalKey ("Renewal key"): whether Update card contents renews the
	// certificate with a new key pair (the default) or certifies the key
	// the card already holds again. Migration 0028 sets new_key on
	// templates saved before the setting existed.
	RenewalKey RenewalKey `json:"renewal_key"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// AllowsKey reports whether the template accepts keys of algorithm a.
func (t *Template) AllowsKey(a KeyAlgorithm) bool { return a != "" && slices.Contains(t.KeyAlgs, a) }

// Validate checks the template's fields.
func (t *Template) Validate() error {
	if !validName(t.Name) {
		return Errorf(EInvalid, "template name %q: use 1-64 letters, digits, '-', '_' or '.'", t.Name)
	}
	if len(t.KeyAlgs) == 0 {
		return Errorf(EInvalid, "template %q: at least one key algorithm is required", t.Name)
	}
	for _, a := range t.KeyAlgs {
		if !a.Valid() {
			return Errorf(EInvalid, "template %q: unknown key algorithm %q", t.Name, a)
		}
	}
	if t.ValidityDays < 1 || t.ValidityDays > 3650 {
		return Errorf(EInvalid, "template %q: validity must be 1-3650 days", t.Name)
	}
	if len(t.KeyUsage) == 0 {
		return Errorf(EInvalid, "template %q: at least one key usage is required", t.Name)
	}
	for _, u := range t.KeyUsage {
		if !slices.Contains(AllKeyUsages, u) {
			return Errorf(EInvalid, "template %q: unknown key usage %q", t.Name, u)
		}
	}
	if err := t.CheckExtKeyUsage(); err != nil {
		return err
	}
	if slices.Contains(t.ExtKeyUsage, EKUSmartCardLogon) && !t.Subject.SANUPN {
		return Errorf(EInvalid, "template %q: smart card logon needs the UPN subject alternative name (subject.san_upn)", t.Name)
	}
	if strings.TrimSpace(t.Subject.CommonName) == "" {
		return Errorf(EInvalid, "template %q: subject common name is required", t.Name)
	}
	for _, f := range []string{t.Subject.CommonName, t.Subject.Organization, t.Subject.OrganizationalUnit, t.Subject.Country} {
		if err := checkPlaceholders(f); err != nil {
			return Errorf(EInvalid, "template %q: %s", t.Name, err.Message)
		}
	}
	switch t.Slot {
	case "", "9a", "9c", "9d", "9e":
	default:
		return Errorf(EInvalid, "template %q: slot must be 9a, 9c, 9d or 9e", t.Name)
	}
	if !t.RenewalKey.Valid() {
		return Errorf(EInvalid, "template %q: renewal key must be %q or %q", t.Name, RenewalNewKey, RenewalReuseKey)
	}
	return t.CheckKeyArchival()
}

// RenewalKey is what a card update does with the key of a certificate it
// renews (Template.RenewalKey).
type RenewalKey string

const (
	// RenewalNewKey: a new key pair is generated and certified; the old
	// certificate is revoked (superseded) once the new pair is on the card.
	RenewalNewKey RenewalKey = "new_key"
	// RenewalReuseKey: the key already on the card is certified again,
	// only while it still fits the template and was not revoked on its own.
	RenewalReuseKey RenewalKey = "reuse_key"
)

// Valid reports whether k is a renewal key mode; "" stands for the default,
// RenewalNewKey (templates built in code before the setting existed).
func (k RenewalKey) Valid() bool { return k == "" || k == RenewalNewKey || k == RenewalReuseKey }

// Mode is k with the default applied.
func (k RenewalKey) Mode() RenewalKey {
	if k == "" {
		return RenewalNewKey
	}
	return k
}

// ArchivalKeyUsages and ArchivalExtKeyUsages are the only usages a
// template with Template.KeyArchival may carry: an allow-list, so that a
// usage added later is refused until someone decides it may be archived.
// Only key-management keys are archived (keyEncipherment, keyAgreement:
// RFC 5280 4.2.1.3; dataEncipherment would be one too, but no template
// names it), so that data encrypted to an old certificate stays readable;
// the only extended usage is S/MIME's emailProtection (RFC 8550 4.4.4).
// Every other usage signs or authenticates — a digital signature or
// non-repudiation key, logon, client or server authentication, code or
// document signing, time stamping — and such a key must exist only on its
// card: a copy kept by the server would let whoever recovers it sign or
// log on as the user.
var (
	ArchivalKeyUsages    = []string{KUKeyEncipherment, KUKeyAgreement}
	ArchivalExtKeyUsages = []string{EKUEmailProtection}
)

// ArchivalAllowed reports whether a template with these usages may archive
// its key (Template.KeyArchival): a key-management usage, and no usage
// outside ArchivalKeyUsages and ArchivalExtKeyUsages.
func ArchivalAllowed(keyUsage, extKeyUsage []string) bool {
	return archivalRefusal(keyUsage, extKeyUsage) == ""
}

func archivalRefusal(keyUsage, extKeyUsage []string) string {
	for _, u := range keyUsage {
		if !slices.Contains(ArchivalKeyUsages, u) {
			return fmt.Sprintf("key usage %q is not for key management (allowed: %s); a key that signs must never leave the card",
				u, strings.Join(ArchivalKeyUsages, ", "))
		}
	}
	for _, u := range extKeyUsage {
		if !slices.Contains(ArchivalExtKeyUsages, u) {
			return fmt.Sprintf("extended key usage %q is not for encryption (allowed: %s, or none); a key that signs or authenticates must never leave the card",
				u, strings.Join(ArchivalExtKeyUsages, ", "))
		}
	}
	if !slices.Contains(keyUsage, KUKeyEncipherment) && !slices.Contains(keyUsage, KUKeyAgreement) {
		return fmt.Sprintf("only a key-management template (key usage %q or %q) archives its key", KUKeyEncipherment, KUKeyAgreement)
	}
	return ""
}

// CheckKeyArchival refuses KeyArchival ("archive key") on a template whose
// key is not for key management alone (ArchivalAllowed).
func (t *Template) CheckKeyArchival() error {
	if !t.KeyArchival {
		return nil
	}
	if why := archivalRefusal(t.KeyUsage, t.ExtKeyUsage); why != "" {
		return Errorf(EInvalid, "template %q: archive key is only for encryption (key-management) templates: %s; turn archive key off or remove the usage", t.Name, why)
	}
	return nil
}

// CheckExtKeyUsage refuses an extended key usage that is unknown or that
// no end-entity certificate may carry (ForbiddenExtKeyUsages). Validate
// calls it on every change; the CA profile calls it again at signing, so a
// template stored before the rule is refused there too.
func (t *Template) CheckExtKeyUsage() error {
	for _, u := range t.ExtKeyUsage {
		if why, bad := ForbiddenExtKeyUsages[u]; bad {
			return Errorf(EInvalid, "template %q: extended key usage %q is not allowed in a user certificate: %s; remove it from the template", t.Name, u, why)
		}
		if !slices.Contains(AllExtKeyUsages, u) {
			return Errorf(EInvalid, "template %q: unknown extended key usage %q", t.Name, u)
		}
	}
	return nil
}

// NormalizeCardKeysOnly turns CardKeysOnly on for a smart card logon
// template: a logon certificate is what a card proves to Windows or
// PKINIT (RFC 4556), and one for a key outside a card would let its
// holder log on as the user without the card.
func (t *Template) NormalizeCardKeysOnly() {
	if slices.Contains(t.ExtKeyUsage, EKUSmartCardLogon) {
		t.CardKeysOnly = true
	}
}

func checkPlaceholders(s string) *Error {
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			return nil
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return Errorf(EInvalid, "unclosed placeholder in %q", s)
		}
		if !slices.Contains(SubjectPlaceholders, s[i:i+j+1]) {
			return Errorf(EInvalid, "unknown placeholder %s (known: %s)", s[i:i+j+1], strings.Join(SubjectPlaceholders, ", "))
		}
		s = s[i+j+1:]
	}
}

// ExpandSubject replaces the placeholders in s with u's attributes.
func ExpandSubject(s string, u *User) string {
	if !strings.Contains(s, "{") {
		return s
	}
	group := ""
	if len(u.Groups) > 0 {
		group = u.Groups[0]
	}
	return strings.NewReplacer(
		"{login}", u.Login, "{display_name}", u.DisplayName, "{email}", u.Email,
		"{upn}", u.UPN, "{group}", group,
	).Replace(s)
}
