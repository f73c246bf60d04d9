package policy

import (
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(p *lanyard.Policy)
		want   string // "" = valid; else a substring of the message
	}{
		{"defaults", func(p *lanyard.Policy) {}, ""},

		{"empty name", func(p *lanyard.Policy) { p.Name = "" }, "Name: use 1–64"},
		{"name with space", func(p *lanyard.Policy) { p.Name = "help desk" }, "Name:"},
		{"name 65 chars", func(p *lanyard.Policy) { p.Name = strings.Repeat("a", 65) }, "Name:"},
		{"name 64 chars", func(p *lanyard.Policy) { p.Name = strings.Repeat("a", 64) }, ""},

		{"warning 0 (default)", func(p *lanyard.Policy) { p.Settings.Notifications.ExpiryWarningDays = 0 }, ""},
		{"warning 365", func(p *lanyard.Policy) { p.Settings.Notifications.ExpiryWarningDays = 365 }, ""},
		{"warning 366", func(p *lanyard.Policy) { p.Settings.Notifications.ExpiryWarningDays = 366 }, "Notifications → Warn before certificates expire (days): must be 1–365"},
		{"renewal window 0 (warning period)", func(p *lanyard.Policy) { p.Settings.Certificates.RenewalWindowDays = 0 }, ""},
		{"renewal window 365", func(p *lanyard.Policy) { p.Settings.Certificates.RenewalWindowDays = 365 }, ""},
		{"renewal window 366", func(p *lanyard.Policy) { p.Settings.Certificates.RenewalWindowDays = 366 }, "Certificates → Renew certificates expiring within (days): must be 1–365"},
		{"renewal window -1", func(p *lanyard.Policy) { p.Settings.Certificates.RenewalWindowDays = -1 }, "Renew certificates expiring within"},
		{"warning -1", func(p *lanyard.Policy) { p.Settings.Notifications.ExpiryWarningDays = -1 }, "Warn before certificates expire"},
		{"re-send 0 (default)", func(p *lanyard.Policy) { p.Settings.Notifications.ExpiryResendDays = 0 }, ""},
		{"re-send 366", func(p *lanyard.Policy) { p.Settings.Notifications.ExpiryResendDays = 366 }, "Notifications → Re-send expiry notices every (days): must be 1–365"},
		{"re-send -1", func(p *lanyard.Policy) { p.Settings.Notifications.ExpiryResendDays = -1 }, "Re-send expiry notices"},

		{"priority 0", func(p *lanyard.Policy) { p.Priority = 0 }, "Priority: must be 1–10000"},
		{"priority 1", func(p *lanyard.Policy) { p.Priority = 1 }, ""},
		{"priority 10000", func(p *lanyard.Policy) { p.Priority = 10000 }, ""},
		{"priority 10001", func(p *lanyard.Policy) { p.Priority = 10001 }, "Priority:"},
		{"priority negative", func(p *lanyard.Policy) { p.Priority = -5 }, "Priority:"},

		{"PIN retries 255", func(p *lanyard.Policy) { p.Settings.Issuance.Initialization.PINRetries = 255 }, ""},
		{"PIN retries 256", func(p *lanyard.Policy) { p.Settings.Issuance.Initialization.PINRetries = 256 }, "Issuance → Card initialization → PIN retries: must be 0–255"},
		{"PIN retries -1", func(p *lanyard.Policy) { p.Settings.Issuance.Initialization.PINRetries = -1 }, "PIN retries"},
		{"PUK retries 256", func(p *lanyard.Policy) { p.Settings.Issuance.Initialization.PUKRetries = 256 }, "Issuance → Card initialization → PUK retries"},
		{"PUK retries -1", func(p *lanyard.Policy) { p.Settings.Issuance.Initialization.PUKRetries = -1 }, "PUK retries"},
		{"init PIN min 3", func(p *lanyard.Policy) { p.Settings.Issuance.Initialization.PINMinLength = 3 }, "Minimum PIN length: must be 4–16"},
		{"init PIN min 4", func(p *lanyard.Policy) { p.Settings.Issuance.Initialization.PINMinLength = 4 }, ""},
		{"init PIN max 17", func(p *lanyard.Policy) { p.Settings.Issuance.Initialization.PINMaxLength = 17 }, "Maximum PIN length: must be 4–16"},
		{"init PIN max 16", func(p *lanyard.Policy) { p.Settings.Issuance.Initialization.PINMaxLength = 16 }, ""},
		{"init PIN min > max", func(p *lanyard.Policy) {
			p.Settings.Issuance.Initialization.PINMinLength = 9
			p.Settings.Issuance.Initialization.PINMaxLength = 8
		}, "PIN length: the minimum (9) is greater than the maximum (8)"},
		{"init PIN min = max", func(p *lanyard.Policy) {
			p.Settings.Issuance.Initialization.PINMinLength = 8
			p.Settings.Issuance.Initialization.PINMaxLength = 8
		}, ""},
		{"init PIN min set, max from card type", func(p *lanyard.Policy) { p.Settings.Issuance.Initialization.PINMinLength = 12 }, ""},
		{"admin key keep", func(p *lanyard.Policy) { p.Settings.Issuance.Initialization.AdminKey = lanyard.AdminKeyKeep }, ""},
		{"admin key empty", func(p *lanyard.Policy) { p.Settings.Issuance.Initialization.AdminKey = "" }, "Admin key handling: unknown value"},
		{"admin key bogus", func(p *lanyard.Policy) { p.Settings.Issuance.Initialization.AdminKey = "random" }, "Admin key handling"},

		{"random PIN length 3", func(p *lanyard.Policy) { p.Settings.Issuance.RandomPIN.Length = 3 }, "Issuance → Set random user PIN: length must be 4–16"},
		{"random PIN length 4", func(p *lanyard.Policy) { p.Settings.Issuance.RandomPIN.Length = 4 }, ""},
		{"random PIN length 16", func(p *lanyard.Policy) { p.Settings.Issuance.RandomPIN.Length = 16 }, ""},
		{"random PIN length 17", func(p *lanyard.Policy) { p.Settings.Issuance.RandomPIN.Length = 17 }, "length must be 4–16"},
		{"random PIN checked even when off", func(p *lanyard.Policy) {
			p.Settings.Issuance.RandomUserPIN = false
			p.Settings.Issuance.RandomPIN.Length = 0
		}, "length must be 4–16"},
		{"random PIN no groups", func(p *lanyard.Policy) { p.Settings.Issuance.RandomPIN.Groups = nil }, "Set random user PIN: choose at least one character group"},
		{"random PIN all groups", func(p *lanyard.Policy) {
			p.Settings.Issuance.RandomPIN.Groups = []lanyard.PINCharGroup{lanyard.PINSpecial, lanyard.PINUpper, lanyard.PINLower, lanyard.PINDigits}
		}, ""},
		{"random PIN unknown group", func(p *lanyard.Policy) {
			p.Settings.Issuance.RandomPIN.Groups = []lanyard.PINCharGroup{lanyard.PINDigits, "emoji"}
		}, `unknown character group "emoji"`},
		{"random PIN group twice", func(p *lanyard.Policy) {
			p.Settings.Issuance.RandomPIN.Groups = []lanyard.PINCharGroup{lanyard.PINDigits, lanyard.PINLower, lanyard.PINDigits}
		}, `character group "digits" is listed twice`},
		{"random PIN mail both", func(p *lanyard.Policy) { p.Settings.Issuance.RandomPIN.MailTo = lanyard.PINMailBoth }, ""},
		{"random PIN mail empty", func(p *lanyard.Policy) { p.Settings.Issuance.RandomPIN.MailTo = "" }, "unknown e-mail recipient"},
		{"random PIN mail bogus", func(p *lanyard.Policy) { p.Settings.Issuance.RandomPIN.MailTo = "ceo" }, `unknown e-mail recipient "ceo"`},

		{"temporary card validity 0 (default)", func(p *lanyard.Policy) { p.Settings.Workflow.TemporaryCardValidityDays = 0 }, ""},
		{"temporary card validity 3650", func(p *lanyard.Policy) { p.Settings.Workflow.TemporaryCardValidityDays = 3650 }, ""},
		{"temporary card validity -1", func(p *lanyard.Policy) { p.Settings.Workflow.TemporaryCardValidityDays = -1 }, "Workflow → Temporary card validity (days): must be 1–3650"},
		{"leaver action revoke", func(p *lanyard.Policy) { p.Settings.Workflow.LeaverAction = lanyard.LeaverRevoke }, ""},
		{"leaver action bad", func(p *lanyard.Policy) { p.Settings.Workflow.LeaverAction = "withdraw" }, "leaver action \"withdraw\": use disable or revoke"},
		{"temporary card validity 3651", func(p *lanyard.Policy) { p.Settings.Workflow.TemporaryCardValidityDays = 3651 }, "Workflow → Temporary card validity (days): must be 1–3650"},
		{"max cards 0 (unlimited)", func(p *lanyard.Policy) { p.Settings.Issuance.MaxCardsPerUser = 0 }, ""},
		{"max cards -1", func(p *lanyard.Policy) { p.Settings.Issuance.MaxCardsPerUser = -1 }, "Issuance → Maximum cards per user: must be 0"},

		{"documents both", func(p *lanyard.Policy) { p.Settings.Documents.Check = lanyard.DocsRequestForm }, ""},
		{"documents empty", func(p *lanyard.Policy) { p.Settings.Documents.Check = "" }, "Documents check: unknown mode"},
		{"documents bogus", func(p *lanyard.Policy) { p.Settings.Documents.Check = "notary" }, `Documents check: unknown mode "notary"`},
		{"documents channel other", func(p *lanyard.Policy) { p.Settings.Documents.Channel = lanyard.DocsViaOther }, ""},
		{"documents precheck", func(p *lanyard.Policy) {
			p.Settings.Documents.Check, p.Settings.Documents.Precheck = lanyard.DocsCARequest, true
		}, ""},
		{"documents precheck without request", func(p *lanyard.Policy) {
			p.Settings.Documents.Check, p.Settings.Documents.Precheck = lanyard.DocsForm, true
		}, "Documents check → Precheck: prechecks the signed certificate request form"},
		{"documents channel bogus", func(p *lanyard.Policy) { p.Settings.Documents.Channel = "fax" }, `Documents check → Documents channel: unknown value "fax"`},

		{"required unknown", func(p *lanyard.Policy) { p.Settings.Certificates.Required = []string{"vpn"} }, `Certificates → Required templates: unknown template "vpn"`},
		{"optional unknown", func(p *lanyard.Policy) { p.Settings.Certificates.Optional = []string{"vpn"} }, `Certificates → Optional templates: unknown template "vpn"`},
		{"required bad name", func(p *lanyard.Policy) { p.Settings.Certificates.Required = []string{"a b"} }, `"a b" is not a valid template name`},
		{"required twice", func(p *lanyard.Policy) {
			p.Settings.Certificates.Required = []string{"smartcard-logon", "smartcard-logon"}
		}, `template "smartcard-logon" is listed twice`},
		{"both required and optional", func(p *lanyard.Policy) {
			p.Settings.Certificates.Optional = []string{"secure-email", "smartcard-logon"}
		}, `template "smartcard-logon" is already required`},
		{"no templates at all", func(p *lanyard.Policy) { p.Settings.Certificates = lanyard.CertificateSettings{} }, ""},

		{"card type unknown", func(p *lanyard.Policy) { p.Settings.AllowedCards = []string{"piv", "floppy"} }, `Allowed card types: unknown card type "floppy"`},
		{"card type twice", func(p *lanyard.Policy) { p.Settings.AllowedCards = []string{"piv", "piv"} }, `card type "piv" is listed twice`},
		{"card type bad name", func(p *lanyard.Policy) { p.Settings.AllowedCards = []string{""} }, "is not a valid card type name"},
		{"card types several", func(p *lanyard.Policy) { p.Settings.AllowedCards = []string{"piv", "tpm", "aircard"} }, ""},

		{"assign user", func(p *lanyard.Policy) {
			p.Assignments = []lanyard.Assignment{{Kind: lanyard.AssignUser, Name: "alice"}}
		}, ""},
		{"assign group with space", func(p *lanyard.Policy) {
			p.Assignments = []lanyard.Assignment{{Kind: lanyard.AssignGroup, Name: "Domain Users"}}
		}, ""},
		{"assign none", func(p *lanyard.Policy) { p.Assignments = nil }, ""},
		{"assign user without login", func(p *lanyard.Policy) { p.Assignments = []lanyard.Assignment{{Kind: lanyard.AssignUser}} }, "Assignments: a user assignment needs a login"},
		{"assign group without name", func(p *lanyard.Policy) { p.Assignments = []lanyard.Assignment{{Kind: lanyard.AssignGroup}} }, "Assignments: a group assignment needs a group name"},
		{"assign group padded", func(p *lanyard.Policy) {
			p.Assignments = []lanyard.Assignment{{Kind: lanyard.AssignGroup, Name: " staff"}}
		}, "leading or trailing spaces"},
		{"assign user control char", func(p *lanyard.Policy) {
			p.Assignments = []lanyard.Assignment{{Kind: lanyard.AssignUser, Name: "al\nice"}}
		}, "control characters"},
		{"assign user too long", func(p *lanyard.Policy) {
			p.Assignments = []lanyard.Assignment{{Kind: lanyard.AssignUser, Name: strings.Repeat("a", 513)}}
		}, "longer than 512 bytes"},
		{"assign everyone with name", func(p *lanyard.Policy) {
			p.Assignments = []lanyard.Assignment{{Kind: lanyard.AssignEveryone, Name: "all"}}
		}, "Assignments: an assignment to everyone takes no name"},
		{"assign unknown kind", func(p *lanyard.Policy) { p.Assignments = []lanyard.Assignment{{Kind: "role", Name: "x"}} }, `Assignments: unknown kind "role"`},
		{"assign empty kind", func(p *lanyard.Policy) { p.Assignments = []lanyard.Assignment{{}} }, "Assignments: unknown kind"},
		{"assign container not a DN", func(p *lanyard.Policy) {
			p.Assignments = []lanyard.Assignment{{Kind: lanyard.AssignContainer, Name: "Staff"}}
		}, `Assignments: container "Staff" is not a distinguished name`},
		{"assign container without name", func(p *lanyard.Policy) { p.Assignments = []lanyard.Assignment{{Kind: lanyard.AssignContainer}} }, "a container assignment needs a distinguished name"},
		{"assign user twice", func(p *lanyard.Policy) {
			p.Assignments = []lanyard.Assignment{{Kind: lanyard.AssignUser, Name: "alice"}, {Kind: lanyard.AssignGroup, Name: "alice"}, {Kind: lanyard.AssignUser, Name: "alice"}}
		}, `Assignments: user "alice" is assigned twice`},
		{"assign everyone twice", func(p *lanyard.Policy) {
			p.Assignments = []lanyard.Assignment{{Kind: lanyard.AssignEveryone}, {Kind: lanyard.AssignEveryone}}
		}, "everyone is assigned twice"},

		// Authentication → Secret questions: 1 to 20 distinct, non-empty
		// questions, a number asked between 1 and their number, a minimum
		// answer length and a lock limit in range.
		{"no questions", func(p *lanyard.Policy) { p.Settings.Authentication.SecretQuestions.Questions = nil }, "Authentication → Secret questions: give 1 to 20 questions"},
		{"21 questions", func(p *lanyard.Policy) { p.Settings.Authentication.SecretQuestions.Questions = manyQuestions(21) }, "give 1 to 20"},
		{"20 questions", func(p *lanyard.Policy) { p.Settings.Authentication.SecretQuestions.Questions = manyQuestions(20) }, ""},
		{"an empty question", func(p *lanyard.Policy) { p.Settings.Authentication.SecretQuestions.Questions[1] = "  " }, "question 2 must be 1 to 200 characters"},
		{"spaces around", func(p *lanyard.Policy) { p.Settings.Authentication.SecretQuestions.Questions[0] = " Pet? " }, "question 1 must be"},
		{"too long", func(p *lanyard.Policy) {
			p.Settings.Authentication.SecretQuestions.Questions[0] = strings.Repeat("q", 201)
		}, "question 1 must be 1 to 200"},
		{"twice, other case", func(p *lanyard.Policy) {
			p.Settings.Authentication.SecretQuestions.Questions[3] = strings.ToUpper(p.Settings.Authentication.SecretQuestions.Questions[0])
		}, "is listed twice"},
		{"asked 0", func(p *lanyard.Policy) { p.Settings.Authentication.SecretQuestions.Asked = 0 }, "Number asked: must be 1 to 6"},
		{"asked more than there are", func(p *lanyard.Policy) { p.Settings.Authentication.SecretQuestions.Asked = 7 }, "Number asked: must be 1 to 6"},
		{"asked all", func(p *lanyard.Policy) { p.Settings.Authentication.SecretQuestions.Asked = 6 }, ""},
		{"one question asked once", func(p *lanyard.Policy) {
			p.Settings.Authentication.SecretQuestions.Questions, p.Settings.Authentication.SecretQuestions.Asked = []string{"Pet?"}, 1
		}, ""},
		{"min length 0", func(p *lanyard.Policy) { p.Settings.Authentication.SecretQuestions.MinAnswerLength = 0 }, "Minimum answer length: must be 1 to 200"},
		{"min length 201", func(p *lanyard.Policy) { p.Settings.Authentication.SecretQuestions.MinAnswerLength = 201 }, "Minimum answer length"},
		{"lock after 0", func(p *lanyard.Policy) { p.Settings.Authentication.SecretQuestions.WrongBeforeLock = 0 }, "Wrong answers before lock: must be 1 to 100"},
		{"lock after 101", func(p *lanyard.Policy) { p.Settings.Authentication.SecretQuestions.WrongBeforeLock = 101 }, "Wrong answers before lock"},
		{"lock after 1", func(p *lanyard.Policy) { p.Settings.Authentication.SecretQuestions.WrongBeforeLock = 1 }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPolicy(t)
			tt.change(p)
			err := Validate(p, knownTemplates, knownCardTypes)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			wantError(t, err, lanyard.EInvalid, tt.want)
		})
	}
}

func TestValidateNil(t *testing.T) {
	wantError(t, Validate(nil, nil, nil), lanyard.EInvalid, "policy is required")
}

// A nil catalogue skips the existence checks; an empty one means nothing
// exists.
func TestValidateKnownNames(t *testing.T) {
	p := mustPolicy(t)
	p.Settings.Certificates.Required = []string{"not-yet-created"}
	p.Settings.AllowedCards = []string{"not-yet-created"}
	if err := Validate(p, nil, nil); err != nil {
		t.Fatalf("nil catalogues: %v", err)
	}
	wantError(t, Validate(p, []string{}, nil), lanyard.EInvalid, `unknown template "not-yet-created"`)
	wantError(t, Validate(p, nil, []string{}), lanyard.EInvalid, `unknown card type "not-yet-created"`)
	// Syntax is checked even without a catalogue.
	p.Settings.AllowedCards = []string{"bad name"}
	wantError(t, Validate(p, nil, nil), lanyard.EInvalid, "not a valid card type name")
}

// manyQuestions returns n distinct questions.
func manyQuestions(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "Question " + strings.Repeat("x", i+1) + "?"
	}
	return out
}
