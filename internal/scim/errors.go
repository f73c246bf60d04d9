package scim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// The scimType values of RFC 7644, section 3.12, table 9.
const (
	TypeInvalidFilter = "invalidFilter"
	TypeTooMany       = "tooMany"
	TypeUniqueness    = "uniqueness"
	TypeMutability    = "mutability"
	TypeInvalidSyntax = "invalidSyntax"
	TypeInvalidPath   = "invalidPath"
	TypeNoTarget      = "noTarget"
	TypeInvalidValue  = "invalidValue"
	TypeInvalidVers   = "invalidVers"
	TypeSensitive     = "sensitive"
)

// Error is a SCIM error response (RFC 7644, section 3.12): an HTTP status,
// for 400 and 409 a scimType, and a detail safe to show the client.
type Error struct {
	Status int
	Type   string
	Detail string
}

func (e *Error) Error() string {
	if e.Type != "" {
		return fmt.Sprintf("scim %d %s: %s", e.Status, e.Type, e.Detail)
	}
	return fmt.Sprintf("scim %d: %s", e.Status, e.Detail)
}

// Errorf returns a 400 error of scimType typ.
func Errorf(typ, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Type: typ, Detail: fmt.Sprintf(format, args...)}
}

// MarshalJSON writes the error as RFC 7644, section 3.12 shows it: the
// status is a string there.
func (e *Error) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Schemas  []string `json:"schemas"`
		Status   string   `json:"status"`
		ScimType string   `json:"scimType,omitempty"`
		Detail   string   `json:"detail,omitempty"`
	}{[]string{ErrorSchema}, strconv.Itoa(e.Status), e.Type, e.Detail})
}

// Conflict returns a 409 uniqueness error: the userName or displayName
// is taken (RFC 7644 section 3.3).
func Conflict(format string, args ...any) *Error {
	return &Error{Status: http.StatusConflict, Type: TypeUniqueness, Detail: fmt.Sprintf(format, args...)}
}

// NotFound returns a 404 error for the resource id.
func NotFound(kind, id string) *Error {
	return &Error{Status: http.StatusNotFound, Detail: fmt.Sprintf("%s %s not found", kind, id)}
}
