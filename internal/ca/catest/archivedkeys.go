package catest

import "github.com/lanyard-cms/lanyard/internal/lanyard"

func (*tx) CreateArchivedKey(*lanyard.ArchivedKey) error { return notImplemented("CreateArchivedKey") }
func (*tx) UpdateArchivedKey(*lanyard.ArchivedKey) error { return notImplemented("UpdateArchivedKey") }
func (*tx) ArchivedKeyByID(int64) (*lanyard.ArchivedKey, error) {
	return nil, notImplemented("ArchivedKeyByID")
}
func (*tx) ArchivedKeysOf(int64, string) ([]*lanyard.ArchivedKey, error) {
	return nil, notImplemented("ArchivedKeysOf")
}
