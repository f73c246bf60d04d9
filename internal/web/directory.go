package web

import (
	"context"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/directory"
)

// Directory is what the web layer asks of the directory capability
// (internal/service/directory): the sources and Sync now.
// Administrators only; the service checks it again.
type Directory interface {
	Sources(ctx context.Context, p *lanyard.Principal) ([]*directory.Source, error)
	GetSource(ctx context.Context, p *lanyard.Principal, id int64) (*directory.Source, error)
	CreateSource(ctx context.Context, p *lanyard.Principal, in directory.SourceInput) (*directory.Source, error)
	UpdateSource(ctx context.Context, p *lanyard.Principal, id int64, in directory.SourceInput) (*directory.Source, error)
	DeleteSource(ctx context.Context, p *lanyard.Principal, id int64) error
	Sync(ctx context.Context, p *lanyard.Principal, id int64, dryRun bool) (*directory.Report, error)
}

// directoryRoutes are the directory sources (docs/directory.md,
// "Directory sources and sync").
func (s *Server) directoryRoutes() []*route {
	base := "/api/v1/directory-sources"
	dir := func() (Directory, error) {
		if s.directory == nil {
			return nil, lanyard.Errorf(lanyard.EUnavailable, "directory sources are not available on this server")
		}
		return s.directory, nil
	}
	return []*route{
		{method: "GET", path: base, summary: "The directory (LDAP, Active Directory) sources, with their last sync's report; never a bind password", tag: "directory", roles: admins,
			out: []apiv1.DirectorySource{}, status: 200,
			h: func(c *call) (any, error) {
				d, err := dir()
				if err != nil {
					return nil, err
				}
				list, err := d.Sources(c.r.Context(), c.p)
				if err != nil {
					return nil, err
				}
				out := make([]apiv1.DirectorySource, len(list))
				for i, src := range list {
					out[i] = *sourceOut(src)
				}
				return out, nil
			}},
		{method: "POST", path: base, summary: "Add a directory source; its bind password is sealed and never returned", tag: "directory", roles: admins,
			in: &apiv1.DirectorySourceInput{}, out: &apiv1.DirectorySource{}, status: 201,
			h: func(c *call) (any, error) {
				d, err := dir()
				if err != nil {
					return nil, err
				}
				var in apiv1.DirectorySourceInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				src, err := d.CreateSource(c.r.Context(), c.p, sourceIn(&in))
				if err != nil {
					return nil, err
				}
				return sourceOut(src), nil
			}},
		{method: "GET", path: base + "/{id}", summary: "A directory source and its last sync's report", tag: "directory", roles: admins,
			out: &apiv1.DirectorySource{}, status: 200,
			h: func(c *call) (any, error) {
				d, err := dir()
				if err != nil {
					return nil, err
				}
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				src, err := d.GetSource(c.r.Context(), c.p, id)
				if err != nil {
					return nil, err
				}
				return sourceOut(src), nil
			}},
		{method: "PUT", path: base + "/{id}", summary: "Replace a directory source's settings; the bind password stays unless given, and must be given again when the URL, StartTLS, CA certificates or bind DN change (400 otherwise)", tag: "directory", roles: admins,
			in: &apiv1.DirectorySourceInput{}, out: &apiv1.DirectorySource{}, status: 200,
			h: func(c *call) (any, error) {
				d, err := dir()
				if err != nil {
					return nil, err
				}
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				var in apiv1.DirectorySourceInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				src, err := d.UpdateSource(c.r.Context(), c.p, id, sourceIn(&in))
				if err != nil {
					return nil, err
				}
				return sourceOut(src), nil
			}},
		{method: "DELETE", path: base + "/{id}", summary: "Delete a directory source; its users stay, and no longer sync nor sign in with a directory password", tag: "directory", roles: admins, status: 204,
			h: func(c *call) (any, error) {
				d, err := dir()
				if err != nil {
					return nil, err
				}
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				return nil, d.DeleteSource(c.r.Context(), c.p, id)
			}},
		{method: "POST", path: base + "/{id}/sync", summary: "Sync a directory source now (Sync now), or with dry_run work out what a sync would change and write nothing", tag: "directory", roles: admins,
			in: &apiv1.DirectorySyncInput{}, out: &apiv1.DirectoryReport{}, status: 200,
			h: func(c *call) (any, error) {
				d, err := dir()
				if err != nil {
					return nil, err
				}
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				var in apiv1.DirectorySyncInput
				if err := c.decode(&in); err != nil {
					return nil, err
				}
				rep, err := d.Sync(c.r.Context(), c.p, id, in.DryRun)
				if err != nil {
					return nil, err
				}
				return reportOut(rep), nil
			}},
	}
}

func sourceIn(in *apiv1.DirectorySourceInput) directory.SourceInput {
	return directory.SourceInput{Name: in.Name, Kind: in.Kind, URL: in.URL, StartTLS: in.StartTLS, CAPEM: in.CAPEM, BindDN: in.BindDN,
		BindPassword: in.BindPassword, BaseDN: in.BaseDN, UserFilter: in.UserFilter, GroupFilter: in.GroupFilter, PageSize: in.PageSize,
		Mapping: in.Mapping, SyncInterval: time.Duration(in.SyncIntervalMinutes) * time.Minute, LeaverAction: lanyard.LeaverAction(in.LeaverAction),
		Enabled: in.Enabled}
}

func sourceOut(s *directory.Source) *apiv1.DirectorySource {
	out := &apiv1.DirectorySource{ID: s.ID, Name: s.Name, Kind: s.Kind, URL: s.URL, StartTLS: s.StartTLS, CAPEM: s.CAPEM, BindDN: s.BindDN,
		HasBindPassword: s.HasBindPassword, BaseDN: s.BaseDN, UserFilter: s.UserFilter, GroupFilter: s.GroupFilter, PageSize: s.PageSize,
		Mapping: s.Mapping, SyncIntervalMinutes: int(s.SyncInterval / time.Minute), LeaverAction: string(s.LeaverAction), Enabled: s.Enabled,
		NextSyncFull: s.SyncState == "", CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
	if !s.LastSyncAt.IsZero() {
		at := s.LastSyncAt
		out.LastSyncAt = &at
	}
	if s.LastReport != nil {
		out.LastReport = reportOut(s.LastReport)
	}
	if s.LastError != "" {
		at := s.LastErrorAt
		out.LastError, out.LastErrorAt = s.LastError, &at
	}
	return out
}

func reportOut(r *directory.Report) *apiv1.DirectoryReport {
	out := &apiv1.DirectoryReport{SourceID: r.SourceID, Source: r.Source, DryRun: r.DryRun, Full: r.Full, StartedAt: r.StartedAt,
		FinishedAt: r.FinishedAt, Read: r.Read, Created: r.Created, Updated: r.Updated, Disabled: r.Disabled, Enabled: r.Enabled,
		Moved: r.Moved, Unchanged: r.Unchanged, CardsChanged: r.CardsChanged, CardsDue: r.CardsDue, Omitted: r.Omitted,
		Errors: make([]apiv1.DirectoryLineError, len(r.Errors)), Changes: make([]apiv1.DirectoryChange, len(r.Changes))}
	for i, e := range r.Errors {
		out.Errors[i] = apiv1.DirectoryLineError{DN: e.DN, Message: e.Message}
	}
	for i, c := range r.Changes {
		out.Changes[i] = apiv1.DirectoryChange{Action: c.Action, Login: c.Login, DN: c.DN, Fields: c.Fields, Moved: c.Moved, Cards: c.Cards, Warning: c.Warning}
	}
	return out
}
