package web

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/lanyard-cms/lanyard/internal/web/problem"
)

// Problem is an RFC 9457 problem details object (internal/web/problem).
type Problem = problem.Details

// Codes that exist only at the HTTP edge.
const (
	codeUnsupportedMedia = problem.CodeUnsupportedMedia
	codeMethodNotAllowed = problem.CodeMethodNotAllowed
)

// writeError sends err as problem+json. Internal errors and unavailable
// dependencies are logged with their cause; internal errors are shown
// only as "internal error".
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	p := problem.For(err, r.URL.Path)
	if p.Status >= 500 {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "code", p.Code, "err", err)
	}
	setRetryAfter(w, err)
	problem.Write(w, p)
}

// writeJSON sends v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if v != nil {
		json.NewEncoder(w).Encode(v)
	}
}
