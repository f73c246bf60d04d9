package agent

import (
	"bytes"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
)

// An escrow the server refuses for good (a workstation without owner:
// 403; a card not its owner's: 404) holds the only copy of the card's
// PUK: it is kept in escrow/refused/, logged as an error and listed for
// `lanyard agent status`, never deleted; the tool then refuses a new
// offline unblock of the card. One the server takes leaves the spool; one
// that waits (409) stays.
func TestUploadEscrowRefusedKept(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	a := &Agent{log: slog.New(slog.NewTextHandler(&logs, nil))}
	spool := func(serial string) string {
		f, err := SpoolEscrow(dir, agentproto.PUKEscrow{Serial: serial, Challenge: "ABCD-EFGH", Sealed: []byte{1}, Changed: "done"})
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	refuse := func(status int) func(agentproto.PUKEscrow) error {
		return func(agentproto.PUKEscrow) error { return &problemError{Status: status, Code: "not_found"} }
	}

	f := spool("1001")
	a.uploadEscrow(f, refuse(http.StatusNotFound))
	if _, err := os.Stat(filepath.Join(dir, escrowSpoolDir, escrowRefusedDir, filepath.Base(f))); err != nil {
		t.Fatalf("the refused escrow is not kept: %v", err)
	}
	if got := RefusedEscrows(dir); len(got) != 1 || !strings.HasPrefix(got[0], "1001-") {
		t.Errorf("RefusedEscrows = %v", got)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "1001") {
		t.Errorf("no error logged:\n%s", logs.String())
	}
	if waiting, refused := PendingEscrow(dir, "1001"); waiting || !refused {
		t.Errorf("PendingEscrow(1001) = %v, %v", waiting, refused)
	}

	f = spool("1002")
	a.uploadEscrow(f, refuse(http.StatusConflict))
	if waiting, _ := PendingEscrow(dir, "1002"); !waiting {
		t.Error("an escrow answered 409 left the spool")
	}
	a.uploadEscrow(f, func(agentproto.PUKEscrow) error { return nil })
	if waiting, refused := PendingEscrow(dir, "1002"); waiting || refused {
		t.Error("an uploaded escrow stays in the spool")
	}
	if waiting, _ := PendingEscrow(dir, "100"); waiting {
		t.Error("PendingEscrow matches another serial's prefix")
	}
}
