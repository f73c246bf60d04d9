package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
)

// Status is what a running agent reports on its status socket.
type Status struct {
	Server         string              `json:"server"`
	WorkstationID  int64               `json:"workstation_id,omitempty"`
	Paired         bool                `json:"paired"`
	PairingCode    string              `json:"pairing_code,omitempty"` // while waiting for confirmation
	Connected      bool                `json:"connected"`
	ConnectedSince time.Time           `json:"connected_since,omitzero"`
	Readers        []agentproto.Reader `json:"readers"`
	// CardStates are the states the server gave of the cards in the
	// readers (disabled and revoked ones cannot be used).
	CardStates []agentproto.CardState `json:"card_states,omitempty"`
	// TPM is the requirements check of the workstation's TPM.
	TPM *agentproto.TPMStatus `json:"tpm,omitempty"`
	// VirtualCards are the TPM virtual smart cards and platform
	// credentials this agent hosts.
	VirtualCards []VirtualCardStatus `json:"virtual_cards,omitempty"`
	// AirCard is the AirCard indicator (workstations with reader slots).
	AirCard *AirCardStatus `json:"aircard,omitempty"`
	// SoftStores are the software stores ("Registry") the agent can
	// write, with where their PKCS#12 files go.
	SoftStores []SoftStoreStatus `json:"soft_stores,omitempty"`
}

// SoftStoreStatus is one software store scope and its directory (the
// user store's relative to each user's home).
type SoftStoreStatus struct {
	Scope string `json:"scope"`
	Dir   string `json:"dir"`
}

func (a *Agent) setStatus(fn func(*Status)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	fn(&a.status)
}

func (a *Agent) currentStatus() Status {
	a.mu.Lock()
	st := a.status
	a.mu.Unlock()
	st.Readers = []agentproto.Reader{}
	if a.inv != nil {
		st.Readers, _ = a.inv.snapshot()
		st.CardStates = a.inv.cardStates(st.Readers)
	}
	if a.virtual != nil {
		st.TPM, st.VirtualCards = a.virtual.status(), a.virtual.list()
	}
	if a.air != nil {
		air := a.air.status()
		st.AirCard = &air
	}
	for _, scope := range a.soft.scopes() {
		dir := "~/" + UserStoreDir
		if scope == agentproto.StoreMachine {
			dir = a.soft.cfg.MachineDir
		}
		st.SoftStores = append(st.SoftStores, SoftStoreStatus{Scope: scope, Dir: dir})
	}
	return st
}

// serveStatus answers every connection to agent.sock in the state
// directory with the agent's Status as JSON. The socket is owner-only,
// like the directory.
func (a *Agent) serveStatus(ctx context.Context) (stop func(), err error) {
	path := filepath.Join(a.cfg.StateDir, socketFile)
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return nil, fmt.Errorf("agent: another agent is running with state directory %s", a.cfg.StateDir)
	}
	os.Remove(path) // left by an agent that did not exit cleanly
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("agent: status socket: %w", err)
	}
	os.Chmod(path, 0o600)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.SetDeadline(time.Now().Add(5 * time.Second))
			json.NewEncoder(c).Encode(a.currentStatus())
			c.Close()
		}
	}()
	stopCtx := context.AfterFunc(ctx, func() { ln.Close() })
	return func() { stopCtx(); ln.Close() }, nil
}

// ErrNotRunning is returned by QueryStatus when no agent answers.
var ErrNotRunning = errors.New("agent: no agent is running with this state directory")

// QueryStatus asks the agent running with state directory dir for its
// status.
func QueryStatus(dir string) (*Status, error) {
	c, err := net.DialTimeout("unix", filepath.Join(dir, socketFile), 2*time.Second)
	if err != nil {
		return nil, ErrNotRunning
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var st Status
	if err := json.NewDecoder(c).Decode(&st); err != nil {
		return nil, fmt.Errorf("agent: reading the status: %w", err)
	}
	return &st, nil
}

// DefaultStateDir is $XDG_CONFIG_HOME/lanyard-agent, or
// ~/.config/lanyard-agent.
func DefaultStateDir() string {
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "lanyard-agent")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "lanyard-agent"
	}
	return filepath.Join(home, ".config", "lanyard-agent")
}
