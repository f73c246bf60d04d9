package agenthub

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Workstations is what the hub asks of the server's workstation records
// (internal/service/workstations implements it): pairing, the admission
// and liveness of agent connections, the listener's certificate and the
// AirCards a workstation may use. It speaks in domain types; the hub
// converts them to and from the agent protocol (wire.go).
type Workstations interface {
	// StartPairing records an agent's pairing request from remote and
	// returns the pending workstation.
	StartPairing(ctx context.Context, remote string, in lanyard.PairingRequest) (*lanyard.Workstation, error)
	// PairingSettled returns a channel closed when workstation id's
	// pairing is confirmed or revoked in this process, and release, to
	// call when the poll stops waiting.
	PairingSettled(id int64) (settled <-chan struct{}, release func())
	// PairingStatus answers an agent's poll, proof being its signature
	// over agentproto.ProofMessage(id, at).
	PairingStatus(ctx context.Context, id int64, at time.Time, proof []byte) (*lanyard.PairingOutcome, error)
	// AgentConnected admits the agent whose verified client certificate
	// has serial (hex).
	AgentConnected(ctx context.Context, serial string) (*lanyard.Workstation, error)
	// AgentSeen records workstation id as connected until now and reports
	// whether it is still active.
	AgentSeen(ctx context.Context, id int64) (bool, error)
	// AgentsSeen is AgentSeen for many; it returns those no longer
	// active.
	AgentsSeen(ctx context.Context, ids []int64) (inactive []int64, err error)
	// AgentServerCertificate issues the agent listener's certificate for
	// hosts, with its chain.
	AgentServerCertificate(ctx context.Context, hosts []string) (*tls.Certificate, error)
	// AgentClientCAs is the pool agents' client certificates are verified
	// against.
	AgentClientCAs(ctx context.Context) (*x509.CertPool, error)
	// AirCardsFor lists the AirCards workstation wsID may use.
	AirCardsFor(ctx context.Context, wsID int64) ([]*lanyard.Card, error)
	// AirCardAllowed checks that workstation wsID may open a session on
	// the AirCard with serial.
	AirCardAllowed(ctx context.Context, wsID int64, serial string) error
	// AirCardSessionsRefused is AirCardAllowed for many open sessions
	// (workstation ID → AirCard serials), batched; it returns those no
	// longer allowed.
	AirCardSessionsRefused(ctx context.Context, open map[int64][]string) (refused map[int64][]string, err error)
	// JoinAirCard adds workstation wsID to the allowed computers of the
	// AirCard a connection code names, and returns that AirCard.
	JoinAirCard(ctx context.Context, wsID int64, remote, code string) (*lanyard.Card, error)
}
