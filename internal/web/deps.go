package web

import (
	"context"
	"crypto/x509"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/audit"
	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/catalog"
	"github.com/lanyard-cms/lanyard/internal/service/documents"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/service/pki"
	"github.com/lanyard-cms/lanyard/internal/service/workstations"
)

// The web server's dependencies, declared here where they are consumed:
// each is only the methods the handlers call, so a handler test may use a
// small fake where a real stack adds nothing. The capability packages of
// internal/service, the audit log and the store satisfy them; web imports
// only their types, never the composition root.

// Notifications is the administration of e-mail notifications
// (internal/notify implements it; the web layer serves it to
// administrators): SMTP settings, the editable templates, a test e-mail
// and the outbox. Role checks happen at the edge; p attributes the audit
// event of each change.
type Notifications interface {
	MailSettings(ctx context.Context) (*apiv1.MailSettings, error)
	PutMailSettings(ctx context.Context, p *lanyard.Principal, in apiv1.MailSettingsInput) (*apiv1.MailSettings, error)
	MailTemplates(ctx context.Context) ([]*apiv1.MailTemplate, error)
	// PutMailTemplate replaces the template of one kind after parsing and
	// trying it on sample data; an empty input restores the default.
	PutMailTemplate(ctx context.Context, p *lanyard.Principal, kind string, in apiv1.MailTemplateInput) (*apiv1.MailTemplate, error)
	// SendTestMail queues the test e-mail to one address.
	SendTestMail(ctx context.Context, p *lanyard.Principal, to string) (*lanyard.MailMessage, error)
	ListMail(ctx context.Context, f lanyard.MailFilter) ([]*lanyard.MailMessage, error)
	// RetryMail queues a failed message again with fresh attempts.
	RetryMail(ctx context.Context, p *lanyard.Principal, id int64) (*lanyard.MailMessage, error)
}

// Identity is what the handlers use of the identity capability (internal/service/identity).
type Identity interface {
	MySecretQuestions(ctx context.Context, p *lanyard.Principal) (*identity.SecretQuestionsInfo, error)
	SetMySecretAnswers(ctx context.Context, p *lanyard.Principal, in identity.SecretAnswersInput) (*identity.SecretQuestionsInfo, error)
	Login(ctx context.Context, login, password, remote string) (*identity.LoginResult, error)
	CompleteLogin(ctx context.Context, challengeID, code, remote string) (*identity.LoginResult, error)
	LoginEnrollment(ctx context.Context, challengeID string) (*identity.TOTPSetup, error)
	// CardLogin and CompleteLoginCard sign in with the card certificate
	// chain of the TLS connection (cardlogin.go).
	CardLogin(ctx context.Context, chain []*x509.Certificate, remote string) (*identity.LoginResult, error)
	CompleteLoginCard(ctx context.Context, challengeID string, chain []*x509.Certificate, remote string) (*identity.LoginResult, error)
	AuthenticateSession(ctx context.Context, sessionID, remote string) (*lanyard.Principal, *lanyard.Session, error)
	Logout(ctx context.Context, p *lanyard.Principal, sessionID string) error
	// LoginThrottle is the service's throttle: the login form and the
	// second-factor step-up count password failures together.
	LoginThrottle() *auth.Throttle
	TokenSettings(ctx context.Context) (identity.TokenSettings, error)
	PutTokenSettings(ctx context.Context, p *lanyard.Principal, in identity.TokenSettings) (identity.TokenSettings, error)
	CreateToken(ctx context.Context, p *lanyard.Principal, in identity.TokenInput) (*identity.NewToken, error)
	ListTokens(ctx context.Context, p *lanyard.Principal, all bool) ([]*lanyard.APIToken, error)
	RevokeToken(ctx context.Context, p *lanyard.Principal, id int64) error
	AuthenticateToken(ctx context.Context, secret, remote string) (*lanyard.Principal, error)
	BeginTOTPEnrollment(ctx context.Context, p *lanyard.Principal) (*identity.TOTPSetup, error)
	PendingTOTPSetup(ctx context.Context, p *lanyard.Principal) (*identity.TOTPSetup, error)
	ConfirmTOTP(ctx context.Context, p *lanyard.Principal, code string) (*identity.TOTPInfo, error)
	ResetTOTP(ctx context.Context, p *lanyard.Principal, login string) error
	RemoveTOTP(ctx context.Context, p *lanyard.Principal, login, code string) error
	TOTPStatus(ctx context.Context, p *lanyard.Principal, login string) (*identity.TOTPInfo, error)
	CreateUser(ctx context.Context, p *lanyard.Principal, in identity.UserInput) (*lanyard.User, error)
	UpdateUser(ctx context.Context, p *lanyard.Principal, login string, in identity.UserInput) (*lanyard.User, error)
	GetUser(ctx context.Context, p *lanyard.Principal, login string) (*lanyard.User, error)
	ListUsers(ctx context.Context, f lanyard.UserFilter) ([]*lanyard.User, error)
	UserLogins(ctx context.Context, ids []int64) (map[int64]string, error)
	// Secret answers: the help desk's view and actions (secretadmin.go),
	// and Remote Self-Service (rss.go).
	SecretAnswersStatusOf(ctx context.Context, p *lanyard.Principal, login string) (*identity.SecretAnswersStatus, error)
	ResetSecretAnswers(ctx context.Context, p *lanyard.Principal, login string) (*identity.SecretAnswersStatus, error)
	UnlockSecretAnswers(ctx context.Context, p *lanyard.Principal, login string) (*identity.SecretAnswersStatus, error)
	RSSQuestionsFor(ctx context.Context, login string) (*identity.RSSQuestions, error)
	RSSSignIn(ctx context.Context, in identity.RSSSignInInput) (*identity.RSSSignInResult, error)
	AuthenticateRSS(ctx context.Context, sessionID, remote string) (*lanyard.Principal, *lanyard.Session, error)
	EndRSS(ctx context.Context, p *lanyard.Principal, sessionID string) error
}

// Catalog is what the handlers use of the catalog capability (internal/service/catalog).
type Catalog interface {
	CreateCardType(ctx context.Context, p *lanyard.Principal, in catalog.CardTypeInput) (*lanyard.CardType, error)
	UpdateCardType(ctx context.Context, p *lanyard.Principal, name string, in catalog.CardTypeInput) (*lanyard.CardType, error)
	GetCardType(ctx context.Context, name string) (*lanyard.CardType, error)
	ListCardTypes(ctx context.Context) ([]*lanyard.CardType, error)
	DeleteCardType(ctx context.Context, p *lanyard.Principal, name string) error
	Features(ctx context.Context) (lanyard.Features, error)
	PutFeatures(ctx context.Context, p *lanyard.Principal, f lanyard.Features) (lanyard.Features, error)
	CreatePolicy(ctx context.Context, pr *lanyard.Principal, p *catalog.PolicyInput) (*lanyard.Policy, error)
	UpdatePolicy(ctx context.Context, pr *lanyard.Principal, name string, p *catalog.PolicyInput) (*lanyard.Policy, error)
	GetPolicy(ctx context.Context, name string) (*lanyard.Policy, error)
	ListPolicies(ctx context.Context) ([]*lanyard.Policy, error)
	DeletePolicy(ctx context.Context, pr *lanyard.Principal, name string) error
	EffectivePolicy(ctx context.Context, pr *lanyard.Principal, login string) (*lanyard.Policy, error)
	CreateTemplate(ctx context.Context, p *lanyard.Principal, t lanyard.Template) (*lanyard.Template, error)
	UpdateTemplate(ctx context.Context, p *lanyard.Principal, name string, t lanyard.Template) (*lanyard.Template, error)
	GetTemplate(ctx context.Context, name string) (*lanyard.Template, error)
	ListTemplates(ctx context.Context) ([]*lanyard.Template, error)
	DeleteTemplate(ctx context.Context, p *lanyard.Principal, name string) error
}

// PKI is what the handlers use of the pki capability (internal/service/pki).
type PKI interface {
	ListCAs(ctx context.Context) ([]*pki.CAInfo, error)
	GetCA(ctx context.Context, name string) (*pki.CAInfo, error)
	CACertificate(ctx context.Context, name string) ([]byte, error)
	GetCertificate(ctx context.Context, p *lanyard.Principal, caName, serial string) (*lanyard.Certificate, string, error)
	ListCertificates(ctx context.Context, p *lanyard.Principal, f lanyard.CertFilter) ([]*lanyard.Certificate, error)
	Issue(ctx context.Context, p *lanyard.Principal, in pki.IssueInput) (*pki.IssueResult, error)
	ListRequests(ctx context.Context, status lanyard.RequestStatus) ([]*lanyard.CertRequest, error)
	ApproveRequest(ctx context.Context, p *lanyard.Principal, id int64, comment string) (*pki.IssueResult, error)
	RejectRequest(ctx context.Context, p *lanyard.Principal, id int64, comment string) (*lanyard.CertRequest, error)
	Revoke(ctx context.Context, p *lanyard.Principal, caName, serial string, reason lanyard.RevocationReason) (*lanyard.Certificate, error)
	CRL(ctx context.Context, caName string) ([]byte, error)
	OCSP(ctx context.Context, req []byte) ([]byte, error)
}

// Documents is what the handlers use of the documents capability (internal/service/documents).
type Documents interface {
	CardDocuments(ctx context.Context, p *lanyard.Principal, cardID int64) ([]*documents.DocumentView, error)
	GetDocument(ctx context.Context, p *lanyard.Principal, id int64) (*documents.DocumentView, error)
	ListDocuments(ctx context.Context, p *lanyard.Principal, f lanyard.DocumentFilter) ([]*documents.DocumentView, error)
	DocumentForm(ctx context.Context, p *lanyard.Principal, id int64) (pdf []byte, fileName string, err error)
	CardDocumentForm(ctx context.Context, p *lanyard.Principal, cardID int64, slot string, kind lanyard.DocumentKind) ([]byte, string, error)
	RecordReceipt(ctx context.Context, p *lanyard.Principal, id int64, note string) (*documents.DocumentView, error)
	RequestForms(ctx context.Context, ids []int64) (map[int64]*documents.RequestForm, error)
	DecideDocument(ctx context.Context, p *lanyard.Principal, id int64, approve bool, comment string) (*documents.DocumentView, error)
	UploadDocument(ctx context.Context, p *lanyard.Principal, id int64, in documents.UploadInput) (*documents.DocumentView, error)
	DocumentFile(ctx context.Context, p *lanyard.Principal, id int64, version int) (*lanyard.DocumentUpload, error)
}

// Workstations is what the handlers use of the workstations capability (internal/service/workstations).
type Workstations interface {
	AirCardComputers(ctx context.Context, p *lanyard.Principal, cardID int64) ([]workstations.AirCardComputer, error)
	RemoveAirCardComputer(ctx context.Context, p *lanyard.Principal, cardID, wsID int64) error
	CreateAirCardCode(ctx context.Context, p *lanyard.Principal, cardID int64, in workstations.AirCardCodeInput) (*workstations.AirCardCode, error)
	ConfirmPairing(ctx context.Context, p *lanyard.Principal, in workstations.PairConfirm) (*lanyard.Workstation, error)
	ListWorkstations(ctx context.Context, p *lanyard.Principal, f lanyard.WorkstationFilter) ([]*lanyard.Workstation, error)
	GetWorkstation(ctx context.Context, p *lanyard.Principal, id int64) (*lanyard.Workstation, error)
	RevokeWorkstation(ctx context.Context, p *lanyard.Principal, id int64) (*lanyard.Workstation, error)
}

// Cards is what the handlers use of the card workflows (internal/service/cardops).
type Cards interface {
	ListCards(ctx context.Context, p *lanyard.Principal, f lanyard.CardFilter) ([]*cardops.CardView, error)
	// ContentStatusCounts counts every card by content status (staff,
	// auditors; p nil: the server itself, for /metrics).
	ContentStatusCounts(ctx context.Context, p *lanyard.Principal) (map[lanyard.ContentStatus]int, error)
	// RemoteSelfServiceCards lists a Remote Self-Service caller's cards.
	RemoteSelfServiceCards(ctx context.Context, p *lanyard.Principal) ([]*cardops.RSSCard, error)
	GetCard(ctx context.Context, p *lanyard.Principal, id int64) (*cardops.CardView, error)
	RegisterCard(ctx context.Context, p *lanyard.Principal, in cardops.RegisterCardInput) (*lanyard.Card, error)
	ConnectedCards(ctx context.Context, p *lanyard.Principal, own bool) ([]*cardops.ConnectedCard, error)
	IssueOptions(ctx context.Context, p *lanyard.Principal, t cardops.CardTarget) (*cardops.IssueOptionsResult, error)
	IssueCard(ctx context.Context, p *lanyard.Principal, in cardops.IssueCardInput) (*cardops.IssueCardResult, error)
	ContinueCardIssue(ctx context.Context, p *lanyard.Principal, cardID int64, in cardops.ContinueInput) (*cardops.IssueCardResult, error)
	RevokeAndClearCard(ctx context.Context, p *lanyard.Principal, cardID int64, in cardops.ClearInput) (*cardops.CardView, error)
	DisableCard(ctx context.Context, p *lanyard.Principal, cardID int64) (*cardops.CardView, error)
	EnableCard(ctx context.Context, p *lanyard.Principal, cardID int64) (*cardops.CardView, error)
	RevokeCard(ctx context.Context, p *lanyard.Principal, cardID int64, in cardops.RevokeCardInput) (*cardops.CardView, error)
	ReplaceCard(ctx context.Context, p *lanyard.Principal, cardID int64, in cardops.ReplaceCardInput) (*cardops.ReplaceCardResult, error)
	RecoverKeysOntoCard(ctx context.Context, p *lanyard.Principal, cardID int64, in cardops.RecoverKeysInput) (*cardops.RecoverKeysResult, error)
	ResolveReplacement(ctx context.Context, p *lanyard.Principal, cardID int64, in cardops.ResolveReplacementInput) (*cardops.ResolveReplacementResult, error)
	// Update card contents (docs/lifecycle.md, "Update card contents").
	UpdateOptions(ctx context.Context, p *lanyard.Principal, t cardops.CardTarget, cardID int64) (*cardops.UpdateOptionsResult, error)
	UpdateCard(ctx context.Context, p *lanyard.Principal, in cardops.UpdateCardInput) (*cardops.UpdateCardResult, error)
	ContinueCardUpdate(ctx context.Context, p *lanyard.Principal, cardID int64, t cardops.CardTarget) (*cardops.UpdateCardResult, error)
	CancelCardUpdate(ctx context.Context, p *lanyard.Principal, cardID int64, in cardops.CancelUpdateInput) (*cardops.CardView, error)
	WithdrawCard(ctx context.Context, p *lanyard.Principal, cardID int64, in cardops.WithdrawCardInput) (*cardops.CardView, error)
	IssuedPINs(ctx context.Context, p *lanyard.Principal) ([]*cardops.IssuedPIN, error)
	ShowIssuedPIN(ctx context.Context, p *lanyard.Principal, cardID int64, in cardops.ShowIssuedPINInput) (*cardops.ShownPIN, error)
	MailIssuePIN(ctx context.Context, p *lanyard.Principal, cardID int64, in cardops.MailIssuePINInput) (*cardops.MailIssuePINResult, error)
	SetupPIN(ctx context.Context, p *lanyard.Principal, cardID int64, in cardops.PINSetupInput) (*cardops.CardView, error)
	ChangePIN(ctx context.Context, p *lanyard.Principal, cardID int64, in cardops.ChangePINInput) (*cardops.CardView, error)
	ResetPIN(ctx context.Context, p *lanyard.Principal, cardID int64, in cardops.ResetPINInput) (*cardops.ResetPINResult, error)
	VirtualOptions(ctx context.Context, p *lanyard.Principal, login string) ([]cardops.VirtualOption, error)
	CreateVirtualCard(ctx context.Context, p *lanyard.Principal, in cardops.CreateVirtualInput) (*cardops.ConnectedCard, error)
	SoftwareStoreOptions(ctx context.Context, p *lanyard.Principal, login string) ([]cardops.SoftwareStoreOption, error)
	IssueSoftwareStore(ctx context.Context, p *lanyard.Principal, in cardops.SoftwareStoreInput) (*cardops.SoftwareStoreResult, error)
	ReissueSoftwareStore(ctx context.Context, p *lanyard.Principal, cardID int64, in cardops.StoreReissueInput) (*cardops.StoreReissueResult, error)
	OfflineUnblock(ctx context.Context, p *lanyard.Principal, cardID int64, in cardops.OfflineUnblockInput) (*cardops.OfflineUnblockResult, error)
}

// AuditLog is the audit log the auditors read and verify (internal/audit.Log).
type AuditLog interface {
	ListAudit(ctx context.Context, f lanyard.AuditFilter) ([]*lanyard.AuditEvent, error)
	VerifyAudit(ctx context.Context) (audit.Report, error)
}

// Ready is what /readyz asks of the store (lanyard.Store satisfies it):
// that the database answers, and which engine it is.
type Ready interface {
	Ping(ctx context.Context) error
	Engine() string
}
