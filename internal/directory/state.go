package directory

import (
	"encoding/json"
	"fmt"
)

// State is what an Incremental read needs from the read before it: the
// high-water mark and the group graph. It is opaque to callers, who store
// it as JSON (json.Marshal / json.Unmarshal) and hand it back; the zero
// State makes Incremental fail with ErrStateKind.
//
// Size: the group graph holds each group's direct members (normalized DNs),
// about 60 bytes per membership; OpenLDAP states also list every user's
// entryUUID (37 bytes each) for the deletion sweep.
type State struct {
	s *state
}

// stateVersion changes when the encoding changes; an old State then needs
// a Full read.
const stateVersion = 1

type state struct {
	Version int    `json:"v"`
	Kind    string `json:"kind"`
	BaseDN  string `json:"base"` // normalized
	// Mark is the high-water mark: AD the highestCommittedUSN (decimal)
	// read before the read started; OpenLDAP the contextCSN read likewise,
	// or a generalized time (Clock "time").
	Mark string `json:"mark"`
	// Clock says what Mark is: "usn", "csn" or "time" (reader.clock).
	Clock string `json:"clock,omitempty"`
	// Server is, on AD, the domain controller whose USNs Mark counts:
	// its NTDS Settings object (the root DSE's dsServiceName) and that
	// object's invocationId. USNs are each DC's own (MS-ADTS 3.1.1.1.9),
	// and a DC restored from a backup gets a new invocationId: an
	// Incremental answered by another DC, or by a restored one, would ask
	// "changed since" a mark that means nothing there and miss changes
	// for good, so it refuses the state and a full read follows.
	Server string `json:"server,omitempty"`
	// Groups maps each group's normalized DN to what is cached of it.
	Groups map[string]*groupState `json:"groups"`
	// Users lists the entryUUIDs of the users read (OpenLDAP only).
	Users []string `json:"users,omitempty"`
	// Managers maps the ExternalID of every user some entry names as
	// manager to the mail the entries were given: a manager whose mail
	// changes has their reports read again.
	Managers map[string]string `json:"managers,omitempty"`
	// Cookie is the RFC 4533 sync cookie (OpenLDAP with syncprov), with
	// which Incremental learns deletions without reading every user.
	Cookie []byte `json:"cookie,omitempty"`
}

type groupState struct {
	ID      string   `json:"id"`
	Parents []string `json:"parents,omitempty"` // normalized memberOf
	Members []string `json:"members,omitempty"` // normalized member DNs
}

// MarshalJSON encodes the State for storage.
func (s State) MarshalJSON() ([]byte, error) {
	if s.s == nil {
		return []byte("null"), nil
	}
	return json.Marshal(s.s)
}

// UnmarshalJSON decodes a stored State.
func (s *State) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		s.s = nil
		return nil
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("directory state: %w", err)
	}
	if st.Version != stateVersion {
		return fmt.Errorf("%w (state version %d, want %d)", ErrStateKind, st.Version, stateVersion)
	}
	if st.Groups == nil {
		st.Groups = map[string]*groupState{}
	}
	s.s = &st
	return nil
}

// IsZero reports whether the State is empty (no Full read yet).
func (s State) IsZero() bool { return s.s == nil }
