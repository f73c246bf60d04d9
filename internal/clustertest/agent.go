package clustertest

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/lanyard-cms/lanyard/internal/apiv1"
	"github.com/lanyard-cms/lanyard/internal/client"
)

// Agent is a `lanyard agent` (workstation) or `lanyard aircard serve`
// (AirCard service) process.
type Agent struct {
	*Proc
	Dir    string // its state directory
	Server string // the agent listener it was paired with
	WS     int64  // its workstation ID
}

// AgentOptions shape a workstation agent.
type AgentOptions struct {
	// TPM is --tpm (default none).
	TPM string
	// VPCD are the --vpcd slots for virtual cards and AirCards.
	VPCD []string
	// SoftwareStores lets the agent write software stores (the user
	// store under HOME, a temporary directory); default off.
	SoftwareStores bool
	// Args are more flags.
	Args []string
}

var rePairing = regexp.MustCompile(`Pairing code: ([A-Z2-7]{5}-[A-Z2-7]{5})`)

// PairAgent starts a workstation agent against server (a replica's
// AgentURL or one of HAProxy's), confirms its pairing code as the
// administrator through via with owner as the workstation's owner, and
// returns once the confirmation is done (see WaitWorkstation for when it
// is online).
func (c *Cluster) PairAgent(via *Replica, server, owner string, o AgentOptions) *Agent {
	c.tb.Helper()
	dir := filepath.Join(c.tb.TempDir(), "agent")
	args := []string{"agent", "--server", server, "--state", dir, "--tpm", cmpOr(o.TPM, "none"), "--pin-check", "0", "--log-level", "debug"}
	for _, v := range o.VPCD {
		args = append(args, "--vpcd", v)
	}
	if !o.SoftwareStores {
		args = append(args, "--no-software-store")
	} else {
		args = append(args, "--store-dir", filepath.Join(c.tb.TempDir(), "machine-store"))
	}
	args = append(args, o.Args...)
	home := c.tb.TempDir()
	a := &Agent{Dir: dir, Server: server}
	a.Proc = startProc(c.tb, "agent "+owner, c.Bin, []string{"HOME=" + home}, args...)
	a.WS = c.confirm(via, a.Proc, owner, "")
	return a
}

// StartAirCardService starts `lanyard aircard serve` named name against
// server and pairs it as an AirCard service through via.
func (c *Cluster) StartAirCardService(via *Replica, server, name string) *Agent {
	c.tb.Helper()
	dir := filepath.Join(c.tb.TempDir(), "aircard")
	a := &Agent{Dir: dir, Server: server}
	a.Proc = startProc(c.tb, "aircard service "+name, c.Bin, nil, "aircard", "serve", "--server", server, "--state", dir, "--name", name, "--log-level", "debug")
	a.WS = c.confirm(via, a.Proc, "", "aircard_service")
	return a
}

// confirm reads the pairing code p prints and confirms it through via.
func (c *Cluster) confirm(via *Replica, p *Proc, owner, role string) int64 {
	c.tb.Helper()
	code := p.WaitLine(rePairing, 30*time.Second)[1]
	var w apiv1.WorkstationView
	if _, err := via.Admin().Post(context.Background(), "/api/v1/workstations/pair", apiv1.PairConfirm{Code: code, Owner: owner}, &w); err != nil {
		c.tb.Fatalf("confirming %s's pairing code %s through replica %s: %v\n%s", p.Name, code, Name(via.Index), err, c.Describe())
	}
	if role != "" && string(w.Role) != role {
		c.tb.Fatalf("%s paired as %q, want %q", p.Name, w.Role, role)
	}
	return w.ID
}

// Workstation reads workstation ws through api (any replica's client).
func Workstation(api *client.Client, ws int64) (*apiv1.WorkstationView, error) {
	var w apiv1.WorkstationView
	err := api.Get(context.Background(), "/api/v1/workstations/"+strconv.FormatInt(ws, 10), &w)
	return &w, err
}

// WaitWorkstation polls workstation ws through replica via until ok
// holds, and fails the test after d with what, the last view and the
// cluster's addresses.
func (c *Cluster) WaitWorkstation(via *Replica, ws int64, what string, d time.Duration, ok func(*apiv1.WorkstationView) bool) *apiv1.WorkstationView {
	c.tb.Helper()
	w, err := c.PollWorkstation(via, ws, d, ok)
	if err != nil {
		c.tb.Fatalf("workstation %d through replica %s: not %s within %s: %v\n%s", ws, Name(via.Index), what, d, err, c.Describe())
	}
	return w
}

// PollWorkstation is WaitWorkstation returning the failure.
func (c *Cluster) PollWorkstation(via *Replica, ws int64, d time.Duration, ok func(*apiv1.WorkstationView) bool) (*apiv1.WorkstationView, error) {
	deadline := time.Now().Add(d)
	api := via.Admin()
	for {
		w, err := Workstation(api, ws)
		if err == nil && ok(w) {
			return w, nil
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = fmt.Errorf("last seen online=%v readers=%+v", w.Online, w.Readers)
			}
			return w, err
		}
		time.Sleep(25 * time.Millisecond)
	}
}
