package catest

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

func (*tx) CardContents([]int64) (map[int64]*lanyard.CardContent, error) {
	return nil, notImplemented("CardContents")
}
func (*tx) PutCardContents([]*lanyard.CardContent) error {
	return notImplemented("PutCardContents")
}
func (*tx) CardsByIDs([]int64) ([]*lanyard.Card, error) { return nil, notImplemented("CardsByIDs") }
func (*tx) UsersByIDs([]int64) ([]*lanyard.User, error) { return nil, notImplemented("UsersByIDs") }
func (*tx) DueCardContents(time.Time, int) ([]int64, error) {
	return nil, notImplemented("DueCardContents")
}
func (*tx) ChangedCards(time.Time, int64, int) ([]int64, error) {
	return nil, notImplemented("ChangedCards")
}
func (*tx) CardCerts([]int64) ([]lanyard.CardCert, error) { return nil, notImplemented("CardCerts") }
func (*tx) CountCardContents() (map[lanyard.ContentStatus]int, error) {
	return nil, notImplemented("CountCardContents")
}
func (*tx) ClaimJob(string, string, time.Time, time.Time) (*lanyard.JobRun, error) {
	return nil, notImplemented("ClaimJob")
}
func (*tx) RenewJob(string, string, time.Time) error { return notImplemented("RenewJob") }
func (*tx) FinishJob(*lanyard.JobRun) error          { return notImplemented("FinishJob") }
func (*tx) ListJobRuns() ([]*lanyard.JobRun, error)  { return nil, notImplemented("ListJobRuns") }
