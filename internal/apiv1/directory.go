package apiv1

import "time"

// DirectorySourceInput is a directory source as an administrator writes
// it (docs/directory.md, "Directory sources and sync"). BindPassword is
// write-only: absent (null) keeps the stored one, "" clears it; no
// response ever carries it.
type DirectorySourceInput struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"` // "ad" or "openldap"
	URL      string `json:"url"`  // ldaps://host[:port], or ldap://host[:port] with start_tls
	StartTLS bool   `json:"start_tls,omitempty"`
	// CAPEM is the PEM bundle the directory's certificate is checked
	// against (empty: the system's roots).
	CAPEM        string  `json:"ca_pem,omitempty"`
	BindDN       string  `json:"bind_dn,omitempty"`
	BindPassword *string `json:"bind_password,omitempty"`
	BaseDN       string  `json:"base_dn"`
	UserFilter   string  `json:"user_filter,omitempty"`  // RFC 4515; empty: the kind's preset
	GroupFilter  string  `json:"group_filter,omitempty"` // RFC 4515; empty: the kind's preset
	PageSize     int     `json:"page_size,omitempty"`    // RFC 2696; 0: the reader's default
	// Mapping is the attribute mapping as a JSON object of attribute
	// names (empty: the kind's preset).
	Mapping string `json:"mapping,omitempty"`
	// SyncIntervalMinutes: 0 is the server's --directory-sync-interval.
	SyncIntervalMinutes int `json:"sync_interval_minutes,omitempty"`
	// LeaverAction is what happens to a leaver's cards when their policy
	// does not say: "disable" (the default) or "revoke".
	LeaverAction string `json:"leaver_action,omitempty"`
	Enabled      bool   `json:"enabled"`
}

// DirectorySource is a directory source as the API shows it: never its
// bind password, only whether one is set.
type DirectorySource struct {
	ID                  int64            `json:"id"`
	Name                string           `json:"name"`
	Kind                string           `json:"kind"`
	URL                 string           `json:"url"`
	StartTLS            bool             `json:"start_tls"`
	CAPEM               string           `json:"ca_pem,omitempty"`
	BindDN              string           `json:"bind_dn,omitempty"`
	HasBindPassword     bool             `json:"has_bind_password"`
	BaseDN              string           `json:"base_dn"`
	UserFilter          string           `json:"user_filter,omitempty"`
	GroupFilter         string           `json:"group_filter,omitempty"`
	PageSize            int              `json:"page_size,omitempty"`
	Mapping             string           `json:"mapping,omitempty"`
	SyncIntervalMinutes int              `json:"sync_interval_minutes,omitempty"`
	LeaverAction        string           `json:"leaver_action,omitempty"`
	Enabled             bool             `json:"enabled"`
	NextSyncFull        bool             `json:"next_sync_full"` // no incremental state: the next sync reads every entry
	LastSyncAt          *time.Time       `json:"last_sync_at,omitempty"`
	LastReport          *DirectoryReport `json:"last_report,omitempty"`
	// LastError says why the last sync that failed did (the periodic
	// sync's failures included); cleared when a sync completes.
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// DirectorySyncInput asks for a sync now; DryRun works out what it would
// change and writes nothing.
type DirectorySyncInput struct {
	DryRun bool `json:"dry_run,omitempty"`
}

// DirectoryReport is what a sync did, or, for a dry run, would do.
type DirectoryReport struct {
	SourceID     int64                `json:"source_id"`
	Source       string               `json:"source"`
	DryRun       bool                 `json:"dry_run"`
	Full         bool                 `json:"full"`
	StartedAt    time.Time            `json:"started_at"`
	FinishedAt   time.Time            `json:"finished_at"`
	Read         int                  `json:"read"`
	Created      int                  `json:"created"`
	Updated      int                  `json:"updated"`
	Disabled     int                  `json:"disabled"`
	Enabled      int                  `json:"enabled"`
	Moved        int                  `json:"moved"`
	Unchanged    int                  `json:"unchanged"`
	CardsChanged int                  `json:"cards_changed"`
	CardsDue     int                  `json:"cards_due"`
	Errors       []DirectoryLineError `json:"errors"`
	Changes      []DirectoryChange    `json:"changes"`
	Omitted      int                  `json:"omitted,omitempty"`
}

// DirectoryLineError is a directory entry that was not applied, and why.
type DirectoryLineError struct {
	DN      string `json:"dn"`
	Message string `json:"message"`
}

// DirectoryChange is one user change of a sync: action create, update,
// disable (a leaver) or enable.
type DirectoryChange struct {
	Action string   `json:"action"`
	Login  string   `json:"login"`
	DN     string   `json:"dn,omitempty"`
	Fields []string `json:"fields,omitempty"`
	Moved  bool     `json:"moved,omitempty"`
	Cards  []string `json:"cards,omitempty"`
	// Warning: a UPN changed while live certificates name the old one.
	Warning string `json:"warning,omitempty"`
}
