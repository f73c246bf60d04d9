package directory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"

	ldapdir "github.com/lanyard-cms/lanyard/internal/directory"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// LDAP is the Reader of lanyard serve: internal/directory's reader of
// Active Directory and OpenLDAP (github.com/go-ldap/ldap/v3). It builds
// the reader's Config from a source (the Kind's preset with the source's
// mapping laid over it), keeps the reader's State as JSON in the source,
// and turns the reader's errors into the codes the sync and sign-in
// answer with.
type LDAP struct{}

// ErrFullNeeded is an Incremental's answer when the stored state cannot
// be used (another server kind or base DN, an older encoding): the sync
// reads everything instead.
var ErrFullNeeded = errors.New("directory: a full read is needed")

// ldapConfig is src's reader configuration.
func ldapConfig(src *lanyard.DirectorySource, password string) (ldapdir.Config, error) {
	cfg := ldapdir.Config{URL: src.URL, StartTLS: src.StartTLS, BindDN: src.BindDN, BindPassword: password, BaseDN: src.BaseDN,
		UserFilter: src.UserFilter, GroupFilter: src.GroupFilter, PageSize: src.PageSize, Kind: src.Kind}
	if src.CAPEM != "" {
		cfg.CAPEM = []byte(src.CAPEM)
	}
	if err := parseMapping(src.Kind, src.Mapping, &cfg.Mapping); err != nil {
		return cfg, err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, lanyard.Errorf(lanyard.EInvalid, "directory source %s: %v", src.Name, err)
	}
	return cfg, nil
}

// parseMapping lays the JSON object mapping (attribute names by the
// reader's Mapping field names, any case: {"login": "uid"}) over kind's
// preset into m. Unknown names are refused.
func parseMapping(kind, mapping string, m *ldapdir.Mapping) error {
	if kind == ldapdir.KindAD {
		*m = ldapdir.PresetAD()
	} else {
		*m = ldapdir.PresetOpenLDAP()
	}
	if mapping == "" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(mapping)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(m); err != nil {
		return lanyard.Errorf(lanyard.EInvalid, `mapping: a JSON object of the reader's attribute names, such as {"login": "uid", "email": "mail"}: %v`, err)
	}
	return nil
}

// readErr is the reader's err as a lanyard error: the directory's side
// failing (network, TLS, the service account) is EUnavailable, never a
// wrong password; a user's wrong password, unknown or ambiguous login is
// EUnauthenticated; a disabled account EForbidden.
func readErr(src *lanyard.DirectorySource, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ldapdir.ErrBadCredentials), errors.Is(err, ldapdir.ErrNoSuchUser), errors.Is(err, ldapdir.ErrAmbiguousUser):
		return lanyard.Errorf(lanyard.EUnauthenticated, "wrong login or password")
	case errors.Is(err, ldapdir.ErrDisabled):
		return lanyard.Errorf(lanyard.EForbidden, "the account is disabled in the directory")
	case errors.Is(err, ldapdir.ErrTLS):
		return lanyard.Wrap(lanyard.EUnavailable, err, "the directory is unreachable: its TLS certificate was not accepted (check the source's CA bundle and URL)")
	case errors.Is(err, ldapdir.ErrServiceBind):
		return lanyard.Wrap(lanyard.EUnavailable, err, "the directory refused the service account's bind (check the source's bind DN and password)")
	case errors.Is(err, ldapdir.ErrConfig):
		return lanyard.Errorf(lanyard.EInvalid, "directory source %s: %v", src.Name, err)
	case errors.Is(err, ldapdir.ErrStateKind):
		return ErrFullNeeded
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return lanyard.Wrap(lanyard.EUnavailable, err, "the directory read was interrupted")
	}
	return lanyard.Wrap(lanyard.EUnavailable, err, "the directory is unreachable")
}

func entryOf(e *ldapdir.Entry) Entry {
	return Entry{DN: e.DN, ExternalID: e.ExternalID, Login: e.Login, UPN: e.UPN, DisplayName: e.DisplayName, Email: e.Email,
		ManagerEmail: e.ManagerEmail, Groups: e.Groups, Disabled: e.Disabled}
}

func problemsOf(ps []ldapdir.Problem) []Problem {
	out := make([]Problem, len(ps))
	for i, p := range ps {
		out[i] = Problem{DN: p.DN, Message: p.Message}
	}
	return out
}

// Full reads every user of src (ldapdir.Full).
func (LDAP) Full(ctx context.Context, src *lanyard.DirectorySource, password string) (*Snapshot, error) {
	cfg, err := ldapConfig(src, password)
	if err != nil {
		return nil, err
	}
	snap, err := ldapdir.Full(ctx, cfg)
	if err != nil {
		return nil, readErr(src, err)
	}
	state, err := json.Marshal(snap.State)
	if err != nil {
		return nil, err
	}
	out := &Snapshot{Entries: make([]Entry, len(snap.Entries)), State: string(state), Problems: problemsOf(snap.Problems)}
	for i := range snap.Entries {
		out.Entries[i] = entryOf(&snap.Entries[i])
	}
	return out, nil
}

// Incremental reads what changed in src since state (ldapdir.Incremental);
// ErrFullNeeded when state cannot be used.
func (LDAP) Incremental(ctx context.Context, src *lanyard.DirectorySource, password, state string) (*Delta, error) {
	cfg, err := ldapConfig(src, password)
	if err != nil {
		return nil, err
	}
	var st ldapdir.State
	if err := json.Unmarshal([]byte(state), &st); err != nil || st.IsZero() {
		return nil, ErrFullNeeded
	}
	d, next, err := ldapdir.Incremental(ctx, cfg, st)
	if err != nil {
		return nil, readErr(src, err)
	}
	raw, err := json.Marshal(next)
	if err != nil {
		return nil, err
	}
	out := &Delta{Changed: make([]Entry, len(d.Changed)), Deleted: d.Removed, State: string(raw), Problems: problemsOf(d.Problems)}
	for i := range d.Changed {
		out.Changed[i] = entryOf(&d.Changed[i])
	}
	return out, nil
}

// Authenticate binds to src as login (ldapdir.Authenticate).
func (LDAP) Authenticate(ctx context.Context, src *lanyard.DirectorySource, password, login, userPassword string) (*Entry, error) {
	cfg, err := ldapConfig(src, password)
	if err != nil {
		return nil, err
	}
	e, err := ldapdir.Authenticate(ctx, cfg, login, userPassword)
	if err != nil {
		return nil, readErr(src, err)
	}
	out := entryOf(e)
	return &out, nil
}
