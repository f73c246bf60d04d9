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
func (*tx) CreateKRAKey(*lanyard.KRAKey) error  { return notImplemented("CreateKRAKey") }
func (*tx) KRAKey(int) (*lanyard.KRAKey, error) { return nil, notImplemented("KRAKey") }
func (*tx) CurrentKRAKey() (*lanyard.KRAKey, error) {
	return nil, notImplemented("CurrentKRAKey")
}
func (*tx) CountArchivedKeysUnder(int) (int, error) {
	return 0, notImplemented("CountArchivedKeysUnder")
}

func (*tx) CreateKeyRecoveryRequest(*lanyard.KeyRecoveryRequest) error {
	return notImplemented("CreateKeyRecoveryRequest")
}
func (*tx) UpdateKeyRecoveryRequest(*lanyard.KeyRecoveryRequest, lanyard.KeyRecoveryState) error {
	return notImplemented("UpdateKeyRecoveryRequest")
}
func (*tx) KeyRecoveryRequestByID(int64) (*lanyard.KeyRecoveryRequest, error) {
	return nil, notImplemented("KeyRecoveryRequestByID")
}
func (*tx) ListKeyRecoveryRequests(lanyard.KeyRecoveryState) ([]*lanyard.KeyRecoveryRequest, error) {
	return nil, notImplemented("ListKeyRecoveryRequests")
}
