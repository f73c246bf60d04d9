package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
)

// JoinAirCard adds this workstation to the allowed computers of the
// AirCard a connection code names (lanyard agent aircard add CODE). It
// uses the agent's identity in dir: the server it paired with and its
// client certificate, so the code only works from a paired workstation,
// over the same mutually authenticated TLS as the agent's connection. The
// running agent gets the AirCard connected when the server tells it.
func JoinAirCard(ctx context.Context, dir, code string) (*agentproto.AirCardJoined, error) {
	st, paired, err := LoadState(dir)
	if err != nil {
		return nil, err
	}
	if !paired {
		return nil, errors.New("agent: this workstation is not paired yet; run lanyard agent --server https://HOST:8443 first")
	}
	key, err := loadOrCreateKey(dir)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(st.Server)
	if err != nil {
		return nil, err
	}
	tlsCfg, err := st.tlsConfig(key, u.Hostname())
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(agentproto.AirCardJoin{Code: code})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, st.Server+agentproto.PathAirCardJoin, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	a := &Agent{}
	hc := a.httpClient(tlsCfg)
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out agentproto.AirCardJoined
	if err := decodeResponse(resp, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
