// Package problem writes errors as RFC 9457 problem details. It holds the
// only table that maps Lanyard's stable error codes to HTTP statuses, so
// that the API (internal/web) and the agent listener (internal/agenthub)
// answer the same error the same way.
package problem

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Details is an RFC 9457 problem details object. Code repeats the stable
// lanyard error code so that clients can switch on it without parsing
// Type.
type Details struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail"`
	Code     string `json:"code"`
	Instance string `json:"instance,omitempty"`
}

// TypeBase prefixes each code to form the problem type URI.
const TypeBase = "https://lanyard.dev/problems/"

// Codes that exist only at the HTTP edge.
const (
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeMethodNotAllowed = "method_not_allowed"
)

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
	// A logged-in caller failing a step-up is refused (403), not
	// unauthenticated (401): the session stays valid.
	lanyard.ESecondFactorRequired: http.StatusForbidden,
	lanyard.EStepUpFailed:         http.StatusForbidden,
	CodeUnsupportedMedia:          http.StatusUnsupportedMediaType,
	CodeMethodNotAllowed:          http.StatusMethodNotAllowed,
}

// Status is the HTTP status of an error code; unknown codes are client
// errors (400).
func Status(code string) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusBadRequest
}

// Codes lists every code with a status, for documentation.
func Codes() map[string]int {
	out := make(map[string]int, len(statusOf))
	for k, v := range statusOf {
		out[k] = v
	}
	return out
}

// For describes err: its code, its status and its user-safe message.
// Errors that are not *lanyard.Error are internal and show no detail.
func For(err error, instance string) Details {
	code := lanyard.ErrorCode(err)
	var le *lanyard.Error
	if !errors.As(err, &le) {
		code = lanyard.EInternal
	}
	status := Status(code)
	msg := lanyard.ErrorMessage(err)
	if code == lanyard.EInternal {
		msg = "internal error; the server log has the details"
	}
	return Details{Type: TypeBase + code, Title: http.StatusText(status), Status: status, Detail: msg, Code: code, Instance: instance}
}

// Write sends p.
func Write(w http.ResponseWriter, p Details) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if p.Status == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "30")
	}
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}
