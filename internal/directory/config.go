package directory

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Kinds of directory server.
const (
	KindAD       = "ad"       // Active Directory, Samba 4 AD DC
	KindOpenLDAP = "openldap" // OpenLDAP, 389 Directory Server
)

// Defaults applied by Validate when a field is zero.
const (
	DefaultPageSize = 500
	DefaultTimeout  = 30 * time.Second
)

// Config says where the directory is, how to reach it safely and what to
// read. BindPassword is a secret: the caller keeps it sealed at rest and
// this package never logs it or puts it in an error.
type Config struct {
	// URL is ldaps://host[:port] (TLS from the first byte) or
	// ldap://host[:port]; plain ldap:// needs StartTLS unless the host is
	// a loopback address.
	URL string
	// StartTLS upgrades an ldap:// connection (RFC 4511 4.14) before the
	// bind.
	StartTLS bool
	// CAPEM holds the PEM certificates that may sign the server's
	// certificate; empty means the system roots.
	CAPEM []byte
	// BindDN and BindPassword are the service account's; it only reads.
	BindDN       string
	BindPassword string
	// BaseDN is where users are searched (subtree).
	BaseDN string
	// UserFilter and GroupFilter select users and groups (RFC 4515
	// strings); empty takes the Mapping's.
	UserFilter  string
	GroupFilter string
	// PageSize is the RFC 2696 page size (AD's MaxPageSize is 1000).
	PageSize int
	// Kind is KindAD or KindOpenLDAP.
	Kind string
	// Mapping names the attributes; the zero Mapping takes the Kind's
	// preset.
	Mapping Mapping
	// Timeout bounds dialling and each request; zero is DefaultTimeout.
	Timeout time.Duration
}

// Mapping names the attributes an Entry is read from.
type Mapping struct {
	Login       string // AD sAMAccountName, OpenLDAP uid
	UPN         string // AD userPrincipalName; empty for none
	DisplayName string // displayName or cn
	Email       string // mail
	Manager     string // manager (a DN)
	// Reports is the backlink of Manager listing a user's direct reports
	// (AD directReports, MS-ADA1 2.169); empty: found by searching
	// Manager.
	Reports  string
	MemberOf string // memberOf (AD backlink, OpenLDAP memberOf overlay)
	Member   string // member (on groups)
	// ExternalID is objectGUID (binary, AD) or entryUUID (string).
	ExternalID string
	// BinaryGUID says ExternalID holds 16 bytes in MS-DTYP GUID order.
	BinaryGUID bool
	// AccountControl is AD's userAccountControl (flags, 0x2 disabled).
	AccountControl string
	// LockFlag is an attribute that disables when TRUE (nsAccountLock).
	LockFlag string
	// LockTime is an attribute that disables when present
	// (pwdAccountLockedTime).
	LockTime string
	// Changed is the attribute the incremental read compares with the
	// high-water mark: uSNChanged (AD) or modifyTimestamp.
	Changed string
	// UserFilter, GroupFilter: the defaults for Config's filters.
	UserFilter  string
	GroupFilter string
	// PersonFilter selects every person object, in scope or not: the
	// incremental read uses it to see users that left the user filter.
	PersonFilter string
}

// PresetAD is the mapping for Active Directory and Samba 4 AD DCs
// (MS-ADA1..3 attribute names). Users are person objects that are not
// computers; groups any group object. The manager's DN is resolved to the
// manager's mail; nested groups come from the groups' own memberOf.
func PresetAD() Mapping {
	return Mapping{
		Login:          "sAMAccountName",
		UPN:            "userPrincipalName",
		DisplayName:    "displayName",
		Email:          "mail",
		Manager:        "manager",
		Reports:        "directReports",
		MemberOf:       "memberOf",
		Member:         "member",
		ExternalID:     "objectGUID",
		BinaryGUID:     true,
		AccountControl: "userAccountControl",
		Changed:        "uSNChanged",
		UserFilter:     "(&(objectCategory=person)(objectClass=user))",
		GroupFilter:    "(objectClass=group)",
		PersonFilter:   "(&(objectCategory=person)(objectClass=user))",
	}
}

// PresetOpenLDAP is the mapping for OpenLDAP (with the memberOf overlay)
// and 389 DS: inetOrgPerson users (RFC 2798), groupOfNames groups
// (RFC 4519), entryUUID (RFC 4530) as ExternalID, nsAccountLock (389 DS) or
// pwdAccountLockedTime (ppolicy overlay) as disabled.
func PresetOpenLDAP() Mapping {
	return Mapping{
		Login:        "uid",
		DisplayName:  "cn",
		Email:        "mail",
		Manager:      "manager",
		MemberOf:     "memberOf",
		Member:       "member",
		ExternalID:   "entryUUID",
		LockFlag:     "nsAccountLock",
		LockTime:     "pwdAccountLockedTime",
		Changed:      "modifyTimestamp",
		UserFilter:   "(objectClass=inetOrgPerson)",
		GroupFilter:  "(objectClass=groupOfNames)",
		PersonFilter: "(objectClass=inetOrgPerson)",
	}
}

// Validate checks the Config and fills the defaults (page size, timeout,
// the Kind's preset for a zero Mapping, the filters). It refuses a plain
// ldap:// URL without StartTLS unless the host is a loopback address: a
// bind sends the password in clear (RFC 4513 5.1.3, 6.3.3).
func (c *Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, a...))
	}
	switch c.Kind {
	case KindAD, KindOpenLDAP:
	default:
		return bad("kind %q: want %q or %q", c.Kind, KindAD, KindOpenLDAP)
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		return bad("URL: %v", err)
	}
	if u.Host == "" || u.Hostname() == "" {
		return bad("URL %q has no host", c.URL)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
		return bad("URL %q: only ldaps://host[:port] or ldap://host[:port] (no path, query or user)", c.URL)
	}
	switch u.Scheme {
	case "ldaps":
		if c.StartTLS {
			return bad("StartTLS with ldaps:// (already TLS)")
		}
	case "ldap":
		if !c.StartTLS && !isLoopback(u.Hostname()) {
			return bad("ldap:// without StartTLS would send passwords in clear to %s; use ldaps:// or StartTLS", u.Hostname())
		}
	default:
		return bad("URL scheme %q: want ldaps or ldap", u.Scheme)
	}
	if len(c.CAPEM) > 0 {
		if !x509.NewCertPool().AppendCertsFromPEM(c.CAPEM) {
			return bad("CA bundle holds no PEM certificate")
		}
	}
	if c.BindDN == "" || c.BindPassword == "" {
		return bad("a bind DN and password are needed (anonymous reads are refused)")
	}
	if _, err := NormalizeDN(c.BindDN); err != nil && !strings.Contains(c.BindDN, "@") {
		return bad("bind DN: %v", err)
	}
	if _, err := NormalizeDN(c.BaseDN); err != nil {
		return bad("base DN: %v", err)
	}
	if c.PageSize == 0 {
		c.PageSize = DefaultPageSize
	}
	if c.PageSize < 1 || c.PageSize > 100000 {
		return bad("page size %d", c.PageSize)
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Timeout < 0 {
		return bad("timeout %v", c.Timeout)
	}
	if c.Mapping == (Mapping{}) {
		if c.Kind == KindAD {
			c.Mapping = PresetAD()
		} else {
			c.Mapping = PresetOpenLDAP()
		}
	}
	m := &c.Mapping
	if m.Login == "" || m.ExternalID == "" || m.MemberOf == "" || m.Member == "" || m.Changed == "" {
		return bad("mapping: login, external ID, memberOf, member and changed attributes are required")
	}
	if c.UserFilter == "" {
		c.UserFilter = m.UserFilter
	}
	if c.GroupFilter == "" {
		c.GroupFilter = m.GroupFilter
	}
	if m.PersonFilter == "" {
		m.PersonFilter = c.UserFilter
	}
	for name, f := range map[string]string{"user filter": c.UserFilter, "group filter": c.GroupFilter, "person filter": m.PersonFilter} {
		if err := checkFilter(f); err != nil {
			return bad("%s: %v", name, err)
		}
	}
	return nil
}

// isLoopback reports whether host names this machine's loopback interface.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
