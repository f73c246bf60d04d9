// Package aircard hosts AirCards (issue 7): virtual PIV cards that live on
// a server and that authorized workstations use over the agent protocol,
// while the server issues them through the same relay.
//
// A [Host] keeps a directory of cards. Each card is the PIV emulator
// (internal/card/emu) with the software key store, so its private keys are
// part of its state; that state is sealed in one file per card with
// AES-256-GCM under a random data key of the card's own, and the data key
// is wrapped by a key-encryption key ([KEK]): a key file, or an AES-256 key
// that never leaves a PKCS#11 HSM. A Host is an agent.Readers: each hosted
// card is a reader named [ReaderName] of its serial, and every connection
// to it is a new emu.Session with its own volatile security state, so the
// server and several workstations can use one card at the same time.
package aircard
