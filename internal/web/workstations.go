package web

import (
	"context"
	"errors"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/service/workstations"
)

func (s *Server) workstationRoutes(v1 string) []*route {
	return []*route{
		{method: "POST", path: v1 + "/workstations/pair", summary: "Confirm the pairing code a workstation's agent shows (issues its certificate)", tag: "workstations",
			roles: anyone, in: apiv1.PairConfirm{}, out: &apiv1.WorkstationView{}, status: 201, h: s.pairWorkstation},
		{method: "GET", path: v1 + "/workstations", summary: "List workstations (users see their own)", tag: "workstations", roles: anyone, out: []*apiv1.WorkstationView{}, status: 200,
			query: []param{{"owner", "string", "owner login"}, {"status", "string", "pending, active or revoked"}, {"limit", "integer", "at most this many (max 1000)"}, {"offset", "integer", "skip this many"}},
			h:     s.listWorkstations},
		{method: "GET", path: v1 + "/workstations/{id}", summary: "Get a workstation with its live state (online, readers, cards)", tag: "workstations", roles: anyone, out: &apiv1.WorkstationView{}, status: 200,
			h: func(c *call) (any, error) {
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				w, err := s.workstations.GetWorkstation(c.r.Context(), c.p, id)
				if err != nil {
					return nil, err
				}
				return s.workstationView(c.r.Context(), w, true), nil
			}},
		{method: "DELETE", path: v1 + "/workstations/{id}", summary: "Revoke a workstation: its certificate is revoked and its agent disconnected", tag: "workstations", roles: anyone, status: 204,
			h: func(c *call) (any, error) {
				id, err := c.pathInt("id")
				if err != nil {
					return nil, err
				}
				if _, err := s.workstations.RevokeWorkstation(c.r.Context(), c.p, id); err != nil {
					return nil, err
				}
				if s.agents != nil {
					s.agents.Disconnect(id)
				}
				return nil, nil
			}},
	}
}

// pairWorkstation confirms a pairing code under the login throttle's
// rules, keyed by caller and by address, so that codes cannot be guessed
// quickly (a code has 50 bits and lives 15 minutes; this is a second
// line).
func (s *Server) pairWorkstation(c *call) (any, error) {
	var in apiv1.PairConfirm
	if err := c.decode(&in); err != nil {
		return nil, err
	}
	keys := []string{"pair:" + c.p.User.Login, "pair-ip:" + s.clientAddr(c.r)}
	// Reserved before the code is looked up, so that parallel guesses on
	// every replica cannot all slip past a lock (auth.Throttle.Begin).
	att, err := s.throttle.Begin(c.r.Context(), keys...)
	var te *auth.ThrottledError
	if errors.As(err, &te) {
		c.w.Header().Set("Retry-After", retryAfter(te.Wait))
		return nil, lanyard.Errorf(lanyard.ERateLimited, "too many wrong pairing codes; try again in %s", max(te.Wait, time.Second).Round(time.Second))
	}
	if err != nil {
		return nil, err
	}
	defer att.Release()
	w, err := s.workstations.ConfirmPairing(c.r.Context(), c.p, workstations.PairConfirm(in))
	if err != nil {
		if lanyard.IsCode(err, lanyard.ENotFound) {
			att.Fail()
		}
		return nil, err
	}
	return s.workstationView(c.r.Context(), w, true), nil
}

func (s *Server) listWorkstations(c *call) (any, error) {
	q := c.r.URL.Query()
	limit, offset, err := c.page()
	if err != nil {
		return nil, err
	}
	f := lanyard.WorkstationFilter{Status: lanyard.WorkstationStatus(q.Get("status")), Limit: limit, Offset: offset}
	if login := q.Get("owner"); login != "" {
		u, err := s.identity.GetUser(c.r.Context(), c.p, login)
		if err != nil {
			return nil, err
		}
		f.OwnerID = u.ID
	}
	ws, err := s.workstations.ListWorkstations(c.r.Context(), c.p, f)
	if err != nil {
		return nil, err
	}
	out := make([]*apiv1.WorkstationView, len(ws))
	remote := s.remoteStates(c.r.Context(), ws)
	for i, w := range ws {
		out[i] = s.workstationViewWith(c.r.Context(), w, w.Role != lanyard.RoleAirCardService, remote)
	}
	return out, nil
}

// remoteStates are the live states of those of ws whose agents are
// connected to other replicas of the cluster, fetched from them at once.
func (s *Server) remoteStates(ctx context.Context, ws []*lanyard.Workstation) map[int64]lanyard.WorkstationState {
	if s.cluster == nil {
		return nil
	}
	var ids []int64
	for _, w := range ws {
		if s.agents == nil || !s.agents.Connected(w.ID) {
			ids = append(ids, w.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return s.cluster.States(ctx, ids)
}

// workstationView is w with its owner and live state; with readers false,
// the readers are only counted.
func (s *Server) workstationView(ctx context.Context, w *lanyard.Workstation, readers bool) *apiv1.WorkstationView {
	return s.workstationViewWith(ctx, w, readers, s.remoteStates(ctx, []*lanyard.Workstation{w}))
}

// workstationViewWith is workstationView with the states of workstations
// connected to other replicas.
func (s *Server) workstationViewWith(ctx context.Context, w *lanyard.Workstation, readers bool, remote map[int64]lanyard.WorkstationState) *apiv1.WorkstationView {
	v := &apiv1.WorkstationView{Workstation: w, Readers: []lanyard.Reader{}}
	if w.OwnerID != 0 {
		if logins, err := s.identity.UserLogins(ctx, []int64{w.OwnerID}); err == nil {
			v.Owner = logins[w.OwnerID]
		}
	}
	if s.agents != nil {
		state := s.agents.State
		if !readers {
			state = s.agents.Summary
		}
		if st, ok := state(w.ID); ok {
			v.Online, v.ReaderCount = st.Online, st.ReaderCount
			if readers {
				v.Readers = st.Readers
			}
			if s.cluster != nil && st.Online {
				v.Replica = s.cluster.ID()
			}
		}
	}
	if st, ok := remote[w.ID]; ok && !v.Online {
		v.Online, v.ReaderCount, v.Replica = st.Online, st.ReaderCount, st.Replica
		if readers && st.Readers != nil {
			v.Readers = st.Readers
		}
	}
	return v
}
