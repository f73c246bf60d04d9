package agent

import (
	"context"
	"net/http"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
)

// JoinAirCard adds this workstation to the allowed computers of the
// AirCard a connection code names (lanyard agent aircard add CODE). It
// uses the agent's identity in dir: the server it paired with and its
// client certificate, so the code only works from a paired workstation,
// over the same mutually authenticated TLS as the agent's connection. The
// running agent gets the AirCard connected when the server tells it.
func JoinAirCard(ctx context.Context, dir, code string) (*agentproto.AirCardJoined, error) {
	var out agentproto.AirCardJoined
	if err := callServer(ctx, dir, http.MethodPost, agentproto.PathAirCardJoin, agentproto.AirCardJoin{Code: code}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
