package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// stored is at(d) as the store gives it back.
func stored(d time.Duration) time.Time { return at(d).UTC().Truncate(time.Microsecond) }

// testCardContent checks the Card Monitor's records (CardContentStore).
func testCardContent(t *testing.T, s lanyard.Store) {
	alice := MustCreateUser(t, s, "alice")
	MustCreateCA(t, s, "builtin")
	c1, c2, c3 := NewCard("5001", alice.ID), NewCard("5002", alice.ID), NewCard("5003", alice.ID)
	c3.State = lanyard.CardRevoked
	c1.UpdatedAt, c2.UpdatedAt, c3.UpdatedAt = at(time.Hour), at(2*time.Hour), at(3*time.Hour)
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, c := range []*lanyard.Card{c1, c2, c3} {
			if err := tx.CreateCard(c); err != nil {
				return err
			}
		}
		return nil
	})
	cert := func(serial string, card int64, st lanyard.CertStatus, src lanyard.CertSource, notAfter, updated time.Duration) *lanyard.Certificate {
		c := NewCertificate("builtin", serial, alice.ID)
		c.CardID, c.Status, c.Source, c.NotAfter, c.UpdatedAt = card, st, src, at(notAfter), at(updated)
		return c
	}
	certs := []*lanyard.Certificate{
		cert("a1", c1.ID, lanyard.CertWritten, lanyard.SourceManaged, 100*time.Hour, time.Hour),
		cert("a2", c1.ID, lanyard.CertRevoked, lanyard.SourceManaged, 50*time.Hour, time.Hour),
		cert("a3", c1.ID, lanyard.CertExpired, lanyard.SourceTracked, 10*time.Hour, time.Hour),
		cert("b1", c2.ID, lanyard.CertValid, lanyard.SourceManaged, 200*time.Hour, 10*time.Hour),
		cert("b2", c2.ID, lanyard.CertPending, lanyard.SourceManaged, 200*time.Hour, time.Hour),
	}
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateCertificates(certs) })

	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.CardCerts([]int64{c1.ID, c2.ID})
		if err != nil {
			return err
		}
		slices.SortFunc(got, func(a, b lanyard.CardCert) int { return a.NotAfter.Compare(b.NotAfter) })
		equal(t, "CardCerts", got, []lanyard.CardCert{
			{CardID: c1.ID, Source: lanyard.SourceTracked, NotAfter: stored(10 * time.Hour)},
			{CardID: c1.ID, Source: lanyard.SourceManaged, NotAfter: stored(100 * time.Hour)},
			{CardID: c2.ID, Source: lanyard.SourceManaged, NotAfter: stored(200 * time.Hour)},
		})
		// Every card; then only those changed since: c2 (card and a
		// certificate), c3 (card).
		all, err := tx.ChangedCards(time.Time{}, 0, 10)
		if err != nil {
			return err
		}
		equal(t, "ChangedCards all", all, []int64{c1.ID, c2.ID, c3.ID})
		since, err := tx.ChangedCards(at(2*time.Hour), 0, 10)
		if err != nil {
			return err
		}
		equal(t, "ChangedCards since", since, []int64{c2.ID, c3.ID})
		page, err := tx.ChangedCards(at(2*time.Hour), c2.ID, 1)
		equal(t, "ChangedCards after", page, []int64{c3.ID})
		return err
	})

	r1 := &lanyard.CardContent{CardID: c1.ID, Status: lanyard.ContentTrackedExpired, NextCheckAt: at(90 * time.Hour),
		NotifiedStatus: lanyard.ContentTrackedExpired, NotifiedAt: at(11 * time.Hour), UpdatedAt: at(11 * time.Hour)}
	r2 := &lanyard.CardContent{CardID: c2.ID, Status: lanyard.ContentNone, NextCheckAt: at(20 * time.Hour), UpdatedAt: at(11 * time.Hour)}
	r3 := &lanyard.CardContent{CardID: c3.ID, Status: lanyard.ContentManagedExpired, UpdatedAt: at(11 * time.Hour)}
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.PutCardContents([]*lanyard.CardContent{r1, r2, r3}) })
	r1.Status = lanyard.ContentManagedExpiring // replaced
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.PutCardContents([]*lanyard.CardContent{r1}) })
	err := s.Update(t.Context(), func(tx lanyard.Tx) error {
		return tx.PutCardContents([]*lanyard.CardContent{{CardID: 999999, Status: lanyard.ContentNone, UpdatedAt: t0}})
	})
	wantCode(t, "PutCardContents of no card", err, lanyard.EInvalid)

	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.CardContents([]int64{c1.ID, c2.ID, 999999})
		if err != nil {
			return err
		}
		equal(t, "CardContents", got, map[int64]*lanyard.CardContent{c1.ID: r1, c2.ID: r2})
		due, err := tx.DueCardContents(at(95*time.Hour), 10)
		if err != nil {
			return err
		}
		equal(t, "DueCardContents", due, []int64{c2.ID, c1.ID}) // earliest first; c3 has none
		due, err = tx.DueCardContents(at(95*time.Hour), 1)
		if err != nil {
			return err
		}
		equal(t, "DueCardContents limit", due, []int64{c2.ID})
		counts, err := tx.CountCardContents()
		if err != nil {
			return err
		}
		// c3 is revoked: none, whatever its record says.
		equal(t, "CountCardContents", counts, map[lanyard.ContentStatus]int{lanyard.ContentNone: 2, lanyard.ContentManagedExpiring: 1,
			lanyard.ContentManagedExpired: 0, lanyard.ContentTrackedExpiring: 0, lanyard.ContentTrackedExpired: 0})
		for st, want := range map[lanyard.ContentStatus][]int64{lanyard.ContentManagedExpiring: {c1.ID}, lanyard.ContentNone: {c2.ID, c3.ID}, lanyard.ContentManagedExpired: {}} {
			cards, err := tx.ListCards(lanyard.CardFilter{ContentStatus: st})
			if err != nil {
				return err
			}
			wantIDs(t, "ListCards "+string(st), cards, func(c *lanyard.Card) int64 { return c.ID }, want...)
		}
		return nil
	})
	// More records than one statement writes.
	var many []*lanyard.CardContent
	var manyIDs []int64
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for i := range 520 {
			c := NewCard(fmt.Sprintf("8%04d", i), alice.ID)
			if err := tx.CreateCard(c); err != nil {
				return err
			}
			many = append(many, &lanyard.CardContent{CardID: c.ID, Status: lanyard.ContentTrackedExpiring, NextCheckAt: at(time.Duration(i) * time.Minute), UpdatedAt: t0})
			manyIDs = append(manyIDs, c.ID)
		}
		return tx.PutCardContents(many)
	})
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.CardContents(manyIDs)
		if len(got) != 520 || got[manyIDs[519]].NextCheckAt != stored(519*time.Minute) {
			t.Errorf("PutCardContents of 520: %d records read back", len(got))
		}
		cards, err2 := tx.CardsByIDs([]int64{c2.ID, c1.ID, 999999})
		wantIDs(t, "CardsByIDs", cards, func(c *lanyard.Card) int64 { return c.ID }, c1.ID, c2.ID)
		users, err3 := tx.UsersByIDs([]int64{alice.ID, 999999})
		wantIDs(t, "UsersByIDs", users, func(u *lanyard.User) int64 { return u.ID }, alice.ID)
		return errors.Join(err, err2, err3)
	})
}

// testJobRuns checks the scheduled jobs' lease (ClaimJob, RenewJob,
// FinishJob).
func testJobRuns(t *testing.T, s lanyard.Store) {
	claim := func(holder string, now time.Duration) (*lanyard.JobRun, error) {
		var j *lanyard.JobRun
		err := s.Update(t.Context(), func(tx lanyard.Tx) (err error) {
			j, err = tx.ClaimJob("monitor", holder, at(now), at(now+10*time.Minute))
			return err
		})
		return j, err
	}
	j, err := claim("a", 0)
	if err != nil {
		t.Fatalf("first claim: %v", err)
	}
	equal(t, "first claim", j, &lanyard.JobRun{Name: "monitor", Holder: "a", LeaseUntil: stored(10 * time.Minute)})
	_, err = claim("b", time.Minute)
	wantCode(t, "claim while a holds it", err, lanyard.EConflict)
	if _, err := claim("a", 2*time.Minute); err != nil {
		t.Errorf("renewal by the holder: %v", err)
	}
	err = s.Update(t.Context(), func(tx lanyard.Tx) error {
		return tx.FinishJob(&lanyard.JobRun{Name: "monitor", Holder: "b", Mark: at(time.Hour)})
	})
	wantCode(t, "FinishJob by another holder", err, lanyard.EConflict)
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		return tx.FinishJob(&lanyard.JobRun{Name: "monitor", Holder: "a", Mark: at(time.Minute), Extra: "v1", RunAt: at(3 * time.Minute)})
	})
	// Finished: free at once for another replica, which sees the mark.
	j, err = claim("b", 4*time.Minute)
	if err != nil {
		t.Fatalf("claim after finish: %v", err)
	}
	equal(t, "claim after finish", j, &lanyard.JobRun{Name: "monitor", Holder: "b", LeaseUntil: stored(14 * time.Minute),
		Mark: stored(time.Minute), Extra: "v1", RunAt: stored(3 * time.Minute)})
	renew := func(holder string, until time.Duration) error {
		return s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.RenewJob("monitor", holder, at(until)) })
	}
	wantCode(t, "RenewJob by a holder that finished", renew("a", 20*time.Minute), lanyard.EConflict)
	if err := renew("b", 15*time.Minute+30*time.Second); err != nil {
		t.Errorf("RenewJob by the holder: %v", err)
	}
	_, err = claim("c", 15*time.Minute)
	wantCode(t, "claim during a renewed lease", err, lanyard.EConflict)
	// A lease that ran out is taken over, and its former holder can no
	// longer renew it.
	if _, err := claim("c", 16*time.Minute); err != nil {
		t.Errorf("claim after the lease ran out: %v", err)
	}
	wantCode(t, "RenewJob after another took the job over", renew("b", 30*time.Minute), lanyard.EConflict)
	wantCode(t, "RenewJob of a job never claimed", s.Update(t.Context(), func(tx lanyard.Tx) error {
		return tx.RenewJob("nothing", "c", at(time.Hour))
	}), lanyard.EConflict)
	// ListJobRuns: every row by name, as claimed and finished.
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		_, err := tx.ClaimJob("crl_refresh", "d", at(20*time.Minute), at(21*time.Minute))
		return err
	})
	MustView(t, s, func(tx lanyard.Tx) error {
		jobs, err := tx.ListJobRuns()
		equal(t, "ListJobRuns", jobs, []*lanyard.JobRun{
			{Name: "crl_refresh", Holder: "d", LeaseUntil: stored(21 * time.Minute)},
			{Name: "monitor", Holder: "c", LeaseUntil: stored(26 * time.Minute), Mark: stored(time.Minute), Extra: "v1", RunAt: stored(3 * time.Minute)},
		})
		return err
	})
}
