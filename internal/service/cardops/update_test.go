package cardops_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/personalize"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/cardtest"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
)

const (
	updatePIN = "24681357"
	day       = 24 * time.Hour
)

// updateEnv is an issueEnv whose clock the test moves: alice's card is
// issued (smartcard-logon in 9a, secure-email in 9d; 365 days) 355 days
// before now, then the clock moves 350 days on, so that both certificates
// expire within the default renewal window (30 days) and everything the
// update issues is valid at the real time, which x509 checks use.
type updateEnv struct {
	*issueEnv
	clock  *servicetest.Clock
	cardID int64
	old    map[string]*cardops.CardCertificate // slot → certificate issued
}

// newUpdateEnv sets up alice's issued card, the clock moved into the
// renewal window. policy changes the default policy before the issue
// (alice may always update her card).
func newUpdateEnv(t *testing.T, cardOpts []emu.Option, policy func(*lanyard.PolicySettings)) *updateEnv {
	t.Helper()
	clock := servicetest.NewClock(time.Now().Add(-355 * day))
	e := &updateEnv{clock: clock, issueEnv: newIssueEnvFrom(t, &issueEnv{opts: servicetest.Options{Now: clock.Now, CANow: clock.Now}, cardOpts: cardOpts})}
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.Workflow.IssuedCardOps.Update = true
		if policy != nil {
			policy(s)
		}
	})
	res, err := e.svc.Cards.IssueCard(context.Background(), e.alice, cardops.IssueCardInput{CardTarget: e.target(), Templates: []string{"secure-email"}, UserPIN: updatePIN})
	if err != nil {
		t.Fatal(err)
	}
	e.cardID = res.Card.ID
	e.old = map[string]*cardops.CardCertificate{}
	for _, c := range res.Card.Certificates {
		e.old[c.Slot] = c
	}
	clock.Add(350 * day)
	return e
}

func (e *updateEnv) view(t *testing.T) *cardops.CardView {
	t.Helper()
	v, err := e.svc.Cards.GetCard(context.Background(), e.alice, e.cardID)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (e *updateEnv) cert(t *testing.T, serial string) *lanyard.Certificate {
	t.Helper()
	var c *lanyard.Certificate
	if err := e.st.View(context.Background(), func(tx lanyard.Tx) (err error) { c, err = tx.CertificateBySerial("builtin", serial); return }); err != nil {
		t.Fatal(err)
	}
	return c
}

// checkUpdated checks a finished update of slots: each holds a new
// certificate and its key, which sign (checkIssued), the certificate
// replaced is revoked exactly once as superseded, no other certificate
// was issued for the slot, and no retired slot holds a key or
// certificate (the staging slots are empty).
func (e *updateEnv) checkUpdated(t *testing.T, slots ...string) {
	t.Helper()
	e.checkIssued(t, e.cardID, updatePIN, "smartcard-logon", "secure-email")
	v := e.view(t)
	for _, slot := range slots {
		old := e.cert(t, e.old[slot].Serial)
		if old.Status != lanyard.CertRevoked || old.Reason != lanyard.ReasonSuperseded {
			t.Fatalf("old certificate of %s: %s (%s), want revoked superseded", slot, old.Status, old.ReasonName)
		}
		n := 0
		for _, c := range v.Certificates {
			if c.Slot == slot && c.Source == lanyard.SourceManaged {
				n++
			}
		}
		if n != 2 {
			t.Fatalf("%d certificates for slot %s, want the old and the new one", n, slot)
		}
		events := e.audit(t, "cert.supersede", old.Serial)
		if events != 1 {
			t.Fatalf("%d supersede events for %s, want 1", events, old.Serial)
		}
	}
	if v.Update == nil || v.Update.Due || v.Update.Unfinished != nil {
		t.Fatalf("after the update the card view says %+v, want up to date", v.Update)
	}
	pc := pivOf(t, e.card)
	for s := pivspec.SlotRetiredFirst; s <= pivspec.SlotRetiredLast; s++ {
		if _, err := pc.Certificate(context.Background(), s); !errors.Is(err, piv.ErrNotFound) {
			t.Fatalf("retired slot %s holds a certificate (%v)", personalize.SlotString(s), err)
		}
		if _, err := pc.Metadata(context.Background(), s.Ref()); !errors.Is(err, piv.ErrNotFound) && !errors.Is(err, piv.ErrUnsupported) {
			t.Fatalf("retired slot %s holds a key (%v)", personalize.SlotString(s), err)
		}
	}
}

// audit counts the audit events of action about target.
func (e *updateEnv) audit(t *testing.T, action, target string) int {
	t.Helper()
	n := 0
	err := e.st.View(context.Background(), func(tx lanyard.Tx) error {
		evs, err := tx.ListAudit(lanyard.AuditFilter{Action: action, ObjectID: target, Limit: 1000})
		n = len(evs)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *updateEnv) update(t *testing.T, in cardops.UpdateCardInput) (*cardops.UpdateCardResult, error) {
	t.Helper()
	in.CardTarget = e.target()
	return e.svc.Cards.UpdateCard(context.Background(), e.alice, in)
}

// The main path: both certificates expiring, new keys, a card that can
// move keys: each new key is built in a retired slot and moved in.
func TestUpdateCardRenewsExpiring(t *testing.T) {
	e := newUpdateEnv(t, nil, nil)
	v := e.view(t)
	if v.Update == nil || !v.Update.Due || len(v.Update.Changes) != 2 || !v.Update.Changes[0].Staged {
		t.Fatalf("card view before the update: %+v, want due (2 renewals, staged)", v.Update)
	}
	if !hasOp(v, "update") {
		t.Fatalf("alice may %v, want update", v.AllowedOperations)
	}
	o, err := e.svc.Cards.UpdateOptions(context.Background(), e.alice, e.target())
	if err != nil {
		t.Fatal(err)
	}
	if !o.Due || len(o.Cautions) != 0 {
		t.Fatalf("options %+v", o.UpdateOptions)
	}
	res, err := e.update(t, cardops.UpdateCardInput{})
	if err != nil {
		t.Fatal(err)
	}
	if res.State != "done" || len(res.Slots) != 2 {
		t.Fatalf("result %+v", res)
	}
	for _, s := range res.Slots {
		if s.Status != "done" || s.Action != issuance.ActionRenew || s.NewSerial == "" || s.OldSerial != e.old[s.Slot].Serial {
			t.Fatalf("slot %+v", s)
		}
	}
	e.checkUpdated(t, "9a", "9d")
	// Up to date now: a second update is refused with the reason.
	_, err = e.update(t, cardops.UpdateCardInput{})
	wantCode(t, err, lanyard.EConflict)
	if want := "is up to date"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("second update: %v, want %q", err, want)
	}
}

func hasOp(v *cardops.CardView, op string) bool {
	for _, o := range v.AllowedOperations {
		if string(o) == op {
			return true
		}
	}
	return false
}


var _ = fmt.Sprintf
var _ = x509.ParseCertificate
var _ = cardtest.New
