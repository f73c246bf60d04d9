package lanyard_test

import (
	"encoding/json"
	"testing"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// TestWorkstationStateJSON pins the JSON of the live workstation state:
// the web API embeds readers in its workstation view, and the names are
// those the agent hub has always used.
func TestWorkstationStateJSON(t *testing.T) {
	st := lanyard.WorkstationState{ID: 3, Name: "pc", OwnerID: 2, Online: true, Role: lanyard.RoleWorkstation,
		Readers:      []lanyard.Reader{{Name: "r0", Present: true, ATR: []byte{0x3b, 0x8f}, Serial: "12"}, {Name: "r1"}},
		TPM:          &lanyard.TPMState{Usable: true, Kind: "simulator"},
		VirtualSlots: 1, SoftwareStores: []string{lanyard.ScopeUser}, ReaderCount: 2}
	got, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"workstation_id":3,"name":"pc","owner_id":2,"online":true,` +
		`"readers":[{"name":"r0","present":true,"atr":"O48=","serial":"12"},{"name":"r1","present":false}],` +
		`"tpm":{"usable":true,"kind":"simulator"},"virtual_slots":1,"role":"workstation","soft_stores":["user"],"reader_count":2}`
	if string(got) != want {
		t.Errorf("JSON\n got %s\nwant %s", got, want)
	}
	stored, _ := json.Marshal(lanyard.SoftwareStored{Path: "/p", NSS: false, NSSNote: "no NSS database"})
	if string(stored) != `{"path":"/p","nss":false,"nss_note":"no NSS database"}` {
		t.Errorf("SoftwareStored JSON %s", stored)
	}
}
