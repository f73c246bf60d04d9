package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// Meta is a resource's metadata (RFC 7643 section 3.1).
type Meta struct {
	ResourceType string `json:"resourceType"`
	Created      string `json:"created,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	Location     string `json:"location,omitempty"`
	Version      string `json:"version,omitempty"`
}

// Name is a user's name (RFC 7643 section 4.1.1).
type Name struct {
	Formatted  string `json:"formatted,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
	GivenName  string `json:"givenName,omitempty"`
}

// Email is one of a user's e-mail addresses.
type Email struct {
	Value   string `json:"value,omitempty"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
	Display string `json:"display,omitempty"`
}

// Ref is a reference to another resource: a group's member, a user's
// group.
type Ref struct {
	Value   string `json:"value"`
	Ref     string `json:"$ref,omitempty"`
	Display string `json:"display,omitempty"`
	Type    string `json:"type,omitempty"`
}

// Manager is the enterprise extension's manager (RFC 7643 section 4.3).
type Manager struct {
	Value       string `json:"value,omitempty"`
	Ref         string `json:"$ref,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

// Enterprise is the part of the enterprise extension Lanyard keeps.
type Enterprise struct {
	Manager *Manager `json:"manager,omitempty"`
}

// User is a User resource (RFC 7643 section 4.1).
type User struct {
	Schemas     []string    `json:"schemas"`
	ID          string      `json:"id,omitempty"`
	ExternalID  string      `json:"externalId,omitempty"`
	UserName    string      `json:"userName"`
	Name        *Name       `json:"name,omitempty"`
	DisplayName string      `json:"displayName,omitempty"`
	Active      *bool       `json:"active,omitempty"`
	Emails      []Email     `json:"emails,omitempty"`
	Groups      []Ref       `json:"groups,omitempty"`
	Enterprise  *Enterprise `json:"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User,omitempty"`
	Meta        *Meta       `json:"meta,omitempty"`
}

// PrimaryEmail is the address the user's primary e-mail holds, else the
// work one, else the first.
func (u *User) PrimaryEmail() string {
	for _, e := range u.Emails {
		if e.Primary && e.Value != "" {
			return e.Value
		}
	}
	for _, e := range u.Emails {
		if e.Type == "work" && e.Value != "" {
			return e.Value
		}
	}
	for _, e := range u.Emails {
		if e.Value != "" {
			return e.Value
		}
	}
	return ""
}

// Group is a Group resource (RFC 7643 section 4.2).
type Group struct {
	Schemas     []string `json:"schemas"`
	ID          string   `json:"id,omitempty"`
	ExternalID  string   `json:"externalId,omitempty"`
	DisplayName string   `json:"displayName"`
	Members     []Ref    `json:"members,omitempty"`
	Meta        *Meta    `json:"meta,omitempty"`
}

// ListResponse is the answer to a query (RFC 7644 section 3.4.2).
type ListResponse struct {
	Schemas      []string `json:"schemas"`
	TotalResults int      `json:"totalResults"`
	StartIndex   int      `json:"startIndex"`
	ItemsPerPage int      `json:"itemsPerPage"`
	Resources    []any    `json:"Resources"`
}

// NewListResponse pages all (the matching resources, in a stable order):
// startIndex is 1-based and below 1 means 1; count below 0 means 0
// (RFC 7644 section 3.4.2.4).
func NewListResponse[T any](all []T, startIndex, count int) *ListResponse {
	startIndex = max(startIndex, 1)
	count = max(count, 0)
	lr := &ListResponse{Schemas: []string{ListResponseSchema}, TotalResults: len(all), StartIndex: startIndex, Resources: []any{}}
	for i := startIndex - 1; i < len(all) && len(lr.Resources) < count; i++ {
		lr.Resources = append(lr.Resources, all[i])
	}
	lr.ItemsPerPage = len(lr.Resources)
	return lr
}

// maxBody bounds a request body the decoder reads.
const maxBody = 1 << 20

// ReadJSON reads a request body of at most 1 MiB as a JSON object
// (numbers kept as json.Number); anything else is invalidSyntax.
func ReadJSON(r io.Reader) (map[string]any, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxBody+1))
	if err != nil {
		return nil, Errorf(TypeInvalidSyntax, "reading the request body failed")
	}
	if len(b) > maxBody {
		return nil, &Error{Status: 413, Detail: "the request body exceeds 1 MiB"}
	}
	return parseObject(b)
}

func parseObject(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil || m == nil {
		return nil, Errorf(TypeInvalidSyntax, "the request body is not a JSON object")
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, Errorf(TypeInvalidSyntax, "data after the JSON object")
	}
	return m, nil
}

// ToMap returns a resource's JSON as a map, the form PATCH and filters
// work on.
func ToMap(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		panic("scim: marshal resource: " + err.Error()) // our own types always marshal
	}
	m, err := parseObject(b)
	if err != nil {
		panic("scim: resource is not an object")
	}
	return m
}

// Decode normalizes m (names, booleans, bare values; unknown attributes
// dropped) and decodes it into out (*User or *Group). A value of the
// wrong type is invalidValue.
func (rt *ResourceType) Decode(m map[string]any, out any) error {
	b, err := json.Marshal(rt.normalize(m))
	if err != nil {
		return Errorf(TypeInvalidValue, "the resource cannot be encoded")
	}
	if err := json.Unmarshal(b, out); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return Errorf(TypeInvalidValue, "%s: wrong type of value (%s where %s is wanted)", te.Field, te.Value, te.Type)
		}
		return Errorf(TypeInvalidValue, "the resource does not fit its schema")
	}
	return nil
}
