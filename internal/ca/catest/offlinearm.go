package catest

import "github.com/lanyard-cms/lanyard/internal/lanyard"

func (*tx) OfflineArmOf(int64) (*lanyard.OfflineArm, error) {
	return nil, notImplemented("OfflineArmOf")
}
func (*tx) PutOfflineArm(*lanyard.OfflineArm) error { return notImplemented("PutOfflineArm") }
