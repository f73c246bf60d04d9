package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/lanyard-cms/lanyard/internal/directory"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	dirsvc "github.com/lanyard-cms/lanyard/internal/service/directory"
	"github.com/lanyard-cms/lanyard/internal/service/servicetest"
)

// syncedAdmin is the administrator of the service BenchmarkDirectoryRead's
// sync-full left synced, for sync-incremental-100.
var syncedAdmin *lanyard.Principal

// Size of BenchmarkDirectoryRead (issue 18 asks 50,000 users in 2,000
// groups); the groups are users/25.
const envDirectoryUsers = "LANYARD_BENCH_DIRECTORY_USERS" // default 5,000

// benchDirectory is the OpenLDAP of scripts/slapd-test.sh, its benchmark
// database (dc=bench,dc=test) holding one subtree per size.
type benchDirectory struct {
	kind  string
	cfg   directory.Config
	admin *ldap.Conn
	base  string
	users int
}

// openBenchDirectory connects to LANYARD_TEST_SLAPD's benchmark database
// and loads users and groups under ou=uN once (the marker
// cn=complete,ou=uN says a load finished; an unfinished one is deleted
// and made again).
//
// Layout: users uid=u00000…; group g j holds the users i with i mod G = j
// directly, and group j > 0 is itself a member of group (j-1)/10, so groups
// nest four levels deep at 2,000 groups; every tenth user has a manager
// (the user ten before).
func openBenchDirectory(b *testing.B, kind string) *benchDirectory {
	b.Helper()
	env := map[string]string{directory.KindOpenLDAP: "LANYARD_TEST_SLAPD", directory.KindAD: "LANYARD_TEST_SAMBA"}[kind]
	v := os.Getenv(env)
	if v == "" {
		b.Fatalf("%s is not set: %s=\"$(scripts/%s-test.sh)\"", env, env, map[string]string{directory.KindOpenLDAP: "slapd", directory.KindAD: "samba"}[kind])
	}
	spec := map[string]string{}
	for _, f := range strings.Fields(v) {
		k, val, _ := strings.Cut(f, "=")
		spec[k] = val
	}
	ca, err := os.ReadFile(spec["ca"])
	if err != nil {
		b.Fatal(err)
	}
	n := envSize(b, envDirectoryUsers, 5000)
	d := &benchDirectory{kind: kind, users: n}
	d.cfg = directory.Config{URL: spec["url"], CAPEM: ca, BindPassword: spec["password"],
		Kind: kind, PageSize: 1000, Timeout: 5 * time.Minute}
	if kind == directory.KindAD {
		d.base = fmt.Sprintf("OU=benchu%d,%s", n, spec["base"])
		d.cfg.BindDN = spec["bind"]
	} else {
		d.base = fmt.Sprintf("ou=u%d,%s", n, spec["bench"])
		d.cfg.BindDN = spec["benchbind"]
	}
	d.cfg.BaseDN = d.base
	if err := d.cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	d.admin = d.dial(b)
	b.Cleanup(func() { d.admin.Close() })
	marker := "cn=complete," + d.base
	res, err := d.admin.Search(ldap.NewSearchRequest(marker, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"1.1"}, nil))
	if err == nil && len(res.Entries) == 1 {
		return d
	}
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		b.Fatal(err)
	}
	start := time.Now()
	d.load(b)
	b.Logf("loaded %d users in %d groups in %v", n, n/25, time.Since(start).Round(time.Second))
	return d
}

func (d *benchDirectory) dial(b *testing.B) *ldap.Conn {
	u, _ := url.Parse(d.cfg.URL)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(d.cfg.CAPEM)
	l, err := ldap.DialURL(d.cfg.URL, ldap.DialWithTLSConfig(&tls.Config{RootCAs: pool, ServerName: u.Hostname()}))
	if err != nil {
		b.Fatal(err)
	}
	if err := l.Bind(d.cfg.BindDN, d.cfg.BindPassword); err != nil {
		b.Fatal(err)
	}
	return l
}

func (d *benchDirectory) userDN(i int) string {
	if d.kind == directory.KindAD {
		return fmt.Sprintf("CN=u%05d,OU=people,%s", i, d.base)
	}
	return fmt.Sprintf("uid=u%05d,ou=people,%s", i, d.base)
}

func (d *benchDirectory) groupDN(j int) string {
	return fmt.Sprintf("cn=g%04d,ou=groups,%s", j, d.base)
}

// load adds the subtree through LDAP on four connections, so the memberof
// overlay writes memberOf as it would for a real directory.
func (d *benchDirectory) load(b *testing.B) {
	d.deleteTree(b, d.base)
	add := func(l *ldap.Conn, dn string, attrs map[string][]string) error {
		req := ldap.NewAddRequest(dn, nil)
		for k, v := range attrs {
			req.Attribute(k, v)
		}
		if err := l.Add(req); err != nil {
			return fmt.Errorf("add %s: %w", dn, err)
		}
		return nil
	}
	for _, dn := range []string{d.base, "ou=people," + d.base, "ou=groups," + d.base} {
		rdn, _, _ := strings.Cut(dn, ",")
		_, ou, _ := strings.Cut(rdn, "=")
		if err := add(d.admin, dn, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {ou}}); err != nil {
			b.Fatal(err)
		}
	}
	parallel := func(n int, one func(l *ldap.Conn, i int) error) {
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		next := make(chan int)
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l := d.dial(b)
				defer l.Close()
				for i := range next {
					if err := one(l, i); err != nil {
						errs <- err
						for range next {
						}
						return
					}
				}
			}()
		}
		for i := 0; i < n; i++ {
			next <- i
		}
		close(next)
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	groups := d.users / 25
	parallel(d.users, func(l *ldap.Conn, i int) error {
		a := map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {fmt.Sprintf("u%05d", i)},
			"cn": {fmt.Sprintf("User %05d", i)}, "sn": {"Bench"}, "mail": {fmt.Sprintf("u%05d@bench.test", i)}}
		if d.kind == directory.KindAD {
			// sAMAccountName and UPN are unique in the domain: the size
			// is part of them. No password: the account is disabled,
			// which a read does not mind.
			login := fmt.Sprintf("b%d-%05d", d.users, i)
			a = map[string][]string{"objectClass": {"user"}, "sAMAccountName": {login}, "userPrincipalName": {login + "@lanyard.test"},
				"displayName": {fmt.Sprintf("User %05d", i)}, "mail": {fmt.Sprintf("u%05d@bench.test", i)}}
		}
		if i%10 == 0 && i >= 10 {
			a["manager"] = []string{d.userDN(i - 10)}
		}
		return add(l, d.userDN(i), a)
	})
	// Children before parents (j's parent is (j-1)/10 < j), so each
	// member exists when its group is added.
	for level := groups - 1; level >= 0; level -= 200 {
		lo := max(level-199, 0)
		parallel(level-lo+1, func(l *ldap.Conn, k int) error {
			j := level - k
			var members []string
			for i := j; i < d.users; i += groups {
				members = append(members, d.userDN(i))
			}
			for c := 10*j + 1; c <= 10*j+10 && c < groups; c++ {
				members = append(members, d.groupDN(c))
			}
			if d.kind == directory.KindAD {
				return add(l, d.groupDN(j), map[string][]string{"objectClass": {"group"}, "sAMAccountName": {fmt.Sprintf("bg%d-%04d", d.users, j)}, "member": members})
			}
			return add(l, d.groupDN(j), map[string][]string{"objectClass": {"groupOfNames"}, "cn": {fmt.Sprintf("g%04d", j)}, "member": members})
		})
	}
	marker := map[string][]string{"objectClass": {"organizationalRole"}, "cn": {"complete"}}
	if d.kind == directory.KindAD {
		marker = map[string][]string{"objectClass": {"container"}}
	}
	if err := add(d.admin, "cn=complete,"+d.base, marker); err != nil {
		b.Fatal(err)
	}
}

// deleteTree removes dn and everything below it, leaves first.
func (d *benchDirectory) deleteTree(b *testing.B, dn string) {
	res, err := d.admin.SearchWithPaging(ldap.NewSearchRequest(dn, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", []string{"1.1"}, nil), 1000)
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return
	}
	if err != nil {
		b.Fatal(err)
	}
	dns := make([]string, 0, len(res.Entries))
	for _, e := range res.Entries {
		dns = append(dns, e.DN)
	}
	// Deeper DNs have more commas.
	for depth := 10; depth >= 0; depth-- {
		for _, x := range dns {
			if strings.Count(x, ",") == depth+strings.Count(dn, ",") {
				if err := d.admin.Del(ldap.NewDelRequest(x, nil)); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
					b.Fatal(err)
				}
			}
		}
	}
}

// BenchmarkDirectoryRead reads N users in N/25 nested groups from the
// real OpenLDAP of scripts/slapd-test.sh (memberof and syncprov overlays,
// TLS), in one run:
//
//   - search: the limit, a plain paged search (go-ldap SearchWithPaging,
//     the same page size) of the same users and groups with the same
//     attributes, results only counted;
//
//   - full: directory.Full, the users as Entries with transitive groups
//     and managers' mail;
//
//   - incremental-100, incremental-1000: directory.Incremental after
//     100 (1,000) users changed (mail) since the previous read; the
//     changes are made outside the timer. entries/op counts the entries
//     returned.
//
//     LANYARD_TEST_SLAPD="$(scripts/slapd-test.sh)" LANYARD_BENCH_DIRECTORY_USERS=50000 \
//     go test -run '^$' -bench 'DirectoryRead$' -benchtime 3x -timeout 60m ./internal/bench/
func BenchmarkDirectoryRead(b *testing.B) {
	benchDirectoryRead(b, openBenchDirectory(b, directory.KindOpenLDAP))
}

// BenchmarkDirectoryReadAD is BenchmarkDirectoryRead against the Samba AD
// DC of scripts/samba-test.sh (uSNChanged marks, tombstones), at 5,000
// users: Samba adds about 250 users a second to an empty domain but about
// 10 a second once it holds 20,000, so 50,000 through LDAP is not
// practical to load (docs/performance.md).
//
//	LANYARD_TEST_SAMBA="$(scripts/samba-test.sh)" go test -run '^$' -bench DirectoryReadAD -benchtime 3x -timeout 60m ./internal/bench/
func BenchmarkDirectoryReadAD(b *testing.B) {
	benchDirectoryRead(b, openBenchDirectory(b, directory.KindAD))
}

func benchDirectoryRead(b *testing.B, d *benchDirectory) {
	ctx := context.Background()
	cfg := d.cfg
	m := directory.Preset(d.kind)
	var userAttrs []string
	for _, a := range []string{m.Login, m.UPN, m.DisplayName, m.Email, m.Manager, m.MemberOf, m.ExternalID, m.AccountControl, m.LockFlag, m.LockTime, m.Changed} {
		if a != "" {
			userAttrs = append(userAttrs, a)
		}
	}
	b.Run("search", func(b *testing.B) {
		for b.Loop() {
			n := 0
			for _, q := range []struct {
				filter string
				attrs  []string
			}{
				{m.UserFilter, userAttrs},
				{m.GroupFilter, []string{m.ExternalID, m.MemberOf, m.Changed}},
			} {
				res, err := d.admin.SearchWithPaging(ldap.NewSearchRequest(d.base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, q.filter, q.attrs, nil), uint32(cfg.PageSize))
				if err != nil {
					b.Fatal(err)
				}
				n += len(res.Entries)
			}
			if n != d.users+d.users/25 {
				b.Fatalf("read %d entries", n)
			}
		}
	})
	var st directory.State
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			snap, err := directory.Full(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			if len(snap.Entries) != d.users || len(snap.Problems) != 0 {
				b.Fatalf("%d entries, problems %v", len(snap.Entries), snap.Problems)
			}
			// User 12345 (or the last) is in its group and 3 above.
			if g := snap.Entries[0].Groups; len(g) < 1 {
				b.Fatalf("no groups: %+v", snap.Entries[0])
			}
			st = snap.State
		}
	})
	round := 0
	run := time.Now().UnixNano() // a new value each run: AD ignores a write of the same mail
	for _, changes := range []int{100, 1000} {
		b.Run(fmt.Sprintf("incremental-%d", changes), func(b *testing.B) {
			if st.IsZero() { // -bench …/incremental alone
				snap, err := directory.Full(ctx, cfg)
				if err != nil {
					b.Fatal(err)
				}
				st = snap.State
			}
			read := 0
			for b.Loop() {
				b.StopTimer()
				round++
				// A new second: OpenLDAP's modifyTimestamp has whole seconds.
				time.Sleep(1100 * time.Millisecond)
				for k := 0; k < changes; k++ {
					i := (round*7919 + k*(d.users/changes)) % d.users
					req := ldap.NewModifyRequest(d.userDN(i), nil)
					req.Replace("mail", []string{fmt.Sprintf("u%05d.%d.r%d@bench.test", i, run, round)})
					if err := d.admin.Modify(req); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				delta, next, err := directory.Incremental(ctx, cfg, st)
				if err != nil {
					b.Fatal(err)
				}
				if len(delta.Changed) < changes {
					b.Fatalf("%d changed entries, want at least %d", len(delta.Changed), changes)
				}
				read += len(delta.Changed)
				st = next
			}
			b.ReportMetric(float64(read)/float64(b.N), "entries/op")
		})
	}
	// Then the whole sync, read and applied (after the reads: its changes
	// would reach their marks): a directory source of a service on SQLite
	// (synchronous=FULL) syncing the same users into Lanyard, from an
	// empty store (full) and after 100 changes (incremental).
	var synced *dirsvc.Directory
	var syncedSrc int64
	outer := b // the stacks live until the whole benchmark ends: sync-incremental-100 goes on with the last
	b.Run("sync-full", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			stack := servicetest.New(outer, servicetest.Options{})
			pw := cfg.BindPassword
			src, err := stack.Service.Directory.CreateSource(ctx, stack.Admin, dirsvc.SourceInput{Name: "bench", Kind: d.kind, URL: cfg.URL,
				StartTLS: cfg.StartTLS, CAPEM: string(cfg.CAPEM), BindDN: cfg.BindDN, BindPassword: &pw, BaseDN: cfg.BaseDN, Enabled: true})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			rep, err := stack.Service.Directory.Sync(ctx, stack.Admin, src.ID, false)
			if err != nil || rep.Created != d.users {
				b.Fatalf("%v: %+v", err, rep)
			}
			synced, syncedSrc = stack.Service.Directory, src.ID
			syncedAdmin = stack.Admin
		}
	})
	b.Run("sync-incremental-100", func(b *testing.B) {
		if synced == nil {
			b.Fatal("sync-incremental-100 runs after sync-full: -bench 'DirectoryRead$/sync'")
		}
		for b.Loop() {
			b.StopTimer()
			round++
			time.Sleep(1100 * time.Millisecond)
			for k := 0; k < 100; k++ {
				i := (round*7919 + k*(d.users/100)) % d.users
				req := ldap.NewModifyRequest(d.userDN(i), nil)
				req.Replace("mail", []string{fmt.Sprintf("u%05d.%d.s%d@bench.test", i, run, round)})
				if err := d.admin.Modify(req); err != nil {
					b.Fatal(err)
				}
			}
			b.StartTimer()
			rep, err := synced.Sync(ctx, syncedAdmin, syncedSrc, false)
			if err != nil || rep.Full || rep.Updated < 100 {
				b.Fatalf("%v: %+v", err, rep)
			}
		}
	})
}
