package catest

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The SCIM part of the store is outside what a CA uses (stubs.go).

func (*tx) CreateSCIMToken(*lanyard.SCIMToken) error { return notImplemented("CreateSCIMToken") }
func (*tx) SCIMTokenByHash([]byte) (*lanyard.SCIMToken, error) {
	return nil, notImplemented("SCIMTokenByHash")
}
func (*tx) SCIMTokenByID(int64) (*lanyard.SCIMToken, error) {
	return nil, notImplemented("SCIMTokenByID")
}
func (*tx) ListSCIMTokens() ([]*lanyard.SCIMToken, error) {
	return nil, notImplemented("ListSCIMTokens")
}
func (*tx) RevokeSCIMToken(int64) error               { return notImplemented("RevokeSCIMToken") }
func (*tx) TouchSCIMToken(int64, time.Time) error     { return notImplemented("TouchSCIMToken") }
func (*tx) PutSCIMUser(*lanyard.SCIMUser) error       { return notImplemented("PutSCIMUser") }
func (*tx) SCIMUser(int64) (*lanyard.SCIMUser, error) { return nil, notImplemented("SCIMUser") }
func (*tx) ListSCIMUsers(string, int, int) ([]*lanyard.User, []*lanyard.SCIMUser, error) {
	return nil, nil, notImplemented("ListSCIMUsers")
}
func (*tx) CountSCIMUsers(string) (int, error) { return 0, notImplemented("CountSCIMUsers") }
func (*tx) SCIMUserIDsByExternalID(string, string) ([]int64, error) {
	return nil, notImplemented("SCIMUserIDsByExternalID")
}
func (*tx) CreateSCIMGroup(*lanyard.SCIMGroup) error { return notImplemented("CreateSCIMGroup") }
func (*tx) UpdateSCIMGroup(*lanyard.SCIMGroup) error { return notImplemented("UpdateSCIMGroup") }
func (*tx) DeleteSCIMGroup(int64) error              { return notImplemented("DeleteSCIMGroup") }
func (*tx) SCIMGroupByResourceID(string) (*lanyard.SCIMGroup, error) {
	return nil, notImplemented("SCIMGroupByResourceID")
}
func (*tx) SCIMGroupByName(string) (*lanyard.SCIMGroup, error) {
	return nil, notImplemented("SCIMGroupByName")
}
func (*tx) ListSCIMGroups(string) ([]*lanyard.SCIMGroup, error) {
	return nil, notImplemented("ListSCIMGroups")
}
func (*tx) AddSCIMGroupMember(int64, int64) error    { return notImplemented("AddSCIMGroupMember") }
func (*tx) RemoveSCIMGroupMember(int64, int64) error { return notImplemented("RemoveSCIMGroupMember") }
func (*tx) SCIMGroupMembers(int64) ([]*lanyard.User, error) {
	return nil, notImplemented("SCIMGroupMembers")
}
func (*tx) SCIMGroupsOfUser(int64) ([]*lanyard.SCIMGroup, error) {
	return nil, notImplemented("SCIMGroupsOfUser")
}
func (*tx) UsersByLoginFold(string) ([]*lanyard.User, error) {
	return nil, notImplemented("UsersByLoginFold")
}
