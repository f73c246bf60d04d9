package catest

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Workstations are outside what a CA uses (see stubs.go).

func (*tx) CreateWorkstation(*lanyard.Workstation) error { return notImplemented("CreateWorkstation") }
func (*tx) UpdateWorkstation(*lanyard.Workstation) error { return notImplemented("UpdateWorkstation") }
func (*tx) WorkstationByID(int64) (*lanyard.Workstation, error) {
	return nil, notImplemented("WorkstationByID")
}
func (*tx) WorkstationByPairingCode(string) (*lanyard.Workstation, error) {
	return nil, notImplemented("WorkstationByPairingCode")
}
func (*tx) WorkstationByCertSerial(string) (*lanyard.Workstation, error) {
	return nil, notImplemented("WorkstationByCertSerial")
}
func (*tx) TouchWorkstation(int64, time.Time) error { return notImplemented("TouchWorkstation") }
func (*tx) ListWorkstations(lanyard.WorkstationFilter) ([]*lanyard.Workstation, error) {
	return nil, notImplemented("ListWorkstations")
}
