package policy

import (
	"slices"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func TestTemplates(t *testing.T) {
	selectOff := Defaults()
	selectOff.Workflow.SelectOptionalCertificates = false
	noRequired := Defaults()
	noRequired.Certificates.Required = nil
	noRequiredSelectOff := noRequired
	noRequiredSelectOff.Workflow.SelectOptionalCertificates = false

	tests := []struct {
		name     string
		s        lanyard.PolicySettings
		chosen   []string
		want     []string
		wantCode string
		wantMsg  string
	}{
		{"required only", Defaults(), nil, []string{"smartcard-logon"}, "", ""},
		{"one optional", Defaults(), []string{"document-signing"}, []string{"smartcard-logon", "document-signing"}, "", ""},
		{"policy order, not choice order", Defaults(), []string{"document-signing", "secure-email"},
			[]string{"smartcard-logon", "secure-email", "document-signing"}, "", ""},
		{"duplicate choice", Defaults(), []string{"secure-email", "secure-email"}, []string{"smartcard-logon", "secure-email"}, "", ""},
		{"select off, nothing chosen", selectOff, nil, []string{"smartcard-logon"}, "", ""},
		{"select off, optional chosen", selectOff, []string{"secure-email"}, nil,
			lanyard.EForbidden, "does not let you select optional certificates"},
		{"not offered", Defaults(), []string{"code-signing"}, nil, lanyard.EInvalid, `"code-signing" is not offered by your policy`},
		{"required chosen", Defaults(), []string{"smartcard-logon"}, nil, lanyard.EInvalid, `"smartcard-logon" is required`},
		{"no required, optional chosen", noRequired, []string{"secure-email"}, []string{"secure-email"}, "", ""},
		{"no required, nothing chosen", noRequired, nil, nil, lanyard.EInvalid, "choose at least one certificate"},
		{"no required, select off", noRequiredSelectOff, nil, nil, lanyard.EInvalid, "your policy issues no certificates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Templates(tt.s, tt.chosen)
			if tt.wantCode != "" {
				wantError(t, err, tt.wantCode, tt.wantMsg)
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("Templates = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// The result is the caller's to keep: appending to it must not write into
// the policy's Required slice.
func TestTemplatesDoesNotAlias(t *testing.T) {
	s := Defaults()
	s.Certificates.Required = make([]string, 1, 8)
	s.Certificates.Required[0] = "smartcard-logon"
	got, err := Templates(s, []string{"secure-email"})
	if err != nil {
		t.Fatal(err)
	}
	got[0] = "changed"
	if s.Certificates.Required[0] != "smartcard-logon" {
		t.Fatal("Templates returned the policy's own slice")
	}
}

func TestCardTypeAllowed(t *testing.T) {
	s := Defaults()
	s.AllowedCards = []string{"piv", "aircard"}
	none := Defaults()
	none.AllowedCards = nil
	tests := []struct {
		s    lanyard.PolicySettings
		name string
		want bool
	}{
		{s, "piv", true},
		{s, "aircard", true},
		{s, "tpm", false},
		{s, "PIV", false},
		{s, "", false},
		{none, "piv", false},
	}
	for _, tt := range tests {
		if got := CardTypeAllowed(tt.s, tt.name); got != tt.want {
			t.Errorf("CardTypeAllowed(%v, %q) = %v, want %v", tt.s.AllowedCards, tt.name, got, tt.want)
		}
	}
}
