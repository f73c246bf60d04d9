package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Headers of a request one replica forwards to another (internal/web):
// believed only on the peer listener, stripped everywhere else.
const (
	// HeaderForwardedBy names the replica that forwarded the request; it
	// must be the replica whose client certificate the connection
	// presented.
	HeaderForwardedBy = "Lanyard-Forwarded-By"
	// HeaderClientAddr is the client's address as the forwarding replica
	// judged it (for throttles and audit events).
	HeaderClientAddr = "Lanyard-Client-Addr"
)

// callTimeout bounds one peer call that is not a forwarded request.
const callTimeout = 10 * time.Second

// longCallTimeout bounds a peer call carrying a request to an agent.
const longCallTimeout = 2 * time.Minute

// maxPeerBody bounds a peer call's answer (a state list of thousands of
// AirCards is the largest).
const maxPeerBody = 64 << 20

// peerClient makes calls to other replicas over mutual TLS.
type peerClient struct {
	c  *Cluster
	hc *http.Client
}

func newPeerClient(c *Cluster, p *PeerTLS) *peerClient {
	tr := &http.Transport{
		TLSClientConfig: c.clientTLS(p), ForceAttemptHTTP2: true,
		MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second,
	}
	return &peerClient{c: c, hc: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (pc *peerClient) close() { pc.hc.CloseIdleConnections() }

// peerError is an error as a peer endpoint answers it.
type peerError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Serial: CreateVirtual made a card it could not reach.
	Serial string `json:"serial,omitempty"`
}

// call posts in as JSON to path at replica id and decodes the answer into
// out; an error the peer answered comes back with its code and message.
func (pc *peerClient) call(ctx context.Context, id, path string, in, out any) error {
	return pc.callWithin(ctx, callTimeout, id, path, in, out)
}

// callLong is call for a request the agent may take long to answer
// (making a TPM key): bounded by longCallTimeout and the caller's ctx.
func (pc *peerClient) callLong(ctx context.Context, id, path string, in, out any) error {
	return pc.callWithin(ctx, longCallTimeout, id, path, in, out)
}

func (pc *peerClient) callWithin(ctx context.Context, timeout time.Duration, id, path string, in, out any) error {
	if pc == nil {
		return lanyard.Errorf(lanyard.EUnavailable, "this server has not joined its cluster yet; try again")
	}
	r, err := pc.c.replica(ctx, id)
	if err != nil {
		return err
	}
	body, err := json.Marshal(in)
	if err != nil {
		return lanyard.Wrap(lanyard.EInternal, err, "encoding a peer call")
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(r.PeerURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return lanyard.Wrap(lanyard.EInternal, err, "a replica's peer URL is malformed")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := pc.hc.Do(req)
	if err != nil {
		return lanyard.Wrap(lanyard.EUnavailable, err, "another server of the cluster did not answer; try again")
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxPeerBody))
	if err != nil {
		return lanyard.Wrap(lanyard.EUnavailable, err, "another server of the cluster did not answer; try again")
	}
	if resp.StatusCode != http.StatusOK {
		var pe peerError
		if json.Unmarshal(raw, &pe) != nil || pe.Code == "" {
			return lanyard.Errorf(lanyard.EUnavailable, "another server of the cluster answered %s", resp.Status)
		}
		return &remoteError{e: lanyard.Error{Code: pe.Code, Message: pe.Message}, serial: pe.Serial}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return lanyard.Wrap(lanyard.EUnavailable, err, "another server of the cluster answered garbage")
	}
	return nil
}

// remoteError is an error another replica answered, with its code and
// message.
type remoteError struct {
	e      lanyard.Error
	serial string
}

func (e *remoteError) Error() string { return e.e.Error() }
func (e *remoteError) Unwrap() error { return &e.e }

// Forward sends req, a whole API request this replica received, to
// replica id's peer listener and returns its answer (internal/web copies
// it to the client). req's URL is the path and query only.
func (c *Cluster) Forward(ctx context.Context, id string, req *http.Request) (*http.Response, error) {
	if !c.started.Load() {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "this server has not joined its cluster yet; try again")
	}
	r, err := c.replica(ctx, id)
	if err != nil {
		return nil, err
	}
	out := req.Clone(ctx)
	u := *req.URL
	base, err := parseBase(r.PeerURL)
	if err != nil {
		return nil, err
	}
	u.Scheme, u.Host = base.Scheme, base.Host
	out.URL = &u
	out.RequestURI = ""
	out.Header.Set(HeaderForwardedBy, c.id)
	resp, err := c.client.hc.Do(out)
	if err != nil {
		return nil, lanyard.Wrap(lanyard.EUnavailable, err, "the server of the cluster holding the workstation did not answer; try again")
	}
	return resp, nil
}
