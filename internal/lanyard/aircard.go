package lanyard

import "time"

// AirCardComputer is a computer allowed to use an AirCard: the issuing
// workstation, and every computer joined later with a connection code.
// Its agent gets the AirCard connected whenever it is online.
type AirCardComputer struct {
	CardID        int64     `json:"card_id"`
	WorkstationID int64     `json:"workstation_id"`
	AddedBy       string    `json:"added_by"` // login, or "code" when joined with a code
	AddedAt       time.Time `json:"added_at"`
}

// AirCardCode is a connection code an operator made for a user's AirCard:
// valid for an hour, usable once. Only the hex SHA-256 of the code is
// stored.
type AirCardCode struct {
	ID        int64     `json:"id"`
	CardID    int64     `json:"card_id"`
	CodeHash  string    `json:"-"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	UsedAt    time.Time `json:"used_at,omitzero"`
	UsedBy    int64     `json:"used_by,omitempty"` // the workstation that joined with it
}
