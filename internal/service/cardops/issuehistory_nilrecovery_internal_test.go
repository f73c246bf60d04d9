package cardops

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// unavailableStore fails every read, as a database gone away does.
type unavailableStore struct{ lanyard.Store }

func (unavailableStore) View(context.Context, func(lanyard.Tx) error) error {
	return lanyard.Errorf(lanyard.EUnavailable, "database unavailable")
}

// An update without recovery authority whose "held by this card" keys
// cannot be read returns the error: it used to dereference the absent
// grant and panic, ending lanyard serve from the automatic update worker.
func TestUpdateHistoryErrorDoesNotPanic(t *testing.T) {
	s := &Cards{rec: lanyard.Recorder{Store: unavailableStore{}}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	j := &issueJob{ct: &lanyard.CardType{Kind: lanyard.KindPIV}, card: &lanyard.Card{ID: 1}, user: &lanyard.User{ID: 2},
		data: issueData{Update: &updateRecord{}}}
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("recoverHistory panicked: %v", r)
		}
	}()
	if err := s.recoverHistory(context.Background(), j, nil); !lanyard.IsCode(err, lanyard.EUnavailable) {
		t.Fatalf("recoverHistory: got %v, want the store's EUnavailable", err)
	}
}
