package cardops

// The card workflows' dependencies: the other capabilities reach cardops
// only through the small interfaces declared here, each holding just the
// methods the workflows call; the composition root (internal/service,
// which servicetest builds on) wires the concrete catalog, pki,
// documents, identity and workstations into Config.

import (
	"context"
	"crypto"
	"crypto/x509"
	"io"
	"log/slog"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
	"github.com/lanyard-cms/lanyard/internal/seal"
)

// Catalog is what the card workflows read of the catalog (catalog.Catalog
// implements it): card types, their secrets, templates, the policy
// that applies to a user and the feature switches of virtual cards.
type Catalog interface {
	GetCardType(ctx context.Context, name string) (*lanyard.CardType, error)
	CardTypeSecrets(c *lanyard.CardType) (*lanyard.CardTypeSecrets, error)
	GetTemplate(ctx context.Context, name string) (*lanyard.Template, error)
	Template(tx lanyard.TemplateStore, name string) (*lanyard.Template, error)
	PolicyFor(tx lanyard.PolicyStore, u *lanyard.User) (*lanyard.Policy, error)
	ReadFeatures(tx lanyard.SettingStore) (lanyard.Features, error)
}

// PKI is what the card workflows need of the certificate capability
// (pki.PKI implements it).
type PKI interface {
	// RevokeCertificates revokes, in tx, those of certs that revoke
	// selects, re-signs the CRLs concerned and returns the serials
	// revoked.
	RevokeCertificates(ctx context.Context, tx lanyard.Tx, certs []*lanyard.Certificate, revoke func(*lanyard.Certificate) bool) ([]string, error)
	// RevokeCertificatesFor is RevokeCertificates with the RFC 5280
	// reason given (Revoke card).
	RevokeCertificatesFor(ctx context.Context, tx lanyard.Tx, certs []*lanyard.Certificate, reason lanyard.RevocationReason,
		revoke func(*lanyard.Certificate) bool) ([]string, error)
	// HoldCertificates puts on hold (or takes off hold) those of certs
	// that sel selects, in tx, and re-signs the CRLs concerned
	// (Disable and Enable card).
	HoldCertificates(ctx context.Context, tx lanyard.Tx, certs []*lanyard.Certificate, hold bool, sel func(*lanyard.Certificate) bool) ([]string, error)
}

// Documents is what the card workflows need of the documents check
// (documents.Documents implements it).
type Documents interface {
	RequireDocuments(tx lanyard.Tx, card *lanyard.Card, user *lanyard.User, slot, template string, kinds ...lanyard.DocumentKind) error
	LatestDocument(tx lanyard.Tx, cardID int64, slot string, kind lanyard.DocumentKind) (*lanyard.Document, error)
	RequestFormRequired(tx lanyard.Tx, r *lanyard.CertRequest, p *lanyard.Principal) error
}

// SecondFactor checks a person's password and second factor before a
// PIN setup (identity.Identity implements it).
type SecondFactor interface {
	VerifySecondFactor(ctx context.Context, p *lanyard.Principal, password, code string) error
}

// SecretAnswers checks a user's answers to their secret questions
// (identity.Identity, through the composition root): an error when they
// do not match, without saying which. p is who gives them — the user, or
// an operator reading them over the phone — for the throttle (p's
// address) and the audit log (p named when it is not the user).
type SecretAnswers interface {
	CheckSecretAnswers(ctx context.Context, p *lanyard.Principal, userID int64, answers []SecretAnswer) error
}

// SecretAnswer is an answer given to one of a user's secret questions.
type SecretAnswer struct {
	Question string
	Answer   string
}

// AirCards is what the card workflows read of the AirCards a workstation
// may use (workstations.Workstations implements it).
type AirCards interface {
	AirCardOwned(ctx context.Context, p *lanyard.Principal, r lanyard.Reader) bool
	AirCardsOf(tx lanyard.CardStore, types []*lanyard.CardType, p *lanyard.Principal) (map[string]*lanyard.Card, error)
	AirCardBySerial(tx interface {
		lanyard.CardTypeStore
		lanyard.CardStore
	}, serial string) (*lanyard.Card, error)
}

// KeyArchive is key archival (archive.Archive, through the composition
// root) as card issue uses it for a template with archive key: a key pair
// made and archived on the server, the certificate bound to its archived
// key in the issue step's transaction (no event of its own: cert.issue
// names the key), and the key of an interrupted attempt discarded.
type KeyArchive interface {
	GenerateArchived(ctx context.Context, p *lanyard.Principal, ownerID, cardID int64, tpl *lanyard.Template, alg lanyard.KeyAlgorithm) (*lanyard.ArchivedKey, crypto.Signer, error)
	CertifyTx(tx lanyard.Tx, id int64, cert *x509.Certificate) (*lanyard.ArchivedKey, bool, error)
	Discard(ctx context.Context, p *lanyard.Principal, id int64) error
	// DiscardTx is Discard in the caller's transaction (a rejected or
	// withdrawn CA request), extra going into its key.discard event.
	DiscardTx(tx lanyard.Tx, p *lanyard.Principal, id int64, extra map[string]any) error
	// DiscardUnusedTx discards archived key id, pending or active with
	// certificate serial: the key of a cancelled or failed update that
	// never reached the card, whose certificate tx revokes.
	DiscardUnusedTx(tx lanyard.Tx, p *lanyard.Principal, id int64, serial string, extra map[string]any) error
	// OpenTx opens archived key id in tx: an update imports a new
	// archived key only once its certificate is to be written.
	OpenTx(tx lanyard.Tx, id int64) (*lanyard.ArchivedKey, crypto.Signer, error)
	// RecertifyTx moves active archived key id to cert, a newer
	// certificate of the same key (a reuse-key update), in tx.
	RecertifyTx(tx lanyard.Tx, id int64, cert *x509.Certificate) (*lanyard.ArchivedKey, string, error)
	// Recovery onto the owner's card (issuehistory.go).
	OpenForCardTx(tx lanyard.Tx, ownerID int64, ids []int64) ([]RecoveredKey, error)
	NotifyOntoCardTx(tx lanyard.Tx, p *lanyard.Principal, owner *lanyard.User, card *lanyard.Card, keys []*lanyard.ArchivedKey) (bool, error)
	Wake(queued bool)
	RequestsForCardTx(tx lanyard.Tx, p *lanyard.Principal, ownerID int64, ids []int64, consume bool) ([]int64, error)
}

// Notifier sends the e-mails of the card workflows (internal/notify's
// outbox implements it; the methods are those of service.Notifier).
type Notifier interface {
	RandomPIN(ctx context.Context, to []string, user *lanyard.User, card *lanyard.Card, pin string) error
	QueueRandomPIN(tx lanyard.Tx, to []string, user *lanyard.User, card *lanyard.Card, pin string) (mailID int64, err error)
	Wake()
	CardIssue(ctx context.Context, to []string, ev CardIssueEvent) error
	CardState(ctx context.Context, to []string, ev CardStateEvent) error
}

// CardStateEvent is what a card disabled, enabled, revoked, PIN reset or
// offline unblock notification says.
type CardStateEvent struct {
	// "disabled", "enabled", "revoked", "replaced", "pin_reset",
	// "offline_unblock", "updated", "update_pending" or "update_cancelled"
	Kind   string
	User   *lanyard.User
	Card   *lanyard.Card
	Reason string // why a revoked card was revoked
	By     string // the login of who did it
	// Detail says more where the kind needs it: for "replaced", the
	// replacing card and the kind of replacement.
	Detail string
}

// CardIssueEvent is what a card issue notification says.
type CardIssueEvent struct {
	Kind     string // "pending", "approved", "rejected", "update_approved" or "update_rejected"
	User     *lanyard.User
	Card     *lanyard.Card
	Template string // the certificate concerned, when one is
	Comment  string // the approver's comment on a rejection
}

// Config holds the card workflows' dependencies. All are required except
// Log, Cards, CardOperations, Notifier and SecretAnswers.
type Config struct {
	Store  lanyard.Store
	Sealer seal.Sealer // PUKs, PIN copies, the admin-key master secret
	// CAs are the configured CAs in order: the first is the default for
	// templates that name none.
	CAs  []ca.CA
	Now  func() time.Time
	Rand io.Reader
	Log  *slog.Logger
	// Cards reaches the cards in workstations' readers; nil: none.
	Cards lanyard.CardAccess
	// CardOperations is how many card operations run at once (0:
	// DefaultCardOperations); the others wait (slots.go).
	CardOperations int
	// Notifier mails random PINs and issue news; nil: none are sent.
	Notifier Notifier
	// Runner runs the resumable issue operations (operation.New on
	// Store and the store-truncated clock, lanyard.Recorder.Clock).
	Runner        *operation.Runner
	Catalog       Catalog
	PKI           PKI
	Documents     Documents
	SecondFactor  SecondFactor
	SecretAnswers SecretAnswers
	AirCards      AirCards
	KeyArchive    KeyArchive
}
