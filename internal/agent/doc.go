// Package agent is the workstation agent (lanyard agent): it pairs the
// workstation with a Lanyard server, then holds one outbound connection
// to the server's agent listener over which it reports the readers and
// cards it sees and relays APDUs to cards for server-side card drivers.
// It never holds card admin keys and never interprets the APDUs it
// relays (docs/architecture.md, "Principles": the server alone holds
// card admin keys).
//
// The agent's code path links neither the store nor the CA: it imports
// only agentproto, the card packages (pcsc, piv, apdu, emu) and the
// standard library.
//
// # State
//
// The state directory (mode 0700) holds key.pem, the agent's P-256
// private key (0600, made on first start), and state.json once paired:
// the server URL, the workstation ID, the client certificate and its
// chain, and the pinned root CA. The workstation's identity is the key:
// it survives restarts, and deleting the directory means pairing again.
// agent.sock is the status socket of a running agent.
package agent
