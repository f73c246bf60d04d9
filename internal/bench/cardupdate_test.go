package bench

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/issuance"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
)

// Card update (issue 17, docs/performance.md): Update card contents of
// the card BenchmarkCardIssue issues (docs/lifecycle.md, "Update card
// contents"): both certificates (smartcard-logon in 9a, secure-email in
// 9d, P-256) renewed with new keys on an emulated card that can move keys,
// the staged path per slot: a spare retired slot chosen and recorded, the
// key generated there, the certificate signed, recorded and written
// there, then the certificate written into the slot, the old key deleted,
// the new one moved in (MOVE KEY), the staging object deleted, the slot
// read back, the old certificate revoked as superseded (CRL re-signed);
// every step its own durable transaction with its audit event. No PIN is
// asked or changed. SQLite (synchronous=FULL, WAL) is the store.
//
// Every iteration must find the card due. The owner's policy renews
// certificates expiring within 365 days (updateWindowDays, the longest a
// policy allows) and both templates are valid 365 days, so every
// certificate on the card is due from the moment it is issued: each
// update renews the certificates the previous one wrote, for the reason
// a real renewal has (expiring), by the owner themselves with the same
// principal and client as the issue benchmarks, and leaves the card in
// the shape it found it (staging slot empty again). The other ways would
// change what is measured: moving the service's clock past the window
// for every iteration moves it a year per iteration, past the issuing
// CA's ten years within ten iterations (and certificates valid only in
// the future of the real clock); staff's Renew choice needs the
// owner to hold a staff role, or an operator acting on their behalf,
// which makes every update wait for a second person's approval.

// updateWindowDays is the renewal window of the update benchmarks'
// policy: as long as the templates' validity, so every certificate is
// always due.
const updateWindowDays = 365

// renewAlways sets the default policy's renewal window to
// updateWindowDays, and lets owners update their cards.
func (ib *issueBench) renewAlways(b *testing.B) {
	ctx := context.Background()
	pol, err := ib.srv.Service.Catalog.GetPolicy(ctx, "default")
	if err != nil {
		b.Fatal(err)
	}
	pol.Settings.Certificates.RenewalWindowDays = updateWindowDays
	pol.Settings.Workflow.IssuedCardOps.Update = true
	if _, err := ib.srv.Service.Catalog.UpdatePolicy(ctx, ib.admin, "default", pol); err != nil {
		b.Fatal(err)
	}
}

// updatedTemplates are the templates every update renews.
var updatedTemplates = []string{"smartcard-logon", "secure-email"}

// checkRenewed fails unless res is a finished update that renewed both
// certificates with new keys.
func checkRenewed(slots []apiv1.UpdatedSlot, state string) error {
	if state != "done" {
		return fmt.Errorf("update state %q, want done", state)
	}
	if len(slots) != len(updatedTemplates) {
		return fmt.Errorf("%d slots changed, want %d: %+v", len(slots), len(updatedTemplates), slots)
	}
	for _, s := range slots {
		if s.Action != issuance.ActionRenew || s.Key != lanyard.RenewalNewKey || s.Status != "done" || s.NewSerial == "" || s.NewSerial == s.OldSerial {
			return fmt.Errorf("slot %s: %+v, want renewed with a new key", s.Slot, s)
		}
	}
	return nil
}

// apiSlots is the service's result as the API's slots, for checkRenewed.
func apiSlots(res *cardops.UpdateCardResult) []apiv1.UpdatedSlot {
	var out []apiv1.UpdatedSlot
	for _, s := range res.Slots {
		out = append(out, apiv1.UpdatedSlot{Slot: s.Slot, Template: s.Template, Action: s.Action, Key: s.Key,
			OldSerial: s.OldSerial, NewSerial: s.NewSerial, Status: s.Status})
	}
	return out
}

// checkStaged fails the benchmark unless each of the card's n update
// operations took the staged path (the card can move keys; a staging slot
// recorded for both slots) and the card holds exactly the two newest
// certificates, every earlier one revoked as superseded.
func (ib *issueBench) checkStaged(b *testing.B, cardID int64, n int) {
	ctx := context.Background()
	var ops []*lanyard.Operation
	var certs []*lanyard.Certificate
	err := ib.store.View(ctx, func(tx lanyard.Tx) (err error) {
		if ops, err = tx.ListOperations(lanyard.OperationFilter{CardID: cardID, Kind: lanyard.OpUpdate}); err != nil {
			return err
		}
		certs, err = tx.ListCertificates(lanyard.CertFilter{CardID: cardID})
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	if len(ops) != n {
		b.Fatalf("card %d: %d update operations, want %d", cardID, len(ops), n)
	}
	for _, op := range ops {
		var d struct {
			Update struct {
				CanMove bool              `json:"can_move"`
				Stage   map[string]string `json:"stage"`
			} `json:"update"`
		}
		if err := json.Unmarshal(op.Data, &d); err != nil {
			b.Fatal(err)
		}
		if op.State != lanyard.OpDone || !d.Update.CanMove || len(d.Update.Stage) != len(updatedTemplates) {
			b.Fatalf("update %d: state %s, can_move %v, staged %v: want done, both slots staged", op.ID, op.State, d.Update.CanMove, d.Update.Stage)
		}
	}
	var written, superseded int
	for _, c := range certs {
		switch {
		case c.Status == lanyard.CertWritten:
			written++
		case c.Status == lanyard.CertRevoked && c.Reason == lanyard.ReasonSuperseded:
			superseded++
		}
	}
	if want := len(updatedTemplates); written != want || superseded != n*want {
		b.Fatalf("card %d: %d certificates written, %d superseded; want %d and %d", cardID, written, superseded, want, n*want)
	}
}

// BenchmarkCardUpdate is one card's update, one at a time:
//
//   - in-process: Cards.UpdateCard over cardtest's in-process card access
//     (no agent, no HTTP), the owner updating one card again and again.
//     The time spent inside the emulator's Transmit is subtracted:
//     server-ms/update is the server's own work (the card read and the
//     decision, a durable transaction per step with its audit event,
//     signing, two revocations each with a new CRL). Measured in the
//     same run: the limit, raw x509.CreateCertificate of the same two
//     certificates with the CA's issuing key (sign2-ms, both together)
//     and one durable transaction with its audit event (commit-ms,
//     durableCommitMS); db-tx/update counts the transactions.
//   - pcscd: POST /api/v1/cards/{id}/update through the whole stack: HTTP
//     API, hub, TLS agent connection, the real agent with
//     agent.NewPCSCReaders, pcscd, the vpcd driver, internal/card/vpcd
//     and the emulator; the card issued the same way first, outside the
//     timing. Needs LANYARD_TEST_VPCD (fails without it) and takes
//     vpcdtest.Lock.
func BenchmarkCardUpdate(b *testing.B) {
	b.Run("in-process", benchUpdateInProcess)
	b.Run("pcscd", benchUpdatePCSCD)
}

func benchUpdateInProcess(b *testing.B) { benchUpdateRevoked(b, 0, false) }

// benchUpdateRevoked is BenchmarkCardUpdate/in-process with revoked
// certificates of the CA recorded before (populateRevoked), expired ones
// with expired.
func benchUpdateRevoked(b *testing.B, revoked int, expired bool) {
	ctx := context.Background()
	ib, access, _, cardID, _ := issuedInProcess(b)
	ib.renewAlways(b)
	ib.populateRevoked(b, cardID, revoked, expired)
	signMS := ib.rawSignTemplatesMS(b, 100, updatedTemplates...)
	commitMS := durableCommitMS(b, ib.store.Store, 50)
	in := cardops.UpdateCardInput{CardTarget: cardops.CardTarget{WorkstationID: 1, Reader: issueReader}}

	cost := inProcessCost{access: access, store: ib.store}
	for b.Loop() {
		b.StopTimer()
		cost.start()
		b.StartTimer()

		res, err := ib.srv.Service.Cards.UpdateCard(ctx, ib.user, in)

		b.StopTimer()
		if err == nil {
			err = checkRenewed(apiSlots(res), res.State)
		}
		if err != nil {
			b.Fatalf("update: %v", err)
		}
		cost.stop()
		b.StartTimer()
	}
	cost.report(b, "update")
	b.ReportMetric(signMS, "sign2-ms")
	b.ReportMetric(commitMS, "commit-ms")
	if revoked > 0 {
		b.ReportMetric(float64(revoked), "revoked-before")
	}
	b.ReportMetric(float64(ib.crlEntries(b)), "crl-entries")
	ib.checkStaged(b, cardID, b.N)
}

// BenchmarkCardUpdateRevoked is BenchmarkCardUpdate/in-process on a CA
// that has revoked=N certificates already (0, 1,000 and 10,000; and the
// number in LANYARD_BENCH_UPDATE_REVOKED, when set), in one run: each
// superseded certificate re-signs the CA's whole CRL in its step's
// transaction (pki.RevokeCertificatesFor), so an update's cost grows with
// the CRL. With LANYARD_BENCH_UPDATE_REVOKED=N, expired=N is the same
// with the N certificates expired, which the CRL no longer lists.
func BenchmarkCardUpdateRevoked(b *testing.B) {
	sizes := []int{0, 1000, 10000}
	if os.Getenv(envUpdateRevoked) != "" {
		sizes = append(sizes, envSize(b, envUpdateRevoked, 0))
	}
	for _, n := range sizes {
		b.Run("revoked="+strconv.Itoa(n), func(b *testing.B) { benchUpdateRevoked(b, n, false) })
	}
	if os.Getenv(envUpdateRevoked) != "" {
		n := sizes[len(sizes)-1]
		b.Run("expired="+strconv.Itoa(n), func(b *testing.B) { benchUpdateRevoked(b, n, true) })
	}
}

// envUpdateRevoked adds a size to BenchmarkCardUpdateRevoked.
const envUpdateRevoked = "LANYARD_BENCH_UPDATE_REVOKED"

// populateRevoked records n revoked certificates of the built-in CA,
// bound to no card, each with the DER of one of card cardID's
// certificates (a real certificate's size), in batches of 1,000; with
// expired, each expired a day ago (the recorded validity; the DER is
// only there for its size).
func (ib *issueBench) populateRevoked(b *testing.B, cardID int64, n int, expired bool) {
	if n == 0 {
		return
	}
	ctx := context.Background()
	var model *lanyard.Certificate
	if err := ib.store.View(ctx, func(tx lanyard.Tx) error {
		certs, err := tx.ListCertificates(lanyard.CertFilter{CardID: cardID, Limit: 1})
		if err == nil && len(certs) > 0 {
			model = certs[0]
		}
		return err
	}); err != nil || model == nil {
		b.Fatalf("the card's certificate: %v", err)
	}
	now := time.Now()
	for done := 0; done < n; {
		var batch []*lanyard.Certificate
		for ; done < n && len(batch) < 1000; done++ {
			c := *model
			c.ID, c.CardID, c.Slot = 0, 0, ""
			c.Serial = fmt.Sprintf("7e%016x", done)
			c.Status, c.Reason, c.ReasonName, c.RevokedAt = lanyard.CertRevoked, lanyard.ReasonSuperseded, lanyard.ReasonSuperseded.String(), now
			c.CreatedAt, c.UpdatedAt = now, now
			if expired {
				c.NotBefore, c.NotAfter = now.AddDate(-1, 0, -1), now.AddDate(0, 0, -1)
			}
			batch = append(batch, &c)
		}
		if err := ib.store.Store.Update(ctx, func(tx lanyard.Tx) error { return tx.CreateCertificates(batch) }); err != nil {
			b.Fatal(err)
		}
	}
}

// crlEntries is the number of entries of the built-in CA's CRL as served.
func (ib *issueBench) crlEntries(b *testing.B) int {
	der, err := ib.srv.Service.PKI.CRL(context.Background(), "builtin")
	if err != nil {
		b.Fatal(err)
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		b.Fatal(err)
	}
	return len(crl.RevokedCertificateEntries)
}

func benchUpdatePCSCD(b *testing.B) {
	ctx := context.Background()
	pc := issuedThroughPCSCD(b)
	pc.ib.renewAlways(b)
	path := fmt.Sprintf("/api/v1/cards/%d/update", pc.cardID)
	in := apiv1.UpdateCardInput{UpdateTarget: apiv1.UpdateTarget{WorkstationID: pc.ws, Reader: pc.reader}}

	cost := relayCost{ta: pc.ta, emu: pc.emuNanos}
	for b.Loop() {
		b.StopTimer()
		cost.start()
		b.StartTimer()

		var res apiv1.UpdateCardResult
		_, err := pc.user.Post(ctx, path, in, &res)

		b.StopTimer()
		if err == nil {
			err = checkRenewed(res.Slots, res.State)
		}
		if err != nil {
			b.Fatalf("update: %v", err)
		}
		cost.stop()
		b.StartTimer()
	}
	cost.report(b, "update")
	pc.ib.checkStaged(b, pc.cardID, b.N)
}

// BenchmarkCardUpdateConcurrent updates 200 cards at once through agent
// relays (issue 17: zero failures): the set-up of
// BenchmarkCardIssueConcurrent (200 emulated cards in in-process readers
// of real agents on the real agent connection, heartbeats at the
// production interval; agents=200 and agents=4). Each iteration puts 200
// factory-fresh cards in the readers and issues them all at once exactly
// as BenchmarkCardIssueConcurrent does (same client, same relays, same
// server; outside the timing but measured, reported as issue-*), then
// sends all 200 POST /api/v1/cards/{id}/update of their owner together
// (timed). Any failure of either fails the benchmark. Reported for both
// batches: the relayed APDUs' server-side round trip p50, p99 and max,
// the requests' p50 and p99 and cards/s; and the update batch's wall
// time.
func BenchmarkCardUpdateConcurrent(b *testing.B) {
	for _, agents := range []int{200, 4} {
		b.Run("agents="+strconv.Itoa(agents), func(b *testing.B) { benchUpdateConcurrent(b, agents) })
	}
}

func benchUpdateConcurrent(b *testing.B, agents int) {
	ctx := context.Background()
	var ta *timingAccess
	ib, slots := newConcurrentBench(b, agents, &ta)
	ib.renewAlways(b)
	user := ib.client(b)

	var issues, updates relayStats
	for b.Loop() {
		b.StopTimer()
		ib.insertFresh(b, slots)
		ta.take()
		ids, r := issueAll(ctx, user, slots)
		if failed := r.failures(slots); len(failed) > 0 {
			b.Fatalf("%d of %d issues failed; first: %s", len(failed), len(slots), failed[0])
		}
		issues.add(r, ta.take())
		b.StartTimer()

		r = allAtOnce(len(slots), func(i int) error {
			var res apiv1.UpdateCardResult
			in := apiv1.UpdateCardInput{UpdateTarget: apiv1.UpdateTarget{WorkstationID: slots[i].ws, Reader: slots[i].reader}}
			_, err := user.Post(ctx, fmt.Sprintf("/api/v1/cards/%d/update", ids[i]), in, &res)
			if err == nil {
				err = checkRenewed(res.Slots, res.State)
			}
			return err
		})

		b.StopTimer()
		if failed := r.failures(slots); len(failed) > 0 {
			b.Fatalf("%d of %d updates failed; first: %s", len(failed), len(slots), failed[0])
		}
		updates.add(r, ta.take())
		b.StartTimer()
	}
	b.ReportMetric(0, "failures")
	updates.report(b, "update", "cards/s")
	issues.report(b, "issue", "issue-cards/s")
	b.ReportMetric(updates.wall.Seconds()/float64(b.N), "wall-s")
}

// relayStats gathers batches of card operations through agent relays:
// each relayed APDU's server-side round trip, each request's time and
// the batches' wall time.
type relayStats struct {
	apdus, reqs []time.Duration
	wall        time.Duration
}

// add adds batch r and the APDUs of its sessions.
func (s *relayStats) add(r batch, sessions [][]relayed) {
	s.wall += r.wall
	s.reqs = append(s.reqs, r.took...)
	for _, sess := range sessions {
		for _, x := range sess {
			s.apdus = append(s.apdus, x.d)
		}
	}
}

// report reports the APDUs' p50, p99 and max as name-apdu-*, the
// requests' p50 and p99 as name-p*, and the requests per second of wall
// time as rate.
func (s *relayStats) report(b *testing.B, name, rate string) {
	slices.Sort(s.apdus)
	slices.Sort(s.reqs)
	b.ReportMetric(quantileMS(s.apdus, 0.50), name+"-apdu-p50-ms")
	b.ReportMetric(quantileMS(s.apdus, 0.99), name+"-apdu-p99-ms")
	b.ReportMetric(quantileMS(s.apdus, 1), name+"-apdu-max-ms")
	b.ReportMetric(quantileMS(s.reqs, 0.50), name+"-p50-ms")
	b.ReportMetric(quantileMS(s.reqs, 0.99), name+"-p99-ms")
	b.ReportMetric(float64(len(s.reqs))/s.wall.Seconds(), rate)
}
