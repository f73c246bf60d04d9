package policy

import (
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Priority bounds. A bounded range keeps priorities readable in listings
// and leaves room to insert a policy between two others.
const (
	MinPriority = 1
	MaxPriority = 10000
)

// Section labels as the console shows them, so that an error tells the
// administrator where to look.
const (
	labelInit      = "Issuance → Card initialization"
	labelRandomPIN = "Issuance → Set random user PIN"
	labelMaxCards  = "Issuance → Maximum cards per user"
	labelKeyPass   = "Issuance → Key container password"
	labelDocs      = "Documents check"
	labelRequired  = "Certificates → Required templates"
	labelOptional  = "Certificates → Optional templates"
	labelCardTypes = "Allowed card types"
	labelAssign    = "Assignments"
	labelSecretQ   = "Authentication → Secret questions"
	labelTempDays  = "Workflow → Temporary card validity (days)"
	labelWarnDays  = "Notifications → Warn before certificates expire (days)"
	labelResend    = "Notifications → Re-send expiry notices every (days)"
	labelRenewal   = "Certificates → Renew certificates expiring within (days)"
)

// Validate checks every field of p and returns the first problem as an
// *lanyard.Error with code EInvalid whose message names the field as the
// console shows it (for example "Issuance → Set random user PIN: length
// must be 4–16").
//
// templates and cardTypes are the names that exist. A nil slice skips the
// existence check (for callers that validate before the catalogue is
// known); a non-nil empty slice means that none exist, so every reference
// fails. Names are checked for syntax either way.
//
// Options are validated whether or not the switch that uses them is on:
// turning a switch on later must not expose a value nobody checked.
func Validate(p *lanyard.Policy, templates, cardTypes []string) error {
	if p == nil {
		return lanyard.Errorf(lanyard.EInvalid, "policy is required")
	}
	if !lanyard.ValidName(p.Name) {
		return lanyard.Errorf(lanyard.EInvalid, "Name: use 1–64 letters, digits, '-', '_' or '.'")
	}
	if p.Priority < MinPriority || p.Priority > MaxPriority {
		return lanyard.Errorf(lanyard.EInvalid, "Priority: must be %d–%d", MinPriority, MaxPriority)
	}
	s := &p.Settings
	if err := checkInitialization(&s.Issuance.Initialization); err != nil {
		return err
	}
	if err := checkRandomPIN(&s.Issuance.RandomPIN); err != nil {
		return err
	}
	if d := s.Workflow.TemporaryCardValidityDays; d < 0 || d > 3650 {
		return invalid(labelTempDays, "must be 1–3650 (0: the default, %d)", lanyard.DefaultTemporaryCardValidityDays)
	}
	if _, err := lanyard.ParseLeaverAction(string(s.Workflow.LeaverAction)); err != nil {
		return err
	}
	if d := s.Notifications.ExpiryWarningDays; d < 0 || d > 365 {
		return invalid(labelWarnDays, "must be 1–365 (0: the default, %d)", lanyard.DefaultExpiryWarningDays)
	}
	if d := s.Notifications.ExpiryResendDays; d < 0 || d > 365 {
		return invalid(labelResend, "must be 1–365 (0: the default, %d)", lanyard.DefaultExpiryResendDays)
	}
	if d := s.Certificates.RenewalWindowDays; d < 0 || d > 365 {
		return invalid(labelRenewal, "must be 1–365 (0: the warning period of Notifications)")
	}
	if s.Issuance.MaxCardsPerUser < 0 {
		return invalid(labelMaxCards, "must be 0 (unlimited) or more")
	}
	if err := checkKeyPasswordSettings(&s.Issuance.KeyPassword); err != nil {
		return err
	}
	if err := checkDocuments(&s.Documents); err != nil {
		return err
	}
	if err := checkCertificates(&s.Certificates, templates); err != nil {
		return err
	}
	if err := checkNames(labelCardTypes, "card type", s.AllowedCards, cardTypes); err != nil {
		return err
	}
	if err := checkSecretQuestions(&s.Authentication.SecretQuestions); err != nil {
		return err
	}
	if err := checkAssignments(p.Assignments); err != nil {
		return err
	}
	return nil
}

// invalid builds the EInvalid error for a field.
func invalid(label, format string, args ...any) *lanyard.Error {
	return &lanyard.Error{Code: lanyard.EInvalid, Message: label + ": " + fmt.Sprintf(format, args...)}
}
