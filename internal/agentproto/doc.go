// Package agentproto is the wire format between the workstation agent
// (internal/agent) and the server's hub (internal/agenthub), and the
// pairing code both sides compute. It imports nothing of Lanyard's, so the
// agent links it without the server.
//
// # Framing
//
// After the HTTP/1.1 upgrade of GET /agent/v1/connect (Upgrade:
// lanyard-agent/1), each side sends frames: a 4-byte big-endian length,
// then that many bytes of one JSON [Message]. A frame longer than
// [MaxFrame] ends the connection, as does a message that does not decode
// strictly (unknown fields, unknown type, fields that do not belong to the
// type): a peer that speaks something else is not guessed at.
//
// # Messages
//
// Agent to server: hello (once, first), snapshot (every reader with its
// card, after hello and on every change), reply (to open, transmit and
// close, by request ID), ended (a session the agent ended itself, because
// the card left). Server to agent: open (exclusive connection to the card
// in a reader), transmit (one APDU in a session), close. Both: ping, sent
// every heartbeat interval; a side that hears nothing for three intervals
// drops the connection.
package agentproto
