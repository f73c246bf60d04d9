package catest

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The directory sources' part of the stub transaction (no CA test uses it).

func (*tx) CreateDirectorySource(*lanyard.DirectorySource) error {
	return notImplemented("CreateDirectorySource")
}
func (*tx) UpdateDirectorySource(*lanyard.DirectorySource) error {
	return notImplemented("UpdateDirectorySource")
}
func (*tx) SetDirectorySync(int64, string, string, time.Time) error {
	return notImplemented("SetDirectorySync")
}
func (*tx) SetDirectorySyncError(int64, string, time.Time) error {
	return notImplemented("SetDirectorySyncError")
}
func (*tx) DirectorySourceByID(int64) (*lanyard.DirectorySource, error) {
	return nil, notImplemented("DirectorySourceByID")
}
func (*tx) DirectorySourceByName(string) (*lanyard.DirectorySource, error) {
	return nil, notImplemented("DirectorySourceByName")
}
func (*tx) ListDirectorySources() ([]*lanyard.DirectorySource, error) {
	return nil, notImplemented("ListDirectorySources")
}
func (*tx) DeleteDirectorySource(int64) error { return notImplemented("DeleteDirectorySource") }
func (*tx) DirectoryUsers(int64) (map[string]int64, error) {
	return nil, notImplemented("DirectoryUsers")
}
