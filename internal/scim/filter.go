package scim

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Filter is a parsed filter expression (RFC 7644 section 3.4.2.2): a
// *Compare, *Logical, *Not or *ValuePath.
type Filter interface{ isFilter() }

// AttrPath names an attribute: URN is the schema ("" for the resource's
// core schema), Name the attribute, Sub a sub-attribute or "".
type AttrPath struct {
	URN, Name, Sub string
}

func (p AttrPath) String() string {
	s := p.Name
	if p.URN != "" {
		s = p.URN + ":" + s
	}
	if p.Sub != "" {
		s += "." + p.Sub
	}
	return s
}

// Compare is attrPath op value, or attrPath "pr" (Value nil).
type Compare struct {
	Path  AttrPath
	Op    string // lower case: eq ne co sw ew gt lt ge le pr
	Value any    // string, float64, bool or nil (null)
}

// Logical is "and" or "or" of two filters.
type Logical struct {
	Op          string // "and" or "or"
	Left, Right Filter
}

// Not negates a parenthesized filter.
type Not struct{ X Filter }

// ValuePath filters the values of a multi-valued attribute:
// emails[type eq "work"].
type ValuePath struct {
	Path   AttrPath
	Filter Filter
}

func (*Compare) isFilter()   {}
func (*Logical) isFilter()   {}
func (*Not) isFilter()       {}
func (*ValuePath) isFilter() {}

// maxFilterLen and maxFilterDepth bound what a client may make the parser
// do: no filter Entra ID or Okta sends comes near them.
const (
	maxFilterLen   = 4096
	maxFilterDepth = 32
)

// ParseFilter parses a filter (RFC 7644 section 3.4.2.2, figure 1).
// Operators and the keywords and, or, not, true, false, null are matched
// ignoring case; "and" binds tighter than "or".
func ParseFilter(s string) (Filter, error) {
	if len(s) > maxFilterLen {
		return nil, Errorf(TypeInvalidFilter, "filter longer than %d characters", maxFilterLen)
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	f, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, Errorf(TypeInvalidFilter, "unexpected %q after the filter", p.toks[p.pos].text)
	}
	return f, nil
}

type tokKind int

const (
	tWord tokKind = iota
	tString
	tLParen
	tRParen
	tLBracket
	tRBracket
)

type token struct {
	kind tokKind
	text string // a word as written; a string's decoded value
}

// lex splits a filter into words, JSON strings and brackets.
func lex(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			out = append(out, token{tLParen, "("})
			i++
		case c == ')':
			out = append(out, token{tRParen, ")"})
			i++
		case c == '[':
			out = append(out, token{tLBracket, "["})
			i++
		case c == ']':
			out = append(out, token{tRBracket, "]"})
			i++
		case c == '"':
			j := i + 1
			for ; j < len(s) && s[j] != '"'; j++ {
				if s[j] == '\\' {
					j++
				}
			}
			if j >= len(s) {
				return nil, Errorf(TypeInvalidFilter, "unterminated string in filter")
			}
			var v string
			if err := json.Unmarshal([]byte(s[i:j+1]), &v); err != nil {
				return nil, Errorf(TypeInvalidFilter, "bad string %s in filter", s[i:j+1])
			}
			out = append(out, token{tString, v})
			i = j + 1
		default:
			j := i
			for ; j < len(s) && strings.IndexByte(" \t\r\n()[]\"", s[j]) < 0; j++ {
			}
			out = append(out, token{tWord, s[i:j]})
			i = j
		}
	}
	return out, nil
}

type parser struct {
	toks  []token
	pos   int
	depth int
}

func (p *parser) peek() *token {
	if p.pos < len(p.toks) {
		return &p.toks[p.pos]
	}
	return nil
}

func (p *parser) keyword(k string) bool {
	t := p.peek()
	if t != nil && t.kind == tWord && strings.EqualFold(t.text, k) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expect(k tokKind, what string) error {
	t := p.peek()
	if t == nil || t.kind != k {
		return Errorf(TypeInvalidFilter, "expected %s in filter", what)
	}
	p.pos++
	return nil
}

func (p *parser) or() (Filter, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxFilterDepth {
		return nil, Errorf(TypeInvalidFilter, "filter nested deeper than %d", maxFilterDepth)
	}
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = &Logical{Op: "or", Left: l, Right: r}
	}
	return l, nil
}

func (p *parser) and() (Filter, error) {
	l, err := p.unary()
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		r, err := p.unary()
		if err != nil {
			return nil, err
		}
		l = &Logical{Op: "and", Left: l, Right: r}
	}
	return l, nil
}

func (p *parser) paren() (Filter, error) {
	if err := p.expect(tLParen, "\"(\""); err != nil {
		return nil, err
	}
	f, err := p.or()
	if err != nil {
		return nil, err
	}
	return f, p.expect(tRParen, "\")\"")
}

func (p *parser) unary() (Filter, error) {
	t := p.peek()
	if t == nil {
		return nil, Errorf(TypeInvalidFilter, "filter ends too early")
	}
	if t.kind == tLParen {
		return p.paren()
	}
	if t.kind == tWord && strings.EqualFold(t.text, "not") && p.pos+1 < len(p.toks) && p.toks[p.pos+1].kind == tLParen {
		p.pos++
		x, err := p.paren()
		if err != nil {
			return nil, err
		}
		return &Not{X: x}, nil
	}
	if t.kind != tWord {
		return nil, Errorf(TypeInvalidFilter, "expected an attribute in filter, found %q", t.text)
	}
	p.pos++
	path, err := ParseAttrPath(t.text)
	if err != nil {
		return nil, Errorf(TypeInvalidFilter, "%s", err.(*Error).Detail)
	}
	if n := p.peek(); n != nil && n.kind == tLBracket {
		p.pos++
		p.depth++
		if p.depth > maxFilterDepth {
			return nil, Errorf(TypeInvalidFilter, "filter nested deeper than %d", maxFilterDepth)
		}
		inner, err := p.or()
		p.depth--
		if err != nil {
			return nil, err
		}
		if err := p.expect(tRBracket, "\"]\""); err != nil {
			return nil, err
		}
		if path.Sub != "" {
			return nil, Errorf(TypeInvalidFilter, "%s[...]: a value filter applies to an attribute, not a sub-attribute", path)
		}
		return &ValuePath{Path: path, Filter: inner}, nil
	}
	op := p.peek()
	if op == nil || op.kind != tWord {
		return nil, Errorf(TypeInvalidFilter, "expected an operator after %s", path)
	}
	p.pos++
	o := strings.ToLower(op.text)
	switch o {
	case "pr":
		return &Compare{Path: path, Op: o}, nil
	case "eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le":
	default:
		return nil, Errorf(TypeInvalidFilter, "unknown operator %q", op.text)
	}
	v := p.peek()
	if v == nil {
		return nil, Errorf(TypeInvalidFilter, "expected a value after %s %s", path, o)
	}
	p.pos++
	c := &Compare{Path: path, Op: o}
	switch {
	case v.kind == tString:
		c.Value = v.text
	case v.kind != tWord:
		return nil, Errorf(TypeInvalidFilter, "expected a value after %s %s", path, o)
	case strings.EqualFold(v.text, "true"):
		c.Value = true
	case strings.EqualFold(v.text, "false"):
		c.Value = false
	case strings.EqualFold(v.text, "null"):
		c.Value = nil
	default:
		n, err := strconv.ParseFloat(v.text, 64)
		if err != nil {
			return nil, Errorf(TypeInvalidFilter, "value %q is not a string, number, true, false or null", v.text)
		}
		c.Value = n
	}
	return c, nil
}

// ParseAttrPath parses attrPath = [URI ":"] ATTRNAME *1subAttr (RFC 7644
// section 3.10 and figure 1). A URN's last colon separates it from the
// attribute name: "urn:...:enterprise:2.0:User:manager.value".
func ParseAttrPath(s string) (AttrPath, error) {
	var p AttrPath
	rest := s
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		p.URN, rest = s[:i], s[i+1:]
		if !strings.HasPrefix(strings.ToLower(p.URN), "urn:") {
			return AttrPath{}, Errorf(TypeInvalidPath, "attribute %q: a schema must be a URN", s)
		}
	}
	p.Name, p.Sub, _ = strings.Cut(rest, ".")
	if !attrName(p.Name) || (p.Sub != "" || strings.Contains(rest, ".")) && !attrName(p.Sub) {
		return AttrPath{}, Errorf(TypeInvalidPath, "attribute %q is not a valid attribute path", s)
	}
	return p, nil
}

// attrName checks ATTRNAME = ALPHA *(nameChar) (RFC 7643 section 2.1),
// and "$ref".
func attrName(s string) bool {
	if s == "$ref" {
		return true
	}
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !alpha && (i == 0 || !(c >= '0' && c <= '9' || c == '-' || c == '_')) {
			return false
		}
	}
	return true
}
