package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
)

// UnblockQuestions asks the server for the secret questions of this
// workstation's owner (lanyard agent unblock), with the agent's identity
// in dir.
func UnblockQuestions(ctx context.Context, dir string) ([]string, error) {
	var out agentproto.UnblockQuestions
	if err := callServer(ctx, dir, http.MethodGet, agentproto.PathUnblock, nil, &out); err != nil {
		return nil, err
	}
	return out.Questions, nil
}

// Unblock sends the owner's answers and new PIN; the server resets the
// card's PIN through the running agent's connection.
func Unblock(ctx context.Context, dir string, in agentproto.Unblock) (*agentproto.Unblocked, error) {
	var out agentproto.Unblocked
	if err := callServer(ctx, dir, http.MethodPost, agentproto.PathUnblock, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// callServer sends one request to the server the agent in dir paired
// with, over the mutually authenticated TLS of the agent's connection
// (its client certificate proves the workstation), and decodes the
// answer into out.
func callServer(ctx context.Context, dir, method, path string, in, out any) error {
	st, paired, err := LoadState(dir)
	if err != nil {
		return err
	}
	if !paired {
		return errors.New("agent: this workstation is not paired yet; run lanyard agent --server https://HOST:8443 first")
	}
	key, err := loadOrCreateKey(dir)
	if err != nil {
		return err
	}
	u, err := url.Parse(st.Server)
	if err != nil {
		return err
	}
	tlsCfg, err := st.tlsConfig(key, u.Hostname())
	if err != nil {
		return err
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, st.Server+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	a := &Agent{}
	hc := a.httpClient(tlsCfg)
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return decodeResponse(resp, out)
}
