package lanyard_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// validTemplate returns a smart card logon template that Validate accepts;
// table rows change one field of it.
func validTemplate() *lanyard.Template {
	return &lanyard.Template{
		Name:         "smartcard-logon",
		DisplayName:  "Smart card logon",
		CA:           "builtin",
		KeyAlgs:      []lanyard.KeyAlgorithm{lanyard.RSA2048, lanyard.ECP256},
		ValidityDays: 365,
		KeyUsage:     []string{lanyard.KUDigitalSignature, lanyard.KUKeyEncipherment},
		ExtKeyUsage:  []string{lanyard.EKUSmartCardLogon, lanyard.EKUClientAuth},
		Subject: lanyard.SubjectSpec{
			CommonName:         "{display_name} ({login})",
			Organization:       "Example AG",
			OrganizationalUnit: "{group}",
			Country:            "DE",
			SANEmail:           true,
			SANUPN:             true,
		},
		Slot: "9a",
	}
}

func TestTemplateValidate(t *testing.T) {
	const (
		placeholder = "unknown placeholder"
		unclosed    = "unclosed placeholder"
		slot        = "slot must be 9a, 9c, 9d or 9e"
	)
	tests := []struct {
		name    string
		edit    func(tp *lanyard.Template)
		wantErr string
	}{
		{"valid", nil, ""},
		{"slot empty", func(tp *lanyard.Template) { tp.Slot = "" }, ""},
		{"slot 9c", func(tp *lanyard.Template) { tp.Slot = "9c" }, ""},
		{"slot 9d", func(tp *lanyard.Template) { tp.Slot = "9d" }, ""},
		{"slot 9e", func(tp *lanyard.Template) { tp.Slot = "9e" }, ""},
		{"renewal key default", func(tp *lanyard.Template) { tp.RenewalKey = "" }, ""},
		{"renewal new key", func(tp *lanyard.Template) { tp.RenewalKey = lanyard.RenewalNewKey }, ""},
		{"renewal reuse key", func(tp *lanyard.Template) { tp.RenewalKey = lanyard.RenewalReuseKey }, ""},
		{"renewal key unknown", func(tp *lanyard.Template) { tp.RenewalKey = "same_key" }, `renewal key must be "new_key" or "reuse_key"`},
		{"validity 1 day", func(tp *lanyard.Template) { tp.ValidityDays = 1 }, ""},
		{"validity 3650 days", func(tp *lanyard.Template) { tp.ValidityDays = 3650 }, ""},
		{"every key algorithm", func(tp *lanyard.Template) { tp.KeyAlgs = lanyard.AllKeyAlgorithms }, ""},
		{"every key usage", func(tp *lanyard.Template) { tp.KeyUsage = lanyard.AllKeyUsages }, ""},
		{"no extended key usage", func(tp *lanyard.Template) { tp.ExtKeyUsage = nil }, ""},
		{"every extended key usage", func(tp *lanyard.Template) { tp.ExtKeyUsage = lanyard.AllExtKeyUsages }, ""},
		{"client auth without UPN", func(tp *lanyard.Template) {
			tp.ExtKeyUsage, tp.Subject.SANUPN = []string{lanyard.EKUClientAuth, lanyard.EKUEmailProtection}, false
		}, ""},
		{"every placeholder", func(tp *lanyard.Template) {
			tp.Subject.CommonName = "{login}{display_name}{email}{upn}{group}"
			tp.Subject.Organization, tp.Subject.OrganizationalUnit, tp.Subject.Country = "{group}", "{upn}", "{email}"
		}, ""},
		{"repeated placeholder", func(tp *lanyard.Template) { tp.Subject.CommonName = "{login}.{login}" }, ""},
		{"literal text only", func(tp *lanyard.Template) { tp.Subject.CommonName = "Kiosk user" }, ""},
		{"stray closing brace", func(tp *lanyard.Template) { tp.Subject.CommonName = "{login} }" }, ""},
		{"empty optional fields", func(tp *lanyard.Template) {
			tp.Subject.Organization, tp.Subject.OrganizationalUnit, tp.Subject.Country = "", "", ""
		}, ""},

		{"empty name", func(tp *lanyard.Template) { tp.Name = "" }, "template name"},
		{"name with space", func(tp *lanyard.Template) { tp.Name = "smart card" }, "template name"},
		{"65-character name", func(tp *lanyard.Template) { tp.Name = strings.Repeat("t", 65) }, "template name"},
		{"no key algorithms", func(tp *lanyard.Template) { tp.KeyAlgs = nil }, "at least one key algorithm"},
		{"unknown key algorithm", func(tp *lanyard.Template) { tp.KeyAlgs = []lanyard.KeyAlgorithm{lanyard.RSA2048, "rsa1024"} }, `unknown key algorithm "rsa1024"`},
		{"empty key algorithm", func(tp *lanyard.Template) { tp.KeyAlgs = []lanyard.KeyAlgorithm{""} }, `unknown key algorithm ""`},
		{"validity 0", func(tp *lanyard.Template) { tp.ValidityDays = 0 }, "validity must be 1-3650 days"},
		{"validity negative", func(tp *lanyard.Template) { tp.ValidityDays = -30 }, "validity must be 1-3650 days"},
		{"validity 3651", func(tp *lanyard.Template) { tp.ValidityDays = 3651 }, "validity must be 1-3650 days"},
		{"no key usage", func(tp *lanyard.Template) { tp.KeyUsage = nil }, "at least one key usage"},
		// Issue 13: no delegated OCSP responder or any-purpose certificate
		// from an end-entity template.
		{"OCSP signing", func(tp *lanyard.Template) { tp.ExtKeyUsage = []string{lanyard.EKUClientAuth, lanyard.EKUOCSPSigning} }, `"ocsp_signing" is not allowed`},
		{"any purpose", func(tp *lanyard.Template) { tp.ExtKeyUsage = []string{lanyard.EKUAnyExtendedUsage} }, `"any" is not allowed`},
		{"unknown key usage", func(tp *lanyard.Template) { tp.KeyUsage = []string{"crl_sign"} }, `unknown key usage "crl_sign"`},
		{"camel-case key usage", func(tp *lanyard.Template) { tp.KeyUsage = []string{"digitalSignature"} }, `unknown key usage "digitalSignature"`},
		{"unknown extended key usage", func(tp *lanyard.Template) { tp.ExtKeyUsage = []string{"smart_card_logon"} }, `unknown extended key usage "smart_card_logon"`},
		{"OID as extended key usage", func(tp *lanyard.Template) { tp.ExtKeyUsage = []string{"1.3.6.1.4.1.311.20.2.2"} }, "unknown extended key usage"},
		{"smart card logon without UPN", func(tp *lanyard.Template) { tp.Subject.SANUPN = false }, "smart card logon needs the UPN subject alternative name"},
		{"smart card logon alone without UPN", func(tp *lanyard.Template) {
			tp.ExtKeyUsage, tp.Subject.SANUPN = []string{lanyard.EKUSmartCardLogon}, false
		}, "subject.san_upn"},
		{"empty common name", func(tp *lanyard.Template) { tp.Subject.CommonName = "" }, "subject common name is required"},
		{"blank common name", func(tp *lanyard.Template) { tp.Subject.CommonName = " \t " }, "subject common name is required"},
		{"unknown placeholder in CN", func(tp *lanyard.Template) { tp.Subject.CommonName = "{mail}" }, "unknown placeholder {mail}"},
		{"unknown placeholder after a known one", func(tp *lanyard.Template) { tp.Subject.CommonName = "{login} {surname}" }, "unknown placeholder {surname}"},
		{"upper-case placeholder", func(tp *lanyard.Template) { tp.Subject.CommonName = "{LOGIN}" }, "unknown placeholder {LOGIN}"},
		{"empty placeholder", func(tp *lanyard.Template) { tp.Subject.CommonName = "x{}" }, "unknown placeholder {}"},
		{"placeholder with space", func(tp *lanyard.Template) { tp.Subject.CommonName = "{ login }" }, placeholder},
		{"nested braces", func(tp *lanyard.Template) { tp.Subject.CommonName = "{lo{login}" }, "unknown placeholder {lo{login}"},
		{"unknown placeholder in O", func(tp *lanyard.Template) { tp.Subject.Organization = "{company}" }, "unknown placeholder {company}"},
		{"unknown placeholder in OU", func(tp *lanyard.Template) { tp.Subject.OrganizationalUnit = "{department}" }, "unknown placeholder {department}"},
		{"unknown placeholder in C", func(tp *lanyard.Template) { tp.Subject.Country = "{country}" }, "unknown placeholder {country}"},
		{"unclosed brace", func(tp *lanyard.Template) { tp.Subject.CommonName = "{login" }, unclosed},
		{"unclosed brace after a placeholder", func(tp *lanyard.Template) { tp.Subject.CommonName = "{login} {" }, unclosed},
		{"unclosed brace in OU", func(tp *lanyard.Template) { tp.Subject.OrganizationalUnit = "staff {group" }, unclosed},
		// Issue 17: archive key only on key-management templates.
		{"archive an encryption key", func(tp *lanyard.Template) { encryption(tp, lanyard.KUKeyEncipherment) }, ""},
		{"archive a key-agreement key", func(tp *lanyard.Template) { encryption(tp, lanyard.KUKeyAgreement, lanyard.KUKeyEncipherment) }, ""},
		{"archive a logon key", func(tp *lanyard.Template) { tp.KeyArchival = true }, `key usage "digital_signature"`},
		{"archive a signing and encryption key", func(tp *lanyard.Template) {
			encryption(tp, lanyard.KUKeyEncipherment, lanyard.KUDigitalSignature)
		}, `key usage "digital_signature" is not for key management`},
		{"archive a non-repudiation key", func(tp *lanyard.Template) {
			encryption(tp, lanyard.KUKeyEncipherment, lanyard.KUContentCommitment)
		}, `key usage "content_commitment"`},
		{"archive a smart card logon encryption key", func(tp *lanyard.Template) {
			encryption(tp, lanyard.KUKeyEncipherment)
			tp.ExtKeyUsage = []string{lanyard.EKUSmartCardLogon}
		}, `extended key usage "smartcard_logon"`},
		{"archive a client authentication key", func(tp *lanyard.Template) {
			encryption(tp, lanyard.KUKeyEncipherment)
			tp.ExtKeyUsage = []string{lanyard.EKUEmailProtection, lanyard.EKUClientAuth}
		}, `extended key usage "client_auth"`},
		{"archive an encryption key with no extended usage", func(tp *lanyard.Template) {
			encryption(tp, lanyard.KUKeyEncipherment)
			tp.ExtKeyUsage = nil
		}, ""},
		{"archive a server authentication key", func(tp *lanyard.Template) {
			encryption(tp, lanyard.KUKeyEncipherment)
			tp.ExtKeyUsage = []string{lanyard.EKUEmailProtection, lanyard.EKUServerAuth}
		}, `extended key usage "server_auth" is not for encryption`},
		{"archive a document signing key", func(tp *lanyard.Template) {
			encryption(tp, lanyard.KUKeyEncipherment)
			tp.ExtKeyUsage = []string{lanyard.EKUDocumentSigning}
		}, `extended key usage "document_signing"`},
		{"archive a code signing key", func(tp *lanyard.Template) {
			encryption(tp, lanyard.KUKeyAgreement)
			tp.ExtKeyUsage = []string{lanyard.EKUCodeSigning}
		}, `extended key usage "code_signing"`},
		{"archive a time stamping key", func(tp *lanyard.Template) {
			encryption(tp, lanyard.KUKeyEncipherment)
			tp.ExtKeyUsage = []string{lanyard.EKUTimeStamping}
		}, `extended key usage "time_stamping"`},
		{"slot 9b", func(tp *lanyard.Template) { tp.Slot = "9b" }, slot},
		{"slot upper case", func(tp *lanyard.Template) { tp.Slot = "9A" }, slot},
		{"retired slot 82", func(tp *lanyard.Template) { tp.Slot = "82" }, slot},
		{"slot f9", func(tp *lanyard.Template) { tp.Slot = "f9" }, slot},
		{"slot with space", func(tp *lanyard.Template) { tp.Slot = "9a " }, slot},
		{"slot with prefix", func(tp *lanyard.Template) { tp.Slot = "0x9a" }, slot},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := validTemplate()
			if tt.edit != nil {
				tt.edit(tp)
			}
			before := *tp
			err := tp.Validate()
			checkInvalid(t, err, tt.wantErr)
			if err != nil && !strings.Contains(lanyard.ErrorMessage(err), tp.Name) {
				t.Errorf("message %q does not name the template", lanyard.ErrorMessage(err))
			}
			if !reflect.DeepEqual(*tp, before) {
				t.Errorf("Validate changed the template")
			}
		})
	}
}

// encryption turns tp into an S/MIME encryption template with key usages
// ku and archive key on.
func encryption(tp *lanyard.Template, ku ...string) {
	tp.KeyUsage, tp.ExtKeyUsage, tp.Slot, tp.KeyArchival = ku, []string{lanyard.EKUEmailProtection}, "9d", true
}

// TestArchivalAllowed: the rule migration 0026_key_archival applies to raw saved usages,
// including a template with no key-management usage at all.
func TestArchivalAllowed(t *testing.T) {
	for _, tt := range []struct {
		ku, eku []string
		want    bool
	}{
		{[]string{lanyard.KUKeyEncipherment}, []string{lanyard.EKUEmailProtection}, true},
		{[]string{lanyard.KUKeyAgreement}, nil, true},
		{nil, []string{lanyard.EKUEmailProtection}, false},
		{[]string{lanyard.KUKeyEncipherment, lanyard.KUDigitalSignature}, nil, false},
		{[]string{lanyard.KUKeyEncipherment}, []string{lanyard.EKUSmartCardLogon}, false},
		{[]string{lanyard.KUKeyEncipherment}, []string{lanyard.EKUClientAuth}, false},
		{[]string{lanyard.KUKeyEncipherment}, []string{lanyard.EKUServerAuth}, false},
		{[]string{lanyard.KUKeyAgreement}, []string{lanyard.EKUDocumentSigning}, false},
		{[]string{lanyard.KUKeyEncipherment}, []string{lanyard.EKUCodeSigning}, false},
		{[]string{lanyard.KUKeyEncipherment}, []string{lanyard.EKUTimeStamping}, false},
		{[]string{lanyard.KUKeyEncipherment}, []string{"future_usage"}, false},
	} {
		if got := lanyard.ArchivalAllowed(tt.ku, tt.eku); got != tt.want {
			t.Errorf("ArchivalAllowed(%v, %v) = %v, want %v", tt.ku, tt.eku, got, tt.want)
		}
	}
}

func TestTemplateAllowsKey(t *testing.T) {
	tp := &lanyard.Template{KeyAlgs: []lanyard.KeyAlgorithm{lanyard.RSA2048, lanyard.ECP384}}
	tests := []struct {
		tp   *lanyard.Template
		a    lanyard.KeyAlgorithm
		want bool
	}{
		{tp, lanyard.RSA2048, true},
		{tp, lanyard.ECP384, true},
		{tp, lanyard.RSA3072, false},
		{tp, lanyard.RSA4096, false},
		{tp, lanyard.ECP256, false},
		{tp, "", false}, // what KeyAlgorithmOf returns for unsupported keys
		{&lanyard.Template{KeyAlgs: []lanyard.KeyAlgorithm{""}}, "", false},
		{&lanyard.Template{}, lanyard.RSA2048, false},
	}
	for _, tt := range tests {
		if got := tt.tp.AllowsKey(tt.a); got != tt.want {
			t.Errorf("Template{KeyAlgs: %q}.AllowsKey(%q) = %v, want %v", tt.tp.KeyAlgs, tt.a, got, tt.want)
		}
	}
}

func TestExpandSubject(t *testing.T) {
	jane := &lanyard.User{
		Login: "jdoe", DisplayName: "Jane Doe", Email: "jane.doe@example.com",
		UPN: "jdoe@corp.example.com", Groups: []string{"staff", "vpn-users"},
	}
	tricky := &lanyard.User{Login: "{upn}", DisplayName: "{login}", UPN: "u", Groups: []string{}}
	tests := []struct {
		name string
		s    string
		u    *lanyard.User
		want string
	}{
		{"login", "{login}", jane, "jdoe"},
		{"display name", "{display_name}", jane, "Jane Doe"},
		{"email", "{email}", jane, "jane.doe@example.com"},
		{"upn", "{upn}", jane, "jdoe@corp.example.com"},
		{"first group", "{group}", jane, "staff"},
		{"no groups", "G={group}.", &lanyard.User{Login: "x"}, "G=."},
		{"every placeholder", "{login}|{display_name}|{email}|{upn}|{group}", jane, "jdoe|Jane Doe|jane.doe@example.com|jdoe@corp.example.com|staff"},
		{"repeated", "{login}-{login}", jane, "jdoe-jdoe"},
		{"with text", "{display_name} ({login})", jane, "Jane Doe (jdoe)"},
		{"no placeholders", "Example AG", jane, "Example AG"},
		{"empty", "", jane, ""},
		{"unknown placeholder kept", "{mail} {login}", jane, "{mail} jdoe"},
		{"brace without placeholder", "a { b }", jane, "a { b }"},
		{"empty attribute", "<{email}>", &lanyard.User{Login: "x"}, "<>"},
		{"values are not expanded again", "{display_name}/{login}", tricky, "{login}/{upn}"},
		{"empty groups", "{group}", tricky, ""},
	}
	for _, tt := range tests {
		if got := lanyard.ExpandSubject(tt.s, tt.u); got != tt.want {
			t.Errorf("%s: ExpandSubject(%q) = %q, want %q", tt.name, tt.s, got, tt.want)
		}
	}
	// Every advertised placeholder is known to ExpandSubject.
	for _, p := range lanyard.SubjectPlaceholders {
		if got := lanyard.ExpandSubject(p, jane); got == p || strings.ContainsAny(got, "{}") {
			t.Errorf("placeholder %s is not expanded: %q", p, got)
		}
	}
	want := []string{"{login}", "{display_name}", "{email}", "{upn}", "{group}"}
	if !slices.Equal(lanyard.SubjectPlaceholders, want) {
		t.Errorf("SubjectPlaceholders = %q, want %q", lanyard.SubjectPlaceholders, want)
	}
}
