package directory

import "time"

// Report is what a sync did, or, for a dry run, would do.
type Report struct {
	SourceID   int64     `json:"source_id"`
	Source     string    `json:"source"`
	DryRun     bool      `json:"dry_run"`
	Full       bool      `json:"full"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	// Created, Updated, Disabled (leavers), Enabled (back in the
	// directory), Moved (policy changed: cards marked update due) and
	// Unchanged count users; Read the entries the directory returned.
	Read      int `json:"read"`
	Created   int `json:"created"`
	Updated   int `json:"updated"`
	Disabled  int `json:"disabled"`
	Enabled   int `json:"enabled"`
	Moved     int `json:"moved"`
	Unchanged int `json:"unchanged"`
	// CardsChanged counts the leavers' cards disabled or revoked,
	// CardsDue the movers' cards marked for an update.
	CardsChanged int         `json:"cards_changed"`
	CardsDue     int         `json:"cards_due"`
	Errors       []LineError `json:"errors"`
	// Changes lists each user change (at most 1000; Omitted counts the
	// rest): what a dry run would do, what a sync did.
	Changes []Change `json:"changes"`
	Omitted int      `json:"omitted,omitempty"`
}

// LineError is an entry that was not applied, and why.
type LineError struct {
	DN      string `json:"dn"`
	Message string `json:"message"`
}

// Change is one user change.
type Change struct {
	// Action: create, update, disable, enable.
	Action string `json:"action"`
	Login  string `json:"login"`
	DN     string `json:"dn,omitempty"`
	// Fields are the directory-owned fields that change (update).
	Fields []string `json:"fields,omitempty"`
	// Moved: the user's effective policy changes; their issued cards
	// are marked update due.
	Moved bool `json:"moved,omitempty"`
	// Cards are the serials of the cards a leaver's change disables or
	// revokes (a dry run names none: the card workflows decide them).
	Cards []string `json:"cards,omitempty"`
	// Warning says what an operator should look at: a UPN changed while
	// live certificates Lanyard issued still name the old one.
	Warning string `json:"warning,omitempty"`
}

func (r *Report) add(c Change) {
	if len(r.Changes) < maxListed {
		r.Changes = append(r.Changes, c)
	} else {
		r.Omitted++
	}
}

func (r *Report) fail(dn, msg string) {
	if len(r.Errors) < maxListed {
		r.Errors = append(r.Errors, LineError{DN: dn, Message: msg})
	} else {
		r.Omitted++
	}
}
