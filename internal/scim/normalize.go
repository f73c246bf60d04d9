package scim

import "strings"

// normalize returns res with attribute names spelled as the schema spells
// them, booleans sent as strings made booleans, a complex attribute sent
// as its bare value made {"value": …}, and attributes Lanyard does not
// keep dropped (RFC 7644 section 3.3 lets a service provider ignore
// them).
func (rt *ResourceType) normalize(res map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range res {
		if strings.EqualFold(k, "schemas") {
			out["schemas"] = v
			continue
		}
		if strings.HasPrefix(strings.ToLower(k), "urn:") {
			s := rt.schemaFor(k)
			if s == nil {
				continue
			}
			if s == rt.Core {
				// A core attribute written with its schema
				// ("urn:…:core:2.0:User:userName").
				continue
			}
			em, ok := v.(map[string]any)
			if !ok {
				continue
			}
			if n := normalizeAttrs(s.Attributes, em); len(n) > 0 {
				out[s.ID] = n
			}
			continue
		}
		if a := rt.lookup(rt.Core, k); a != nil && v != nil {
			out[a.Name] = normValue(a, v)
		}
	}
	return out
}

func normalizeAttrs(list []Attribute, m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if a := attrIn(list, k); a != nil && v != nil {
			out[a.Name] = normValue(a, v)
		}
	}
	return out
}

func normValue(a *Attribute, v any) any {
	if v == nil {
		return nil
	}
	if a.MultiValued {
		list := asList(v)
		out := make([]any, 0, len(list))
		for _, x := range list {
			if x != nil {
				out = append(out, normSingle(a, x))
			}
		}
		return out
	}
	return normSingle(a, v)
}

func normSingle(a *Attribute, v any) any {
	switch a.Type {
	case TypeBoolean:
		if s, ok := v.(string); ok {
			if b, ok := parseBool(s); ok {
				return b
			}
		}
	case TypeComplex:
		switch x := v.(type) {
		case map[string]any:
			return normalizeAttrs(a.SubAttributes, x)
		case []any:
			return v
		default:
			return map[string]any{"value": v}
		}
	}
	return v
}
