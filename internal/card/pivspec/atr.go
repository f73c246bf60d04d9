package pivspec

// ATRWithIssuerData returns the Answer To Reset of Lanyard's emulated
// cards with data (1 to 13 bytes) as the card issuer's data in the
// historical bytes (ISO/IEC 7816-3, 8): direct convention, TD1 announcing
// TD2, TD2 announcing T=1 (PC/SC clients connect with T=1 only), then the
// historical bytes 80 (COMPACT-TLV follows) and 5L data (card issuer's
// data, ISO/IEC 7816-4, 8.1.1.2.5; 15 historical bytes at most), then TCK.
// The emulator's own is "Lanyard"; the virtual card kinds each have their
// own ("LanyardTPM", "LanyardPC", ...), so that a card type's ATR pattern
// tells them apart from a plain emulated card. It panics on data of other
// lengths, which only a programming error passes.
func ATRWithIssuerData(data string) []byte {
	if len(data) < 1 || len(data) > 13 {
		panic("pivspec: issuer data must be 1 to 13 bytes")
	}
	// T0's low nibble counts the historical bytes: 80, 5L and the data.
	b := append([]byte{0x3B, 0x80 | byte(2+len(data)), 0x80, 0x01, 0x80, 0x50 | byte(len(data))}, data...)
	var tck byte
	for _, x := range b[1:] {
		tck ^= x
	}
	return append(b, tck)
}
