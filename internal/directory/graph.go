package directory

import (
	"slices"
)

// graph is the group graph: normalized group DN → its cached state.
type graph map[string]*groupState

// closure returns the sorted normalized DNs of the groups direct names and
// every group they are nested in (a group's memberOf, followed to the
// top). Cycles, which AD allows, end where a group repeats. Groups outside
// the graph (outside the base DN or the group filter) are kept but not
// followed.
func (g graph) closure(direct []string) []string {
	seen := make(map[string]bool, len(direct)*2)
	stack := append([]string(nil), direct...)
	for len(stack) > 0 {
		d := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[d] {
			continue
		}
		seen[d] = true
		if gs := g[d]; gs != nil {
			stack = append(stack, gs.Parents...)
		}
	}
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

// membersUnder adds to users every non-group member found below group dn
// in any of the graphs (the graph before and after a change), following
// nested groups; visited guards against cycles.
func membersUnder(dn string, users, visited map[string]bool, gs ...graph) {
	if visited[dn] {
		return
	}
	visited[dn] = true
	for _, g := range gs {
		st := g[dn]
		if st == nil {
			continue
		}
		for _, m := range st.Members {
			if isGroup(m, gs) {
				membersUnder(m, users, visited, gs...)
			} else {
				users[m] = true
			}
		}
	}
}

func isGroup(dn string, gs []graph) bool {
	for _, g := range gs {
		if g[dn] != nil {
			return true
		}
	}
	return false
}

// diff returns the values in exactly one of a and b (both sorted).
func diff(a, b []string) []string {
	var out []string
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j == len(b) || i < len(a) && a[i] < b[j]:
			out = append(out, a[i])
			i++
		case i == len(a) || b[j] < a[i]:
			out = append(out, b[j])
			j++
		default:
			i++
			j++
		}
	}
	return out
}

// sortedSet sorts and removes repeats in place.
func sortedSet(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}
