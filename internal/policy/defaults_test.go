package policy

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func TestDefaultsValues(t *testing.T) {
	s := Defaults()
	tests := []struct {
		name      string
		got, want any
	}{
		{"issue card", s.Workflow.IssueCard, true},
		{"select optional certificates", s.Workflow.SelectOptionalCertificates, true},
		{"allow user to add cards", s.Workflow.AllowUserAddCards, true},
		{"search tracked certificates", s.Workflow.SearchTrackedCertificates, false},
		{"allow user to select tracked", s.Workflow.AllowUserSelectTracked, false},
		{"issue AirCard", s.Workflow.IssueAirCard, false},
		{"initialize card", s.Issuance.InitializeCard, false},
		{"admin key handling", s.Issuance.Initialization.AdminKey, lanyard.AdminKeyFromCardType},
		{"random user PIN", s.Issuance.RandomUserPIN, false},
		{"random PIN length", s.Issuance.RandomPIN.Length, 8},
		{"random PIN groups", s.Issuance.RandomPIN.Groups, []lanyard.PINCharGroup{lanyard.PINDigits}},
		{"random PIN shown", s.Issuance.RandomPIN.ShowToUser, true},
		{"random PIN shown to administrators", s.Issuance.RandomPIN.ShowToAdmin, false},
		{"random PIN mail", s.Issuance.RandomPIN.MailTo, lanyard.PINMailNobody},
		{"max cards per user", s.Issuance.MaxCardsPerUser, 2},
		{"documents check", s.Documents.Check, lanyard.DocsNone},
		{"documents channel", s.Documents.Channel, lanyard.DocsViaLanyard},
		{"required templates", s.Certificates.Required, []string{"smartcard-logon"}},
		{"optional templates", s.Certificates.Optional, []string{"secure-email", "document-signing"}},
		{"allowed card types", s.AllowedCards, []string{"piv"}},
		{"notify user", s.Notifications.NotifyUser, true},
		{"secret questions", len(s.Authentication.SecretQuestions.Questions), 6},
		{"secret questions asked", s.Authentication.SecretQuestions.Asked, 3},
		{"secret answer minimum length", s.Authentication.SecretQuestions.MinAnswerLength, 3},
		{"wrong answers before lock", s.Authentication.SecretQuestions.WrongBeforeLock, 5},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s = %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestDefaultsValidate(t *testing.T) {
	p := &lanyard.Policy{Name: "default", Priority: 1, Settings: Defaults()}
	if err := Validate(p, []string{"smartcard-logon", "secure-email", "document-signing"}, []string{"piv"}); err != nil {
		t.Fatalf("Defaults do not validate: %v", err)
	}
}

// Callers edit the defaults of a new policy in place; one caller's edit
// must not leak into the next policy.
func TestDefaultsFreshSlices(t *testing.T) {
	a := Defaults()
	a.Certificates.Required[0] = "changed"
	a.Certificates.Optional[0] = "changed"
	a.AllowedCards[0] = "changed"
	a.Issuance.RandomPIN.Groups[0] = lanyard.PINSpecial
	if b := Defaults(); !reflect.DeepEqual(b.Certificates.Required, []string{"smartcard-logon"}) ||
		b.Certificates.Optional[0] != "secure-email" || b.AllowedCards[0] != "piv" ||
		b.Issuance.RandomPIN.Groups[0] != lanyard.PINDigits {
		t.Fatalf("Defaults shares slices between calls: %+v", b)
	}
}

// TestCardMonitorDefaults: new policies warn 30 days ahead and re-send
// weekly; a saved policy without the settings (0) gets the same.
func TestCardMonitorDefaults(t *testing.T) {
	n := Defaults().Notifications
	if n.ExpiryWarningDays != 30 || n.ExpiryResendDays != 7 {
		t.Errorf("defaults %+v", n)
	}
	var saved lanyard.NotificationsSettings
	if saved.WarningPeriod() != 30*24*time.Hour || saved.ResendPeriod() != 7*24*time.Hour {
		t.Errorf("a saved policy without the settings: %v, %v", saved.WarningPeriod(), saved.ResendPeriod())
	}
	saved.ExpiryWarningDays, saved.ExpiryResendDays = 14, 2
	if saved.WarningPeriod() != 14*24*time.Hour || saved.ResendPeriod() != 2*24*time.Hour {
		t.Errorf("set: %v, %v", saved.WarningPeriod(), saved.ResendPeriod())
	}
}

// TestUpdateDefaults: a new policy lets users pick optional certificates
// when updating and does not update cards on connect; a saved policy
// without the settings (decoded from JSON that predates them) does
// neither, and renews within the Card Monitor's warning period.
func TestUpdateDefaults(t *testing.T) {
	w := Defaults().Workflow
	if !w.SelectOptionalOnUpdate || w.AutoUpdateOnConnect {
		t.Errorf("new policy: select optional on update %v, auto update %v", w.SelectOptionalOnUpdate, w.AutoUpdateOnConnect)
	}
	var saved lanyard.PolicySettings
	if err := json.Unmarshal([]byte(`{"workflow":{"issue_card":true,"select_optional_certificates":true},"notifications":{"expiry_warning_days":14}}`), &saved); err != nil {
		t.Fatal(err)
	}
	if saved.Workflow.SelectOptionalOnUpdate || saved.Workflow.AutoUpdateOnConnect {
		t.Errorf("saved policy: %+v", saved.Workflow)
	}
	if got := saved.RenewalWindow(); got != 14*24*time.Hour {
		t.Errorf("renewal window of a saved policy: %v, want the warning period, 14 days", got)
	}
	if got := (lanyard.PolicySettings{}).RenewalWindow(); got != 30*24*time.Hour {
		t.Errorf("renewal window with neither set: %v, want 30 days", got)
	}
	saved.Certificates.RenewalWindowDays = 45
	if got := saved.RenewalWindow(); got != 45*24*time.Hour {
		t.Errorf("renewal window set: %v, want 45 days", got)
	}
}
