package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// The peer endpoints (POST, JSON in and out) other replicas call.
const (
	pathStates         = "/peer/v1/states"
	pathAirServices    = "/peer/v1/aircard-services"
	pathCreateVirtual  = "/peer/v1/virtual/create"
	pathDestroyVirtual = "/peer/v1/virtual/destroy"
	pathSoftwareKey    = "/peer/v1/software/key"
	pathSoftwareStore  = "/peer/v1/software/store"
	pathAirPush        = "/peer/v1/aircards/push"
	pathAirOpen        = "/peer/v1/air/open"
	pathAirTransmit    = "/peer/v1/air/transmit"
	pathAirClose       = "/peer/v1/air/close"
	pathUnblock        = "/peer/v1/unblock"
)

// unblockIn is a workstation's online unblock another replica admitted.
type unblockIn struct {
	Workstation lanyard.Workstation `json:"workstation"`
	Unblock     agentproto.Unblock  `json:"unblock"`
}

type statesIn struct {
	IDs []int64 `json:"ids"`
	// Summary: AirCard services without their readers (thousands of
	// AirCards), only counted.
	Summary bool `json:"summary,omitempty"`
}

type airServicesIn struct {
	Serials []string `json:"serials"`
}

type createVirtualIn struct {
	WorkstationID int64            `json:"workstation_id"`
	Kind          lanyard.CardKind `json:"kind"`
}

type destroyVirtualIn struct {
	WorkstationID int64  `json:"workstation_id"`
	Serial        string `json:"serial"`
}

type softwareKeyIn struct {
	WorkstationID int64                `json:"workstation_id"`
	Algorithm     lanyard.KeyAlgorithm `json:"alg"`
}

type softwareStoreIn struct {
	WorkstationID int64                        `json:"workstation_id"`
	Request       lanyard.SoftwareStoreRequest `json:"request"`
}

// maxPeerRequest bounds a peer call's request (a software store's chain
// is the largest).
const maxPeerRequest = 1 << 20

// replicaKey is the context key of the replica a peer request came from.
type replicaKey struct{}

// FromReplica returns the ID of the replica whose client certificate the
// request's connection presented, on the peer listener.
func FromReplica(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(replicaKey{}).(string)
	return id, ok
}

// PeerHandler serves the peer listener: the peer endpoints above, and
// every other path through forwarded, the web handler for requests
// another replica forwarded (internal/web's ForwardedHandler, which
// believes the forwarding headers). Every request must come over a
// connection with a live replica's client certificate (ServerTLS checks
// it at the handshake, this again per request, as the directory may have
// changed), and a forwarded request must name that replica in
// Lanyard-Forwarded-By.
func (c *Cluster) PeerHandler(forwarded http.Handler) http.Handler {
	mux := http.NewServeMux()
	handle := func(path string, fn func(ctx context.Context, body []byte) (any, error)) {
		mux.HandleFunc("POST "+path, func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(io.LimitReader(r.Body, maxPeerRequest))
			if err != nil {
				writePeerError(w, lanyard.Errorf(lanyard.EInvalid, "reading the request failed"))
				return
			}
			out, err := fn(r.Context(), body)
			if err != nil {
				writePeerError(w, err)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(out)
		})
	}
	handle(pathStates, c.serveStates)
	handle(pathAirServices, c.serveAirServices)
	handle(pathCreateVirtual, c.serveCreateVirtual)
	handle(pathDestroyVirtual, c.serveDestroyVirtual)
	handle(pathSoftwareKey, c.serveSoftwareKey)
	handle(pathSoftwareStore, c.serveSoftwareStore)
	handle(pathAirPush, c.serveAirPush)
	handle(pathAirOpen, c.serveAirOpen)
	handle(pathAirTransmit, c.serveAirTransmit)
	handle(pathAirClose, c.serveAirClose)
	handle(pathUnblock, c.serveUnblock)
	mux.HandleFunc("/peer/", func(w http.ResponseWriter, r *http.Request) {
		writePeerError(w, lanyard.Errorf(lanyard.ENotFound, "no peer endpoint %s %s", r.Method, r.URL.Path))
	})
	mux.Handle("/", forwarded)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			writePeerErrorStatus(w, http.StatusUnauthorized, lanyard.Errorf(lanyard.EUnauthenticated, "a replica's client certificate is required"))
			return
		}
		from, err := c.replicaOfClient(r.Context(), r.TLS.PeerCertificates[0])
		if err != nil {
			writePeerErrorStatus(w, http.StatusForbidden, lanyard.Errorf(lanyard.EForbidden, "only replicas of the cluster may use the peer listener"))
			return
		}
		if by := r.Header.Get(HeaderForwardedBy); by != "" && by != from.ID {
			writePeerErrorStatus(w, http.StatusForbidden, lanyard.Errorf(lanyard.EForbidden, "%s names another replica than the connection's", HeaderForwardedBy))
			return
		}
		mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), replicaKey{}, from.ID)))
	})
}

func decodePeer(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return lanyard.Errorf(lanyard.EInvalid, "malformed peer request: %v", err)
	}
	return nil
}

func (c *Cluster) serveStates(_ context.Context, body []byte) (any, error) {
	var in statesIn
	if err := decodePeer(body, &in); err != nil {
		return nil, err
	}
	local := c.hub.CardAccess()
	out := []lanyard.WorkstationState{}
	for _, id := range in.IDs {
		if in.Summary {
			if st, ok := c.hub.Summary(id); ok && st.Role == lanyard.RoleAirCardService {
				out = append(out, st)
				continue
			}
		}
		if st, ok := local.WorkstationState(id); ok {
			out = append(out, st)
		}
	}
	return out, nil
}

func (c *Cluster) serveAirServices(_ context.Context, body []byte) (any, error) {
	var in airServicesIn
	if err := decodePeer(body, &in); err != nil {
		return nil, err
	}
	return c.hub.CardAccess().AirCardServices(in.Serials), nil
}

// here fails unless workstation id is connected here: a forwarded agent
// request is never forwarded again.
func (c *Cluster) here(id int64) error {
	if !c.hub.Connected(id) {
		return lanyard.Errorf(lanyard.EUnavailable, "the workstation's agent is no longer connected to this server of the cluster; try again")
	}
	return nil
}

func (c *Cluster) serveCreateVirtual(ctx context.Context, body []byte) (any, error) {
	var in createVirtualIn
	if err := decodePeer(body, &in); err != nil {
		return nil, err
	}
	if err := c.here(in.WorkstationID); err != nil {
		return nil, err
	}
	r, err := c.hub.CardAccess().CreateVirtual(ctx, in.WorkstationID, in.Kind)
	if err != nil && r.Serial != "" {
		return nil, &remoteError{e: lanyard.Error{Code: lanyard.ErrorCode(err), Message: lanyard.ErrorMessage(err)}, serial: r.Serial}
	}
	return r, err
}

func (c *Cluster) serveDestroyVirtual(ctx context.Context, body []byte) (any, error) {
	var in destroyVirtualIn
	if err := decodePeer(body, &in); err != nil {
		return nil, err
	}
	if err := c.here(in.WorkstationID); err != nil {
		return nil, err
	}
	return struct{}{}, c.hub.CardAccess().DestroyVirtual(ctx, in.WorkstationID, in.Serial)
}

func (c *Cluster) serveSoftwareKey(ctx context.Context, body []byte) (any, error) {
	var in softwareKeyIn
	if err := decodePeer(body, &in); err != nil {
		return nil, err
	}
	if err := c.here(in.WorkstationID); err != nil {
		return nil, err
	}
	return c.hub.CardAccess().SoftwareKey(ctx, in.WorkstationID, in.Algorithm)
}

func (c *Cluster) serveSoftwareStore(ctx context.Context, body []byte) (any, error) {
	var in softwareStoreIn
	if err := decodePeer(body, &in); err != nil {
		return nil, err
	}
	if err := c.here(in.WorkstationID); err != nil {
		return nil, err
	}
	return c.hub.CardAccess().SoftwareStore(ctx, in.WorkstationID, in.Request)
}

func (c *Cluster) serveAirPush(context.Context, []byte) (any, error) {
	c.hub.PushAllAirCards()
	return struct{}{}, nil
}

func (c *Cluster) serveUnblock(ctx context.Context, body []byte) (any, error) {
	var in unblockIn
	if err := decodePeer(body, &in); err != nil {
		return nil, err
	}
	out, err := c.hub.UnblockAt(ctx, &in.Workstation, in.Unblock)
	var elsewhere *lanyard.ElsewhereError
	if errors.As(err, &elsewhere) { // moved again: no second hop
		return nil, lanyard.Errorf(lanyard.EUnavailable, "the card's agent moved to another server of the cluster; try again")
	}
	return out, err
}

// Unblock has replica run workstation ws's online unblock
// (agenthub.Cluster).
func (c *Cluster) Unblock(ctx context.Context, replica string, ws *lanyard.Workstation, in agentproto.Unblock) (*agentproto.Unblocked, error) {
	var out agentproto.Unblocked
	w := lanyard.Workstation{ID: ws.ID, Name: ws.Name, OwnerID: ws.OwnerID, Role: ws.Role, Status: ws.Status}
	if err := c.client.callLong(ctx, replica, pathUnblock, unblockIn{Workstation: w, Unblock: in}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func writePeerError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch lanyard.ErrorCode(err) {
	case lanyard.EInvalid:
		status = http.StatusBadRequest
	case lanyard.ENotFound:
		status = http.StatusNotFound
	case lanyard.EConflict:
		status = http.StatusConflict
	case lanyard.EForbidden:
		status = http.StatusForbidden
	case lanyard.EUnavailable:
		status = http.StatusServiceUnavailable
	}
	writePeerErrorStatus(w, status, err)
}

func writePeerErrorStatus(w http.ResponseWriter, status int, err error) {
	pe := peerError{Code: lanyard.ErrorCode(err), Message: lanyard.ErrorMessage(err)}
	var re *remoteError
	if errors.As(err, &re) {
		pe.Serial = re.serial
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(pe)
}
