package catest

import (
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The CA's test store holds no AirCards.

func (*tx) AddAirCardComputer(*lanyard.AirCardComputer) error {
	return notImplemented("AddAirCardComputer")
}
func (*tx) RemoveAirCardComputer(int64, int64) error { return notImplemented("RemoveAirCardComputer") }
func (*tx) AirCardComputers(int64) ([]*lanyard.AirCardComputer, error) {
	return nil, notImplemented("AirCardComputers")
}
func (*tx) AirCardsAllowedOn(int64) ([]int64, error) { return nil, notImplemented("AirCardsAllowedOn") }
func (*tx) CreateAirCardCode(*lanyard.AirCardCode) error {
	return notImplemented("CreateAirCardCode")
}
func (*tx) AirCardCodeByHash(string) (*lanyard.AirCardCode, error) {
	return nil, notImplemented("AirCardCodeByHash")
}
func (*tx) UseAirCardCode(int64, int64, time.Time) error { return notImplemented("UseAirCardCode") }
