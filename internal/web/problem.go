package web

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Problem is an RFC 9457 problem details object. Code repeats the stable
// lanyard error code so that clients can switch on it without parsing
// Type.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail"`
	Code     string `json:"code"`
	Instance string `json:"instance,omitempty"`
}

// problemTypeBase prefixes each code to form the problem type URI.
const problemTypeBase = "https://lanyard.dev/problems/"

// statusOf maps stable error codes to HTTP statuses; this table is the only
// place that knows both.
var statusOf = map[string]int{
	lanyard.EInvalid:         http.StatusBadRequest,
	lanyard.EInvalidCSR:      http.StatusBadRequest,
	lanyard.EKeyNotAllowed:   http.StatusUnprocessableEntity,
	lanyard.ENotFound:        http.StatusNotFound,
	lanyard.EConflict:        http.StatusConflict,
	lanyard.EUnauthenticated: http.StatusUnauthorized,
	lanyard.EForbidden:       http.StatusForbidden,
	lanyard.ERateLimited:     http.StatusTooManyRequests,
	lanyard.ETooLarge:        http.StatusRequestEntityTooLarge,
	lanyard.EUnavailable:     http.StatusServiceUnavailable,
	lanyard.EInternal:        http.StatusInternalServerError,
	lanyard.EPendingApproval: http.StatusAccepted,
	codeUnsupportedMedia:     http.StatusUnsupportedMediaType,
	codeMethodNotAllowed:     http.StatusMethodNotAllowed,
}

// Codes that exist only at the HTTP edge.
const (
	codeUnsupportedMedia = "unsupported_media_type"
	codeMethodNotAllowed = "method_not_allowed"
)

// writeError sends err as problem+json. Internal errors are logged with
// their cause and shown only as "internal error".
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	code := lanyard.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusBadRequest
	}
	msg := lanyard.ErrorMessage(err)
	if status >= 500 {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
		if code == lanyard.EInternal {
			msg = "internal error; the server log has the details"
		}
	}
	writeProblem(w, Problem{Type: problemTypeBase + code, Title: http.StatusText(status), Status: status, Detail: msg, Code: code, Instance: r.URL.Path})
}

func writeProblem(w http.ResponseWriter, p Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if p.Status == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "30")
	}
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
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
