package web

import (
	"net/http"
	"strconv"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// route is one API operation. The same table registers the handler and
// generates the OpenAPI document, so the two cannot drift apart.
type route struct {
	method, path string
	summary      string
	tag          string
	public       bool           // no authentication
	signIn       bool           // a public sign-in: cross-origin browser requests refused (sameOriginSignIn)
	rss          rssAuth        // whether a Remote Self-Service session is accepted (rss.go)
	roles        []lanyard.Role // any of these; empty = any authenticated caller
	in           any            // request body type, nil for none
	out          any            // response body type, nil for none
	status       int            // success status
	query        []param        // documented query parameters
	produces     string         // non-JSON response media type
	consumes     string         // non-JSON request media type
	h            func(c *call) (any, error)
	// card: the route may reach a card through a workstation's agent,
	// so it is forwarded to the replica holding it (forward.go,
	// cardRoutes).
	card bool
}

// param documents a query parameter.
type param struct {
	name, typ, doc string
}

// call is one request in flight.
type call struct {
	w      http.ResponseWriter
	r      *http.Request
	s      *Server
	p      *lanyard.Principal
	status int  // overrides the route's success status
	wrote  bool // the handler wrote the response itself
}

func (c *call) decode(v any) error { return decodeJSON(c.w, c.r, v) }

func (c *call) pathInt(name string) (int64, error) {
	v := c.r.PathValue(name)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, lanyard.Errorf(lanyard.EInvalid, "%s %q must be a positive integer", name, v)
	}
	return n, nil
}

func (c *call) queryInt(name string, def int) (int, error) {
	v := c.r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, lanyard.Errorf(lanyard.EInvalid, "query parameter %s=%q must be a non-negative integer", name, v)
	}
	return n, nil
}

// page reads the limit (default 100) and offset query parameters of a list.
func (c *call) page() (limit, offset int, err error) {
	if limit, err = c.queryInt("limit", 100); err != nil {
		return 0, 0, err
	}
	offset, err = c.queryInt("offset", 0)
	return limit, offset, err
}

// raw writes a non-JSON response.
func (c *call) raw(contentType string, body []byte) {
	c.w.Header().Set("Content-Type", contentType)
	c.w.WriteHeader(http.StatusOK)
	c.w.Write(body)
	c.wrote = true
}
