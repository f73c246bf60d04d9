package web_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestWorkstationViewReadersNeverNull: a workstation whose agent is not
// connected shows an empty list of readers, not null, in a list and alone.
func TestWorkstationViewReadersNeverNull(t *testing.T) {
	e := mustEnv(t)
	w := &lanyard.Workstation{Name: "pc-1", Status: lanyard.WorkstationActive, KeySHA256: "00", Role: lanyard.RoleWorkstation}
	if err := e.store.Update(t.Context(), func(tx lanyard.Tx) error { return tx.CreateWorkstation(w) }); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/workstations", fmt.Sprintf("/api/v1/workstations/%d", w.ID)} {
		body := e.must(200, "GET", path, e.admin, nil).body
		if !bytes.Contains(body, []byte(`"online":false,"readers":[],"reader_count":0`)) {
			t.Errorf("GET %s: %s; want no readers as []", path, body)
		}
	}
}
