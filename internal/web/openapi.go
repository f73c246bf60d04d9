package web

import (
	"encoding/json"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The OpenAPI 3.1 document is generated from the route table and the Go
// types of request and response bodies, so every route is documented by
// construction; openapi_test.go checks the document against the mux.

type oaDoc struct {
	OpenAPI    string                      `json:"openapi"`
	Info       map[string]string           `json:"info"`
	Paths      map[string]map[string]*oaOp `json:"paths"`
	Components map[string]map[string]any   `json:"components"`
	Security   []map[string][]string       `json:"security,omitempty"`
}

type oaOp struct {
	Summary     string                `json:"summary"`
	OperationID string                `json:"operationId"`
	Tags        []string              `json:"tags,omitempty"`
	Parameters  []map[string]any      `json:"parameters,omitempty"`
	RequestBody map[string]any        `json:"requestBody,omitempty"`
	Responses   map[string]any        `json:"responses"`
	Security    []map[string][]string `json:"security"`
	XRoles      []string              `json:"x-roles,omitempty"`
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)(\.\.\.)?\}`)

// OpenAPIPath converts a ServeMux pattern path to OpenAPI form.
func OpenAPIPath(p string) string { return pathParam.ReplaceAllString(p, "{$1}") }

func mustOpenAPI(routes []*route, version string) []byte {
	if version == "" {
		version = "dev"
	}
	g := &schemaGen{defs: map[string]any{}}
	doc := oaDoc{
		OpenAPI: "3.1.0",
		Info:    map[string]string{"title": "Lanyard API", "version": version, "description": "Smart card and certificate lifecycle management. Errors are RFC 9457 problem details with a stable `code`."},
		Paths:   map[string]map[string]*oaOp{},
	}
	for _, rt := range routes {
		p := OpenAPIPath(rt.path)
		if doc.Paths[p] == nil {
			doc.Paths[p] = map[string]*oaOp{}
		}
		op := &oaOp{Summary: rt.summary, OperationID: operationID(rt), Tags: []string{rt.tag}, Responses: map[string]any{}}
		if rt.public {
			op.Security = []map[string][]string{}
		} else {
			op.Security = []map[string][]string{{"bearer": {}}, {"session": {}}}
			switch {
			case rt.rss == rssOnly:
				op.Security = []map[string][]string{{"rss": {}}}
			case rssAlso[rt.method+" "+rt.path]:
				op.Security = append(op.Security, map[string][]string{"rss": {}})
			}
			for _, r := range rt.roles {
				op.XRoles = append(op.XRoles, string(r))
			}
		}
		for _, m := range pathParam.FindAllStringSubmatch(rt.path, -1) {
			op.Parameters = append(op.Parameters, map[string]any{"name": m[1], "in": "path", "required": true, "schema": map[string]any{"type": "string"}})
		}
		for _, q := range rt.query {
			op.Parameters = append(op.Parameters, map[string]any{"name": q.name, "in": "query", "description": q.doc, "schema": map[string]any{"type": q.typ}})
		}
		switch {
		case rt.in != nil:
			op.RequestBody = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.in))}}}
		case rt.consumes != "":
			op.RequestBody = map[string]any{"required": true, "content": map[string]any{rt.consumes: map[string]any{"schema": map[string]any{"type": "string", "contentEncoding": "binary"}}}}
		}
		ok := map[string]any{"description": "success"}
		switch {
		case rt.out != nil:
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.out))}}
		case rt.produces != "":
			ok["content"] = map[string]any{rt.produces: map[string]any{"schema": map[string]any{"type": "string"}}}
		}
		op.Responses[strconv.Itoa(rt.status)] = ok
		if rt.path == "/api/v1/certificates" && rt.method == "POST" {
			op.Responses["202"] = map[string]any{"description": "queued for CA manager approval", "content": ok["content"]}
		}
		op.Responses["default"] = map[string]any{"description": "error", "content": map[string]any{"application/problem+json": map[string]any{"schema": g.schema(reflect.TypeOf(Problem{}))}}}
		doc.Paths[p][strings.ToLower(rt.method)] = op
	}
	doc.Components = map[string]map[string]any{
		"schemas": g.defs,
		"securitySchemes": {
			"bearer":  map[string]any{"type": "http", "scheme": "bearer", "description": "API token (lanyard token create)"},
			"session": map[string]any{"type": "apiKey", "in": "cookie", "name": sessionCookie, "description": "browser session (named " + secureSessionCookie + " over HTTPS); unsafe methods also need the X-CSRF-Token header"},
			"rss":     map[string]any{"type": "apiKey", "in": "cookie", "name": rssCookie, "description": "Remote Self-Service session (named " + secureRSSCookie + " over HTTPS), accepted only by the Remote Self-Service routes; unsafe methods also need the X-CSRF-Token header"},
		},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err)
	}
	return b
}

func operationID(rt *route) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(rt.method))
	for _, part := range strings.Split(strings.Trim(rt.path, "/"), "/") {
		part = strings.Trim(part, "{}.")
		for _, w := range strings.FieldsFunc(part, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
			if w == "api" || w == "v1" {
				continue
			}
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

// schemaGen turns Go types into JSON Schema (2020-12, as OpenAPI 3.1 uses),
// naming struct types as components.
type schemaGen struct{ defs map[string]any }

var (
	timeType = reflect.TypeOf(time.Time{})
	rawType  = reflect.TypeOf(json.RawMessage{})
)

func (g *schemaGen) schema(t reflect.Type) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t == rawType:
		return map[string]any{"type": "object"}
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		name := t.Name()
		if name == "" {
			return g.structSchema(t)
		}
		if _, ok := g.defs[name]; !ok {
			g.defs[name] = map[string]any{} // placeholder against recursion
			g.defs[name] = g.structSchema(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

func (g *schemaGen) structSchema(t reflect.Type) map[string]any {
	props := map[string]any{}
	g.fields(t, props)
	return map[string]any{"type": "object", "properties": props, "additionalProperties": false}
}

func (g *schemaGen) fields(t reflect.Type, props map[string]any) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			g.fields(ft, props)
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.schema(f.Type)
	}
}
