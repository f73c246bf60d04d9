// Package vpcd attaches a virtual smart card to pcscd through the vsmartcard
// project's vpcd reader driver, so that every PC/SC client on the machine
// (OpenSC, yubico-piv-tool, piv-go, browsers) sees a card in a reader
// without any hardware.
//
// # Protocol
//
// The vpcd driver inside pcscd listens on TCP (listen mode, the only mode
// that works with Debian's build: reverse mode crashes pcscd) and the card
// dials in. Every message, both ways, is a 2-byte big-endian length and a
// payload. One-byte payloads from vpcd are control bytes: 0x00 power off,
// 0x01 power on, 0x02 reset (no reply) and 0x04 get ATR (reply: the ATR).
// Longer payloads are command APDUs; the card replies with exactly one
// response APDU. pcscd polls for presence by asking for the ATR about every
// 0.45 s, so a closed connection is a removed card within half a second,
// and a new connection is an inserted card at pcscd's next poll.
//
// [Attach] and [Start] serve a [Card] until their context ends, redialling
// with backoff when pcscd restarts or the connection breaks. A malformed
// message never panics: the connection is closed (the card is "removed")
// and dialled again.
//
// # Running the stack by hand
//
// As root on Debian 12, from the repository root:
//
//	scripts/card-deps.sh              # pcscd, vsmartcard-vpcd, opensc, ...
//	scripts/pcscd-test.sh             # prints 127.0.0.1:35970
//
// pcscd-test.sh starts pcscd with Lanyard's own reader configuration
// (/etc/lanyard/reader.conf.d/vpcd): readers "Lanyard vpcd 35970
// YubiKey-compatible PIV 00 00" (port 35970) and "Lanyard vpcd 35970
// YubiKey-compatible PIV 00 01" (port 35971). Attach a card
// to one of the ports (for example with `lanyard card emulate --vpcd
// 127.0.0.1:35970`) and check it with
//
//	opensc-tool --list-readers        # the reader shows Card: Yes
//	opensc-tool -r 0 -a               # prints the card's ATR
//
// A stock Debian pcscd (started by systemd) serves vpcd on its default port
// 35963 instead, reader "Virtual PCD 00 00"; it runs with --auto-exit and
// quits a minute after its last client even with a card attached, after
// which the card redials once a client starts pcscd again.
//
// Each vpcd port accepts one card at a time; a second card's connection
// waits in the kernel's backlog until the first leaves. vpcd waits for a
// card's every reply without a timeout while holding pcscd's lock on the
// driver, so a card process that is connected but not answering (stopped
// in a debugger, hung) stalls every PC/SC client on the machine; the
// session drops a card that takes longer than [WithCardTimeout]. Only one vpcd
// configuration entry may be loaded per pcscd (the driver's per-slot state
// is global), so one pcscd offers two virtual slots.
//
// # Security
//
// The vpcd driver listens on all interfaces (0.0.0.0), so anyone who can
// reach its port can insert a card into this machine and read the APDUs,
// PINs included, that clients send to it. On anything but a throwaway test
// machine, drop non-loopback traffic to the vpcd ports, for example
//
//	nft add rule inet filter input tcp dport 35970-35971 iif != lo drop
//
// For the same reason the card side only dials loopback addresses unless
// [WithRemote] is given.
package vpcd
