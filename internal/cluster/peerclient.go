package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
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

// forwardTimeout bounds a forwarded card request, from its sending to
// the end of its answer: the longest card workflow at the replica
// holding the agent includes an agent request of longCallTimeout (a TPM
// key, a new virtual card) besides its APDUs; the peer listener's own
// write timeout (3 min, cmd/lanyard) is longer still.
const forwardTimeout = longCallTimeout + 30*time.Second

// dialTimeout bounds the TCP connection to a peer; a live replica
// answers at once.
const dialTimeout = 5 * time.Second

// A peer connection silent for pingAfter is checked with an HTTP/2 PING
// (RFC 9113, 6.7) and dropped unless the peer answers within
// pingTimeout: a replica whose host vanished must not hold the calls
// multiplexed on its connection until the kernel gives up on it.
const (
	pingAfter   = 15 * time.Second
	pingTimeout = 5 * time.Second
)

// maxPeerBody bounds a peer call's answer (a state list of thousands of
// AirCards is the largest).
const maxPeerBody = 64 << 20

// peerClient makes calls to other replicas over mutual TLS.
type peerClient struct {
	c  *Cluster
	tc *tls.Config
	hc atomic.Pointer[http.Client]
}

func newPeerClient(c *Cluster, p *PeerTLS) *peerClient {
	pc := &peerClient{c: c, tc: c.clientTLS(p)}
	pc.hc.Store(pc.newHTTP())
	return pc
}

func (pc *peerClient) newHTTP() *http.Client {
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext:     dialer.DialContext,
		TLSClientConfig: pc.tc, ForceAttemptHTTP2: true,
		MaxIdleConnsPerHost: 16, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second,
		// No call waits longer for its answer to begin than the longest
		// (a forwarded card request); each call's context bounds it too.
		ResponseHeaderTimeout: forwardTimeout,
		HTTP2:                 &http.HTTP2Config{SendPingTimeout: pingAfter, PingTimeout: pingTimeout},
	}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// renewed starts a new connection pool once the client certificate was
// renewed: new calls connect afresh and present the new certificate,
// calls under way finish on their connections, which close when idle.
func (pc *peerClient) renewed() {
	old := pc.hc.Swap(pc.newHTTP())
	old.CloseIdleConnections()
}

func (pc *peerClient) close() { pc.hc.Load().CloseIdleConnections() }

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
	resp, err := pc.hc.Load().Do(req)
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
// it to the client). req's URL is the path and query only. The exchange,
// answer included, is bounded by forwardTimeout: a replica that accepted
// the connection and then stalled answers EUnavailable, not never.
func (c *Cluster) Forward(ctx context.Context, id string, req *http.Request) (*http.Response, error) {
	if !c.started.Load() {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "this server has not joined its cluster yet; try again")
	}
	r, err := c.replica(ctx, id)
	if err != nil {
		return nil, err
	}
	base, err := parseBase(r.PeerURL)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.forwardTimeout)
	out := req.Clone(ctx)
	u := *req.URL
	u.Scheme, u.Host = base.Scheme, base.Host
	out.URL = &u
	out.RequestURI = ""
	out.Header.Set(HeaderForwardedBy, c.id)
	resp, err := c.client.hc.Load().Do(out)
	if err != nil {
		cancel()
		return nil, lanyard.Wrap(lanyard.EUnavailable, err, "the server of the cluster holding the workstation did not answer in time; try again")
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	return resp, nil
}

// cancelBody ends a forwarded request's context once its answer is read.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}
