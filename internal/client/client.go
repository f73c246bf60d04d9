// Package client calls Lanyard's REST API; the CLI is built on it. Errors
// from the server arrive as RFC 9457 problem details and are returned as
// *lanyard.Error with the server's stable code and message.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Client talks to one Lanyard server with one API token.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// New returns a client for the server at base (e.g. http://127.0.0.1:8080).
func New(base, token string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server address %q: want http(s)://host:port", base)
	}
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	return &Client{base: strings.TrimRight(base, "/"), token: token, http: hc}, nil
}

// Do sends in (JSON-encoded, when not nil) and decodes the response into
// out (when not nil). It returns the HTTP status of a successful call.
func (c *Client) Do(ctx context.Context, method, path string, in, out any) (int, error) {
	if in == nil {
		return c.send(ctx, method, path, "", nil, out)
	}
	b, err := json.Marshal(in)
	if err != nil {
		return 0, err
	}
	return c.send(ctx, method, path, "application/json", b, out)
}

// PostRaw sends body as it is, with contentType (an upload), and decodes
// the JSON answer into out.
func (c *Client) PostRaw(ctx context.Context, path, contentType string, body []byte, out any) (int, error) {
	return c.send(ctx, http.MethodPost, path, contentType, body, out)
}

// send is one request; out of type *[]byte receives the raw answer.
func (c *Client) send(ctx context.Context, method, path, contentType string, payload []byte, out any) (int, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, lanyard.Wrap(lanyard.EUnavailable, err, fmt.Sprintf("cannot reach the Lanyard server at %s", c.base))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, err
	}
	if resp.StatusCode >= 400 {
		return resp.StatusCode, problemError(resp.StatusCode, data)
	}
	if out != nil && len(data) > 0 {
		if raw, ok := out.(*[]byte); ok {
			*raw = data
		} else if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("decoding the server's answer: %w", err)
		}
	}
	return resp.StatusCode, nil
}

func problemError(status int, data []byte) error {
	var p struct {
		Code   string `json:"code"`
		Detail string `json:"detail"`
		Title  string `json:"title"`
	}
	if json.Unmarshal(data, &p) == nil && p.Code != "" {
		return &lanyard.Error{Code: p.Code, Message: p.Detail}
	}
	return lanyard.Errorf(lanyard.EInternal, "server answered %d %s", status, http.StatusText(status))
}

// Get is Do with GET.
func (c *Client) Get(ctx context.Context, path string, out any) error {
	_, err := c.Do(ctx, http.MethodGet, path, nil, out)
	return err
}

// Post is Do with POST.
func (c *Client) Post(ctx context.Context, path string, in, out any) (int, error) {
	return c.Do(ctx, http.MethodPost, path, in, out)
}

// Esc escapes one path segment.
func Esc(s string) string { return url.PathEscape(s) }
