package cluster

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// Hub is what the cluster asks of this replica's agent hub
// (internal/agenthub implements it).
type Hub interface {
	// CardAccess is the hub's own card access: the agents connected here.
	CardAccess() lanyard.CardAccess
	// Connected reports whether workstation id's agent is connected here.
	Connected(id int64) bool
	// OpenAirCardFor opens a session for workstation wsID (connected to
	// another replica) on an AirCard whose service is connected here,
	// after the allowed-computer check.
	OpenAirCardFor(ctx context.Context, wsID int64, serial string) (lanyard.CardSession, error)
	// PushAllAirCards sends the workstations connected here their AirCard
	// lists again.
	PushAllAirCards()
	// Summary is a workstation's state without its readers (counted).
	Summary(id int64) (lanyard.WorkstationState, bool)
	// UnblockAt runs a workstation's online unblock here.
	UnblockAt(ctx context.Context, ws *lanyard.Workstation, in agentproto.Unblock) (*agentproto.Unblocked, error)
}

// SetHub gives the cluster this replica's hub; call it before the peer
// listener and the agent listener start.
func (c *Cluster) SetHub(h Hub) { c.hub = h }

// CardAccess is the card workflows' view of every replica's agents
// (lanyard.CardAccess): this replica's hub, plus the workstations and
// AirCard services connected to the others, gathered from them over the
// peer link (their states carry Replica). Requests that are one message
// to the agent (virtual cards, software stores) are forwarded to the
// replica holding it; card sessions are not (Open answers
// *lanyard.ElsewhereError, and the web layer forwards the whole request).
func (c *Cluster) CardAccess() lanyard.CardAccess { return &cardAccess{c: c} }

type cardAccess struct{ c *Cluster }

func (a *cardAccess) local() lanyard.CardAccess { return a.c.hub.CardAccess() }

// gather asks each replica holding some of routes for the states of its
// workstations among them, in parallel; a replica that does not answer
// is left out (its workstations read as offline).
func (a *cardAccess) gather(ctx context.Context, routes []*lanyard.AgentRoute) []lanyard.WorkstationState {
	return a.c.gather(ctx, routes, false)
}

// States returns the live states of those of ids whose agents are
// connected to other replicas, AirCard services without their readers
// (internal/web's workstation list).
func (c *Cluster) States(ctx context.Context, ids []int64) map[int64]lanyard.WorkstationState {
	ctx, cancel := context.WithTimeout(ctx, gatherTimeout)
	defer cancel()
	routes, err := c.remoteRoutes(ctx, lanyard.AgentRouteFilter{IDs: ids})
	if err != nil {
		c.log.Warn("reading agent routes failed", "err", err)
		return nil
	}
	out := map[int64]lanyard.WorkstationState{}
	for _, st := range c.gather(ctx, routes, true) {
		out[st.ID] = st
	}
	return out
}

func (c *Cluster) gather(ctx context.Context, routes []*lanyard.AgentRoute, summary bool) []lanyard.WorkstationState {
	byReplica := map[string][]int64{}
	for _, r := range routes {
		byReplica[r.ReplicaID] = append(byReplica[r.ReplicaID], r.WorkstationID)
	}
	return fanOut(ctx, c, byReplica, pathStates, "its workstations' states", func(ids []int64) any { return statesIn{IDs: ids, Summary: summary} })
}

// fanOut asks every replica of targets at once for states (path, with
// in's input for the replica's value in targets) and gathers them, each
// marked with the replica that holds it. A replica that does not answer
// is left out and logged: a list waits for no replica beyond ctx.
func fanOut[T any](ctx context.Context, c *Cluster, targets map[string]T, path, what string, in func(T) any) []lanyard.WorkstationState {
	var mu sync.Mutex
	var out []lanyard.WorkstationState
	var wg sync.WaitGroup
	for id, v := range targets {
		wg.Go(func() {
			var states []lanyard.WorkstationState
			if err := c.client.call(ctx, id, path, in(v), &states); err != nil {
				c.log.Warn("a replica did not give "+what, "replica", id, "err", err)
				return
			}
			for i := range states {
				states[i].Replica = id
			}
			mu.Lock()
			out = append(out, states...)
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

// gatherTimeout bounds the gathering of a list from the other replicas:
// a page waits no longer for a replica that is slow to answer (its
// workstations are left out).
const gatherTimeout = 3 * time.Second

func byID(a, b lanyard.WorkstationState) int { return cmp.Compare(a.ID, b.ID) }

// merge adds the remote states to the local ones, a workstation connected
// here winning over a stale route elsewhere.
func merge(local, remote []lanyard.WorkstationState) []lanyard.WorkstationState {
	out := slices.Clone(local)
	for _, r := range remote {
		if !slices.ContainsFunc(local, func(l lanyard.WorkstationState) bool { return l.ID == r.ID }) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, byID)
	return out
}

func (a *cardAccess) Workstations(ownerID int64) []lanyard.WorkstationState {
	local := a.local().Workstations(ownerID)
	f := lanyard.AgentRouteFilter{OwnerID: ownerID}
	if ownerID != 0 {
		f.Role = lanyard.RoleWorkstation
	}
	ctx, cancel := context.WithTimeout(context.Background(), gatherTimeout)
	defer cancel()
	routes, err := a.c.remoteRoutes(ctx, f)
	if err != nil {
		a.c.log.Warn("reading agent routes failed; listing this replica's workstations only", "err", err)
		return local
	}
	return merge(local, a.gather(ctx, routes))
}

func (a *cardAccess) AirCardServices(serials []string) []lanyard.WorkstationState {
	local := a.local().AirCardServices(serials)
	ctx, cancel := context.WithTimeout(context.Background(), gatherTimeout)
	defer cancel()
	remote, err := a.c.remoteAirServices(ctx, serials)
	if err != nil {
		a.c.log.Warn("reading agent routes failed; listing this replica's AirCard services only", "err", err)
		return local
	}
	return merge(local, remote)
}

// remoteAirServices gathers AirCardServices(serials) of the other
// replicas that hold AirCard services.
func (c *Cluster) remoteAirServices(ctx context.Context, serials []string) ([]lanyard.WorkstationState, error) {
	routes, err := c.remoteRoutes(ctx, lanyard.AgentRouteFilter{Role: lanyard.RoleAirCardService})
	if err != nil {
		return nil, err
	}
	byReplica := map[string]bool{}
	for _, r := range routes {
		byReplica[r.ReplicaID] = true
	}
	remote := fanOut(ctx, c, byReplica, pathAirServices, "its AirCard services", func(bool) any { return airServicesIn{Serials: serials} })
	slices.SortFunc(remote, byID)
	return remote, nil
}

// remote returns the state of workstation id at the replica holding it,
// if another live replica does.
func (a *cardAccess) remote(ctx context.Context, id int64) (lanyard.WorkstationState, bool) {
	routes, err := a.c.remoteRoutes(ctx, lanyard.AgentRouteFilter{IDs: []int64{id}})
	if err != nil || len(routes) == 0 {
		return lanyard.WorkstationState{}, false
	}
	states := a.gather(ctx, routes)
	if len(states) != 1 {
		return lanyard.WorkstationState{}, false
	}
	return states[0], true
}

func (a *cardAccess) WorkstationState(id int64) (lanyard.WorkstationState, bool) {
	if st, ok := a.local().WorkstationState(id); ok {
		return st, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), gatherTimeout)
	defer cancel()
	return a.remote(ctx, id)
}

// holder is the replica other than this one holding workstation id, or
// "".
func (a *cardAccess) holder(ctx context.Context, id int64) string {
	if a.c.hub.Connected(id) {
		return ""
	}
	r, err := a.c.Locate(ctx, id)
	if err != nil {
		a.c.log.Warn("reading an agent route failed", "workstation", id, "err", err)
	}
	return r
}

// Open opens a card session only on a workstation connected here: card
// drivers exchange APDUs with the card, and those never cross replicas.
func (a *cardAccess) Open(ctx context.Context, workstationID int64, reader string) (lanyard.CardSession, error) {
	if r := a.holder(ctx, workstationID); r != "" {
		return nil, &lanyard.ElsewhereError{WorkstationID: workstationID, Replica: r}
	}
	return a.local().Open(ctx, workstationID, reader)
}

func (a *cardAccess) CreateVirtual(ctx context.Context, workstationID int64, kind lanyard.CardKind) (lanyard.Reader, error) {
	r := a.holder(ctx, workstationID)
	if r == "" {
		return a.local().CreateVirtual(ctx, workstationID, kind)
	}
	var out lanyard.Reader
	err := a.c.client.callLong(ctx, r, pathCreateVirtual, createVirtualIn{WorkstationID: workstationID, Kind: kind}, &out)
	var re *remoteError
	if errors.As(err, &re) && re.serial != "" {
		return lanyard.Reader{Serial: re.serial}, err
	}
	return out, err
}

func (a *cardAccess) DestroyVirtual(ctx context.Context, workstationID int64, serial string) error {
	r := a.holder(ctx, workstationID)
	if r == "" {
		return a.local().DestroyVirtual(ctx, workstationID, serial)
	}
	return a.c.client.callLong(ctx, r, pathDestroyVirtual, destroyVirtualIn{WorkstationID: workstationID, Serial: serial}, nil)
}

// AirCardsChanged tells the workstations connected here; those connected
// to other replicas learn it from the change notice of the transaction
// that changed their lists.
func (a *cardAccess) AirCardsChanged(workstationIDs ...int64) {
	a.local().AirCardsChanged(workstationIDs...)
}

func (a *cardAccess) SoftwareKey(ctx context.Context, workstationID int64, alg lanyard.KeyAlgorithm) (lanyard.SoftwareKey, error) {
	r := a.holder(ctx, workstationID)
	if r == "" {
		return a.local().SoftwareKey(ctx, workstationID, alg)
	}
	var out lanyard.SoftwareKey
	err := a.c.client.callLong(ctx, r, pathSoftwareKey, softwareKeyIn{WorkstationID: workstationID, Algorithm: alg}, &out)
	return out, err
}

func (a *cardAccess) SoftwareStore(ctx context.Context, workstationID int64, req lanyard.SoftwareStoreRequest) (lanyard.SoftwareStored, error) {
	r := a.holder(ctx, workstationID)
	if r == "" {
		return a.local().SoftwareStore(ctx, workstationID, req)
	}
	var out lanyard.SoftwareStored
	err := a.c.client.callLong(ctx, r, pathSoftwareStore, softwareStoreIn{WorkstationID: workstationID, Request: req}, &out)
	return out, err
}
