package service

import (
	"context"
	"time"

	"github.com/lanyard-cms/lanyard/internal/jobs"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/catalog"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
)

// Setting keys written by Setup.
const (
	settingSeeded = "setup/defaults-v1"
	// BootstrapLogin is the administrator created on first start.
	BootstrapLogin = "admin"
	// DefaultBootstrapTokenTTL bounds the first-start token: it is meant
	// to create named staff accounts, not to live on, and its account holds
	// every role at once (lanyard serve --bootstrap-ttl changes it).
	DefaultBootstrapTokenTTL = 24 * time.Hour
)

// Setup prepares a new installation: on an empty store it creates the
// administrator account and returns a one-time API token for it (the caller
// writes it to DATA/bootstrap-token); once per installation it seeds the
// default card types, templates and policy, so a new installation can issue
// at once. It is idempotent: later starts return "".
//
// Replicas starting together on an empty database take turns (the lease
// row SetupJob, internal/jobs): each step finds what the one before
// made, so there is one administrator, one token, one admin-key master
// secret, one key recovery key and one of each default.
func (s *Service) Setup(ctx context.Context) (bootstrapToken string, err error) {
	// Real time, whatever the service's clock: the lease bounds how long
	// a replica that died during Setup holds up the others.
	runner, err := jobs.New(jobs.Config{Store: s.store, Now: time.Now, Lease: setupLease, Holder: s.jobHolder})
	if err != nil {
		return "", err
	}
	lease, err := runner.Acquire(ctx, SetupJob)
	if err != nil {
		return "", err
	}
	kctx, stop := lease.Keep(ctx)
	defer func() { stop(); lease.Release() }()
	return s.setup(kctx)
}

// SetupJob is Setup's lease row in job_runs.
const SetupJob = "first_start"

// setupLease is how long a replica that died in Setup holds up the
// others' start; a live one renews it.
const setupLease = 15 * time.Second

func (s *Service) setup(ctx context.Context) (bootstrapToken string, err error) {
	if err := s.seedDefaults(ctx); err != nil {
		return "", err
	}
	if err := s.Cards.EnsureAdminMaster(ctx); err != nil {
		return "", err
	}
	if err := s.Cards.EnsurePUKEscrowKey(ctx); err != nil {
		return "", err
	}
	if err := s.Archive.EnsureKRA(ctx); err != nil {
		return "", err
	}
	var users int
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { users, err = tx.CountUsers(); return }); err != nil {
		return "", err
	}
	if users > 0 {
		return "", nil
	}
	admin, err := s.Identity.CreateUser(ctx, lanyard.SystemPrincipal, identity.UserInput{
		Login: BootstrapLogin, DisplayName: ptr("Lanyard administrator"),
		Roles: &lanyard.Roles{lanyard.RoleAdministrator, lanyard.RoleOperator, lanyard.RoleCAManager, lanyard.RoleAuditor, lanyard.RoleDocumentOfficer},
	})
	if lanyard.IsCode(err, lanyard.EConflict) {
		return "", nil // another replica won the race
	}
	if err != nil {
		return "", err
	}
	tok, err := s.Identity.CreateToken(ctx, lanyard.SystemPrincipal, identity.TokenInput{User: admin.Login, Name: "bootstrap", TTL: s.bootstrapTTL.String()})
	if err != nil {
		return "", err
	}
	return tok.Secret, nil
}

func ptr[T any](v T) *T { return &v }

func (s *Service) seedDefaults(ctx context.Context) error {
	var done bool
	err := s.rec.View(ctx, func(tx lanyard.Tx) error {
		_, err := tx.Setting(settingSeeded)
		done = err == nil
		if lanyard.IsCode(err, lanyard.ENotFound) {
			return nil
		}
		return err
	})
	if err != nil || done {
		return err
	}
	for _, ct := range DefaultCardTypes() {
		if _, err := s.Catalog.CreateCardType(ctx, lanyard.SystemPrincipal, ct); err != nil && !lanyard.IsCode(err, lanyard.EConflict) {
			return err
		}
	}
	for _, t := range DefaultTemplates() {
		if _, err := s.Catalog.CreateTemplate(ctx, lanyard.SystemPrincipal, t); err != nil && !lanyard.IsCode(err, lanyard.EConflict) {
			return err
		}
	}
	def := catalog.NewPolicyInput()
	def.Name, def.Description, def.Priority = "default", "Applies to everyone unless a more specific policy does.", 1000
	def.Assignments = []lanyard.Assignment{{Kind: lanyard.AssignEveryone}}
	if _, err := s.Catalog.CreatePolicy(ctx, lanyard.SystemPrincipal, def); err != nil && !lanyard.IsCode(err, lanyard.EConflict) {
		return err
	}
	return s.rec.Update(ctx, func() *lanyard.AuditEvent {
		return s.rec.Event(lanyard.SystemPrincipal, "setup.defaults", "setting", settingSeeded, nil)
	}, func(tx lanyard.Tx) error { return tx.PutSetting(settingSeeded, []byte("done")) })
}

// DefaultTemplates are the templates a new installation starts with.
// Each puts its certificate on hold while its card is disabled
// (RevokeOnDisable): a card is disabled when it may be out of its owner's
// hands, and relying parties should not trust it until it is enabled.
func DefaultTemplates() []lanyard.Template {
	algs := []lanyard.KeyAlgorithm{lanyard.ECP256, lanyard.ECP384, lanyard.RSA2048, lanyard.RSA3072, lanyard.RSA4096}
	return []lanyard.Template{{
		Name: "smartcard-logon", DisplayName: "Smart card logon", KeyAlgs: algs, ValidityDays: 365, Slot: "9a",
		KeyUsage:        []string{lanyard.KUDigitalSignature},
		ExtKeyUsage:     []string{lanyard.EKUSmartCardLogon, lanyard.EKUClientAuth},
		Subject:         lanyard.SubjectSpec{CommonName: "{display_name}", SANUPN: true},
		RevokeOnDisable: true,
	}, {
		Name: "secure-email", DisplayName: "Secure e-mail", KeyAlgs: algs, ValidityDays: 365, Slot: "9d",
		KeyUsage:        []string{lanyard.KUDigitalSignature, lanyard.KUKeyEncipherment},
		ExtKeyUsage:     []string{lanyard.EKUEmailProtection},
		Subject:         lanyard.SubjectSpec{CommonName: "{display_name}", SANEmail: true},
		RevokeOnDisable: true,
	}, {
		Name: "document-signing", DisplayName: "Document signing", KeyAlgs: algs, ValidityDays: 730, Slot: "9c",
		KeyUsage:        []string{lanyard.KUDigitalSignature, lanyard.KUContentCommitment},
		ExtKeyUsage:     []string{lanyard.EKUDocumentSigning},
		Subject:         lanyard.SubjectSpec{CommonName: "{display_name}", SANEmail: true},
		RevokeOnDisable: true,
	}}
}

// DefaultCardTypes are the card types a new installation starts with: a PIV
// card with the industry's factory defaults (PIN 123456, PUK 12345678; the
// management key is diversified per card) and one card type per virtual
// kind with that kind's rules.
func DefaultCardTypes() []catalog.CardTypeInput {
	pin := lanyard.PINPolicy{MinLength: 6, MaxLength: 8, PINRetries: 3, PUKRetries: 3}
	all := lanyard.AllKeyAlgorithms
	rsa := []lanyard.KeyAlgorithm{lanyard.RSA2048, lanyard.RSA3072, lanyard.RSA4096}
	mk := func(name, desc string, kind lanyard.CardKind, algs []lanyard.KeyAlgorithm, init bool) catalog.CardTypeInput {
		ct := catalog.CardTypeInput{CardType: lanyard.CardType{
			Name: name, Description: desc, Kind: kind, ATRPatterns: []string{}, PIN: pin, KeyAlgorithms: algs, SupportsInit: init,
		}}
		if r, _ := kind.Rules(); r.HasAdminKey {
			ct.AdminKey, ct.AdminMode = lanyard.AdminKey3DES, lanyard.AdminKeyRandom
			ct.DefaultUserPIN, ct.DefaultPUK = ptr("123456"), ptr("12345678")
		}
		return ct
	}
	piv := mk("piv", "PIV smart card or token (NIST SP 800-73-4)", lanyard.KindPIV, all, true)
	piv.AdminKey = lanyard.AdminKeyAES192
	return []catalog.CardTypeInput{
		piv,
		mk("tpm-virtual-card", "TPM virtual smart card: keys in the workstation's TPM 2.0", lanyard.KindTPMVirtualCard, rsa, false),
		mk("platform-credential", "Platform credential (Windows Hello for Business model)", lanyard.KindPlatformCredential, []lanyard.KeyAlgorithm{lanyard.RSA2048}, false),
		mk("aircard", "AirCard: virtual smart card hosted on the server", lanyard.KindAirCard, rsa, false),
		mk("software-store", "Software certificate store (PKCS#12), machine or user", lanyard.KindSoftwareStore, all, false),
	}
}
