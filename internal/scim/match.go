package scim

import (
	"encoding/json"
	"strings"
)

// Match reports whether the resource res (its JSON as a map, as
// Resource.Map returns it) of type rt passes f. Attribute names match
// ignoring case; string values compare as their attribute's caseExact
// says (RFC 7644 section 3.4.2.2); a multi-valued attribute matches when
// any of its values does, and a complex one without a sub-attribute is
// compared by its "value".
func (rt *ResourceType) Match(f Filter, res map[string]any) bool {
	return eval(f, func(p AttrPath) ([]any, *Attribute) { return rt.values(res, p) }, func(p AttrPath) ([]map[string]any, *Attribute) {
		return rt.elements(res, p)
	})
}

// MatchElement reports whether one value (a map) of the multi-valued
// complex attribute a passes f, whose paths name a's sub-attributes:
// the filter of members[value eq "x"].
func MatchElement(a *Attribute, f Filter, el map[string]any) bool {
	return eval(f, func(p AttrPath) ([]any, *Attribute) {
		if p.URN != "" || p.Sub != "" {
			return nil, nil
		}
		sub := attrIn(a.SubAttributes, p.Name)
		if sub == nil {
			return nil, nil
		}
		v, ok := getCI(el, sub.Name)
		if !ok {
			return nil, sub
		}
		return flatten(v, sub), sub
	}, func(AttrPath) ([]map[string]any, *Attribute) { return nil, nil })
}

type valuesFn func(AttrPath) ([]any, *Attribute)
type elementsFn func(AttrPath) ([]map[string]any, *Attribute)

func eval(f Filter, values valuesFn, elements elementsFn) bool {
	switch f := f.(type) {
	case *Logical:
		if f.Op == "and" {
			return eval(f.Left, values, elements) && eval(f.Right, values, elements)
		}
		return eval(f.Left, values, elements) || eval(f.Right, values, elements)
	case *Not:
		return !eval(f.X, values, elements)
	case *ValuePath:
		els, a := elements(f.Path)
		for _, el := range els {
			if MatchElement(a, f.Filter, el) {
				return true
			}
		}
		return false
	case *Compare:
		vals, a := values(f.Path)
		if f.Op == "ne" {
			return !anyMatch(vals, "eq", f.Value, a)
		}
		return anyMatch(vals, f.Op, f.Value, a)
	}
	return false
}

func anyMatch(vals []any, op string, want any, a *Attribute) bool {
	caseExact := a != nil && a.CaseExact
	for _, v := range vals {
		if compare(v, op, want, caseExact) {
			return true
		}
	}
	return false
}

// container finds the map holding p's attribute: the resource for the
// core schema, the extension's object otherwise.
func (rt *ResourceType) container(res map[string]any, p AttrPath) (map[string]any, *Attribute) {
	s := rt.schemaFor(p.URN)
	if s == nil {
		return nil, nil
	}
	a := rt.lookup(s, p.Name)
	if a == nil {
		return nil, nil
	}
	if s == rt.Core {
		return res, a
	}
	ext, _ := getCI(res, s.ID)
	m, _ := ext.(map[string]any)
	return m, a
}

func (rt *ResourceType) values(res map[string]any, p AttrPath) ([]any, *Attribute) {
	m, a := rt.container(res, p)
	if m == nil {
		return nil, a
	}
	v, ok := getCI(m, a.Name)
	if !ok {
		return nil, a
	}
	if p.Sub == "" {
		return flatten(v, a), a
	}
	sub := attrIn(a.SubAttributes, p.Sub)
	if sub == nil {
		return nil, nil
	}
	var out []any
	for _, el := range asList(v) {
		if em, ok := el.(map[string]any); ok {
			if x, ok := getCI(em, sub.Name); ok {
				out = append(out, flatten(x, sub)...)
			}
		}
	}
	return out, sub
}

func (rt *ResourceType) elements(res map[string]any, p AttrPath) ([]map[string]any, *Attribute) {
	m, a := rt.container(res, p)
	if m == nil || a.Type != TypeComplex {
		return nil, a
	}
	v, _ := getCI(m, a.Name)
	var out []map[string]any
	for _, el := range asList(v) {
		if em, ok := el.(map[string]any); ok {
			out = append(out, em)
		}
	}
	return out, a
}

// flatten turns an attribute's value into the values a comparison sees:
// each value of a multi-valued one, a complex value's "value".
func flatten(v any, a *Attribute) []any {
	var out []any
	for _, x := range asList(v) {
		if m, ok := x.(map[string]any); ok {
			if a != nil && a.Type == TypeComplex {
				if y, ok := getCI(m, "value"); ok {
					out = append(out, y)
				}
			}
			continue
		}
		out = append(out, x)
	}
	return out
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// getCI reads key from m ignoring case.
func getCI(m map[string]any, key string) (any, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v, true
		}
	}
	return nil, false
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

func compare(v any, op string, want any, caseExact bool) bool {
	if op == "pr" {
		switch x := v.(type) {
		case nil:
			return false
		case string:
			return x != ""
		}
		return true
	}
	if ws, ok := want.(string); ok {
		s, ok := v.(string)
		if !ok {
			return false
		}
		if !caseExact {
			s, ws = strings.ToLower(s), strings.ToLower(ws)
		}
		switch op {
		case "eq":
			return s == ws
		case "co":
			return strings.Contains(s, ws)
		case "sw":
			return strings.HasPrefix(s, ws)
		case "ew":
			return strings.HasSuffix(s, ws)
		case "gt":
			return s > ws
		case "ge":
			return s >= ws
		case "lt":
			return s < ws
		case "le":
			return s <= ws
		}
		return false
	}
	if wb, ok := want.(bool); ok {
		b, ok := v.(bool)
		if !ok {
			if s, isStr := v.(string); isStr {
				b, ok = parseBool(s)
			}
		}
		return ok && op == "eq" && b == wb
	}
	if wn, ok := number(want); ok {
		n, ok := number(v)
		if !ok {
			return false
		}
		switch op {
		case "eq":
			return n == wn
		case "gt":
			return n > wn
		case "ge":
			return n >= wn
		case "lt":
			return n < wn
		case "le":
			return n <= wn
		}
	}
	return false
}

// parseBool reads a boolean sent as a string, as Entra ID does ("True",
// "False").
func parseBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}
