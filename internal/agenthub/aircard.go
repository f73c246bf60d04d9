package agenthub

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// AirCards (issue 7). The AirCard service connects like an agent (role
// aircard_service) and shows each AirCard it hosts as a reader. A
// workstation's agent learns from an aircards message which AirCards it
// may use and bridges each into its pcscd; the bridge's APDUs come here
// as airopen/airtransmit/airclose on the workstation's own connection,
// and the hub relays them through a session on the AirCard service's
// reader. APDUs thus only travel inside the two mutually authenticated
// agent connections, and the allowed-computer check is made here, on
// every session a workstation opens.

// airTimeout bounds one AirCard request from a workstation.
const airTimeout = 30 * time.Second

// airSession is a workstation's session on an AirCard.
type airSession struct {
	serial string
	sess   lanyard.CardSession // here, or at another replica (Cluster.OpenAirCard)
}

// airConnected pushes AirCard lists when a connection starts: a
// workstation gets its own, and an AirCard service coming online tells
// every workstation its AirCards are reachable again.
func (h *Hub) airConnected(ctx context.Context, c *agentConn) {
	switch c.role {
	case lanyard.RoleAirCardService:
		go func() {
			// Wait for its readers (the AirCards) to be reported with
			// their serials, which is how workstations' sessions find
			// them.
			deadline := time.Now().Add(30 * time.Second)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				c.mu.Lock()
				ready := len(c.readers) > 0
				for _, r := range c.readers {
					if r.Present && r.Serial == "" {
						ready = false
						break
					}
				}
				c.mu.Unlock()
				if ready {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			h.pushAllAirCards()
			if cl := h.clusterOf(); cl != nil {
				cl.AirServicesChanged()
			}
		}()
	default:
		go h.pushAirCards(c)
	}
}

// airDisconnected tells the workstations when the AirCard service left.
func (h *Hub) airDisconnected(c *agentConn) {
	if c.role == lanyard.RoleAirCardService {
		go func() {
			h.pushAllAirCards()
			if cl := h.clusterOf(); cl != nil {
				cl.AirServicesChanged()
			}
		}()
	}
}

// airServices returns the connected AirCard services, by workstation ID.
// There may be several (each hosting its own AirCards, from its own state
// directory): a card is reached at the one that reports its serial. The
// server registers a serial once (service.makeVirtual), so two services
// report the same one only while a new card that drew it is removed
// again; meanwhile the fixed order at least makes every lookup choose
// the same service.
func (h *Hub) airServices() []*agentConn {
	out := h.liveAirServices()
	slices.SortFunc(out, func(a, b *agentConn) int { return cmp.Compare(a.id, b.id) })
	return out
}

func (h *Hub) liveAirServices() []*agentConn {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []*agentConn
	for _, c := range h.conns {
		if c.role != lanyard.RoleAirCardService {
			continue
		}
		select {
		case <-c.pc.Done():
		default:
			out = append(out, c)
		}
	}
	return out
}

// airService returns the connected AirCard service holding the AirCard
// with serial, and its reader.
func (h *Hub) airService(serial string) (*agentConn, string, bool) {
	return lookupAirCard(h.airServices(), serial)
}

// lookupAirCard finds the AirCard with serial among services.
func lookupAirCard(services []*agentConn, serial string) (*agentConn, string, bool) {
	for _, c := range services {
		c.mu.Lock()
		reader, ok := c.serials[serial]
		c.mu.Unlock()
		if ok {
			return c, reader, true
		}
	}
	return nil, "", false
}

// AirCardServices returns the state of every connected AirCard service
// with, of its readers, only those holding the AirCards with these
// serials: a copy of the few a user's page shows, not of every AirCard.
// ReaderCount still tells how many each hosts.
func (h *Hub) AirCardServices(serials []string) []lanyard.WorkstationState {
	services := h.airServices()
	out := make([]lanyard.WorkstationState, 0, len(services))
	for _, svc := range services {
		svc.mu.Lock()
		out = append(out, svc.stateWithLocked(func(yield func(lanyard.Reader) bool) {
			for _, serial := range serials {
				if name, ok := svc.serials[serial]; ok && !yield(svc.readers[name]) {
					return
				}
			}
		}))
		svc.mu.Unlock()
	}
	return out
}

// reachableAirCards keeps of list the AirCards a connected AirCard
// service hosts, here or at another replica of the cluster, and reports
// whether the services holding the workstation's AirCards are reachable:
// with several services, one may be down while the others serve their
// cards.
func (h *Hub) reachableAirCards(ctx context.Context, list []agentproto.AirCard) ([]agentproto.AirCard, bool) {
	services := h.airServices()
	missing := missingAirCards(services, list)
	var remote *airElsewhere
	if needElsewhere(services, list, missing) {
		remote = h.airCardsElsewhere(ctx, missing)
	}
	return reachable(services, list, missing, remote)
}

// airElsewhere is what the AirCard services on other replicas host, of
// the serials asked.
type airElsewhere struct {
	hosted   map[string]bool
	services int
}

func (h *Hub) airCardsElsewhere(ctx context.Context, serials []string) *airElsewhere {
	cl := h.clusterOf()
	if cl == nil {
		return nil
	}
	hosted, n := cl.AirCardsElsewhere(ctx, serials)
	return &airElsewhere{hosted: hosted, services: n}
}

// missingAirCards are the serials of list no service here hosts.
func missingAirCards(services []*agentConn, list []agentproto.AirCard) []string {
	var missing []string
	for _, a := range list {
		if _, _, ok := lookupAirCard(services, a.Serial); !ok {
			missing = append(missing, a.Serial)
		}
	}
	return missing
}

// needElsewhere reports whether the other replicas' services matter to a
// workstation with list: some AirCard is not here, or it has none and
// whether any service is online depends on them.
func needElsewhere(services []*agentConn, list []agentproto.AirCard, missing []string) bool {
	return len(missing) > 0 || len(list) == 0 && len(services) == 0
}

func reachable(services []*agentConn, list []agentproto.AirCard, missing []string, remote *airElsewhere) ([]agentproto.AirCard, bool) {
	if remote == nil {
		remote = &airElsewhere{}
	}
	out := make([]agentproto.AirCard, 0, len(list))
	for _, a := range list {
		if !slices.Contains(missing, a.Serial) || remote.hosted[a.Serial] {
			out = append(out, a)
		}
	}
	if len(list) == 0 {
		return out, len(services)+remote.services > 0
	}
	return out, len(out) > 0
}

// AirCardsChanged sends the workstations their AirCard lists again and
// ends their sessions on AirCards no longer on them.
func (h *Hub) AirCardsChanged(workstationIDs ...int64) {
	for _, id := range workstationIDs {
		if c := h.live(id); c != nil && c.role == lanyard.RoleWorkstation {
			go h.pushAirCards(c)
		}
	}
}

// pushAllAirCards sends every workstation connected here its AirCard
// list. What the other replicas' services host is asked once for all of
// them (one directory read and one call per replica), not once per
// workstation.
func (h *Hub) pushAllAirCards() {
	h.mu.Lock()
	conns := make([]*agentConn, 0, len(h.conns))
	for _, c := range h.conns {
		if c.role == lanyard.RoleWorkstation {
			conns = append(conns, c)
		}
	}
	h.mu.Unlock()
	if len(conns) == 0 {
		return
	}
	services := h.airServices()
	lists := make([][]agentproto.AirCard, len(conns))
	missing := make([][]string, len(conns))
	var all []string
	need := false
	for i, c := range conns {
		ctx, cancel := context.WithTimeout(context.Background(), airTimeout)
		allowed, err := h.ws.AirCardsFor(ctx, c.id)
		cancel()
		if err != nil {
			h.log.Warn("listing a workstation's AirCards failed", "workstation", c.id, "err", err)
			conns[i] = nil
			continue
		}
		lists[i] = wireAirCards(allowed)
		missing[i] = missingAirCards(services, lists[i])
		all = append(all, missing[i]...)
		need = need || needElsewhere(services, lists[i], missing[i])
	}
	var remote *airElsewhere
	if need {
		ctx, cancel := context.WithTimeout(context.Background(), airTimeout)
		defer cancel()
		slices.Sort(all)
		all = slices.Compact(all)
		// In batches, so that a peer call stays far below its bound
		// (cluster's maxPeerRequest) with many thousand AirCards.
		for batch := range slices.Chunk(all, airBatch) {
			r := h.airCardsElsewhere(ctx, batch)
			if r == nil {
				break
			}
			if remote == nil {
				remote = &airElsewhere{hosted: map[string]bool{}}
			}
			maps.Copy(remote.hosted, r.hosted)
			remote.services = max(remote.services, r.services)
		}
		if len(all) == 0 {
			remote = h.airCardsElsewhere(ctx, nil)
		}
	}
	for i, c := range conns {
		if c != nil {
			list, online := reachable(services, lists[i], missing[i], remote)
			h.sendAirCards(c, list, online)
		}
	}
}

// airBatch is the most AirCard serials asked of the other replicas in
// one call.
const airBatch = 10_000

// pushAirCards sends c its aircards message.
func (h *Hub) pushAirCards(c *agentConn) {
	ctx, cancel := context.WithTimeout(context.Background(), airTimeout)
	defer cancel()
	allowed, err := h.ws.AirCardsFor(ctx, c.id)
	if err != nil {
		h.log.Warn("listing a workstation's AirCards failed", "workstation", c.id, "err", err)
		return
	}
	list, online := h.reachableAirCards(ctx, wireAirCards(allowed))
	h.sendAirCards(c, list, online)
}

// sendAirCards sends c its reachable AirCards, and ends its sessions on
// AirCards no longer among them.
func (h *Hub) sendAirCards(c *agentConn, list []agentproto.AirCard, online bool) {
	var drop []*airSession
	c.mu.Lock()
	for id, a := range c.air {
		if !slices.ContainsFunc(list, func(x agentproto.AirCard) bool { return x.Serial == a.serial }) {
			drop = append(drop, a)
			delete(c.air, id)
		}
	}
	c.mu.Unlock()
	for _, a := range drop {
		a.sess.Close()
	}
	if err := c.pc.Send(&agentproto.Message{Type: agentproto.TypeAirCards, AirCards: list, ServiceOnline: online}); err != nil {
		h.log.Info("sending a workstation its AirCards failed", "workstation", c.id, "err", err)
	}
}

// airRequest serves one AirCard request of a workstation's bridge.
func (c *agentConn) airRequest(m *agentproto.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), airTimeout)
	defer cancel()
	reply := &agentproto.Message{Type: agentproto.TypeAirReply, ID: m.ID}
	switch m.Type {
	case agentproto.TypeAirOpen:
		id, err := c.airOpen(ctx, m.Serial)
		if err != nil {
			reply.Error = airError(err)
		} else {
			reply.Session = id
		}
	case agentproto.TypeAirTransmit:
		c.mu.Lock()
		a := c.air[m.Session]
		c.mu.Unlock()
		if a == nil {
			reply.Error = &agentproto.Error{Code: agentproto.ErrCodeNoSession, Message: "no such AirCard session"}
			break
		}
		resp, err := a.sess.Transmit(ctx, m.APDU)
		if err != nil {
			reply.Error = airError(err)
		} else {
			reply.APDU = resp
		}
	case agentproto.TypeAirClose:
		c.mu.Lock()
		a := c.air[m.Session]
		delete(c.air, m.Session)
		c.mu.Unlock()
		if a != nil {
			a.sess.Close()
		}
	}
	if err := c.pc.Send(reply); err != nil {
		c.pc.Close()
	}
}

// airOpen checks that the workstation may use the AirCard and opens a
// session on it at the AirCard service.
func (c *agentConn) airOpen(ctx context.Context, serial string) (uint64, error) {
	if err := c.hub.ws.AirCardAllowed(ctx, c.id, serial); err != nil {
		c.hub.log.Warn("a workstation was refused an AirCard", "workstation", c.id, "serial", serial, "err", err)
		return 0, err
	}
	var s lanyard.CardSession
	if svc, reader, ok := c.hub.airService(serial); ok {
		sess, err := c.hub.Open(ctx, svc.id, reader)
		if err != nil {
			return 0, err
		}
		s = sess
	} else if cl := c.hub.clusterOf(); cl != nil {
		// The AirCard's service is connected to another replica: the
		// session is relayed over the peer link to it.
		sess, err := cl.OpenAirCard(ctx, c.id, serial)
		if err != nil {
			return 0, err
		}
		s = sess
	} else {
		return 0, lanyard.Errorf(lanyard.EUnavailable, "the AirCard service holding AirCard %s is not connected", serial)
	}
	c.mu.Lock()
	c.airNext++
	id := c.airNext
	c.air[id] = &airSession{serial: serial, sess: s}
	c.mu.Unlock()
	return id, nil
}

// airError is err as the agent's bridge gets it.
func airError(err error) *agentproto.Error {
	code := agentproto.ErrCodeFailed
	switch lanyard.ErrorCode(err) {
	case lanyard.EForbidden:
		code = agentproto.ErrCodeForbidden
	case lanyard.EUnavailable:
		code = agentproto.ErrCodeUnavailable
	}
	msg := lanyard.ErrorMessage(err)
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	return &agentproto.Error{Code: code, Message: msg}
}
