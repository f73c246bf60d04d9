package scim

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
)

// PatchRequest is the body of a PATCH (RFC 7644 section 3.5.2).
type PatchRequest struct {
	Schemas    []string  `json:"schemas"`
	Operations []PatchOp `json:"Operations"`
}

// PatchOp is one operation of a PATCH.
type PatchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
}

// maxOps bounds the operations of one PATCH request.
const maxOps = 1000

// Apply applies ops in order to res (a resource's JSON as a map, see
// ToMap) and normalizes the result: on error res may be partly changed
// and must be discarded. Attributes Lanyard does not keep are ignored,
// as they are in POST and PUT; a read-only one (id, meta, a user's
// groups) is refused with mutability.
func (rt *ResourceType) Apply(res map[string]any, ops []PatchOp) error {
	if len(ops) == 0 {
		return Errorf(TypeInvalidValue, "a PATCH needs at least one operation")
	}
	if len(ops) > maxOps {
		return Errorf(TypeTooMany, "more than %d operations in one PATCH", maxOps)
	}
	for _, o := range ops {
		if err := rt.applyOp(res, o); err != nil {
			return err
		}
	}
	n := rt.normalize(res)
	clear(res)
	for k, v := range n {
		res[k] = v
	}
	return nil
}

func (rt *ResourceType) applyOp(res map[string]any, o PatchOp) error {
	op := strings.ToLower(strings.TrimSpace(o.Op))
	if op != "add" && op != "replace" && op != "remove" {
		return Errorf(TypeInvalidSyntax, "unknown PATCH op %q: want add, replace or remove", o.Op)
	}
	var val any
	if len(bytes.TrimSpace(o.Value)) > 0 {
		d := json.NewDecoder(bytes.NewReader(o.Value))
		d.UseNumber()
		if err := d.Decode(&val); err != nil {
			return Errorf(TypeInvalidSyntax, "the value of a %s operation is not JSON", op)
		}
	}
	if o.Path != "" {
		p, err := ParsePath(o.Path)
		if err != nil {
			return err
		}
		return rt.applyPath(res, op, p, val)
	}
	if op == "remove" {
		return Errorf(TypeNoTarget, "a remove operation needs a path")
	}
	m, ok := val.(map[string]any)
	if !ok {
		return Errorf(TypeInvalidValue, "an %s operation without a path needs an object as its value", op)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if strings.EqualFold(k, "schemas") {
			continue
		}
		// An extension's object: its keys are that schema's attributes.
		if s := rt.schemaFor(k); s != nil && s != rt.Core {
			inner, ok := m[k].(map[string]any)
			if !ok {
				return Errorf(TypeInvalidValue, "%s: want an object", k)
			}
			for ik, iv := range inner {
				p, err := ParsePath(s.ID + ":" + ik)
				if err != nil {
					return err
				}
				if err := rt.applyPath(res, op, p, iv); err != nil {
					return err
				}
			}
			continue
		}
		// Entra ID writes paths as keys: {"name.givenName": "Ann"}.
		p, err := ParsePath(k)
		if err != nil {
			return err
		}
		if err := rt.applyPath(res, op, p, m[k]); err != nil {
			return err
		}
	}
	return nil
}

// target finds the map that holds p's attribute, making the extension's
// object when create is set.
func (rt *ResourceType) target(res map[string]any, p AttrPath, create bool) (map[string]any, *Attribute) {
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
	for k, v := range res {
		if strings.EqualFold(k, s.ID) {
			if m, ok := v.(map[string]any); ok {
				return m, a
			}
		}
	}
	if !create {
		return nil, a
	}
	m := map[string]any{}
	res[s.ID] = m
	return m, a
}

func (rt *ResourceType) applyPath(res map[string]any, op string, p Path, val any) error {
	m, a := rt.target(res, p.Attr, op != "remove")
	if a == nil {
		return nil // not an attribute Lanyard keeps: ignored
	}
	if a.Mutability == ReadOnly {
		return Errorf(TypeMutability, "%s is read-only", a.Name)
	}
	if m == nil {
		return nil // remove from an extension that is not there
	}
	if op != "remove" && val == nil {
		op = "remove" // replace with null: RFC 7644 section 3.5.2.3 treats it as unassigned
		if p.Filter == nil && p.Attr.Sub == "" {
			delete(m, a.Name)
			return nil
		}
	}
	cur, _ := getCI(m, a.Name)
	deleteCI(m, a.Name)
	switch {
	case p.Filter != nil:
		if !a.MultiValued || a.Type != TypeComplex {
			return Errorf(TypeInvalidPath, "%s: a value filter needs a multi-valued complex attribute", a.Name)
		}
		out, err := applyFiltered(a, op, p, asList(cur), val)
		if err != nil {
			m[a.Name] = cur
			return err
		}
		setOrDelete(m, a.Name, out)
	case p.Attr.Sub != "":
		sub := attrIn(a.SubAttributes, p.Attr.Sub)
		if sub == nil || a.Type != TypeComplex {
			m[a.Name] = cur
			return nil // an unknown sub-attribute: ignored
		}
		if a.MultiValued {
			var out []any
			for _, el := range asList(cur) {
				em, _ := el.(map[string]any)
				if em != nil {
					setSub(em, sub, op, val)
				}
				out = append(out, el)
			}
			setOrDelete(m, a.Name, out)
			return nil
		}
		em, _ := cur.(map[string]any)
		if em == nil {
			em = map[string]any{}
		}
		setSub(em, sub, op, val)
		if len(em) > 0 {
			m[a.Name] = em
		}
	case op == "remove":
		if a.MultiValued && val != nil {
			// Entra ID removes members by listing them in the value.
			drop := flatten(normValue(a, val), a)
			var out []any
			for _, el := range asList(cur) {
				if !slices.ContainsFunc(flatten(el, a), func(x any) bool { return slices.ContainsFunc(drop, func(d any) bool { return equalValue(x, d, a) }) }) {
					out = append(out, el)
				}
			}
			setOrDelete(m, a.Name, out)
		}
	case a.MultiValued:
		add := asList(normValue(a, val))
		var out []any
		if op == "add" {
			out = asList(cur)
		}
		for _, x := range add {
			if !slices.ContainsFunc(out, func(y any) bool { return sameElement(x, y, a) }) {
				out = append(out, x)
			}
		}
		setOrDelete(m, a.Name, out)
	case a.Type == TypeComplex:
		nv := normValue(a, val)
		em, _ := cur.(map[string]any)
		nm, ok := nv.(map[string]any)
		if em == nil || !ok {
			m[a.Name] = nv
			return nil
		}
		for k, v := range nm { // RFC 7644 3.5.2.3: sub-attributes not given stay
			deleteCI(em, k)
			em[k] = v
		}
		m[a.Name] = em
	default:
		m[a.Name] = normValue(a, val)
	}
	return nil
}

// applyFiltered applies op to the values of multi-valued a that match
// p's filter. An add or replace that matches none adds a value built from
// the filter's equality tests (emails[type eq "work"].value = "x" adds
// {"type": "work", "value": "x"}), which is what Entra ID expects; a
// filter that is not such a test gets noTarget.
func applyFiltered(a *Attribute, op string, p Path, list []any, val any) ([]any, error) {
	var out []any
	matched := false
	var sub *Attribute
	if p.Sub != "" {
		if sub = attrIn(a.SubAttributes, p.Sub); sub == nil {
			return list, nil
		}
	}
	for _, el := range list {
		em, _ := el.(map[string]any)
		if em == nil || !MatchElement(a, p.Filter, em) {
			out = append(out, el)
			continue
		}
		matched = true
		switch {
		case op == "remove" && sub == nil:
			continue // the value goes
		case sub != nil:
			setSub(em, sub, op, val)
		default:
			nm, ok := normSingle(a, val).(map[string]any)
			if !ok {
				return nil, Errorf(TypeInvalidValue, "%s: want an object", a.Name)
			}
			for k, v := range nm {
				deleteCI(em, k)
				em[k] = v
			}
		}
		out = append(out, em)
	}
	if matched || op == "remove" {
		return out, nil
	}
	el, ok := eqFields(p.Filter, a)
	if !ok {
		return nil, Errorf(TypeNoTarget, "no value of %s matches the path's filter", a.Name)
	}
	if sub != nil {
		setSub(el, sub, op, val)
	} else {
		nm, ok := normSingle(a, val).(map[string]any)
		if !ok {
			return nil, Errorf(TypeInvalidValue, "%s: want an object", a.Name)
		}
		for k, v := range nm {
			el[k] = v
		}
	}
	return append(out, el), nil
}

// eqFields turns a filter made only of "sub eq value" joined by "and"
// into the value it describes.
func eqFields(f Filter, a *Attribute) (map[string]any, bool) {
	switch f := f.(type) {
	case *Compare:
		sub := attrIn(a.SubAttributes, f.Path.Name)
		if f.Op != "eq" || f.Path.URN != "" || f.Path.Sub != "" || sub == nil {
			return nil, false
		}
		return map[string]any{sub.Name: f.Value}, true
	case *Logical:
		if f.Op != "and" {
			return nil, false
		}
		l, ok1 := eqFields(f.Left, a)
		r, ok2 := eqFields(f.Right, a)
		if !ok1 || !ok2 {
			return nil, false
		}
		for k, v := range r {
			l[k] = v
		}
		return l, true
	}
	return nil, false
}

func setSub(em map[string]any, sub *Attribute, op string, val any) {
	deleteCI(em, sub.Name)
	if op != "remove" && val != nil {
		em[sub.Name] = normValue(sub, val)
	}
}

func setOrDelete(m map[string]any, name string, list []any) {
	if len(list) == 0 {
		delete(m, name)
		return
	}
	m[name] = list
}

func deleteCI(m map[string]any, key string) {
	for k := range m {
		if strings.EqualFold(k, key) {
			delete(m, k)
		}
	}
}

// sameElement reports whether two values of a multi-valued attribute are
// the same value: equal "value" for complex ones (a member added twice
// stays once), equal otherwise.
func sameElement(x, y any, a *Attribute) bool {
	if a.Type == TypeComplex {
		xv, yv := flatten(x, a), flatten(y, a)
		if len(xv) == 1 && len(yv) == 1 {
			return equalValue(xv[0], yv[0], a)
		}
	}
	return reflect.DeepEqual(x, y)
}

func equalValue(x, y any, a *Attribute) bool {
	xs, ok1 := x.(string)
	ys, ok2 := y.(string)
	if ok1 && ok2 {
		if sub := attrIn(a.SubAttributes, "value"); (sub != nil && sub.CaseExact) || a.CaseExact {
			return xs == ys
		}
		return strings.EqualFold(xs, ys)
	}
	return reflect.DeepEqual(x, y)
}
