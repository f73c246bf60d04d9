// Package directory reads people and groups from an LDAP directory: Active
// Directory (and Samba 4 AD) or OpenLDAP / 389 Directory Server. It does one
// job: turn what the directory holds into [Entry] values — login, UPN,
// display name, mail, the manager's mail, the transitive (nested) groups,
// disabled — and tell what changed since the last read. It holds no store
// and imports no service; the sync engine (internal/service/directory)
// applies what it returns.
//
// # Reads
//
// [Full] reads every user and group under Config.BaseDN with paged searches
// (RFC 2696 simple paged results, Config.PageSize per page), computes each
// user's groups transitively on the client (one read of the groups and their
// memberOf, then the closure; on AD the result equals what
// LDAP_MATCHING_RULE_IN_CHAIN, 1.2.840.113556.1.4.1941, MS-ADTS 3.1.1.3.4.4.1,
// returns, which the Samba tests check) and returns a [Snapshot] with an
// opaque [State]: the high-water mark (AD: the RootDSE's highestCommittedUSN
// read before the searches, compared with uSNChanged, MS-ADTS 3.1.1.1.9;
// OpenLDAP with the syncprov overlay: the naming context's contextCSN,
// compared with entryCSN; otherwise modifyTimestamp, RFC 4512 3.4), the
// RFC 4533 sync cookie where syncprov runs, and the group graph.
//
// [Incremental] reads only what changed since a State and returns a [Delta]:
// new and changed users with their whole recomputed Entry, users whose
// transitive groups changed because a group changed, and the ExternalIDs of
// users deleted or gone out of scope. Its cost is stated on the function.
//
// [Authenticate] checks a user's password with an LDAP simple bind
// (RFC 4513 5.1.3) after finding the user's DN with the service account.
//
// # Security
//
// Every connection is TLS (ldaps:// or StartTLS, RFC 4513 3) unless the
// server is on the loopback interface; the server certificate is verified
// against Config.CAPEM (or the system roots). Filter values are escaped
// (RFC 4515 3); an empty password is refused before any bind because
// RFC 4513 5.1.2 makes it an unauthenticated bind that many servers accept.
package directory
