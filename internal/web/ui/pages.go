package ui

import (
	"bytes"
	"html/template"
	"net/http"
	"strings"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// page is one server-rendered shell.
type page struct {
	pattern string   // mux pattern after "GET "
	title   string   // <title> and the main heading
	tmpl    string   // templates/NAME.html
	script  string   // static/js/NAME.js, the page's module
	params  []string // path values handed to the script as data attributes
	nav     string   // the navigation entry marked current
	public  bool     // no session needed
	console bool     // staff only
}

// pageTable lists every page. Console object pages share one template and
// script; the kind comes from the URL.
var pageTable = []page{
	{pattern: "/login", title: "Log in", tmpl: "login", script: "pages/login", public: true},
	{pattern: "/rss/{$}", title: "Remote Self-Service", tmpl: "rss", script: "pages/rss", public: true},
	{pattern: "/{$}", title: "Your cards", tmpl: "home", script: "pages/home", nav: "/"},
	{pattern: "/cards/{id}", title: "Card", tmpl: "card", script: "pages/card", params: []string{"id"}, nav: "/"},
	{pattern: "/workstations", title: "Workstations", tmpl: "workstations", script: "pages/workstations", nav: "/workstations"},
	{pattern: "/secret-questions", title: "Secret questions", tmpl: "secret-questions", script: "pages/secret-questions", nav: "/secret-questions"},
	{pattern: "/authenticator", title: "Authenticator app", tmpl: "authenticator", script: "pages/authenticator", nav: "/authenticator"},
	{pattern: "/keys", title: "Encryption keys", tmpl: "keys", script: "pages/keys", nav: "/keys"},

	{pattern: "/console/{$}", title: "Management console", tmpl: "console-home", script: "console/home", console: true, nav: "/console/"},
	{pattern: "/console/users", title: "Users", tmpl: "console-users", script: "console/users", console: true, nav: "/console/users"},
	{pattern: "/console/cards", title: "Cards", tmpl: "console-cards", script: "console/cards", console: true, nav: "/console/cards"},
	{pattern: "/console/issue", title: "Issue a card for a user", tmpl: "console-issue", script: "console/issue", console: true, nav: "/console/issue"},
	{pattern: "/console/cards/{id}", title: "Card", tmpl: "card", script: "pages/card", params: []string{"id"}, console: true, nav: "/console/cards"},
	{pattern: "/console/requests", title: "CA approval queue", tmpl: "console-requests", script: "console/requests", console: true, nav: "/console/requests"},
	{pattern: "/console/documents", title: "Documents", tmpl: "console-documents", script: "console/documents", console: true, nav: "/console/documents"},
	{pattern: "/console/workstations", title: "Workstations", tmpl: "console-workstations", script: "console/workstations", console: true, nav: "/console/workstations"},
	{pattern: "/console/key-recoveries", title: "Key recovery", tmpl: "console-key-recoveries", script: "console/keyrecoveries", console: true, nav: "/console/key-recoveries"},
	{pattern: "/console/scim", title: "SCIM provisioning", tmpl: "console-scim", script: "console/scim", console: true, nav: "/console/scim"},
	{pattern: "/console/sso", title: "Single sign-on", tmpl: "console-sso", script: "console/sso", console: true, nav: "/console/sso"},
	{pattern: "/console/notifications", title: "Notifications", tmpl: "console-notifications", script: "console/notifications", console: true, nav: "/console/notifications"},
	{pattern: "/console/cluster", title: "Cluster", tmpl: "console-cluster", script: "console/cluster", console: true, nav: "/console/cluster"},
	{pattern: "/console/directory", title: "Directory", tmpl: "console-directory", script: "console/directory", console: true, nav: "/console/directory"},
	{pattern: "/console/policies", title: "Policies", tmpl: "console-objects", script: "console/objects", console: true, nav: "/console/policies"},
	{pattern: "/console/policies/{name}", title: "Policy", tmpl: "console-object", script: "console/object", params: []string{"name"}, console: true, nav: "/console/policies"},
	{pattern: "/console/card-types", title: "Card types", tmpl: "console-objects", script: "console/objects", console: true, nav: "/console/card-types"},
	{pattern: "/console/card-types/{name}", title: "Card type", tmpl: "console-object", script: "console/object", params: []string{"name"}, console: true, nav: "/console/card-types"},
	{pattern: "/console/templates", title: "Certificate templates", tmpl: "console-objects", script: "console/objects", console: true, nav: "/console/templates"},
	{pattern: "/console/templates/{name}", title: "Certificate template", tmpl: "console-object", script: "console/object", params: []string{"name"}, console: true, nav: "/console/templates"},
}

// navItem is one link of the site navigation.
type navItem struct {
	Href, Label string
	Current     bool
	// only: the roles that see the item (none: every viewer of the
	// section); a page the viewer cannot use is not offered.
	only lanyard.Roles
}

var (
	selfServiceNav = []navItem{{Href: "/", Label: "Your cards"}, {Href: "/workstations", Label: "Workstations"}, {Href: "/secret-questions", Label: "Secret questions"}, {Href: "/authenticator", Label: "Authenticator app"}, {Href: "/keys", Label: "Encryption keys"}}
	consoleNav     = []navItem{
		{Href: "/console/", Label: "Overview"}, {Href: "/console/users", Label: "Users"}, {Href: "/console/cards", Label: "Cards"}, {Href: "/console/issue", Label: "Issue a card", only: lanyard.Roles{lanyard.RoleOperator, lanyard.RoleAdministrator}},
		{Href: "/console/policies", Label: "Policies"}, {Href: "/console/card-types", Label: "Card types"},
		{Href: "/console/templates", Label: "Certificate templates"}, {Href: "/console/requests", Label: "CA approval queue"},
		{Href: "/console/documents", Label: "Documents"},
		{Href: "/console/workstations", Label: "Workstations"},
		{Href: "/console/key-recoveries", Label: "Key recovery", only: lanyard.Roles{lanyard.RoleOperator, lanyard.RoleAdministrator, lanyard.RoleAuditor}},
		{Href: "/console/notifications", Label: "Notifications"},
		{Href: "/console/cluster", Label: "Cluster"},
		{Href: "/console/directory", Label: "Directory", only: lanyard.Roles{lanyard.RoleAdministrator}},
		{Href: "/console/scim", Label: "SCIM provisioning", only: lanyard.Roles{lanyard.RoleAdministrator}},
		{Href: "/console/sso", Label: "Single sign-on", only: lanyard.Roles{lanyard.RoleAdministrator}},
	}
)

// pageData is what the layout and page templates see.
type pageData struct {
	Title   string
	Viewer  *Viewer
	Console bool
	Nav     []navItem
	Script  string            // module path under /static/js/, without .js
	Params  map[string]string // path values, rendered as data-* on <main>
	Kind    string            // console object kind: policies, card-types, templates
	Heading string            // error pages
	Message string            // error pages
}

func (u *UI) data(r *http.Request, p page, v *Viewer, params map[string]string) *pageData {
	d := &pageData{Title: p.title, Viewer: v, Console: p.console, Script: p.script, Params: params}
	base := selfServiceNav
	if p.console {
		base = consoleNav
		// /console/policies/{name} → "policies"
		rest := strings.TrimPrefix(p.pattern, "/console/")
		d.Kind, _, _ = strings.Cut(rest, "/")
	}
	if v != nil {
		for _, n := range base {
			if len(n.only) > 0 && !v.Roles.Has(n.only...) {
				continue
			}
			n.Current = n.Href == p.nav
			d.Nav = append(d.Nav, n)
		}
	}
	return d
}

// mustPage parses the layout with one page's template.
func mustPage(name string) *template.Template {
	return template.Must(template.New("layout.html").Funcs(template.FuncMap{}).
		ParseFS(templateFS, "templates/layout.html", "templates/totp-key.html", "templates/issue-dialog.html", "templates/"+name+".html"))
}

// render executes a page into a buffer first, so that a template error
// becomes a clean 500 rather than half a page.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, d *pageData) {
	var buf bytes.Buffer
	if err := u.pages[name].Execute(&buf, d); err != nil {
		u.log.Error("rendering page", "page", name, "path", r.URL.Path, "err", err)
		http.Error(w, "internal error; the server log has the details", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// RenderError shows a full page with a heading and a message (the
// single sign-on's refusals, internal/web/oidc.go).
func (u *UI) RenderError(w http.ResponseWriter, r *http.Request, status int, heading, msg string) {
	u.renderError(w, r, status, heading, msg)
}

// renderError shows a full page with a heading and a message.
func (u *UI) renderError(w http.ResponseWriter, r *http.Request, status int, heading, msg string) {
	v, err := u.viewer(r)
	if err != nil {
		v = nil
	}
	p := page{title: heading, console: strings.HasPrefix(r.URL.Path, "/console/") && v.Staff()}
	d := u.data(r, p, v, nil)
	d.Heading, d.Message = heading, msg
	u.render(w, r, status, "error", d)
}
