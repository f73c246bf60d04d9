package storetest

import (
	"testing"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func testRequests(t *testing.T, s lanyard.Store) {
	alice, manager := MustCreateUser(t, s, "alice"), MustCreateUser(t, s, "manager")
	r1, r2 := NewRequest(alice.ID, alice.ID), NewRequest(alice.ID, 0) // r2: requested by the system (NULL)
	r2.CSR = nil
	r3 := NewRequest(alice.ID, manager.ID)
	cert := NewCertificate("builtin", "0a", alice.ID)
	card := NewCard("1001", alice.ID)
	issue := &lanyard.Operation{Kind: lanyard.OpIssue, UserID: alice.ID, State: lanyard.OpPending, CreatedAt: t0, UpdatedAt: t0}
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.CreateCard(card); err != nil {
			return err
		}
		issue.CardID = card.ID
		if err := tx.CreateOperation(issue); err != nil {
			return err
		}
		r1.OperationID = issue.ID // made by a card issue
		for _, r := range []*lanyard.CertRequest{r1, r2, r3} {
			if err := tx.CreateRequest(r); err != nil {
				return err
			}
		}
		return tx.CreateCertificate(cert)
	})
	reqID := func(r *lanyard.CertRequest) int64 { return r.ID }
	MustView(t, s, func(tx lanyard.Tx) error {
		for _, want := range []*lanyard.CertRequest{r1, r2} {
			got, err := tx.RequestByID(want.ID)
			if err != nil {
				return err
			}
			equal(t, "RequestByID", got, want)
		}
		_, err := tx.RequestByID(999_999)
		wantCode(t, "RequestByID missing", err, lanyard.ENotFound)
		return nil
	})

	// The decision writes status, certificate, decider, comment and time;
	// what was requested stays as it was.
	approve := *r1
	approve.Status, approve.CertificateID, approve.DecidedBy = lanyard.RequestIssued, cert.ID, manager.ID
	approve.Comment, approve.DecidedAt = "checked ID card", at(time.Hour)
	approve.Subject, approve.CreatedAt = "CN=Changed", at(-time.Hour)
	reject := *r3
	reject.Status, reject.DecidedBy, reject.Comment, reject.DecidedAt = lanyard.RequestRejected, manager.ID, "no", at(time.Hour)
	MustUpdate(t, s, func(tx lanyard.Tx) error {
		if err := tx.UpdateRequest(&approve); err != nil {
			return err
		}
		return tx.UpdateRequest(&reject)
	})
	want := *r1
	want.Status, want.CertificateID, want.DecidedBy = lanyard.RequestIssued, cert.ID, manager.ID
	want.Comment, want.DecidedAt = "checked ID card", at(time.Hour).Truncate(time.Microsecond).UTC()

	MustView(t, s, func(tx lanyard.Tx) error {
		got, err := tx.RequestByID(r1.ID)
		if err != nil {
			return err
		}
		equal(t, "decided request", got, &want)
		for _, tc := range []struct {
			status lanyard.RequestStatus
			want   []int64
		}{
			{"", []int64{r1.ID, r2.ID, r3.ID}},
			{lanyard.RequestPending, []int64{r2.ID}},
			{lanyard.RequestIssued, []int64{r1.ID}},
			{lanyard.RequestRejected, []int64{r3.ID}},
			{"unknown", nil},
		} {
			got, err := tx.ListRequests(tc.status)
			if err != nil {
				return err
			}
			wantIDs(t, "ListRequests("+string(tc.status)+")", got, reqID, tc.want...)
		}
		return nil
	})

	// A decided request cannot be decided again.
	again := approve
	again.Status = lanyard.RequestRejected
	err := s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateRequest(&again) })
	wantCode(t, "UpdateRequest on a decided request", err, lanyard.EConflict)

	missing := *r2
	missing.ID = 999_999
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateRequest(&missing) })
	wantCode(t, "UpdateRequest missing", err, lanyard.ENotFound)
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateRequest(NewRequest(999_999, 0)) })
	wantCode(t, "CreateRequest for a missing user", err, lanyard.EInvalid)
	badCert := *r2
	badCert.Status, badCert.CertificateID = lanyard.RequestIssued, 999_999
	err = s.Update(t.Context(), func(tx lanyard.Tx) error { return tx.UpdateRequest(&badCert) })
	wantCode(t, "UpdateRequest with a missing certificate", err, lanyard.EInvalid)
}
