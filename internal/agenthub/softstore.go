package agenthub

import (
	"context"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
)

// SoftwareKey asks the workstation's agent for a key pair of alg for a
// software store and returns its public key and handle; the private key
// stays on the workstation.
func (h *Hub) SoftwareKey(ctx context.Context, workstationID int64, alg string) (*agentproto.Key, error) {
	m, err := h.softRequest(ctx, workstationID, &agentproto.Message{Type: agentproto.TypeKeyGen, KeyGen: &agentproto.KeyGen{Algorithm: alg}})
	if err != nil {
		return nil, err
	}
	if m.Key == nil {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "the workstation's agent made no key pair")
	}
	return m.Key, nil
}

// SoftwareStore asks the workstation's agent to write a software store.
func (h *Hub) SoftwareStore(ctx context.Context, workstationID int64, req *agentproto.Store) (*agentproto.Stored, error) {
	m, err := h.softRequest(ctx, workstationID, &agentproto.Message{Type: agentproto.TypeStore, Store: req})
	if err != nil {
		return nil, err
	}
	if m.Stored == nil {
		return nil, lanyard.Errorf(lanyard.EUnavailable, "the workstation's agent did not say where it wrote the software store")
	}
	return m.Stored, nil
}

// softRequest sends a request that needs no session and returns the
// agent's reply, or its error.
func (h *Hub) softRequest(ctx context.Context, workstationID int64, m *agentproto.Message) (*agentproto.Message, error) {
	c := h.live(workstationID)
	if c == nil {
		return nil, ErrOffline
	}
	r, err := c.request(ctx, m)
	if err != nil {
		return nil, err
	}
	if r.Error != nil {
		if r.Error.Code == agentproto.ErrCodeFailed {
			return nil, lanyard.Errorf(lanyard.EUnavailable, "the workstation's agent could not make the software store: %s", r.Error.Message)
		}
		return nil, agentError(r.Error)
	}
	return r, nil
}

func (a cardAccess) SoftwareKey(ctx context.Context, workstationID int64, alg lanyard.KeyAlgorithm) (lanyard.SoftwareKey, error) {
	k, err := a.h.SoftwareKey(ctx, workstationID, string(alg))
	if err != nil {
		return lanyard.SoftwareKey{}, err
	}
	return lanyard.SoftwareKey{Handle: k.Handle, PublicKey: k.PublicKey}, nil
}

func (a cardAccess) SoftwareStore(ctx context.Context, workstationID int64, req lanyard.SoftwareStoreRequest) (lanyard.SoftwareStored, error) {
	st, err := a.h.SoftwareStore(ctx, workstationID, &agentproto.Store{Handle: req.Handle, Chain: req.Chain, Password: req.Password,
		Scope: req.Scope, Account: req.Account, Name: req.Name})
	if err != nil {
		return lanyard.SoftwareStored{}, err
	}
	return lanyard.SoftwareStored{Path: st.Path, NSS: st.NSS, NSSNote: st.NSSNote}, nil
}
