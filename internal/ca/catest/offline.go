package catest

import "github.com/lanyard-cms/lanyard/internal/lanyard"

func (*tx) CreateOfflineUnblock(*lanyard.OfflineUnblock) error {
	return notImplemented("CreateOfflineUnblock")
}
func (*tx) OfflineUnblocksOf(int64) ([]*lanyard.OfflineUnblock, error) {
	return nil, notImplemented("OfflineUnblocksOf")
}

func (*tx) LockCertificate(int64) error { return notImplemented("LockCertificate") }
