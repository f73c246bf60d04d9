package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// t0 is the fixtures' clock: not UTC and with nanoseconds, so every round
// trip also checks normalisation to UTC microseconds.
var t0 = time.Date(2025, time.March, 14, 15, 9, 26, 535_897_932, time.FixedZone("UTC+1", 3600))

// at returns t0 + d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// NewUser returns a user with every field set.
func NewUser(login string) *lanyard.User {
	return &lanyard.User{
		Login:        login,
		DisplayName:  "Display " + login,
		Email:        login + "@example.com",
		UPN:          login + "@corp.example.com",
		ManagerEmail: "boss@example.com",
		Groups:       []string{"staff", "group-" + login},
		Roles:        lanyard.Roles{lanyard.RoleUser, lanyard.RoleOperator},
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
		CreatedAt:    t0,
		UpdatedAt:    at(time.Minute),
	}
}

// MustCreateUser stores NewUser(login) and returns it with its ID.
func MustCreateUser(tb testing.TB, s lanyard.Store, login string) *lanyard.User {
	tb.Helper()
	u := NewUser(login)
	MustUpdate(tb, s, func(tx lanyard.Tx) error { return tx.CreateUser(u) })
	return u
}

// NewCardType returns a PIV card type with every field set.
func NewCardType(name string) *lanyard.CardType {
	return &lanyard.CardType{
		Name:               name,
		Description:        "cards called " + name,
		Kind:               lanyard.KindPIV,
		ATRPatterns:        []string{"3b f8 13 00 00 81 31 fe xx", "3b 8c 80 01"},
		AdminKey:           lanyard.AdminKeyAES192,
		AdminMode:          lanyard.AdminKeyRandom,
		SealedSecrets:      []byte{0x00, 0x01, 0xfe, 0xff, 's', 'e', 'a', 'l'},
		HasDefaultAdminKey: true,
		HasDefaultUserPIN:  true,
		HasDefaultPUK:      true,
		PIN:                lanyard.PINPolicy{MinLength: 6, MaxLength: 8, PINRetries: 3, PUKRetries: 5},
		KeyAlgorithms:      []lanyard.KeyAlgorithm{lanyard.ECP256, lanyard.RSA2048},
		SupportsInit:       true,
		CreatedAt:          t0,
		UpdatedAt:          at(time.Second),
	}
}

// NewTemplate returns a smart card logon template with every field set.
func NewTemplate(name string) *lanyard.Template {
	return &lanyard.Template{
		Name:         name,
		DisplayName:  "Template " + name,
		CA:           "builtin",
		KeyAlgs:      []lanyard.KeyAlgorithm{lanyard.ECP256, lanyard.RSA2048},
		ValidityDays: 365,
		KeyUsage:     []string{lanyard.KUDigitalSignature, lanyard.KUKeyEncipherment},
		ExtKeyUsage:  []string{lanyard.EKUSmartCardLogon, lanyard.EKUClientAuth},
		Subject: lanyard.SubjectSpec{
			CommonName: "{display_name}", Organization: "Example", OrganizationalUnit: "{group}", Country: "DE",
			SANEmail: true, SANUPN: true,
		},
		Slot:                 "9a",
		RequiresCAApproval:   true,
		RequiresFormApproval: true,
		PromptKeyPassword:    true,
		KeyArchival:          true,
		CardKeysOnly:         true,
		RevokeOnDisable:      true,
		CreatedAt:            t0,
		UpdatedAt:            at(time.Second),
	}
}

// MustCreateTemplate stores NewTemplate(name) and returns it with its ID.
func MustCreateTemplate(tb testing.TB, s lanyard.Store, name string) *lanyard.Template {
	tb.Helper()
	tp := NewTemplate(name)
	MustUpdate(tb, s, func(tx lanyard.Tx) error { return tx.CreateTemplate(tp) })
	return tp
}

// NewPolicy returns a policy with every section set. Nested lists are a
// mix of nil and empty, which must survive the round trip as they are.
func NewPolicy(name string, priority int) *lanyard.Policy {
	return &lanyard.Policy{
		Name:        name,
		Description: "policy " + name,
		Priority:    priority,
		Settings: lanyard.PolicySettings{
			Workflow: lanyard.WorkflowSettings{AllowUserAddCards: true, IssueCard: true, IssueAirCard: true},
			Issuance: lanyard.IssuanceSettings{
				InitializeCard: true,
				Initialization: lanyard.InitializationSettings{PINRetries: 3, AdminKey: lanyard.AdminKeyFromCardType, RandomPUK: true},
				RandomUserPIN:  true,
				RandomPIN: lanyard.RandomPINSettings{
					Length: 8, Groups: []lanyard.PINCharGroup{lanyard.PINDigits, lanyard.PINUpper}, MailTo: lanyard.PINMailBoth,
				},
				MaxCardsPerUser: 2,
			},
			Documents:     lanyard.DocumentsSettings{Check: lanyard.DocsForm, Channel: lanyard.DocsViaLanyard},
			Certificates:  lanyard.CertificateSettings{Required: []string{"logon"}, Optional: []string{}},
			AllowedCards:  nil,
			Notifications: lanyard.NotificationsSettings{NotifyUser: true},
		},
		Assignments: []lanyard.Assignment{
			{Kind: lanyard.AssignGroup, Name: "staff"},
			{Kind: lanyard.AssignUser, Name: "alice"},
			{Kind: lanyard.AssignEveryone},
		},
		CreatedAt: t0,
		UpdatedAt: at(time.Second),
	}
}

// NewCA returns a CA record with every field set.
func NewCA(name string) *lanyard.CARecord {
	return &lanyard.CARecord{
		Name:       name,
		Kind:       "builtin",
		CertDER:    []byte("issuing certificate DER of " + name),
		ChainDER:   [][]byte{[]byte("issuing " + name), {0x30, 0x82, 0x00, 0xff}},
		SealedKey:  []byte{0xde, 0xad, 0xbe, 0xef, 0x00},
		CRLNumber:  1,
		CRLDER:     []byte("first CRL"),
		CRLUpdated: at(time.Hour),
		CreatedAt:  t0,
	}
}

// MustCreateCA stores NewCA(name) and returns it.
func MustCreateCA(tb testing.TB, s lanyard.Store, name string) *lanyard.CARecord {
	tb.Helper()
	c := NewCA(name)
	MustUpdate(tb, s, func(tx lanyard.Tx) error { return tx.CreateCA(c) })
	return c
}

// NewCertificate returns a valid, managed certificate of userID (0: none)
// with every other field set.
func NewCertificate(ca, serial string, userID int64) *lanyard.Certificate {
	return &lanyard.Certificate{
		Serial:    serial,
		CA:        ca,
		Template:  "logon",
		UserID:    userID,
		CardID:    7,
		Slot:      "9a",
		RequestID: 42,
		Subject:   "CN=Alice,O=Example",
		NotBefore: t0,
		NotAfter:  at(365 * 24 * time.Hour),
		Status:    lanyard.CertValid,
		Source:    lanyard.SourceManaged,
		KeySHA256: fmt.Sprintf("%064x", serial),
		DER:       []byte("certificate DER " + serial),
		CreatedAt: t0,
		UpdatedAt: at(time.Second),
	}
}

// NewRequest returns a pending request of userID made by requestedBy.
func NewRequest(userID, requestedBy int64) *lanyard.CertRequest {
	return &lanyard.CertRequest{
		CA:          "builtin",
		Template:    "logon",
		UserID:      userID,
		RequestedBy: requestedBy,
		PublicKey:   []byte("SPKI DER"),
		CSR:         []byte("CSR DER"),
		KeySHA256:   "ab12",
		Subject:     "CN=Alice",
		Status:      lanyard.RequestPending,
		CreatedAt:   t0,
	}
}

// NewEvent returns an audit event with every caller-set field filled.
func NewEvent(actor, action, objectType, objectID string, d time.Duration) *lanyard.AuditEvent {
	return &lanyard.AuditEvent{
		Time:       at(d),
		Actor:      actor,
		Action:     action,
		ObjectType: objectType,
		ObjectID:   objectID,
		RemoteAddr: "192.0.2.1:5555",
		Details:    json.RawMessage(`{"object":"` + objectID + `"}`),
	}
}
