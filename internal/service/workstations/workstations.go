// Package workstations is the capability that admits the computers
// Lanyard's agents run on: pairing (an agent asks, a person confirms the
// code both sides show, the machine CA certifies the agent's key), the
// list and revocation of workstations, the agent listener's own TLS
// certificate, the admission and liveness checks of agent connections,
// and the AirCards a workstation may use (connection codes, allowed
// computers). The agent hub calls it with domain types and converts them
// to and from the agent protocol's wire types itself (internal/agentproto);
// of the protocol, this package uses only the rules both sides compute: the
// pairing code, its normal form and hash, and the pairing poll's proof.
package workstations

import (
	"cmp"
	"context"
	"crypto/x509"
	"errors"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/ca"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Config holds the workstations capability's dependencies. All are
// required except Notifier and Agents.
type Config struct {
	Store lanyard.Store
	Now   func() time.Time
	Rand  io.Reader // the agent listener's keys
	// CAs are the configured CAs in order: the first that signs machine
	// certificates (ca.MachineSigner) certifies agents.
	CAs []ca.CA
	// PKI revokes a revoked workstation's certificate.
	PKI PKI
	// Notifier mails AirCard connection codes; nil: none are mailed.
	Notifier Notifier
	// Agents are the agents connected to this process; nil: none.
	Agents Agents
	// Throttles makes the throttles of wrong AirCard connection codes
	// and of pairing requests (the agent hub asks for it, Throttles):
	// shared by a cluster's replicas. nil: throttles in memory.
	Throttles *auth.Throttles
}

// PKI is what workstations needs of the certificate capability.
type PKI interface {
	// RevokeCertificates revokes, in tx, those of certs that revoke
	// selects, re-signs the CRLs concerned and returns the serials
	// revoked.
	RevokeCertificates(ctx context.Context, tx lanyard.Tx, certs []*lanyard.Certificate, revoke func(*lanyard.Certificate) bool) ([]string, error)
}

// Notifier sends an AirCard connection code to the card's owner
// (internal/notify's outbox implements it).
type Notifier interface {
	AirCardCode(ctx context.Context, to []string, user *lanyard.User, card *lanyard.Card, code string) error
}

// Agents is what workstations asks of the agents connected to this
// process (the agent hub's card access, lanyard.CardAccess).
type Agents interface {
	// WorkstationState returns workstation id's state if its agent is
	// connected here.
	WorkstationState(id int64) (lanyard.WorkstationState, bool)
	// AirCardsChanged tells the workstations' agents that the AirCards
	// they may use changed.
	AirCardsChanged(workstationIDs ...int64)
}

// Workstations implements the workstation and AirCard-computer
// operations.
type Workstations struct {
	rec      lanyard.Recorder // store, clock and audit events
	rand     io.Reader
	cas      []ca.CA
	pki      PKI
	notifier Notifier
	agents   Agents
	// joinThrottle: wrong AirCard connection codes (aircards.go).
	joinThrottle *auth.Throttle
	throttles    *auth.Throttles // Config.Throttles
	// pairWaiters: agents' pairing polls (pairwait.go).
	pairWaiters pairingWaiters
}

// New checks cfg and returns a Workstations.
func New(cfg Config) (*Workstations, error) {
	if cfg.Store == nil || cfg.Now == nil || cfg.Rand == nil || len(cfg.CAs) == 0 || cfg.PKI == nil {
		return nil, errors.New("workstations: Store, Now, Rand, CAs and PKI are required")
	}
	if cfg.Throttles == nil {
		ts, err := auth.NewThrottles(nil, nil, cfg.Now)
		if err != nil {
			return nil, err
		}
		cfg.Throttles = ts
	}
	join, err := cfg.Throttles.New("aircard-join", AirCardJoinLimits)
	if err != nil {
		return nil, err
	}
	return &Workstations{
		rec: lanyard.Recorder{Store: cfg.Store, Now: cfg.Now}, rand: cfg.Rand, cas: cfg.CAs, pki: cfg.PKI,
		notifier: cfg.Notifier, agents: cfg.Agents, joinThrottle: join, throttles: cfg.Throttles,
	}, nil
}

// Throttles makes the throttles of the workstations' unauthenticated
// requests: the agent hub makes its pairing-request throttle with it, so
// that it is shared by a cluster's replicas as the connection codes' is.
func (s *Workstations) Throttles() *auth.Throttles { return s.throttles }

// Workstation lifetimes.
const (
	// PairingTTL is how long a pairing code waits for its confirmation.
	PairingTTL = 15 * time.Minute
	// WorkstationCertValidity is the client certificate's lifetime.
	WorkstationCertValidity = 365 * 24 * time.Hour
	// workstationTemplate names workstation certificates in the
	// certificate list (they come from no template).
	workstationTemplate = "workstation"
)

// PairConfirm confirms a pairing code shown by an agent.
type PairConfirm struct {
	Code  string
	Owner string // login; staff only; default: the caller (users) or nobody (staff)
}

// WorkstationCommonName is the subject CN of a workstation's certificate.
func WorkstationCommonName(id int64) string {
	return "lanyard-workstation-" + strconv.FormatInt(id, 10)
}

// machineCA returns the CA that certifies machines: the first configured
// CA that can.
func (s *Workstations) machineCA() (ca.CA, ca.MachineSigner, error) {
	for _, c := range s.cas {
		if m, ok := c.(ca.MachineSigner); ok {
			return c, m, nil
		}
	}
	return nil, nil, lanyard.Errorf(lanyard.EUnavailable, "no configured CA issues machine certificates (the built-in CA does)")
}

// AgentRoot returns the root certificate of the CA that certifies
// machines: what agents pin and what their pairing codes bind.
func (s *Workstations) AgentRoot(ctx context.Context) (*x509.Certificate, error) {
	c, _, err := s.machineCA()
	if err != nil {
		return nil, err
	}
	chain, err := c.Chain(ctx)
	if err != nil {
		return nil, err
	}
	return chain[len(chain)-1], nil
}

// mayReadWorkstations: staff and auditors see every workstation, users
// their own.
func mayReadWorkstations(p *lanyard.Principal) bool {
	return p.Has(lanyard.RoleOperator, lanyard.RoleAdministrator, lanyard.RoleAuditor)
}

// ListWorkstations lists workstations; users see their own.
func (s *Workstations) ListWorkstations(ctx context.Context, p *lanyard.Principal, f lanyard.WorkstationFilter) ([]*lanyard.Workstation, error) {
	if !mayReadWorkstations(p) {
		f.OwnerID = p.User.ID
	}
	if f.Status != "" && !f.Status.Valid() {
		return nil, lanyard.Errorf(lanyard.EInvalid, "status %q: want pending, active or revoked", f.Status)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 100
	}
	var out []*lanyard.Workstation
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { out, err = tx.ListWorkstations(f); return })
	return out, err
}

// GetWorkstation returns one workstation; users only their own.
func (s *Workstations) GetWorkstation(ctx context.Context, p *lanyard.Principal, id int64) (*lanyard.Workstation, error) {
	var w *lanyard.Workstation
	if err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) { w, err = tx.WorkstationByID(id); return }); err != nil {
		return nil, err
	}
	if w.OwnerID != p.User.ID && !mayReadWorkstations(p) {
		return nil, lanyard.Errorf(lanyard.ENotFound, "workstation %d not found", id)
	}
	return w, nil
}

// RevokeWorkstation revokes a workstation and its certificate (with the
// CRL re-signed) in one transaction. Owners may revoke their own; staff
// any. The replica holding the agent's connection drops it when the
// change notice arrives (agenthub.Hub.Follow).
func (s *Workstations) RevokeWorkstation(ctx context.Context, p *lanyard.Principal, id int64) (*lanyard.Workstation, error) {
	var out *lanyard.Workstation
	err := s.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		w, err := tx.WorkstationByID(id)
		if err != nil {
			return err
		}
		if w.OwnerID != p.User.ID && !p.Has(lanyard.RoleOperator, lanyard.RoleAdministrator) {
			return lanyard.Errorf(lanyard.ENotFound, "workstation %d not found", id)
		}
		if w.Status == lanyard.WorkstationRevoked {
			return lanyard.Errorf(lanyard.EConflict, "workstation %d is already revoked", id)
		}
		if w.CertSerial != "" {
			authority, _, err := s.machineCA()
			if err != nil {
				return err
			}
			c, err := tx.CertificateBySerial(authority.Name(), w.CertSerial)
			if err != nil {
				return err
			}
			if _, err := s.pki.RevokeCertificates(ctx, tx, []*lanyard.Certificate{c}, func(c *lanyard.Certificate) bool {
				return c.Status != lanyard.CertRevoked
			}); err != nil {
				return err
			}
		}
		w.Status, w.PairingCode, w.PairingExpiresAt = lanyard.WorkstationRevoked, "", time.Time{}
		if err := tx.UpdateWorkstation(w); err != nil {
			return err
		}
		// Every replica: the one holding its agent drops the connection,
		// a waiting pairing poll answers.
		if err := lanyard.NotifyIDs(tx, lanyard.NoticeWorkstationRevoked, id); err != nil {
			return err
		}
		if err := lanyard.NotifyIDs(tx, lanyard.NoticePairing, id); err != nil {
			return err
		}
		out = w
		return tx.AppendAudit(s.rec.Event(p, "workstation.revoke", "workstation", strconv.FormatInt(id, 10),
			map[string]any{"name": w.Name, "serial": w.CertSerial}))
	})
	if err == nil {
		s.pairingSettled(id)
	}
	return out, err
}

// AgentConnected admits the agent whose verified client certificate has
// serial (hex): its workstation must be active. It records the time seen.
func (s *Workstations) AgentConnected(ctx context.Context, serial string) (*lanyard.Workstation, error) {
	var w *lanyard.Workstation
	err := s.rec.View(ctx, func(tx lanyard.Tx) (err error) {
		if w, err = tx.WorkstationByCertSerial(serial); err != nil {
			return lanyard.Errorf(lanyard.EUnauthenticated, "the client certificate belongs to no workstation")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if w.Status != lanyard.WorkstationActive {
		return nil, lanyard.Errorf(lanyard.EForbidden, "workstation %d is %s", w.ID, w.Status)
	}
	w.LastSeenAt = s.rec.Clock()
	if err := s.rec.Store.Update(ctx, func(tx lanyard.Tx) error { return tx.TouchWorkstation(w.ID, w.LastSeenAt) }); err != nil {
		return nil, err
	}
	return w, nil
}

// AgentSeen records that workstation id was connected until now, and
// reports whether it is still active (another replica may have revoked
// it).
func (s *Workstations) AgentSeen(ctx context.Context, id int64) (bool, error) {
	active := false
	err := s.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		w, err := tx.WorkstationByID(id)
		if err != nil {
			return err
		}
		active = w.Status == lanyard.WorkstationActive
		return tx.TouchWorkstation(id, s.rec.Clock())
	})
	return active, err
}

// agentsSeenBatch is how many connected workstations AgentsSeen records
// per transaction.
const agentsSeenBatch = 1000

// AgentsSeen is AgentSeen for many connected workstations at once, as the
// hub's periodic recheck needs it: a server holding 10,000 AirCard
// workstations would otherwise commit 10,000 transactions every
// recheck. It returns those no longer active (revoked, or deleted).
func (s *Workstations) AgentsSeen(ctx context.Context, ids []int64) (inactive []int64, err error) {
	var firstErr error // a failed batch does not keep the others from being checked
	for batch := range slices.Chunk(ids, agentsSeenBatch) {
		var gone []int64
		err := s.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
			gone = gone[:0]
			now := s.rec.Clock()
			for _, id := range batch {
				w, err := tx.WorkstationByID(id)
				if lanyard.ErrorCode(err) == lanyard.ENotFound {
					gone = append(gone, id)
					continue
				}
				if err != nil {
					return err
				}
				if w.Status != lanyard.WorkstationActive {
					gone = append(gone, id)
				}
				if err := tx.TouchWorkstation(id, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return inactive, err
			}
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		inactive = append(inactive, gone...)
	}
	return inactive, firstErr
}

// PairingRetention is how long an unconfirmed, expired pairing request is
// kept (for the owner to see why a code stopped working) before
// PurgePairings deletes it.
const PairingRetention = 24 * time.Hour

// PurgePairings deletes pairing requests that expired more than
// PairingRetention ago and were never confirmed, so that unauthenticated
// pairing requests cannot pile up. One transaction, one audit event.
func (s *Workstations) PurgePairings(ctx context.Context) (int, error) {
	var n int
	err := s.rec.Store.Update(ctx, func(tx lanyard.Tx) error {
		var err error
		if n, err = tx.DeleteExpiredPairings(s.rec.Clock().Add(-PairingRetention)); err != nil || n == 0 {
			return err
		}
		return tx.AppendAudit(s.rec.Event(lanyard.SystemPrincipal, "workstation.pairings_purge", "workstation", "", map[string]any{"deleted": n}))
	})
	return n, err
}
