// Package pcsc is Lanyard's transport to smart cards through PC/SC (pcscd
// on Linux, via libpcsclite and github.com/ebfe/scard): it lists readers,
// watches cards being inserted and removed, and exchanges APDUs with a
// card, optionally inside an exclusive transaction so that no other
// application interleaves commands with a multi-step operation (PC/SC part
// 5, SCardBeginTransaction).
//
// A Card implements apdu.Transport, so the PIV client runs over it
// unchanged. The package needs cgo and libpcsclite-dev at build time and a
// running pcscd at run time; clients never start pcscd themselves.
package pcsc
