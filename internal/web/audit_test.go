package web_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/audit"
)

var jsonMarshal = json.Marshal

// TestAuditChainDetectsTampering edits the SQLite file behind the server's
// back, as an attacker with database access would, and expects the verify
// endpoint to name the first modified and the first deleted event.
func TestAuditChainDetectsTampering(t *testing.T) {
	e := mustEnv(t)
	for _, login := range []string{"a1", "a2", "a3"} {
		e.mustUser(login)
	}
	var rep audit.Report
	e.must(200, "GET", "/api/v1/audit/verify", e.admin, nil).json(&rep)
	if !rep.OK || rep.Events < 10 {
		t.Fatalf("fresh chain: %+v", rep)
	}
	db, err := sql.Open("sqlite", "file:"+e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	// The append-only triggers stop accidents, not an attacker with write
	// access to the file, who drops them first.
	for _, trg := range []string{"audit_events_no_update", "audit_events_no_delete"} {
		if _, err := db.ExecContext(ctx, "DROP TRIGGER "+trg); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, `UPDATE audit_events SET actor = 'mallory' WHERE seq = 7`); err != nil {
		t.Fatal(err)
	}
	e.must(200, "GET", "/api/v1/audit/verify", e.admin, nil).json(&rep)
	if rep.OK || rep.FirstBad != 7 {
		t.Fatalf("modified event 7: %+v", rep)
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM audit_events WHERE seq = 4`); err != nil {
		t.Fatal(err)
	}
	e.must(200, "GET", "/api/v1/audit/verify", e.admin, nil).json(&rep)
	if rep.OK || rep.FirstBad != 4 || rep.Problem != audit.ProblemDeleted {
		t.Fatalf("deleted event 4: %+v", rep)
	}
}
