package cardops

import (
	"context"
	"crypto/x509"

	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// openCard finds the target's reader and opens an exclusive session.
func (s *Cards) openCard(ctx context.Context, p *lanyard.Principal, t CardTarget) (lanyard.CardSession, *lanyard.Reader, *lanyard.WorkstationState, error) {
	access := s.cardAccess()
	if access == nil {
		return nil, nil, nil, lanyard.Errorf(lanyard.EUnavailable, "no workstation agents are connected to this server")
	}
	// The AirCard service is nobody's workstation: its readers are the
	// AirCards, each open to its owner (and staff).
	air := false
	if ws, ok := access.WorkstationState(t.WorkstationID); ok && ws.Role == lanyard.RoleAirCardService {
		air = true
	}
	if ws, ok := access.WorkstationState(t.WorkstationID); ok && (ws.OwnerID == p.User.ID || isCardStaff(p) || air) {
		if !ws.Online {
			return nil, nil, nil, lanyard.Errorf(lanyard.EUnavailable, "workstation %s is not connected", ws.Name)
		}
		for _, r := range ws.Readers {
			if r.Name == t.Reader && r.Present && (!air || s.airCards.AirCardOwned(ctx, p, r)) {
				sess, err := access.Open(ctx, ws.ID, r.Name)
				if err != nil {
					return nil, nil, nil, err
				}
				return sess, &r, &ws, nil
			}
		}
		return nil, nil, nil, lanyard.Errorf(lanyard.ENotFound, "there is no card in reader %q of workstation %s", t.Reader, ws.Name)
	}
	return nil, nil, nil, lanyard.Errorf(lanyard.ENotFound, "workstation %d is not connected or not yours", t.WorkstationID)
}

// cardConn is an open, identified card: an exclusive session with the PIV
// application selected.
type cardConn struct {
	sess   lanyard.CardSession
	pc     *piv.Card
	serial string
	id     personalize.Identity
	r      *lanyard.Reader
	ws     *lanyard.WorkstationState
}

// openPIV opens the target's card and identifies it. The caller closes
// the session.
func (s *Cards) openPIV(ctx context.Context, p *lanyard.Principal, t CardTarget) (*cardConn, error) {
	release, err := s.cardSlots.acquire(ctx)
	if err != nil {
		return nil, err
	}
	raw, r, ws, err := s.openCard(ctx, p, t)
	if err != nil {
		release()
		return nil, err
	}
	sess := &slotSession{CardSession: raw, release: release}
	pc, id, err := personalize.Connect(ctx, sess, s.rand, r.Serial, r.Name)
	if err != nil {
		sess.Close()
		return nil, err
	}
	return &cardConn{sess: sess, pc: pc, serial: id.Serial, id: id, r: r, ws: ws}, nil
}

// findTracked reads third-party certificates on the card when the policy
// searches for them.
func (s *Cards) findTracked(ctx context.Context, pc *piv.Card, in *issuance.Input) error {
	if !in.Settings.Workflow.SearchTrackedCertificates {
		return nil
	}
	managed := func(c *x509.Certificate) bool {
		var known bool
		_ = s.rec.View(ctx, func(tx lanyard.Tx) error {
			for _, name := range s.caOrder {
				if _, err := tx.CertificateBySerial(name, lanyard.SerialHex(c.SerialNumber)); err == nil {
					known = true
				}
			}
			return nil
		})
		return known
	}
	found, err := personalize.ReadFound(ctx, pc, managed)
	if err != nil {
		return err
	}
	in.Found = found
	return nil
}

// elsewhere returns *lanyard.ElsewhereError when the card t names, or the
// one find locates (t.Reader empty), is at a workstation whose agent is
// connected to another replica of the cluster. The workflows that spend
// something before they open the card (a step-up code, an answer
// counted) call it first, so that the web layer forwards the request to
// that replica without a side effect done twice (docs/architecture.md,
// "Cluster"). A card that is not found is left to the open to report.
func (s *Cards) elsewhere(t CardTarget, find func() (CardTarget, error)) error {
	access := s.cardAccess()
	if access == nil {
		return nil
	}
	if t.Reader == "" {
		if find == nil {
			return nil
		}
		found, err := find()
		if err != nil {
			return nil
		}
		t = found
	}
	if ws, ok := access.WorkstationState(t.WorkstationID); ok && ws.Replica != "" {
		return &lanyard.ElsewhereError{WorkstationID: ws.ID, Replica: ws.Replica}
	}
	return nil
}
