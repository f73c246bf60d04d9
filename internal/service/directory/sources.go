package directory

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	ldapdir "github.com/lanyard-cms/lanyard/internal/directory"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// SourceInput is a directory source as an administrator gives it.
// BindPassword nil keeps the stored one (an update); "" clears it.
type SourceInput struct {
	Name         string
	Kind         string
	URL          string
	StartTLS     bool
	CAPEM        string
	BindDN       string
	BindPassword *string
	BaseDN       string
	UserFilter   string
	GroupFilter  string
	PageSize     int
	Mapping      string
	SyncInterval time.Duration
	LeaverAction lanyard.LeaverAction
	Enabled      bool
}

// Source is a directory source as it is shown: never its password, only
// whether one is set, and its last sync's report.
type Source struct {
	lanyard.DirectorySource
	HasBindPassword bool
	LastReport      *Report
}

// Limits of the settings.
const (
	MaxPageSize     = 10000
	MinSyncInterval = time.Minute
	MaxSyncInterval = 7 * 24 * time.Hour
	maxText         = 4096
)

func passwordAAD(name string) []byte { return []byte("directory-source-bind-password:" + name) }

// view is src as it is shown.
func view(src *lanyard.DirectorySource) *Source {
	v := &Source{DirectorySource: *src, HasBindPassword: len(src.SealedBindPassword) > 0}
	v.SealedBindPassword = nil
	if src.LastReport != "" {
		var r Report
		if json.Unmarshal([]byte(src.LastReport), &r) == nil {
			v.LastReport = &r
		}
	}
	return v
}

// validate checks in and copies its settings onto src.
func validate(in *SourceInput, src *lanyard.DirectorySource) error {
	if !lanyard.ValidName(in.Name) {
		return lanyard.Errorf(lanyard.EInvalid, "name: use 1–64 letters, digits, '-', '_' or '.'")
	}
	if in.Kind != "ad" && in.Kind != "openldap" {
		return lanyard.Errorf(lanyard.EInvalid, "kind %q: use ad (Active Directory) or openldap (OpenLDAP, 389 DS)", in.Kind)
	}
	if err := checkURL(in.URL, in.StartTLS); err != nil {
		return err
	}
	if in.CAPEM != "" {
		if len(in.CAPEM) > 256<<10 || !x509.NewCertPool().AppendCertsFromPEM([]byte(in.CAPEM)) {
			return lanyard.Errorf(lanyard.EInvalid, "ca_pem: no PEM certificate found")
		}
	}
	if strings.TrimSpace(in.BaseDN) == "" {
		return lanyard.Errorf(lanyard.EInvalid, "base_dn is required (the subtree the users are read from)")
	}
	for name, v := range map[string]string{"bind_dn": in.BindDN, "base_dn": in.BaseDN, "user_filter": in.UserFilter, "group_filter": in.GroupFilter} {
		if len(v) > maxText {
			return lanyard.Errorf(lanyard.EInvalid, "%s: at most %d characters", name, maxText)
		}
	}
	if in.PageSize < 0 || in.PageSize > MaxPageSize {
		return lanyard.Errorf(lanyard.EInvalid, "page_size: 1–%d (0: the reader's default)", MaxPageSize)
	}
	if len(in.Mapping) > maxText {
		return lanyard.Errorf(lanyard.EInvalid, "mapping: at most %d characters", maxText)
	}
	var m ldapdir.Mapping
	if err := parseMapping(in.Kind, in.Mapping, &m); err != nil {
		return err
	}
	if d := in.SyncInterval; d != 0 && (d < MinSyncInterval || d > MaxSyncInterval) {
		return lanyard.Errorf(lanyard.EInvalid, "sync_interval: %s–%s (0: the server's default)", MinSyncInterval, MaxSyncInterval)
	}
	if _, err := lanyard.ParseLeaverAction(string(in.LeaverAction)); err != nil {
		return err
	}
	src.Name, src.Kind, src.URL, src.StartTLS, src.CAPEM, src.BindDN = in.Name, in.Kind, in.URL, in.StartTLS, in.CAPEM, in.BindDN
	src.BaseDN, src.UserFilter, src.GroupFilter, src.PageSize, src.Mapping = in.BaseDN, in.UserFilter, in.GroupFilter, in.PageSize, in.Mapping
	src.SyncInterval, src.LeaverAction, src.Enabled = in.SyncInterval, in.LeaverAction, in.Enabled
	return nil
}

// checkConfig checks src with the LDAP reader's own rules
// (ldapdir.Config.Validate: a bind DN and password, since anonymous reads
// are refused; DNs that parse; RFC 4515 filters that compile), so that a
// source saved is one the reader accepts.
func checkConfig(src *lanyard.DirectorySource, password string) error {
	_, err := ldapConfig(src, password)
	return err
}

// checkURL accepts ldaps://, or ldap:// with StartTLS (RFC 4511 4.14): a
// bind password never crosses the network in the clear. Plain ldap:// is
// accepted only to a loopback address (a directory on the same host).
func checkURL(raw string, startTLS bool) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return lanyard.Errorf(lanyard.EInvalid, "url %q: use ldaps://host[:port] or ldap://host[:port] with StartTLS", raw)
	}
	switch u.Scheme {
	case "ldaps":
		if startTLS {
			return lanyard.Errorf(lanyard.EInvalid, "url: StartTLS is for ldap:// URLs; ldaps:// is TLS already")
		}
	case "ldap":
		if !startTLS && !loopback(u.Hostname()) {
			return lanyard.Errorf(lanyard.EInvalid, "url %q: the bind password would cross the network in the clear; use ldaps:// or StartTLS", raw)
		}
	default:
		return lanyard.Errorf(lanyard.EInvalid, "url %q: use ldaps:// or ldap:// with StartTLS", raw)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return lanyard.Errorf(lanyard.EInvalid, "url %q: bad port", raw)
		}
	}
	return nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// seal seals password for src (none when empty).
func (d *Directory) seal(src *lanyard.DirectorySource, password string) error {
	src.SealedBindPassword = nil
	if password == "" {
		return nil
	}
	if len(password) > 1024 {
		return lanyard.Errorf(lanyard.EInvalid, "bind_password: at most 1024 bytes")
	}
	sealed, err := d.cfg.Sealer.Seal([]byte(password), passwordAAD(src.Name))
	if err != nil {
		return lanyard.Wrap(lanyard.EInternal, err, "sealing the bind password failed")
	}
	src.SealedBindPassword = sealed
	return nil
}

// password opens src's bind password ("" when none is set).
func (d *Directory) password(src *lanyard.DirectorySource) (string, error) {
	if len(src.SealedBindPassword) == 0 {
		return "", nil
	}
	pt, err := d.cfg.Sealer.Open(src.SealedBindPassword, passwordAAD(src.Name))
	if err != nil {
		return "", lanyard.Wrap(lanyard.EInternal, err, "the bind password of directory source "+src.Name+" cannot be opened")
	}
	return string(pt), nil
}

// settingsDetails is what an audit event says of a source: its
// settings, never its password (only whether one is set or changed).
func settingsDetails(src *lanyard.DirectorySource, passwordChanged bool) map[string]any {
	return map[string]any{"name": src.Name, "kind": src.Kind, "url": src.URL, "start_tls": src.StartTLS, "bind_dn": src.BindDN,
		"base_dn": src.BaseDN, "enabled": src.Enabled, "leaver_action": string(src.LeaverAction), "sync_interval": src.SyncInterval.String(),
		"bind_password_set": len(src.SealedBindPassword) > 0, "bind_password_changed": passwordChanged}
}

// CreateSource adds a directory source (administrators).
func (d *Directory) CreateSource(ctx context.Context, p *lanyard.Principal, in SourceInput) (*Source, error) {
	if err := admin(p, "adds a directory source"); err != nil {
		return nil, err
	}
	src := &lanyard.DirectorySource{}
	if err := validate(&in, src); err != nil {
		return nil, err
	}
	pw := ""
	if in.BindPassword != nil {
		pw = *in.BindPassword
	}
	if err := checkConfig(src, pw); err != nil {
		return nil, err
	}
	if err := d.seal(src, pw); err != nil {
		return nil, err
	}
	src.CreatedAt, src.UpdatedAt = d.rec.Clock(), d.rec.Clock()
	err := d.rec.Update(ctx, func() *lanyard.AuditEvent {
		return d.rec.Event(p, "directory_source.create", "directory_source", strconv.FormatInt(src.ID, 10), settingsDetails(src, in.BindPassword != nil))
	}, func(tx lanyard.Tx) error { return tx.CreateDirectorySource(src) })
	if err != nil {
		return nil, err
	}
	return view(src), nil
}

// UpdateSource replaces a source's settings (administrators); the bind
// password stays unless given, but only while the URL, StartTLS, CA
// certificates and bind DN stay: the stored password is sent only where
// the administrator who typed it meant it to go. Otherwise one could
// point the source at a server of their own, sync, and read the
// password off their server's bind (RFC 4511 4.2: a simple bind sends
// it as is); changing any of these asks for the password again. Its sync state stays too, unless the URL,
// base DN, filters, kind or mapping changed: then what the next sync
// sees may be another set of entries, and it is a full one.
func (d *Directory) UpdateSource(ctx context.Context, p *lanyard.Principal, id int64, in SourceInput) (*Source, error) {
	if err := admin(p, "changes a directory source"); err != nil {
		return nil, err
	}
	var src *lanyard.DirectorySource
	err := d.rec.Update(ctx, func() *lanyard.AuditEvent {
		return d.rec.Event(p, "directory_source.update", "directory_source", strconv.FormatInt(id, 10), settingsDetails(src, in.BindPassword != nil))
	}, func(tx lanyard.Tx) (err error) {
		if src, err = tx.DirectorySourceByID(id); err != nil {
			return err
		}
		old := *src
		pw := ""
		if in.BindPassword == nil {
			if pw, err = d.password(src); err != nil {
				return err
			}
		} else {
			pw = *in.BindPassword
		}
		if err := validate(&in, src); err != nil {
			return err
		}
		if in.BindPassword == nil && len(old.SealedBindPassword) > 0 {
			if moved := endpointChanges(&old, src); len(moved) > 0 {
				return lanyard.Errorf(lanyard.EInvalid, "bind_password: enter the bind password again: the %s changed, and the stored password is only sent to the server it was entered for",
					strings.Join(moved, ", "))
			}
		}
		if err := checkConfig(src, pw); err != nil {
			return err
		}
		if err := d.seal(src, pw); err != nil { // sealed again: the name is in its AAD
			return err
		}
		src.UpdatedAt = d.rec.Clock()
		if err := tx.UpdateDirectorySource(src); err != nil {
			return err
		}
		if old.URL != src.URL || old.BaseDN != src.BaseDN || old.UserFilter != src.UserFilter || old.GroupFilter != src.GroupFilter ||
			old.Kind != src.Kind || old.Mapping != src.Mapping {
			src.SyncState = ""
			return tx.SetDirectorySync(id, "", src.LastReport, src.LastSyncAt)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return view(src), nil
}

// endpointChanges names the settings that decide where the bind password
// goes and differ between old and src.
func endpointChanges(old, src *lanyard.DirectorySource) []string {
	var out []string
	if old.URL != src.URL {
		out = append(out, "URL")
	}
	if old.StartTLS != src.StartTLS {
		out = append(out, "StartTLS setting")
	}
	if old.CAPEM != src.CAPEM {
		out = append(out, "CA certificates")
	}
	if old.BindDN != src.BindDN {
		out = append(out, "bind DN")
	}
	return out
}

// DeleteSource removes a source (administrators). Its users stay, as
// directory accounts of no source: nobody edits their directory fields,
// and they cannot sign in with a password until an administrator makes
// them local or another source takes them (docs/directory.md).
func (d *Directory) DeleteSource(ctx context.Context, p *lanyard.Principal, id int64) error {
	if err := admin(p, "deletes a directory source"); err != nil {
		return err
	}
	var name string
	return d.rec.Update(ctx, func() *lanyard.AuditEvent {
		return d.rec.Event(p, "directory_source.delete", "directory_source", strconv.FormatInt(id, 10), map[string]any{"name": name})
	}, func(tx lanyard.Tx) error {
		src, err := tx.DirectorySourceByID(id)
		if err != nil {
			return err
		}
		name = src.Name
		return tx.DeleteDirectorySource(id)
	})
}

// Sources lists the sources (administrators).
func (d *Directory) Sources(ctx context.Context, p *lanyard.Principal) ([]*Source, error) {
	if err := admin(p, "reads the directory sources"); err != nil {
		return nil, err
	}
	var list []*lanyard.DirectorySource
	if err := d.rec.View(ctx, func(tx lanyard.Tx) (err error) { list, err = tx.ListDirectorySources(); return }); err != nil {
		return nil, err
	}
	out := make([]*Source, len(list))
	for i, s := range list {
		out[i] = view(s)
	}
	return out, nil
}

// GetSource returns source id (administrators).
func (d *Directory) GetSource(ctx context.Context, p *lanyard.Principal, id int64) (*Source, error) {
	if err := admin(p, "reads the directory sources"); err != nil {
		return nil, err
	}
	var src *lanyard.DirectorySource
	if err := d.rec.View(ctx, func(tx lanyard.Tx) (err error) { src, err = tx.DirectorySourceByID(id); return }); err != nil {
		return nil, err
	}
	return view(src), nil
}

// SourceByName returns the source named name (administrators; the CLI
// names sources).
func (d *Directory) SourceByName(ctx context.Context, p *lanyard.Principal, name string) (*Source, error) {
	if err := admin(p, "reads the directory sources"); err != nil {
		return nil, err
	}
	var src *lanyard.DirectorySource
	if err := d.rec.View(ctx, func(tx lanyard.Tx) (err error) { src, err = tx.DirectorySourceByName(name); return }); err != nil {
		return nil, err
	}
	return view(src), nil
}
