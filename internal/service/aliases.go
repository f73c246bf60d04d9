package service

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/catalog"
	"github.com/lanyard-cms/lanyard/internal/service/documents"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/pki"
	"github.com/lanyard-cms/lanyard/internal/service/workstations"
)

// The capability packages' input and result types, constants and
// functions keep their names in this package for the callers of the
// facade (tests, benchmarks, the CLI's demo and bootstrap). They carry no
// json tags: the wire types are in internal/apiv1 and the web server
// converts. The aliases go with the facade (issue 15, step 10).

// Catalog (internal/service/catalog).
type (
	CardTypeInput = catalog.CardTypeInput
	PolicyInput   = catalog.PolicyInput
	Features      = lanyard.Features
)

// NewPolicyInput returns a policy input pre-filled with defaults, for
// decoding request bodies onto (catalog.NewPolicyInput).
func NewPolicyInput() *PolicyInput { return catalog.NewPolicyInput() }

// Identity (internal/service/identity).
type (
	UserInput           = identity.UserInput
	TokenInput          = identity.TokenInput
	TokenSettings       = identity.TokenSettings
	NewToken            = identity.NewToken
	LoginResult         = identity.LoginResult
	TOTPSetup           = identity.TOTPSetup
	TOTPInfo            = identity.TOTPInfo
	SecretQuestionsInfo = identity.SecretQuestionsInfo
	SecretAnswersInput  = identity.SecretAnswersInput
)

const (
	DefaultTokenTTL    = identity.DefaultTokenTTL
	MaxTokenTTL        = identity.MaxTokenTTL
	SecondFactorEnroll = identity.SecondFactorEnroll
	TOTPPeriod         = identity.TOTPPeriod
)

// LoginThrottleKeys are the throttle keys of a login attempt
// (identity.LoginThrottleKeys).
func LoginThrottleKeys(login, remote string) []string {
	return identity.LoginThrottleKeys(login, remote)
}

// TOTPCode is the authenticator app's code for secret at t (identity.TOTPCode).
func TOTPCode(secret string, t time.Time) (string, error) { return identity.TOTPCode(secret, t) }

// PKI (internal/service/pki).
type (
	IssueInput  = pki.IssueInput
	IssueResult = pki.IssueResult
	CAInfo      = pki.CAInfo
)

// Documents (internal/service/documents).
type (
	DocumentView  = documents.DocumentView
	UploadView    = documents.UploadView
	DecisionView  = documents.DecisionView
	UploadInput   = documents.UploadInput
	RequestForm   = documents.RequestForm
	DocumentEvent = documents.DocumentEvent
)

// MaxDocumentSize bounds an uploaded document (documents.MaxDocumentSize).
const MaxDocumentSize = documents.MaxDocumentSize

// Workstations (internal/service/workstations).
type (
	PairConfirm      = workstations.PairConfirm
	AirCardCode      = workstations.AirCardCode
	AirCardCodeInput = workstations.AirCardCodeInput
	AirCardComputer  = workstations.AirCardComputer
)

// HashAirCardCode is what the store keeps of a connection code
// (workstations.HashAirCardCode).
func HashAirCardCode(code string) string { return workstations.HashAirCardCode(code) }

// Card workflows (internal/service/cardops).
type (
	CardTarget          = cardops.CardTarget
	IssueOptionsResult  = cardops.IssueOptionsResult
	IssueCardInput      = cardops.IssueCardInput
	IssueCardResult     = cardops.IssueCardResult
	ContinueInput       = cardops.ContinueInput
	ClearInput          = cardops.ClearInput
	IssuedPIN           = cardops.IssuedPIN
	ShowIssuedPINInput  = cardops.ShowIssuedPINInput
	ShownPIN            = cardops.ShownPIN
	MailIssuePINInput   = cardops.MailIssuePINInput
	MailIssuePINResult  = cardops.MailIssuePINResult
	CardView            = cardops.CardView
	CardCertificate     = cardops.CardCertificate
	ConnectedCard       = cardops.ConnectedCard
	RegisterCardInput   = cardops.RegisterCardInput
	PINSetupInput       = cardops.PINSetupInput
	SoftwareStoreOption = cardops.SoftwareStoreOption
	SoftwareStoreInput  = cardops.SoftwareStoreInput
	SoftwareStoreResult = cardops.SoftwareStoreResult
	SoftwareStoreFile   = cardops.SoftwareStoreFile
	SoftwareStoredRec   = cardops.SoftwareStoredRec
	VirtualOption       = cardops.VirtualOption
	CreateVirtualInput  = cardops.CreateVirtualInput
	CardIssueEvent      = cardops.CardIssueEvent
)

const (
	OperationIdleLimit = cardops.OperationIdleLimit
	OwnerPINWindow     = cardops.OwnerPINWindow
	PINMailWindow      = cardops.PINMailWindow
	PINMailToMe        = cardops.PINMailToMe
	PINMailToManager   = cardops.PINMailToManager
)

// VirtualKinds are the virtual card kinds (cardops.VirtualKinds).
var VirtualKinds = cardops.VirtualKinds

// CardPUKAAD binds a sealed card PUK to its card (cardops.CardPUKAAD).
func CardPUKAAD(cardID int64) []byte { return cardops.CardPUKAAD(cardID) }

// DefaultCardOperations is how many card operations run at once by
// default (cardops.DefaultCardOperations).
func DefaultCardOperations() int { return cardops.DefaultCardOperations() }

// The card-access port is the domain's (lanyard.CardAccess); these aliases
// keep the service's names until the card workflows move to their own
// package.
type (
	CardAccess           = lanyard.CardAccess
	CardSession          = lanyard.CardSession
	WorkstationState     = lanyard.WorkstationState
	ReaderState          = lanyard.Reader
	TPMState             = lanyard.TPMState
	SoftwareKey          = lanyard.SoftwareKey
	SoftwareStoreRequest = lanyard.SoftwareStoreRequest
	SoftwareStored       = lanyard.SoftwareStored
)

// Software store scopes (lanyard.ScopeMachine, lanyard.ScopeUser).
const (
	ScopeMachine = lanyard.ScopeMachine
	ScopeUser    = lanyard.ScopeUser
)
