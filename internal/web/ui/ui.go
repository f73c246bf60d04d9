// Package ui is Lanyard's browser interface: Self-Service at / for every
// user and the management console at /console/ for staff. The server
// renders page shells (html/template, embedded); small ES modules in
// static/js fill them from the JSON API under /api/v1, which stays the
// single source of truth: the pages hold no business rules the API does
// not enforce itself.
//
// Every response carries a strict Content-Security-Policy (scripts and
// styles only from this origin, no inline code) and refuses framing.
package ui

import (
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"unicode"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Viewer is the person a browser session belongs to.
type Viewer struct {
	Login       string
	DisplayName string
	Roles       lanyard.Roles
	// CSRFToken is the session's synchronizer token; pages put it in a
	// meta element and the scripts send it as X-CSRF-Token.
	CSRFToken string
}

// Name is how the page greets the viewer.
func (v *Viewer) Name() string {
	if v.DisplayName != "" {
		return v.DisplayName
	}
	return v.Login
}

// consoleRoles may open the management console. CA managers come in for
// the approval queue, document officers for the documents; other roles
// use the API or CLI.
var consoleRoles = []lanyard.Role{lanyard.RoleOperator, lanyard.RoleAdministrator, lanyard.RoleCAManager, lanyard.RoleDocumentOfficer}

// Staff reports whether the viewer may open the console.
func (v *Viewer) Staff() bool { return v != nil && v.Roles.Has(consoleRoles...) }

// Has reports whether the viewer holds role r (for templates).
func (v *Viewer) Has(r string) bool { return v != nil && v.Roles.Has(lanyard.Role(r)) }

// Config holds the UI's dependencies.
type Config struct {
	// Viewer resolves the browser session of r. It returns an error (any)
	// when there is no valid session; the page then redirects to /login.
	Viewer func(r *http.Request) (*Viewer, error)
	Log    *slog.Logger
}

// UI serves the pages and their static files.
type UI struct {
	viewer func(r *http.Request) (*Viewer, error)
	log    *slog.Logger
	pages  map[string]*template.Template // by page template name
	static *staticFiles
	mux    *http.ServeMux
}

// New parses the embedded templates and builds the page routes. It panics
// only if the embedded files are broken, which the package tests catch.
func New(cfg Config) *UI {
	if cfg.Viewer == nil {
		panic("ui: Config.Viewer is required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	u := &UI{viewer: cfg.Viewer, log: cfg.Log, pages: map[string]*template.Template{}, static: mustStatic(sub), mux: http.NewServeMux()}
	for _, p := range pageTable {
		if _, ok := u.pages[p.tmpl]; !ok {
			u.pages[p.tmpl] = mustPage(p.tmpl)
		}
		u.mux.Handle("GET "+p.pattern, u.pageHandler(p))
	}
	u.pages["error"] = mustPage("error")
	u.mux.Handle("GET /static/", http.StripPrefix("/static/", u.static))
	u.mux.HandleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/", http.StatusMovedPermanently)
	})
	// The login form posts here only when its script did not run.
	u.mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		u.renderError(w, r, http.StatusBadRequest, "JavaScript is needed",
			"Lanyard's pages log you in with JavaScript. Turn it on for this site and try again, or use the lanyard command-line tool.")
	})
	u.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		u.renderError(w, r, http.StatusNotFound, "Page not found", "There is no page at "+r.URL.Path+".")
	})
	return u
}

// Handler returns the UI's root handler with the security headers applied
// to every response.
func (u *UI) Handler() http.Handler { return secure(u.mux) }

// pageHandler authenticates, checks the console roles and renders p.
func (u *UI) pageHandler(p page) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := u.viewer(r)
		if err != nil {
			v = nil
		}
		switch {
		case p.public:
			if v != nil && p.pattern == "/login" {
				http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
				return
			}
		case v == nil:
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		case p.console && !v.Staff():
			u.renderError(w, r, http.StatusForbidden, "Not allowed",
				"The management console is for operators, administrators, CA managers and document officers. Your account does not have one of these roles; ask an administrator if you need access.")
			return
		}
		params := map[string]string{}
		for _, name := range p.params {
			params[name] = r.PathValue(name)
		}
		u.render(w, r, http.StatusOK, p.tmpl, u.data(r, p, v, params))
	})
}

// safeNext keeps post-login redirects on this site. Browsers drop tabs and
// newlines from URLs and read a backslash as "/" (WHATWG URL standard, "basic URL
// parser"), so "/\t/evil.example" would leave the site as "//evil.example".
// The rule, the same as login.js's: remove control characters and white
// space, then the rest must parse as a URL with no scheme, no host and no
// backslash, and be a path starting with exactly one "/".
// SafeNext is safeNext for the single sign-on's start, which keeps the
// page to open after the sign-in.
func SafeNext(next string) string { return safeNext(next) }

func safeNext(next string) string {
	clean := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '\uFEFF' {
			return -1
		}
		return r
	}, next)
	u, err := url.Parse(clean)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		strings.Contains(clean, "\\") || !strings.HasPrefix(clean, "/") || strings.HasPrefix(clean, "//") {
		return "/"
	}
	return clean
}
