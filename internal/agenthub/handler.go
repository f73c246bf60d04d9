package agenthub

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lanyard-cms/lanyard/internal/agentproto"
	"github.com/lanyard-cms/lanyard/internal/auth"
	"github.com/lanyard-cms/lanyard/internal/lanyard"
	"github.com/lanyard-cms/lanyard/internal/web/problem"
)

// maxPairBody bounds a pairing request (a P-256 CSR is under 1 KiB).
const maxPairBody = 16 << 10

// Handler serves the agent listener: pairing (no client certificate) and
// the connection of paired agents (client certificate required). Serve it
// over TLS with the configuration from TLSConfig.
func (h *Hub) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+agentproto.PathPair, h.pair)
	mux.HandleFunc("GET "+agentproto.PathPair+"/{id}", h.pairStatus)
	mux.HandleFunc("GET "+agentproto.PathConnect, h.connect)
	mux.HandleFunc("POST "+agentproto.PathAirCardJoin, h.airCardJoin)
	mux.HandleFunc("GET "+agentproto.PathUnblock, h.unblockQuestions)
	mux.HandleFunc("POST "+agentproto.PathUnblock, h.unblock)
	mux.HandleFunc("GET "+agentproto.PathPUKEscrow, h.pukEscrowKey)
	mux.HandleFunc("POST "+agentproto.PathPUKEscrow, h.pukEscrow)
	mux.HandleFunc("GET "+agentproto.PathPINRules, h.pinRules)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, lanyard.Errorf(lanyard.ENotFound, "no agent endpoint %s %s", r.Method, r.URL.Path))
	})
	return mux
}

func (h *Hub) pair(w http.ResponseWriter, r *http.Request) {
	// Keyed by the client's network (an IPv6 /64, auth.ClientNet), so
	// one client cannot get fresh counters — or rows in a shared
	// throttle — from every address of its prefix.
	key := "pair:" + auth.ClientNet(remoteHost(r))
	// Every request counts, confirmed or not, on every replica at once
	// when the throttle is shared (auth.Throttles).
	ok, wait, err := h.pairLimit.Count(r.Context(), key)
	if err != nil {
		writeProblem(w, err)
		return
	}
	if !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		writeProblem(w, lanyard.Errorf(lanyard.ERateLimited, "too many pairing requests from this address; try again in %s", wait.Round(time.Second)))
		return
	}
	var in agentproto.PairRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, maxPairBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeProblem(w, lanyard.Errorf(lanyard.EInvalid, "malformed pairing request: %v", err))
		return
	}
	ws, err := h.ws.StartPairing(r.Context(), remoteHost(r), pairingRequestOf(in))
	if err != nil {
		writeProblem(w, err)
		return
	}
	h.log.Info("pairing requested", "workstation", ws.ID, "hostname", in.Hostname, "remote", remoteHost(r))
	writeJSON(w, http.StatusCreated, wirePairResponse(ws))
}

// pairPollInterval is how often a waiting pairing poll reads the status
// again, for a confirmation whose change notice was lost.
const pairPollInterval = 5 * time.Second

// pairStatus answers the agent's long poll: it waits up to
// agentproto.PollWait for the pairing to leave "pending".
func (h *Hub) pairStatus(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeProblem(w, lanyard.Errorf(lanyard.EInvalid, "workstation id must be a positive integer"))
		return
	}
	unix, err1 := strconv.ParseInt(r.Header.Get(agentproto.ProofTimeHeader), 10, 64)
	proof, err2 := base64.StdEncoding.DecodeString(r.Header.Get(agentproto.ProofHeader))
	if err1 != nil || err2 != nil || len(proof) == 0 {
		writeProblem(w, lanyard.Errorf(lanyard.EUnauthenticated, "the %s and %s headers are required", agentproto.ProofHeader, agentproto.ProofTimeHeader))
		return
	}
	// Woken at once by a confirmation on any replica (its change
	// notice); the slower poll is the backstop for a lost notice.
	settled, release := h.ws.PairingSettled(id)
	defer release()
	deadline := time.Now().Add(agentproto.PollWait)
	for {
		st, err := h.ws.PairingStatus(r.Context(), id, time.Unix(unix, 0), proof)
		if err != nil {
			writeProblem(w, err)
			return
		}
		if st.State != lanyard.PairingPending || time.Now().After(deadline) {
			writeJSON(w, http.StatusOK, wirePairStatus(st))
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-settled:
			settled = nil // the next status is final
		case <-time.After(min(pairPollInterval, time.Until(deadline)+time.Millisecond)):
		}
	}
}

// connect upgrades a paired agent's request to the framed protocol.
func (h *Hub) connect(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		writeProblem(w, lanyard.Errorf(lanyard.EUnauthenticated, "a workstation client certificate is required; pair the agent first"))
		return
	}
	// The TLS layer verified the chain to the machine CA's root for client
	// authentication; the serial must belong to an active workstation
	// (certificates the CA issued to people never do).
	serial := r.TLS.PeerCertificates[0].SerialNumber.Text(16)
	ws, err := h.ws.AgentConnected(r.Context(), serial)
	if err != nil {
		writeProblem(w, err)
		return
	}
	if !headerHas(r.Header, "Connection", "upgrade") || !headerHas(r.Header, "Upgrade", agentproto.UpgradeToken) {
		w.Header().Set("Upgrade", agentproto.UpgradeToken)
		w.Header().Set("Connection", "Upgrade")
		writeProblemStatus(w, http.StatusUpgradeRequired, lanyard.Errorf(lanyard.EInvalid, "upgrade to %s", agentproto.UpgradeToken))
		return
	}
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		writeProblem(w, lanyard.Wrap(lanyard.EInternal, err, "cannot take over the connection"))
		return
	}
	nc.SetDeadline(time.Time{}) // the heartbeat watchdog takes over
	brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: " + agentproto.UpgradeToken + "\r\nConnection: Upgrade\r\n" +
		agentproto.ServerFeaturesHeader + ": " + agentproto.ServerFeaturePINStatus + "\r\n\r\n")
	if err := brw.Flush(); err != nil {
		nc.Close()
		return
	}
	// The connection leaves net/http here: its goroutine, request and
	// 4 KiB buffers are freed when this handler returns, and the agent's
	// connection lives on in one goroutine of its own, reading through
	// TLS's buffer (an AirCard deployment holds thousands; issue 7).
	var rd io.Reader
	if n := brw.Reader.Buffered(); n > 0 { // the agent's first frames, sent without waiting for 101
		ahead, _ := brw.Reader.Peek(n)
		rd = io.MultiReader(bytes.NewReader(bytes.Clone(ahead)), nc)
	}
	pc := agentproto.NewConn(nc, rd, h.heartbeat)
	go newAgentConn(h, ws, pc).serve(context.Background())
}

// airCardJoin adds the workstation presenting its client certificate to
// the allowed computers of the AirCard its connection code names
// (lanyard agent aircard add CODE).
func (h *Hub) airCardJoin(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		writeProblem(w, lanyard.Errorf(lanyard.EUnauthenticated, "a workstation client certificate is required; pair the agent first"))
		return
	}
	ws, err := h.ws.AgentConnected(r.Context(), r.TLS.PeerCertificates[0].SerialNumber.Text(16))
	if err != nil {
		writeProblem(w, err)
		return
	}
	var in agentproto.AirCardJoin
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeProblem(w, lanyard.Errorf(lanyard.EInvalid, "the request body must be {\"code\": \"XXXXX-XXXXX\"}"))
		return
	}
	card, err := h.ws.JoinAirCard(r.Context(), ws.ID, remoteHost(r), in.Code)
	if err != nil {
		writeProblem(w, err)
		return
	}
	writeJSON(w, http.StatusOK, wireAirCardJoined(card))
}

func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(part), token) {
				return true
			}
		}
	}
	return false
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// writeProblem answers err as problem+json, with the API's code→status
// table (internal/web/problem).
func writeProblem(w http.ResponseWriter, err error) { problem.Write(w, problem.For(err, "")) }

// writeProblemStatus answers err with a status of its own (426).
func writeProblemStatus(w http.ResponseWriter, status int, err error) {
	p := problem.For(err, "")
	p.Status, p.Title = status, http.StatusText(status)
	problem.Write(w, p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
