// Package agenttpm gives the workstation agent its TPM (agent.TPM): the
// requirements check the agent reports to the server, and the key store
// (internal/card/tpmkeys) of the TPM virtual smart cards and platform
// credentials it hosts. A TPM that cannot be opened or cannot hold RSA
// 2048 keys is reported with the reason, and the agent runs on without
// the TPM card kinds.
package agenttpm

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/card/emu"
	"github.com/lanyard-cms/lanyard/internal/card/tpmkeys"
	"github.com/lanyard-cms/lanyard/internal/tpm"
)

// TPM is the agent's TPM. The zero value is not usable; use Open.
type TPM struct {
	spec string
	log  *slog.Logger

	mu     sync.Mutex
	t      *tpm.TPM
	status agentproto.TPMStatus
	store  *tpmkeys.Store
}

// Open opens the TPM named by spec (see tpm.Open: "auto", "device:PATH",
// "swtpm:SOCKET", "simulator:SEEDFILE") and checks it. "none" gives a TPM
// that reports it was turned off. Open never fails: what went wrong is
// the status's reason.
func Open(spec string, log *slog.Logger) *TPM {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &TPM{spec: spec, log: log}
	if spec == "none" {
		a.status = agentproto.TPMStatus{Reason: "the agent was started with --tpm none"}
		return a
	}
	t, err := tpm.Open(spec)
	if err != nil {
		a.status = agentproto.TPMStatus{Reason: reason(err)}
		log.Info("no usable TPM; TPM virtual smart cards and platform credentials are unavailable here", "err", err)
		return a
	}
	info, err := t.Info()
	if err == nil {
		err = info.Usable()
	}
	if err != nil {
		t.Close()
		a.status = agentproto.TPMStatus{Reason: reason(err), Manufacturer: info.Manufacturer, Kind: string(t.Kind())}
		log.Warn("the TPM cannot hold virtual smart cards", "err", err)
		return a
	}
	a.t = t
	a.status = agentproto.TPMStatus{Usable: true, Manufacturer: info.Manufacturer, Kind: string(t.Kind())}
	log.Info("TPM 2.0 ready for virtual smart cards", "tpm", t.Spec(), "manufacturer", info.Manufacturer, "firmware", info.Firmware)
	return a
}

// reason is an error as the user reads it in Self-Service.
func reason(err error) string {
	if errors.Is(err, tpm.ErrNoTPM) {
		return "no TPM 2.0 was found on this workstation (" + err.Error() + ")"
	}
	return err.Error()
}

// Status implements agent.TPM.
func (a *TPM) Status() agentproto.TPMStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.status
}

// KeyStore implements agent.TPM: one store (one storage root key loaded)
// for all of the agent's virtual cards.
func (a *TPM) KeyStore() (emu.KeyStore, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.t == nil {
		return nil, fmt.Errorf("agenttpm: %s", a.status.Reason)
	}
	if a.store == nil {
		s, err := tpmkeys.New(a.t)
		if err != nil {
			return nil, err
		}
		a.store = s
	}
	return a.store, nil
}

// Info returns the TPM's current description (dictionary-attack counter
// included), for agent status.
func (a *TPM) Info() (tpm.Info, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.t == nil {
		return tpm.Info{}, errors.New(a.status.Reason)
	}
	return a.t.Info()
}

// Close releases the key store and the TPM.
func (a *TPM) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var err error
	if a.store != nil {
		err = a.store.Close()
		a.store = nil
	}
	if a.t != nil {
		err = errors.Join(err, a.t.Close())
		a.t = nil
	}
	return err
}
