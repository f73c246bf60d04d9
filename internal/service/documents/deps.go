package documents

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Catalog is what documents reads of the catalog (catalog.Catalog
// implements it): a template's display name and CA for the forms, and the
// policy's documents channel.
type Catalog interface {
	Template(tx lanyard.TemplateStore, name string) (*lanyard.Template, error)
	PolicyFor(tx lanyard.PolicyStore, u *lanyard.User) (*lanyard.Policy, error)
}

// CardIssues is what documents reads of card issues, whose records only
// the card code parses. Every method runs in the caller's transaction.
type CardIssues interface {
	// UnfinishedIssue is the card's unfinished issue operation (nil:
	// none).
	UnfinishedIssue(tx lanyard.Tx, cardID int64) (*lanyard.Operation, error)
	// IssueRecord is what an issue operation recorded by slot: the CA
	// requests it made and the serials of the certificates it wrote.
	IssueRecord(op *lanyard.Operation) (requests map[string]int64, certs map[string]string, err error)
	// CardRequest is the unfinished card issue that CA request r is
	// for, and that issue's plan for the request's slot; op is nil for a
	// request made through the certificate API and for one whose issue
	// no longer waits for it.
	CardRequest(tx lanyard.Tx, r *lanyard.CertRequest) (op *lanyard.Operation, slot *issuance.SlotPlan, err error)
}

// Notifier sends the document e-mails (service.Notifier, internal/notify's
// outbox, implements it).
type Notifier interface {
	Document(ctx context.Context, to []string, ev DocumentEvent) error
}

// DocumentEvent is what a document notification says.
type DocumentEvent struct {
	Kind        string // "uploaded", "received" (by other means; Comment says how), "approved" or "rejected"
	User        *lanyard.User
	Card        *lanyard.Card
	DocKind     string // "certificate_request" or "certificate_form"
	Template    string
	Comment     string
	FileName    string
	By          string // the login that recorded a receipt
	ContentType string
	Content     []byte // the uploaded file, attached to "uploaded" mails
}

// Config holds the documents capability's dependencies. All are required
// except Log, BaseURL and Notifier.
type Config struct {
	Store lanyard.Store
	// CAs are the running CAs, in configuration order: an uploaded CMS
	// signature's certificate must chain to one of them.
	CAs      []ca.CA
	Now      func() time.Time
	Log      *slog.Logger
	BaseURL  string   // names the organization on the forms
	Notifier Notifier // nil: no e-mails
	Catalog  Catalog
	Cards    CardIssues
}

// Documents implements the documents check's operations.
type Documents struct {
	rec      lanyard.Recorder // store, clock and audit events
	cas      []ca.CA
	log      *slog.Logger
	baseURL  string
	notifier Notifier
	catalog  Catalog
	cards    CardIssues
}

// New checks cfg and returns a Documents.
func New(cfg Config) (*Documents, error) {
	if cfg.Store == nil || len(cfg.CAs) == 0 || cfg.Now == nil || cfg.Catalog == nil || cfg.Cards == nil {
		return nil, errors.New("documents: Store, CAs, Now, Catalog and Cards are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Documents{rec: lanyard.Recorder{Store: cfg.Store, Now: cfg.Now}, cas: cfg.CAs, log: cfg.Log, baseURL: cfg.BaseURL,
		notifier: cfg.Notifier, catalog: cfg.Catalog, cards: cfg.Cards}, nil
}

// DocumentOfficerEmails returns the addresses of the enabled users who
// hold the document officer role and have an e-mail address: the
// recipients of "document uploaded".
func (s *Documents) DocumentOfficerEmails(ctx context.Context) ([]string, error) {
	var users []*lanyard.User
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		users, err = tx.ListUsers(lanyard.UserFilter{Role: lanyard.RoleDocumentOfficer})
		return
	}); err != nil {
		return nil, err
	}
	var to []string
	for _, u := range users {
		if !u.Disabled && u.Email != "" {
			to = append(to, u.Email)
		}
	}
	return to, nil
}
