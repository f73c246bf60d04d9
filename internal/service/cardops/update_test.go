package cardops_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
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
	// reuse: the update certifies the old keys again (checkUpdated).
	reuse bool
	mail  *updateMail
	old   map[string]*cardops.CardCertificate // slot → certificate issued
}

// newUpdateEnv sets up alice's issued card, the clock moved into the
// renewal window. policy changes the default policy before the issue
// (alice may always update her card).
func newUpdateEnv(t *testing.T, cardOpts []emu.Option, policy func(*lanyard.PolicySettings)) *updateEnv {
	t.Helper()
	return newUpdateEnvWith(t, cardOpts, policy, nil)
}

// newUpdateEnvBefore is newUpdateEnv with before run ahead of the issue.
func newUpdateEnvBefore(t *testing.T, before func(*testing.T, *issueEnv)) *updateEnv {
	t.Helper()
	return newUpdateEnvWith(t, nil, nil, before)
}

func newUpdateEnvWith(t *testing.T, cardOpts []emu.Option, policy func(*lanyard.PolicySettings), before func(*testing.T, *issueEnv)) *updateEnv {
	t.Helper()
	return newUpdateEnvOpts(t, cardOpts, policy, before, servicetest.Options{})
}

// newUpdateEnvOpts is newUpdateEnvWith on a stack built with opts (the
// clock and notifier are the env's).
func newUpdateEnvOpts(t *testing.T, cardOpts []emu.Option, policy func(*lanyard.PolicySettings), before func(*testing.T, *issueEnv), opts servicetest.Options) *updateEnv {
	t.Helper()
	clock := servicetest.NewClock(time.Now().Add(-355 * day))
	mail := &updateMail{}
	opts.Now, opts.CANow, opts.Notifier = clock.Now, clock.Now, mail
	e := &updateEnv{clock: clock, mail: mail,
		issueEnv: newIssueEnvFrom(t, &issueEnv{opts: opts, cardOpts: cardOpts})}
	e.setPolicy(t, func(s *lanyard.PolicySettings) {
		s.Workflow.IssuedCardOps.Update = true
		s.Notifications.NotifyUser = true
		if policy != nil {
			policy(s)
		}
	})
	if before != nil {
		before(t, e.issueEnv)
	}
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

// updateMail records the card state notifications (updates among them).
type updateMail struct {
	pinMail
	mu    sync.Mutex
	kinds []string
}

func (m *updateMail) CardState(_ context.Context, to []string, ev cardops.CardStateEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.kinds = append(m.kinds, ev.Kind+" "+strings.Join(to, ","))
	return nil
}

func (m *updateMail) CardIssue(_ context.Context, to []string, ev cardops.CardIssueEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.kinds = append(m.kinds, ev.Kind+" "+strings.Join(to, ","))
	return nil
}

func (m *updateMail) sent() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.kinds)
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
			// A certificate a cancelled update never used does not count.
			if c.Slot == slot && c.Source == lanyard.SourceManaged && e.cert(t, c.Serial).Reason != lanyard.ReasonCessationOfOperation {
				n++
			}
		}
		if n != 2 {
			t.Fatalf("%d certificates for slot %s, want the old and the new one", n, slot)
		}
		for _, c := range v.Certificates {
			if c.Slot == slot && c.Source == lanyard.SourceManaged && c.Serial != old.Serial && c.Status != lanyard.CertRevoked {
				if same := e.cert(t, c.Serial).KeySHA256 == old.KeySHA256; same != e.reuse {
					t.Fatalf("slot %s: new certificate for the same key %v, want %v", slot, same, e.reuse)
				}
			}
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
	// The key history's slots (an archive-key template's earlier keys,
	// TestUpdateCardArchiveKeyHistory) are not staging slots.
	history, err := personalize.HistorySlots(context.Background(), pc)
	if err != nil {
		t.Fatal(err)
	}
	for s := pivspec.SlotRetiredFirst + piv.Slot(len(history)); s <= pivspec.SlotRetiredLast; s++ {
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
	o, err := e.svc.Cards.UpdateOptions(context.Background(), e.alice, e.target(), e.cardID)
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
	if got := e.mail.sent(); !slices.Equal(got, []string{"updated alice@example.test"}) {
		t.Fatalf("notifications %v, want card updated to alice", got)
	}
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

// setRenewalKey sets the renewal key of the card's templates.
func (e *updateEnv) setRenewalKey(t *testing.T, k lanyard.RenewalKey, names ...string) {
	t.Helper()
	ctx := context.Background()
	for _, name := range names {
		tpl, err := e.svc.Catalog.GetTemplate(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		tpl.RenewalKey = k
		if _, err := e.svc.Catalog.UpdateTemplate(ctx, e.admin, name, *tpl); err != nil {
			t.Fatal(err)
		}
	}
}

// updateVariant is one way a card is updated.
type updateVariant struct {
	name     string
	cardOpts []emu.Option
	setup    func(t *testing.T, e *updateEnv)
	// before runs ahead of the card's issue.
	before func(t *testing.T, e *issueEnv)
	in     cardops.UpdateCardInput
	// inPlace: a new key is generated over the old one (a card that
	// cannot move keys), so between GENERATE and the new certificate's
	// write the slot holds no matching pair; the record must then say
	// so (rekeying) for Continue to finish it.
	inPlace bool
}

var updateVariants = []updateVariant{
	{name: "new key staged"},
	// secure-email decrypts and does not archive: its old key moves into
	// retired slot 82 (key history) before the new one is moved into 9D.
	{name: "new key staged, old decryption key kept", setup: func(t *testing.T, e *updateEnv) { decryptSecureEmail(t, e.issueEnv) }},
	{name: "reuse key", setup: func(t *testing.T, e *updateEnv) {
		e.setRenewalKey(t, lanyard.RenewalReuseKey, "smartcard-logon", "secure-email")
		e.reuse = true
	}},
	{name: "new key in place", cardOpts: []emu.Option{emu.WithoutMoveKey()}, in: cardops.UpdateCardInput{AcceptKeyLoss: true}, inPlace: true},
	// secure-email archives its keys from now on: its new key is made on
	// the server and imported over the old one once its certificate is
	// signed (IMPORT KEY replaces the key in place, like GENERATE).
	{name: "archive key", setup: func(t *testing.T, e *updateEnv) { archiveSecureEmail(t, e.issueEnv) }, inPlace: true},
	// secure-email archived its key at issue as well: the replaced key
	// goes into the key history (retired slot 82) after the new one is
	// in 9D, recorded once however often the card was pulled.
	{name: "archive key with history", before: func(t *testing.T, e *issueEnv) { archiveSecureEmail(t, e) }, inPlace: true},
}

// TestUpdateCardPulledAnywhereThenContinued pulls the card after every
// APDU of an update, then continues it: for each variant, at every
// point the card holds a working pair per slot (the old one, or the new
// one in the slot or its staging slot) and the old certificate is not
// revoked before the new one is in place; after Continue the card holds
// the new pairs, the staging slots are empty and each old certificate is
// revoked once, as superseded.
func TestUpdateCardPulledAnywhereThenContinued(t *testing.T) {
	for _, v := range updateVariants {
		t.Run(v.name, func(t *testing.T) {
			testUpdateInterruptedAnywhere(t, v, func(a *cardtest.Access, n int) { a.FailAfter(1, reader, n) })
		})
	}
}

// The same with the reply of APDU n+1 lost: the card carried it out
// (generated, wrote, moved) and only the server did not hear it.
func TestUpdateCardReplyLostAnywhereThenContinued(t *testing.T) {
	for _, v := range updateVariants {
		t.Run(v.name, func(t *testing.T) {
			testUpdateInterruptedAnywhere(t, v, func(a *cardtest.Access, n int) { a.LoseReplyAfter(1, reader, n) })
		})
	}
}

func testUpdateInterruptedAnywhere(t *testing.T, v updateVariant, interrupt func(a *cardtest.Access, afterAPDUs int)) {
	completed := false
	for after := 1; !completed && after < 400; after++ {
		t.Run(fmt.Sprintf("after-%d-APDUs", after), func(t *testing.T) {
			e := newUpdateEnvWith(t, v.cardOpts, nil, v.before)
			if v.before != nil {
				defer e.checkHistory(t)
			}
			if v.setup != nil {
				v.setup(t, e)
			}
			ctx := context.Background()
			interrupt(e.access, after)
			_, err := e.update(t, v.in)
			if err == nil {
				completed = true // the whole update takes fewer APDUs: every point was covered
				e.checkUpdated(t, "9a", "9d")
				return
			}
			e.checkWorkingPairs(t, v.inPlace)
			cur := e.view(t)
			if cur.Update == nil || cur.Update.Unfinished == nil {
				// Pulled before the update was recorded: nothing to
				// continue; a new update starts afresh.
				if _, err := e.update(t, v.in); err != nil {
					t.Fatal(err)
				}
				e.checkUpdated(t, "9a", "9d")
				return
			}
			if cur.Update.Unfinished.State != lanyard.OpInterrupted {
				t.Fatalf("update operation %s after a pulled card, want interrupted", cur.Update.Unfinished.State)
			}
			_, err = e.update(t, v.in)
			wantCode(t, err, lanyard.EConflict)
			res, err := e.svc.Cards.ContinueCardUpdate(ctx, e.alice, e.cardID, e.target())
			if err != nil {
				t.Fatal(err)
			}
			if res.State != "done" {
				t.Fatalf("continued update is %s", res.State)
			}
			e.checkUpdated(t, "9a", "9d")
		})
	}
	if !completed {
		t.Fatal("the update never completed")
	}
}

// checkWorkingPairs checks the card after an interrupted update: each
// slot holds its old pair (its certificate not revoked), or the new
// certificate and its key are on the card (in the slot or a retired
// slot). For an update in place, a slot may hold neither only while the
// update's record says it is rekeying the slot.
func (e *updateEnv) checkWorkingPairs(t *testing.T, inPlace bool) {
	t.Helper()
	ctx := context.Background()
	pc := pivOf(t, e.card)
	var rekeying map[string]bool
	if v := e.view(t); v.Update != nil && v.Update.Unfinished != nil {
		var rec struct {
			Update struct {
				Rekeying map[string]bool `json:"rekeying"`
			} `json:"update"`
		}
		if err := json.Unmarshal(v.Update.Unfinished.Data, &rec); err != nil {
			t.Fatal(err)
		}
		rekeying = rec.Update.Rekeying
	}
	pairIn := func(slot piv.Slot) (*x509.Certificate, bool) {
		c, err := pc.Certificate(ctx, slot)
		if err != nil {
			return nil, false
		}
		md, err := pc.Metadata(ctx, slot.Ref())
		return c, err == nil && personalize.PublicKeysEqual(md.PublicKey, c.PublicKey)
	}
	for name, old := range e.old {
		slot, _ := personalize.ParseSlot(name)
		rec := e.cert(t, old.Serial)
		c, ok := pairIn(slot)
		switch {
		case ok && c.SerialNumber.Text(16) == old.Serial:
			if rec.Status == lanyard.CertRevoked {
				t.Fatalf("slot %s holds its old pair, whose certificate is revoked", name)
			}
			continue
		case ok:
			continue // the new pair is in the slot
		}
		if rec.Status == lanyard.CertRevoked {
			t.Fatalf("the old certificate of slot %s is revoked, and the slot holds no new pair", name)
		}
		found := false
		for r := pivspec.SlotRetiredLast; r >= pivspec.SlotRetiredFirst && !found; r-- {
			_, found = pairIn(r)
		}
		if found {
			continue
		}
		if inPlace && rekeying[name] {
			continue // documented limit of cards that cannot move keys: Continue finishes it
		}
		t.Fatalf("slot %s holds no working pair (old or new) after the interruption", name)
	}
}
