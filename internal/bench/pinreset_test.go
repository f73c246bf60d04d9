package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agent"
	"github.com/lanyard-cms/lanyard/internal/agenthub"
	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/piv"
	"github.com/lanyard-cms/lanyard/internal/card/vpcd"
	"github.com/lanyard-cms/lanyard/internal/client"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/cardops"
	"github.com/lanyard-cms/lanyard/internal/service/cardtest"
	"github.com/lanyard-cms/lanyard/internal/service/identity"
	"github.com/lanyard-cms/lanyard/internal/unblockcode"
	"github.com/lanyard-cms/lanyard/internal/web/webtest"
)

// PIN reset and offline unblock (issue #16, docs/performance.md). Every
// reset here is the owner's online unblock, as Self-Service and `lanyard
// card pin-reset` send it: user bench answers their three secret
// questions (each answer an argon2id verification, auth.DefaultParams),
// then the server resets the PIN with the card's own PUK (RESET RETRY
// COUNTER) and rotates the PUK (CHANGE REFERENCE DATA), an operation of
// three steps, each its own durable transaction with its audit event.
// The new PIN alternates between two values so that every reset changes
// it. SQLite (synchronous=FULL, WAL) is the store.

// benchPINs are the PINs the resets alternate between.
var benchPINs = [2]string{"13572468", "24681357"}

// benchAnswers are user bench's secret answers.
func benchAnswers() []identity.SecretAnswerInput {
	return []identity.SecretAnswerInput{
		{Question: identity.SecretQuestions[0], Answer: "Rex"},
		{Question: identity.SecretQuestions[1], Answer: "Ghent"},
		{Question: identity.SecretQuestions[2], Answer: "Elm Street"},
	}
}

// setAnswers gives user bench their secret answers, as Self-Service does.
func (ib *issueBench) setAnswers(b *testing.B) {
	if _, err := ib.srv.Service.Identity.SetMySecretAnswers(context.Background(), ib.user, identity.SecretAnswersInput{Answers: benchAnswers()}); err != nil {
		b.Fatal(err)
	}
}

// resetRequest is the online unblock the API benchmarks send.
func resetRequest(ws int64, reader string, i int) apiv1.PINResetInput {
	in := apiv1.PINResetInput{WorkstationID: ws, Reader: reader, NewPIN: benchPINs[i%2]}
	for _, a := range benchAnswers() {
		in.Answers = append(in.Answers, apiv1.SecretAnswerInput{Question: a.Question, Answer: a.Answer})
	}
	return in
}

// BenchmarkPINReset is the owner's online unblock of an issued card:
//
//   - in-process: Cards.ResetPIN over cardtest's in-process card access
//     (no agent, no HTTP), one card reset again and again. The time spent
//     inside the emulator's Transmit is subtracted: server-ms/reset is
//     the server's own work (permission, secret answers, PIN rules, PUK
//     drawn and sealed, three durable transactions with their audit
//     events, the card's APDUs built and checked). Measured in the same
//     run: answers-ms, the secret answers' check alone
//     (identity.CheckSecretAnswers: three argon2id verifications), and
//     commit-ms, one durable transaction with one audit event
//     (durableCommitMS, as BenchmarkDurableCommit).
//   - pcscd: POST /api/v1/cards/{id}/pin-reset through the whole stack:
//     HTTP API, hub, TLS agent connection, the real agent with
//     agent.NewPCSCReaders, pcscd, the vpcd driver, internal/card/vpcd
//     and the emulator; the card issued the same way first, outside the
//     timing. Needs LANYARD_TEST_VPCD (fails without it) and takes
//     vpcdtest.Lock.
func BenchmarkPINReset(b *testing.B) {
	b.Run("in-process", benchResetInProcess)
	b.Run("pcscd", benchResetPCSCD)
}

func benchResetInProcess(b *testing.B) {
	ctx := context.Background()
	ib, access, _, cardID, answers := issuedInProcess(b)
	answersMS := ib.answersMS(b, 10)
	commitMS := durableCommitMS(b, ib.store.Store, 50)

	cost := inProcessCost{access: access, store: ib.store}
	i := 0
	for b.Loop() {
		b.StopTimer()
		in := cardops.ResetPINInput{CardTarget: cardops.CardTarget{WorkstationID: 1, Reader: issueReader}, NewPIN: benchPINs[i%2], Answers: answers}
		i++
		cost.start()
		b.StartTimer()

		_, err := ib.srv.Service.Cards.ResetPIN(ctx, ib.user, cardID, in)

		b.StopTimer()
		if err != nil {
			b.Fatalf("reset: %v", err)
		}
		cost.stop()
		b.StartTimer()
	}
	cost.report(b, "reset")
	b.ReportMetric(answersMS, "answers-ms")
	b.ReportMetric(commitMS, "commit-ms")
}

// issuedInProcess is a server with cardtest's in-process card access and
// user bench's card, issued in reader issueReader of workstation 1, and
// bench's secret answers set: the server, the access, the card, its ID
// and the answers as the card workflows take them.
func issuedInProcess(b *testing.B) (*issueBench, *cardtest.Access, *emu.Card, int64, []cardops.SecretAnswer) {
	access := cardtest.New()
	ib := newIssueBench(b, webtest.Options{Cards: func(lanyard.CardAccess) lanyard.CardAccess { return access }})
	c := access.Add(b, 1, ib.user.User.ID, issueReader)
	res, err := ib.srv.Service.Cards.IssueCard(context.Background(), ib.user, issueInput(1, issueReader))
	if err != nil || res.State != "issued" {
		b.Fatalf("issue: %v (%+v)", err, res)
	}
	ib.setAnswers(b)
	var answers []cardops.SecretAnswer
	for _, a := range benchAnswers() {
		answers = append(answers, cardops.SecretAnswer(a))
	}
	return ib, access, c, res.Card.ID, answers
}

// pcscdCard is user bench's card, issued through pcscd
// (issuedThroughPCSCD): the server, its relay timing, the emulator's
// time, bench's API client, the workstation, reader and card.
type pcscdCard struct {
	ib       *issueBench
	ta       *timingAccess
	emuNanos *atomic.Int64
	user     *client.Client
	ws       int64
	reader   string
	cardID   int64
}

// issuedThroughPCSCD is newPCSCDBench with a fresh emulated card in the
// vpcd slot (timed into emuNanos), issued to user bench through the API.
func issuedThroughPCSCD(b *testing.B) *pcscdCard {
	ctx, cancel := context.WithCancel(context.Background())
	pc := &pcscdCard{emuNanos: new(atomic.Int64)}
	var addr string
	pc.ib, addr, pc.ws, pc.reader = newPCSCDBench(b, &pc.ta)
	c := newEmuCard(b)
	serial, err := cardtest.Serial(c)
	if err != nil {
		b.Fatal(err)
	}
	s, err := vpcd.Start(ctx, addr, timedCard{c, pc.emuNanos})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cancel(); <-s.Done() })
	pc.ib.waitHub(b, "the card's serial", func(states []lanyard.WorkstationState) bool {
		return hubReader(hubState(states, pc.ws), pc.reader).Serial == serial
	})
	pc.user = pc.ib.client(b)
	var issued apiv1.IssueCardResult
	if _, err := pc.user.Post(ctx, "/api/v1/issue", issueRequest(pc.ws, pc.reader), &issued); err != nil || issued.State != "issued" {
		b.Fatalf("issue: %v (%+v)", err, issued)
	}
	pc.cardID = issued.Card.ID
	return pc
}

func benchResetPCSCD(b *testing.B) {
	ctx := context.Background()
	pc := issuedThroughPCSCD(b)
	ib, ta, emuNanos, user, ws, reader := pc.ib, pc.ta, pc.emuNanos, pc.user, pc.ws, pc.reader
	ib.setAnswers(b)
	path := fmt.Sprintf("/api/v1/cards/%d/pin-reset", pc.cardID)

	cost := relayCost{ta: ta, emu: emuNanos}
	i := 0
	for b.Loop() {
		b.StopTimer()
		in := resetRequest(ws, reader, i)
		i++
		cost.start()
		b.StartTimer()

		_, err := user.Post(ctx, path, in, nil)

		b.StopTimer()
		if err != nil {
			b.Fatalf("reset: %v", err)
		}
		cost.stop()
		b.StartTimer()
	}
	cost.report(b, "reset")
}

// BenchmarkPINResetConcurrent resets the PINs of 200 cards at once
// through agent relays (issue #16: zero failures): the set-up of
// BenchmarkCardIssueConcurrent (200 emulated cards in in-process readers
// of real agents on the real agent connection, heartbeats at the
// production interval), the 200 cards issued first, outside the timing;
// then all 200 POST /api/v1/cards/{id}/pin-reset are sent together, by
// the administrator, each with a chosen PIN. The owner's policy does not
// ask staff to validate the secret answers here: the login throttle lets
// only a few answer checks per account and per client address be in
// flight at once (auth.Throttle.Begin), so 200 checks from one address
// would be refused by design, not by load; the answers' cost is in
// BenchmarkPINReset's answers-ms. Any failure fails the benchmark.
// Reported: the relayed APDUs' server-side round trip p50, p99 and max,
// the reset requests' p50 and p99, the wall time of the batch and
// resets/s.
//
//   - agents=200: one workstation per card;
//   - agents=4: 50 readers per agent, many sessions on one connection.
func BenchmarkPINResetConcurrent(b *testing.B) {
	for _, agents := range []int{200, 4} {
		b.Run("agents="+strconv.Itoa(agents), func(b *testing.B) { benchResetConcurrent(b, agents) })
	}
}

func benchResetConcurrent(b *testing.B, agents int) {
	ctx := context.Background()
	var ta *timingAccess
	ib, slots := newConcurrentBench(b, agents, &ta)
	user := ib.client(b)
	ib.insertFresh(b, slots)
	ids, issued := issueAll(ctx, user, slots)
	if failed := issued.failures(slots); len(failed) > 0 {
		b.Fatalf("issuing the cards to reset: %d of %d failed; first: %s", len(failed), len(slots), failed[0])
	}
	admin := ib.adminClient(b)
	pol, err := ib.srv.Service.Catalog.GetPolicy(ctx, "default")
	if err != nil {
		b.Fatal(err)
	}
	pol.Settings.Workflow.Administrator.ValidateAnswers = false
	if _, err := ib.srv.Service.Catalog.UpdatePolicy(ctx, ib.admin, "default", pol); err != nil {
		b.Fatal(err)
	}
	ta.take()

	var lat, reqs []time.Duration
	var wall time.Duration
	round := 0
	for b.Loop() {
		r := allAtOnce(len(slots), func(i int) error {
			in := apiv1.PINResetInput{WorkstationID: slots[i].ws, Reader: slots[i].reader, NewPIN: benchPINs[round%2]}
			_, err := admin.Post(ctx, fmt.Sprintf("/api/v1/cards/%d/pin-reset", ids[i]), in, nil)
			return err
		})
		b.StopTimer()
		round++
		if failed := r.failures(slots); len(failed) > 0 {
			b.Fatalf("%d of %d resets failed; first: %s", len(failed), len(slots), failed[0])
		}
		wall += r.wall
		reqs = append(reqs, r.took...)
		for _, sess := range ta.take() {
			for _, x := range sess {
				lat = append(lat, x.d)
			}
		}
		b.StartTimer()
	}
	slices.Sort(lat)
	slices.Sort(reqs)
	b.ReportMetric(0, "failures")
	b.ReportMetric(quantileMS(lat, 0.50), "apdu-p50-ms")
	b.ReportMetric(quantileMS(lat, 0.99), "apdu-p99-ms")
	b.ReportMetric(quantileMS(lat, 1), "apdu-max-ms")
	b.ReportMetric(quantileMS(reqs, 0.50), "reset-p50-ms")
	b.ReportMetric(quantileMS(reqs, 0.99), "reset-p99-ms")
	b.ReportMetric(wall.Seconds()/float64(b.N), "wall-s")
	b.ReportMetric(float64(len(reqs))/wall.Seconds(), "resets/s")
}

// BenchmarkOfflineUnblockResponse is the server's answer to an offline
// unblock challenge (docs/lifecycle.md, "Offline unblock"): the owner
// asks in Self-Service with their secret answers, for a fresh challenge
// each time, read from the card (an emulated card issued with its own
// management key, PIN blocked) outside the timing. The server checks
// the permission and the answers, decodes the challenge, derives the
// card's unblock key from its diversified management key, computes the
// response and records it with its audit event in one durable
// transaction; there is no card I/O. After each answer the card takes
// the response with a new PIN, outside the timing, which proves every
// response right. Measured in the same run: answers-ms and commit-ms, as
// in BenchmarkPINReset.
func BenchmarkOfflineUnblockResponse(b *testing.B) {
	ctx := context.Background()
	ib, _, c, cardID, answers := issuedInProcess(b)
	pc, err := piv.New(cardtest.Transport(c), piv.Config{Rand: rand.Reader})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := pc.Select(ctx); err != nil {
		b.Fatal(err)
	}
	for range 3 {
		_ = pc.VerifyPIN(ctx, "00000000")
	}

	answersMS := ib.answersMS(b, 10)
	commitMS := durableCommitMS(b, ib.store.Store, 50)
	var txs int64
	i := 0
	for b.Loop() {
		b.StopTimer()
		ch, err := pc.UnblockChallenge(ctx)
		if err != nil {
			b.Fatal(err)
		}
		code := unblockcode.Encode(unblockcode.Challenge, ch.Payload)
		tx0, _ := ib.store.stats()
		b.StartTimer()

		out, err := ib.srv.Service.Cards.OfflineUnblock(ctx, ib.user, cardID, cardops.OfflineUnblockInput{Challenge: code, Answers: answers})

		b.StopTimer()
		if err != nil {
			b.Fatalf("offline unblock: %v", err)
		}
		tx1, _ := ib.store.stats()
		txs += tx1 - tx0
		resp, err := unblockcode.Decode(unblockcode.Response, out.Response)
		if err != nil {
			b.Fatal(err)
		}
		if err := pc.UnblockWithResponse(ctx, unblockcode.UnpackChallenge(ch.Payload).Counter, resp, benchPINs[i%2]); err != nil {
			b.Fatalf("the card refused the server's response: %v", err)
		}
		i++
		for range 3 { // blocked again for the next challenge
			_ = pc.VerifyPIN(ctx, "00000000")
		}
		b.StartTimer()
	}
	n := float64(b.N)
	b.ReportMetric(float64(b.Elapsed())/n/1e6, "server-ms/unblock")
	b.ReportMetric(float64(txs)/n, "db-tx/unblock")
	b.ReportMetric(answersMS, "answers-ms")
	b.ReportMetric(commitMS, "commit-ms")
}

// BenchmarkDurableCommit is one durable store transaction that writes
// one small row (a setting) and appends its audit event, through
// lanyard.Recorder as every state change does: the unit the other
// benchmarks' commit-ms stands for. SQLite (synchronous=FULL, WAL).
func BenchmarkDurableCommit(b *testing.B) {
	ib := newIssueBench(b, webtest.Options{})
	rec := &lanyard.Recorder{Store: ib.store.Store, Now: time.Now}
	ctx := context.Background()
	i := 0
	for b.Loop() {
		if err := commitOne(ctx, rec, i); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(b.Elapsed())/float64(b.N)/1e6, "commit-ms")
}

// commitOne is one durable transaction with one audit event.
func commitOne(ctx context.Context, rec *lanyard.Recorder, i int) error {
	v := strconv.Itoa(i)
	return rec.Update(ctx, func() *lanyard.AuditEvent {
		return rec.Event(nil, "setting.put", "setting", "bench/commit", map[string]any{"value": v})
	}, func(tx lanyard.Tx) error { return tx.PutSetting("bench/commit", []byte(v)) })
}

// durableCommitMS is the mean time of commitOne, n times one at a time.
func durableCommitMS(b *testing.B, st lanyard.Store, n int) float64 {
	rec := &lanyard.Recorder{Store: st, Now: time.Now}
	ctx := context.Background()
	start := time.Now()
	for i := range n {
		if err := commitOne(ctx, rec, i); err != nil {
			b.Fatal(err)
		}
	}
	return float64(time.Since(start)) / float64(n) / 1e6
}

// answersMS is the mean time of checking user bench's three secret
// answers (right ones), n times one at a time.
func (ib *issueBench) answersMS(b *testing.B, n int) float64 {
	ctx := context.Background()
	start := time.Now()
	for range n {
		if err := ib.srv.Service.Identity.CheckSecretAnswers(ctx, ib.user.User.ID, benchAnswers()); err != nil {
			b.Fatal(err)
		}
	}
	return float64(time.Since(start)) / float64(n) / 1e6
}

// concurrentSlot is one reader of one agent of the concurrent benchmarks.
type concurrentSlot struct {
	ws     int64
	reader string
	mem    *agent.MemReaders
	serial string
}

// newConcurrentBench is a server with 200 readers (concurrentCards)
// spread over agents paired agents, heartbeats at the production
// interval; the relayed APDUs are timed into *ta.
func newConcurrentBench(b *testing.B, agents int, ta **timingAccess) (*issueBench, []*concurrentSlot) {
	// Hundreds of agents pair from this one address: lift the per-address
	// pairing limit that protects a real server.
	limits := agenthub.PairLimits
	limits.MaxFailures = 10 * concurrentCards
	ib := newIssueBench(b, webtest.Options{Heartbeat: agentproto.DefaultHeartbeat, PairLimits: &limits, Cards: timed(ta)})
	per := concurrentCards / agents
	readers := make([]agent.Readers, agents)
	mems := make([]*agent.MemReaders, agents)
	for i := range agents {
		names := make([]string, per)
		for j := range names {
			names[j] = fmt.Sprintf("Bench reader %02d", j)
		}
		mems[i] = agent.NewMemReaders(names...)
		readers[i] = mems[i]
	}
	var slots []*concurrentSlot
	for i, id := range ib.pairAgents(b, readers) {
		for j := range per {
			slots = append(slots, &concurrentSlot{ws: id, reader: fmt.Sprintf("Bench reader %02d", j), mem: mems[i]})
		}
	}
	return ib, slots
}

// insertFresh puts a factory-fresh emulated card in every slot and waits
// until the hub sees every new serial.
func (ib *issueBench) insertFresh(b *testing.B, slots []*concurrentSlot) {
	for _, s := range slots {
		c := newEmuCard(b)
		serial, err := cardtest.Serial(c)
		if err != nil {
			b.Fatal(err)
		}
		s.serial = serial
		if err := s.mem.Insert(s.reader, c); err != nil {
			b.Fatal(err)
		}
	}
	ib.waitHub(b, "every new card's serial", func(states []lanyard.WorkstationState) bool {
		for _, s := range slots {
			if hubReader(hubState(states, s.ws), s.reader).Serial != s.serial {
				return false
			}
		}
		return true
	})
}

// batch is what allAtOnce measured: each call's error and time, and the
// wall time of them all.
type batch struct {
	start time.Time
	errs  []error
	took  []time.Duration
	wall  time.Duration
}

// allAtOnce runs fn(0) … fn(n-1) together, released at the same moment;
// the wall time counts from before their goroutines start.
func allAtOnce(n int, fn func(i int) error) batch {
	r := batch{start: time.Now(), errs: make([]error, n), took: make([]time.Duration, n)}
	done := make(chan struct{}, n)
	gate := make(chan struct{})
	for i := range n {
		go func() {
			<-gate
			t0 := time.Now()
			r.errs[i] = fn(i)
			r.took[i] = time.Since(t0)
			done <- struct{}{}
		}()
	}
	close(gate)
	for range n {
		<-done
	}
	r.wall = time.Since(r.start)
	return r
}

// issueAll issues the cards in slots all at once (allAtOnce) as user,
// as BenchmarkCardIssueConcurrent does: the cards' IDs (0 where the issue
// failed) and the batch.
func issueAll(ctx context.Context, user *client.Client, slots []*concurrentSlot) ([]int64, batch) {
	ids := make([]int64, len(slots))
	r := allAtOnce(len(slots), func(i int) error {
		var res apiv1.IssueCardResult
		_, err := user.Post(ctx, "/api/v1/issue", issueRequest(slots[i].ws, slots[i].reader), &res)
		if err == nil && res.State != "issued" {
			err = fmt.Errorf("card state %q, want issued", res.State)
		}
		if err == nil {
			ids[i] = res.Card.ID
		}
		return err
	})
	return ids, r
}

// failures names the slots whose call failed, with the error.
func (r batch) failures(slots []*concurrentSlot) []string {
	var out []string
	for i, err := range r.errs {
		if err != nil {
			out = append(out, fmt.Sprintf("workstation %d %s: %v", slots[i].ws, slots[i].reader, err))
		}
	}
	return out
}
