package storetest

import (
	"crypto/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/store/migrations"
)

// NewMail returns a queued message due at due.
func NewMail(subject string, due time.Time) *lanyard.MailMessage {
	return &lanyard.MailMessage{
		Kind: "test", To: []string{"a@example.com", "b@example.com"}, Subject: subject,
		Content: []byte("sealed " + subject), Size: 42, State: lanyard.MailQueued,
		NextAttemptAt: due, CreatedAt: at(123456789 * time.Nanosecond),
	}
}

func testMail(t *testing.T, s lanyard.Store) {
	m1 := NewMail("one", at(time.Minute))
	m2 := NewMail("two", at(2*time.Minute))
	m2.To = nil // stored as [], read back empty
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.CreateMail(m1); err != nil {
			return err
		}
		return tx.CreateMail(m2)
	})
	if m1.ID == 0 || m2.ID <= m1.ID {
		t.Fatalf("ids %d, %d", m1.ID, m2.ID)
	}
	wantTime(t, "CreatedAt", m1.CreatedAt, at(123456789*time.Nanosecond))
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.MailByID(m1.ID)
		if err != nil {
			return err
		}
		equal(t, "MailByID", got, m1)
		got, err = tx.MailByID(m2.ID)
		if err != nil {
			return err
		}
		equal(t, "MailByID without recipients", got, m2)
		_, err = tx.MailByID(999_999)
		wantCode(t, "MailByID missing", err, lanyard.ENotFound)
		return nil
	})

	// An outcome writes the delivery fields only.
	sent := *m1
	sent.State, sent.Attempts, sent.LastError = lanyard.MailSent, 3, "421 try later"
	sent.NextAttemptAt, sent.UpdatedAt, sent.SentAt = time.Time{}, at(time.Hour), at(time.Hour)
	sent.Subject, sent.Content = "changed", []byte("changed") // not written
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.UpdateMail(&sent) })
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.MailByID(m1.ID)
		if err != nil {
			return err
		}
		want := sent
		want.Subject, want.Content = m1.Subject, m1.Content
		equal(t, "updated mail", got, &want)
		return nil
	})
	missing := sent
	missing.ID = 999_999
	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateMail(&missing) })
	wantCode(t, "UpdateMail missing", err, lanyard.ENotFound)
	bad := *m2
	bad.State = "lost"
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateMail(&bad) })
	wantCode(t, "UpdateMail bad state", err, lanyard.EInvalid)

	failed := NewMail("three", at(0))
	failed.State, failed.LastError = lanyard.MailFailed, "550 no such user"
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateMail(failed) })
	id := func(m *lanyard.MailMessage) int64 { return m.ID }
	MustView(t, s, func(tx lanyard.Tx) error {
		for _, tc := range []struct {
			what string
			f    lanyard.MailFilter
			want []int64
		}{
			{"all, newest first", lanyard.MailFilter{}, []int64{failed.ID, m2.ID, m1.ID}},
			{"failed", lanyard.MailFilter{State: lanyard.MailFailed}, []int64{failed.ID}},
			{"queued", lanyard.MailFilter{State: lanyard.MailQueued}, []int64{m2.ID}},
			{"page", lanyard.MailFilter{Limit: 1, Offset: 1}, []int64{m2.ID}},
			{"sending", lanyard.MailFilter{State: lanyard.MailSending}, nil},
		} {
			got, err := tx.ListMail(tc.f)
			if err != nil {
				return err
			}
			wantIDs(t, "ListMail "+tc.what, got, id, tc.want...)
			for _, m := range got {
				if m.Content != nil {
					t.Errorf("ListMail %s: message %d carries its content", tc.what, m.ID)
				}
			}
		}
		return nil
	})
}

// testMailClaim: due queued messages and expired leases are claimed, in
// id order, the most overdue taken first, each once; sent, failed, future and leased ones are not.
func testMailClaim(t *testing.T, s lanyard.Store) {
	due1 := NewMail("due1", at(2*time.Minute))
	due2 := NewMail("due2", at(time.Minute))
	later := NewMail("later", at(time.Hour))
	done := NewMail("done", at(0))
	done.State = lanyard.MailSent
	dead := NewMail("dead", at(0))
	dead.State = lanyard.MailFailed
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for _, m := range []*lanyard.MailMessage{due1, due2, later, done, dead} {
			if err := tx.CreateMail(m); err != nil {
				return err
			}
		}
		return nil
	})
	now, lease := at(10*time.Minute), at(15*time.Minute)
	norm := func(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }
	var got []*lanyard.MailMessage
	MustUpdate(t, s, func(tx lanyard.Tx) (err error) { got, err = tx.ClaimMail("claim-1", now, lease, 10); return })
	id := func(m *lanyard.MailMessage) int64 { return m.ID }
	wantIDs(t, "first claim", got, id, due1.ID, due2.ID)
	for _, m := range got {
		if m.State != lanyard.MailSending || m.Attempts != 1 || !m.NextAttemptAt.Equal(norm(lease)) || !m.UpdatedAt.Equal(norm(now)) || len(m.Content) == 0 {
			t.Errorf("claimed %d: state %s, attempts %d, next %v, updated %v, content %q", m.ID, m.State, m.Attempts, m.NextAttemptAt, m.UpdatedAt, m.Content)
		}
	}
	// Leased: nothing is due until the lease ends; then they come back.
	MustUpdate(t, s, func(tx lanyard.Tx) (err error) {
		got, err = tx.ClaimMail("claim-2", at(14*time.Minute), at(20*time.Minute), 10)
		return
	})
	wantIDs(t, "claim during the lease", got, id)
	MustUpdate(t, s, func(tx lanyard.Tx) (err error) {
		got, err = tx.ClaimMail("claim-3", at(16*time.Minute), at(20*time.Minute), 1)
		return
	})
	wantIDs(t, "claim after the lease, limit 1", got, id, due1.ID)
	if len(got) == 1 && got[0].Attempts != 2 {
		t.Errorf("reclaimed attempts = %d, want 2", got[0].Attempts)
	}
	MustUpdate(t, s, func(tx lanyard.Tx) (err error) {
		got, err = tx.ClaimMail("claim-4", at(16*time.Minute), at(20*time.Minute), 0)
		return
	})
	wantIDs(t, "claim of none", got, id)
	// The fence: due1 is claim-3's now; claim-1 lost it and renews
	// nothing, claim-3 renews it, and due2 is still claim-1's.
	renew := func(id int64, claim string, until time.Duration) error {
		return s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.RenewMailClaim(id, claim, at(until)) })
	}
	wantCode(t, "RenewMailClaim by a lost claim", renew(due1.ID, "claim-1", 30*time.Minute), lanyard.EConflict)
	if err := renew(due1.ID, "claim-3", 30*time.Minute); err != nil {
		t.Errorf("RenewMailClaim by the holding claim: %v", err)
	}
	if err := renew(due2.ID, "claim-1", 30*time.Minute); err != nil {
		t.Errorf("RenewMailClaim of a message claimed once: %v", err)
	}
	MustUpdate(t, s, func(tx lanyard.Tx) (err error) {
		got, err = tx.ClaimMail("claim-5", at(25*time.Minute), at(40*time.Minute), 10)
		return
	})
	wantIDs(t, "claim during renewed leases", got, id)
	wantCode(t, "RenewMailClaim of a message never claimed", renew(later.ID, "claim-1", time.Hour), lanyard.EConflict)
	sent := *due2
	sent.State, sent.SentAt, sent.UpdatedAt = lanyard.MailSent, at(31*time.Minute), at(31*time.Minute)
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.UpdateMail(&sent) })
	wantCode(t, "RenewMailClaim of a sent message", renew(due2.ID, "claim-1", time.Hour), lanyard.EConflict)
	err := s.Update(t.Context(), func(tx lanyard.Tx) (err error) { _, err = tx.ClaimMail("", at(time.Hour), at(2*time.Hour), 1); return })
	wantCode(t, "ClaimMail without a token", err, lanyard.EInvalid)
}

// testMailClaimConcurrent: claimers racing over one outbox (several
// replicas on PostgreSQL) each get distinct messages and together all.
func testMailClaimConcurrent(t *testing.T, s lanyard.Store) {
	const n = 40
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for i := range n {
			if err := tx.CreateMail(NewMail("m", at(time.Duration(i)*time.Second))); err != nil {
				return err
			}
		}
		return nil
	})
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				var got []*lanyard.MailMessage
				err := s.Update(t.Context(), func(tx lanyard.Tx) (err error) {
					got, err = tx.ClaimMail(rand.Text(), at(time.Hour), at(2*time.Hour), 3)
					return
				})
				if err != nil {
					t.Errorf("ClaimMail: %v", err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, m := range got {
					seen[m.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != n {
		t.Errorf("claimed %d distinct messages, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("message %d claimed %d times", id, c)
		}
	}
}

// testMailClearContent: a delivered message's body is emptied and nothing
// else changes; ListMail and ClaimMail still see the row, and a missing
// message is not found.
func testMailClearContent(t *testing.T, s lanyard.Store) {
	m := NewMail("sent", at(time.Minute))
	m.State, m.Attempts, m.SentAt, m.UpdatedAt = lanyard.MailSent, 1, at(2*time.Minute), at(2*time.Minute)
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.CreateMail(m) })
	MustUpdate(t, s, func(tx lanyard.Tx) error { return tx.ClearMailContent(m.ID) })
	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.MailByID(m.ID)
		if err != nil {
			return err
		}
		if len(got.Content) != 0 {
			t.Errorf("content after ClearMailContent: %q", got.Content)
		}
		want := *m
		want.Content = nil
		equal(t, "cleared mail", got, &want)
		return nil
	})
	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.ClearMailContent(999_999) })
	wantCode(t, "ClearMailContent missing", err, lanyard.ENotFound)
}

// MailMigration checks the migration that empties the bodies the outbox
// kept before issue 13: on a store of the engine under test, it adds
// messages with bodies, lets rerun apply that migration again (the
// engine's test runs MigrationSQL on the database and reopens), and checks
// that sent messages and failed ones carrying a secret lost their body
// while queued messages and other failed ones kept theirs.
func MailMigration(t *testing.T, s lanyard.Store, rerun func() lanyard.Store) {
	t.Helper()
	mk := func(subject, kind string, state lanyard.MailState) *lanyard.MailMessage {
		m := NewMail(subject, at(time.Minute))
		m.Kind, m.State = kind, state
		return m
	}
	msgs := map[*lanyard.MailMessage]bool{ // message → body kept
		mk("sent pin", "random_pin", lanyard.MailSent):        false,
		mk("sent test", "test", lanyard.MailSent):             false,
		mk("failed code", "aircard_code", lanyard.MailFailed): false,
		mk("failed test", "test", lanyard.MailFailed):         true,
		mk("queued pin", "random_pin", lanyard.MailQueued):    true,
	}
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		for m := range msgs {
			if err := tx.CreateMail(m); err != nil {
				return err
			}
		}
		return nil
	})
	s = rerun()
	MustView(t, s, func(tx lanyard.Tx) error {
		for m, kept := range msgs {
			got, err := tx.MailByID(m.ID)
			if err != nil {
				return err
			}
			if (len(got.Content) > 0) != kept || got.Subject != m.Subject || len(got.To) != len(m.To) {
				t.Errorf("%s after the migration: body %q, subject %q, to %v; want body kept %v and the metadata", m.Subject, got.Content, got.Subject, got.To, kept)
			}
		}
		return nil
	})
}

// MigrationSQL is the SQL of engine's migration whose file name ends in
// suffix, for tests that apply one again to data written after it.
func MigrationSQL(t *testing.T, engine, suffix string) string {
	t.Helper()
	ms, err := migrations.For(engine)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if strings.HasSuffix(m.Name, suffix) {
			return m.SQL
		}
	}
	t.Fatalf("no %s migration ending in %q", engine, suffix)
	return ""
}
