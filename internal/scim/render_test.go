package scim

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// render writes a filter back in the grammar, fully parenthesized, for
// tests.
func render(f Filter) string {
	switch f := f.(type) {
	case *Compare:
		if f.Op == "pr" {
			return "(" + f.Path.String() + " pr)"
		}
		v := fmt.Sprint(f.Value)
		switch x := f.Value.(type) {
		case nil:
			v = "null"
		case string:
			b, _ := json.Marshal(x)
			v = string(b)
		case float64:
			v = strconv.FormatFloat(x, 'g', -1, 64)
		}
		return "(" + f.Path.String() + " " + f.Op + " " + v + ")"
	case *Logical:
		return "(" + render(f.Left) + " " + f.Op + " " + render(f.Right) + ")"
	case *Not:
		return "not(" + render(f.X) + ")"
	case *ValuePath:
		return f.Path.String() + "[" + render(f.Filter) + "]"
	}
	return "?"
}
