package lanyard_test

import (
	"strconv"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func TestParseRevocationReason(t *testing.T) {
	const unknown = "unknown revocation reason"
	tests := []struct {
		in      string
		want    lanyard.RevocationReason
		wantErr string
	}{
		{"unspecified", lanyard.ReasonUnspecified, ""},
		{"key_compromise", lanyard.ReasonKeyCompromise, ""},
		{"keyCompromise", lanyard.ReasonKeyCompromise, ""},
		{"key-compromise", lanyard.ReasonKeyCompromise, ""},
		{"KEY_COMPROMISE", lanyard.ReasonKeyCompromise, ""},
		{"Key Compromise", lanyard.ReasonKeyCompromise, ""},
		{"ca_compromise", lanyard.ReasonCACompromise, ""},
		{"cACompromise", lanyard.ReasonCACompromise, ""}, // RFC 5280 spelling
		{"ca-compromise", lanyard.ReasonCACompromise, ""},
		{"affiliation_changed", lanyard.ReasonAffiliationChanged, ""},
		{"affiliationChanged", lanyard.ReasonAffiliationChanged, ""},
		{"superseded", lanyard.ReasonSuperseded, ""},
		{"Superseded", lanyard.ReasonSuperseded, ""},
		{"cessation_of_operation", lanyard.ReasonCessationOfOperation, ""},
		{"cessationOfOperation", lanyard.ReasonCessationOfOperation, ""},
		{"cessation-of-operation", lanyard.ReasonCessationOfOperation, ""},
		{"certificate_hold", lanyard.ReasonCertificateHold, ""},
		{"certificateHold", lanyard.ReasonCertificateHold, ""},
		{"privilege_withdrawn", lanyard.ReasonPrivilegeWithdrawn, ""},
		{"privilegeWithdrawn", lanyard.ReasonPrivilegeWithdrawn, ""},
		{"aa_compromise", lanyard.ReasonAACompromise, ""},
		{"aACompromise", lanyard.ReasonAACompromise, ""},
		{"aa-compromise", lanyard.ReasonAACompromise, ""},
		{"0", lanyard.ReasonUnspecified, ""},
		{"1", lanyard.ReasonKeyCompromise, ""},
		{"2", lanyard.ReasonCACompromise, ""},
		{"3", lanyard.ReasonAffiliationChanged, ""},
		{"4", lanyard.ReasonSuperseded, ""},
		{"5", lanyard.ReasonCessationOfOperation, ""},
		{"6", lanyard.ReasonCertificateHold, ""},
		{"9", lanyard.ReasonPrivilegeWithdrawn, ""},
		{"10", lanyard.ReasonAACompromise, ""},

		{"7", 0, `unknown revocation reason "7"`}, // unused in RFC 5280
		{"8", 0, `unknown revocation reason "8"`}, // removeFromCRL: delta CRLs only
		{"remove_from_crl", 0, unknown},
		{"removeFromCRL", 0, unknown},
		{"remove-from-crl", 0, unknown},
		{"11", 0, unknown},
		{"01", 0, unknown},
		{"+1", 0, unknown},
		{"-1", 0, unknown},
		{"1_0", 0, unknown},
		{"1 0", 0, unknown},
		{"_key_compromise", 0, unknown},
		{"key__compromise", 0, unknown},
		{"1.0", 0, unknown},
		{"", 0, unknown},
		{"   ", 0, unknown},
		{"unknown", 0, unknown},
		{"compromise", 0, unknown},
		{"key compromised", 0, unknown},
		{"keycompromise!", 0, unknown},
		{"lost", 0, unknown},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.in), func(t *testing.T) {
			got, err := lanyard.ParseRevocationReason(tt.in)
			checkInvalid(t, err, tt.wantErr)
			if err == nil && got != tt.want {
				t.Errorf("ParseRevocationReason(%q) = %d (%s), want %d (%s)", tt.in, got, got, tt.want, tt.want)
			}
		})
	}
}

func TestRevocationReasonString(t *testing.T) {
	tests := []struct {
		r    lanyard.RevocationReason
		want string
	}{
		{0, "unspecified"},
		{1, "key_compromise"},
		{2, "ca_compromise"},
		{3, "affiliation_changed"},
		{4, "superseded"},
		{5, "cessation_of_operation"},
		{6, "certificate_hold"},
		{7, "unknown"},
		{8, "remove_from_crl"},
		{9, "privilege_withdrawn"},
		{10, "aa_compromise"},
		{11, "unknown"},
		{-1, "unknown"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("RevocationReason(%d).String() = %q, want %q", int(tt.r), got, tt.want)
		}
		// Every name but removeFromCRL's parses back to its reason, and
		// so does its number.
		if tt.want == "unknown" || tt.r == lanyard.ReasonRemoveFromCRL {
			continue
		}
		for _, s := range []string{tt.want, strconv.Itoa(int(tt.r))} {
			if got, err := lanyard.ParseRevocationReason(s); err != nil || got != tt.r {
				t.Errorf("ParseRevocationReason(%q) = %d, %v; want %d", s, got, err, tt.r)
			}
		}
	}
}
