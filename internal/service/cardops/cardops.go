// Package cardops is the capability of the card workflows: issuing a
// card (and continuing an interrupted or pending issue), revoking and
// clearing it, setting up its PIN, replacing a card type's shared PUK
// with the card's own, software certificate stores, virtual cards, the
// card list and the cards connected to a workstation. It reaches cards
// through the card-access port (lanyard.CardAccess: the agent hub or a
// test's emulators) and the other capabilities through the interfaces it
// declares in deps.go, never their packages; it is the only reader of a card issue's record
// (issueData), which the CA queue and the documents check ask about
// through RequestHook and CardIssues.
package cardops

import (
	"errors"
	"io"
	"log/slog"

	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/operation"
	"github.com/lanyard-cms/lanyard/internal/seal"
)

// Cards implements the card workflows.
type Cards struct {
	store   lanyard.Store
	rec     lanyard.Recorder // the clock, audit events, transactions
	sealer  seal.Sealer
	cas     map[string]ca.CA
	caOrder []string
	rand    io.Reader
	log     *slog.Logger

	cards     lanyard.CardAccess // nil: none
	cardSlots cardSlots          // admission of card operations (slots.go)
	runner    *operation.Runner
	notifier  Notifier

	catalog       Catalog
	pki           PKI
	documents     Documents
	secondFactor  SecondFactor
	secretAnswers SecretAnswers
	airCards      AirCards
	archive       KeyArchive

	pinReports pinReportLimit // PIN status changes taken per workstation (agentreports.go)
	auto       *autoUpdates   // the automatic update on connect (updateauto.go)
}

// New checks cfg and returns the card workflows.
func New(cfg Config) (*Cards, error) {
	if cfg.Store == nil || cfg.Sealer == nil || len(cfg.CAs) == 0 || cfg.Now == nil || cfg.Rand == nil ||
		cfg.Runner == nil || cfg.Catalog == nil || cfg.PKI == nil || cfg.Documents == nil || cfg.SecondFactor == nil || cfg.SecretAnswers == nil || cfg.AirCards == nil || cfg.KeyArchive == nil {
		return nil, errors.New("cardops: Store, Sealer, CAs, Now, Rand, Runner, Catalog, PKI, Documents, SecondFactor, SecretAnswers, AirCards and KeyArchive are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Cards{
		store: cfg.Store, rec: lanyard.Recorder{Store: cfg.Store, Now: cfg.Now}, sealer: cfg.Sealer, cas: map[string]ca.CA{},
		rand: cfg.Rand, log: cfg.Log, cards: cfg.Cards, cardSlots: newCardSlots(cfg.CardOperations), runner: cfg.Runner, notifier: cfg.Notifier,
		catalog: cfg.Catalog, pki: cfg.PKI, documents: cfg.Documents, secondFactor: cfg.SecondFactor, secretAnswers: cfg.SecretAnswers, airCards: cfg.AirCards,
		archive: cfg.KeyArchive, auto: newAutoUpdates(),
	}
	for _, c := range cfg.CAs {
		s.cas[c.Name()] = c
		s.caOrder = append(s.caOrder, c.Name())
	}
	return s, nil
}

// cardAccess is the card access New was given (Config.Cards), or nil.
func (s *Cards) cardAccess() lanyard.CardAccess { return s.cards }
