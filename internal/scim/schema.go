// Package scim is the wire side of SCIM 2.0: the resources and schemas of
// RFC 7643 that Lanyard keeps (core User with the enterprise extension's
// manager, Group), the filter grammar of RFC 7644 section 3.4.2.2 with an
// evaluator, PATCH paths and operations (RFC 7644 section 3.5.2) applied
// to a resource's JSON, list responses and error responses (section
// 3.12). It knows nothing of Lanyard's store: the provisioning capability
// (internal/service/provisioning) maps resources to accounts and groups,
// and internal/web serves them under /scim/v2/.
//
// It is lenient where the big clients are known to bend the protocol:
// operation names in any case ("Replace"), booleans sent as strings
// ("False", Entra ID), a complex attribute sent as its bare value (the
// enterprise manager as an id string), path-less operations whose value
// keys are themselves paths ("name.givenName"), and "remove" of members
// listed in the value rather than in a path filter.
package scim

import "strings"

// Schema and message URNs (RFC 7643 section 8.7, RFC 7644 section 3.1).
const (
	UserSchema           = "urn:ietf:params:scim:schemas:core:2.0:User"
	GroupSchema          = "urn:ietf:params:scim:schemas:core:2.0:Group"
	EnterpriseUserSchema = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	ListResponseSchema   = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	PatchOpSchema        = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	ErrorSchema          = "urn:ietf:params:scim:api:messages:2.0:Error"
	SPConfigSchema       = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	ResourceTypeSchema   = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	SchemaSchema         = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// Attribute types (RFC 7643 section 2.3).
const (
	TypeString    = "string"
	TypeBoolean   = "boolean"
	TypeComplex   = "complex"
	TypeReference = "reference"
	TypeDateTime  = "dateTime"
)

// Attribute describes one attribute of a schema (RFC 7643 section 7).
type Attribute struct {
	Name          string      `json:"name"`
	Type          string      `json:"type"`
	MultiValued   bool        `json:"multiValued"`
	Description   string      `json:"description,omitempty"`
	Required      bool        `json:"required"`
	CaseExact     bool        `json:"caseExact"`
	Mutability    string      `json:"mutability"`
	Returned      string      `json:"returned"`
	Uniqueness    string      `json:"uniqueness"`
	SubAttributes []Attribute `json:"subAttributes,omitempty"`
}

// Schema is a schema's definition (RFC 7643 section 7), served at
// /Schemas.
type Schema struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Description string      `json:"description"`
	Attributes  []Attribute `json:"attributes"`
}

// Attr finds the attribute called name, ignoring case (RFC 7643 section
// 2.1: attribute names are case insensitive).
func attrIn(list []Attribute, name string) *Attribute {
	for i := range list {
		if strings.EqualFold(list[i].Name, name) {
			return &list[i]
		}
	}
	return nil
}

func str(name, desc string, mut string, caseExact bool) Attribute {
	return Attribute{Name: name, Type: TypeString, Description: desc, CaseExact: caseExact, Mutability: mut, Returned: "default", Uniqueness: "none"}
}

// The mutability values Lanyard uses.
const (
	ReadWrite = "readWrite"
	ReadOnly  = "readOnly"
	Immutable = "immutable"
)

func multiRef(name, desc, mut string) Attribute {
	return Attribute{Name: name, Type: TypeComplex, MultiValued: true, Description: desc, Mutability: mut, Returned: "default", Uniqueness: "none",
		SubAttributes: []Attribute{
			{Name: "value", Type: TypeString, CaseExact: true, Mutability: Immutable, Returned: "default", Uniqueness: "none", Description: "the id of the referenced resource"},
			{Name: "$ref", Type: TypeReference, CaseExact: true, Mutability: Immutable, Returned: "default", Uniqueness: "none"},
			str("display", "", ReadOnly, false),
			str("type", "", Immutable, false),
		}}
}

// UserResource is the core User schema as Lanyard keeps it: the
// attributes it stores and returns. Others are ignored.
var UserResource = Schema{ID: UserSchema, Name: "User", Description: "User Account", Attributes: []Attribute{
	{Name: "userName", Type: TypeString, Required: true, Mutability: ReadWrite, Returned: "always", Uniqueness: "server",
		Description: "the account's login in Lanyard; a UPN-like value is also its UPN"},
	{Name: "name", Type: TypeComplex, Mutability: ReadWrite, Returned: "default", Uniqueness: "none", SubAttributes: []Attribute{
		str("formatted", "", ReadWrite, false), str("familyName", "", ReadWrite, false), str("givenName", "", ReadWrite, false),
	}},
	str("displayName", "", ReadWrite, false),
	{Name: "active", Type: TypeBoolean, Mutability: ReadWrite, Returned: "default", Description: "false disables the account and handles its cards as a leaver's"},
	{Name: "emails", Type: TypeComplex, MultiValued: true, Mutability: ReadWrite, Returned: "default", Uniqueness: "none", SubAttributes: []Attribute{
		str("value", "", ReadWrite, false), str("type", "", ReadWrite, false), {Name: "primary", Type: TypeBoolean, Mutability: ReadWrite, Returned: "default"},
		str("display", "", ReadWrite, false),
	}},
	multiRef("groups", "the groups the user is a member of", ReadOnly),
}}

// EnterpriseUserResource is the enterprise extension's part Lanyard
// keeps: the manager (RFC 7643 section 4.3).
var EnterpriseUserResource = Schema{ID: EnterpriseUserSchema, Name: "EnterpriseUser", Description: "Enterprise User", Attributes: []Attribute{
	{Name: "manager", Type: TypeComplex, Mutability: ReadWrite, Returned: "default", Uniqueness: "none", SubAttributes: []Attribute{
		{Name: "value", Type: TypeString, CaseExact: true, Mutability: ReadWrite, Returned: "default", Uniqueness: "none", Description: "the manager's id"},
		{Name: "$ref", Type: TypeReference, CaseExact: true, Mutability: ReadWrite, Returned: "default", Uniqueness: "none"},
		str("displayName", "", ReadOnly, false),
	}},
}}

// GroupResource is the core Group schema.
var GroupResource = Schema{ID: GroupSchema, Name: "Group", Description: "Group", Attributes: []Attribute{
	{Name: "displayName", Type: TypeString, Required: true, Mutability: ReadWrite, Returned: "default", Uniqueness: "server",
		Description: "the group's name; Lanyard users get it in their groups, and policies link to it by this name"},
	multiRef("members", "the users in the group", ReadWrite),
}}

// common are the attributes every resource has (RFC 7643 section 3.1).
var common = []Attribute{
	{Name: "id", Type: TypeString, CaseExact: true, Mutability: ReadOnly, Returned: "always", Uniqueness: "server"},
	{Name: "externalId", Type: TypeString, CaseExact: true, Mutability: ReadWrite, Returned: "default", Uniqueness: "none"},
	{Name: "meta", Type: TypeComplex, Mutability: ReadOnly, Returned: "default", SubAttributes: []Attribute{
		str("resourceType", "", ReadOnly, true), {Name: "created", Type: TypeDateTime, Mutability: ReadOnly, Returned: "default"},
		{Name: "lastModified", Type: TypeDateTime, Mutability: ReadOnly, Returned: "default"}, {Name: "location", Type: TypeReference, Mutability: ReadOnly, Returned: "default"},
		str("version", "", ReadOnly, true),
	}},
}

// ResourceType binds a core schema and its extensions (RFC 7643 section
// 6); PATCH paths and filters are resolved against it.
type ResourceType struct {
	Name       string
	Endpoint   string
	Core       *Schema
	Extensions []*Schema
}

// Users and Groups are the resource types Lanyard serves.
var (
	Users  = &ResourceType{Name: "User", Endpoint: "/Users", Core: &UserResource, Extensions: []*Schema{&EnterpriseUserResource}}
	Groups = &ResourceType{Name: "Group", Endpoint: "/Groups", Core: &GroupResource}
)

// schemaFor finds the schema urn names in rt (core or extension),
// ignoring case; "" is the core schema.
func (rt *ResourceType) schemaFor(urn string) *Schema {
	if urn == "" || strings.EqualFold(urn, rt.Core.ID) {
		return rt.Core
	}
	for _, s := range rt.Extensions {
		if strings.EqualFold(urn, s.ID) {
			return s
		}
	}
	return nil
}

// lookup finds a top-level attribute of schema s (with the common
// attributes for the core schema).
func (rt *ResourceType) lookup(s *Schema, name string) *Attribute {
	if a := attrIn(s.Attributes, name); a != nil {
		return a
	}
	if s == rt.Core {
		return attrIn(common, name)
	}
	return nil
}
