package cluster

import (
	"net/url"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// parseBase reads a replica's peer URL: https://host:port.
func parseBase(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, lanyard.Errorf(lanyard.EInvalid, "peer URL %q: want https://HOST:PORT", s)
	}
	return u, nil
}
