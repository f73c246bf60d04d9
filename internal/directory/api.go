package directory

import (
	"context"
	"errors"
)

var errNotYet = errors.New("directory: not implemented yet")

// Full reads every user and group (see the package doc). It returns an
// error and no Snapshot when anything fails, including ctx being cancelled
// half-way: a partial read would look like mass deletion to a sync.
//
// Cost: one paged search of the users (the mapped attributes, including
// memberOf), one paged search of the groups (DN, ExternalID, memberOf,
// changed), and one base-object search per manager outside the user
// filter; the transitive closure is computed in memory, O(memberships).
func Full(ctx context.Context, cfg Config) (*Snapshot, error) { return nil, errNotYet }

// Incremental reads what changed since st (see Delta) and returns the next
// State. Like Full, it returns no Delta on any error.
//
// Cost, for c changed users, g changed groups with m members in all, and G
// groups:
//   - one search of the users whose changed attribute passed the mark
//     (O(c) entries), one of the person objects that changed and left the
//     filter or base (O(c)), and on AD one Show Deleted search
//     (1.2.840.113556.1.4.417, MS-ADTS 3.1.1.3.4.1.14) of tombstones newer
//     than the mark (O(deleted));
//   - one search of every group's DN, ID, memberOf and changed attribute
//     (O(G), no member lists: G is small next to the users) and the member
//     lists of the g changed groups (O(m));
//   - one base-object search per user whose transitive groups changed
//     without the user entry changing, and one search of the direct
//     reports of changed users (their ManagerEmail may have changed);
//   - OpenLDAP only: deletions are found by an attributes-only sweep of the
//     users' entryUUIDs (one attribute per user, about 60 bytes each on the
//     wire), since OpenLDAP keeps no tombstones; this is the one part
//     proportional to the directory's size, not the changes.
func Incremental(ctx context.Context, cfg Config, st State) (*Delta, State, error) {
	return nil, State{}, errNotYet
}

// Authenticate checks login and password against the directory: a bind as
// the service account, a search for the one user whose login attribute
// equals login (the value escaped per RFC 4515 3), then a simple bind
// (RFC 4513 5.1.3) as that user's DN on a second connection. An empty
// password is refused before any bind (RFC 4513 5.1.2 would make it an
// unauthenticated bind, which succeeds on many servers). Errors: ErrNoSuchUser,
// ErrAmbiguousUser, ErrBadCredentials, ErrDisabled, and ErrUnreachable,
// ErrTLS, ErrServiceBind for the service side.
func Authenticate(ctx context.Context, cfg Config, login, password string) (*Entry, error) {
	return nil, errNotYet
}
