package apiv1

import "time"

// Key archival (docs/lifecycle.md, "Key archival"; docs/security.md,
// "Key recovery key").

// KRAVersion is one version of the key-recovery (KRA) key: never its
// material, which no API returns.
type KRAVersion struct {
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	Current   bool      `json:"current"`
	// ArchivedKeys counts the archived keys sealed under this version.
	ArchivedKeys int `json:"archived_keys"`
}

// KRARotation is the answer to a rotation: the version now current.
type KRARotation struct {
	Version int `json:"version"`
}
