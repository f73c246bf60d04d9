package auth

import "net/netip"

// ClientNet is the network a client address is throttled as: an IPv4
// address itself, an IPv6 address its /64. One IPv6 client usually holds
// a whole /64 (RFC 4291 section 2.5.1 interface identifiers; RFC 8981
// temporary addresses change within it), so per-address keys would give
// it 2^64 fresh counters — and, with the throttle in the database, as
// many rows. An address that does not parse is its own key.
func ClientNet(remote string) string {
	addr, err := netip.ParseAddr(remote)
	if err != nil {
		return remote
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is4() {
		return addr.String()
	}
	return netip.PrefixFrom(addr, 64).Masked().String()
}
