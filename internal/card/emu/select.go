package emu

import (
	"bytes"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// selectApp is SELECT (SP 800-73-4 Part 2, 3.1.1): P1 04 selects by AID,
// which may be the full PIV AID or any right-truncation of it down to the
// RID A0 00 00 03 08. P2 00 asks for the application property template; 0C
// (ISO/IEC 7816-4, 7.1.1: no response data) is accepted too.
//
// Selecting the PIV application again resets its security status, as it
// does on YubiKeys. Any other AID is not on the card: 6A82, and the current
// selection stays (ISO/IEC 7816-4, 7.1.1).
func (c *Card) selectApp(cmd apdu.Command) apdu.Response {
	if cmd.P1 != 0x04 {
		// Selection by file identifier or path: the card has no files.
		if cmd.P1 <= 0x09 {
			return status(apdu.SWNotFound)
		}
		return status(apdu.SWIncorrectP1P2)
	}
	if cmd.P2 != 0x00 && cmd.P2 != 0x0C {
		return status(apdu.SWIncorrectP1P2)
	}
	aid := cmd.Data
	if full := pivspec.AID(); len(aid) < len(pivspec.RID()) || len(aid) > len(full) || !bytes.HasPrefix(full, aid) {
		if len(aid) == 0 || len(aid) > 16 {
			return status(apdu.SWIncorrectData)
		}
		return status(apdu.SWNotFound)
	}
	c.resetSession(session{selected: true})
	if cmd.P2 == 0x0C {
		return success(nil)
	}
	return success(applicationPropertyTemplate())
}

// applicationPropertyTemplate is the response to SELECT (SP 800-73-4 Part
// 2, 3.1.1 table 3): the PIX of the application, the coexistent tag
// allocation authority (the RID), the application label and the
// cryptographic algorithms supported. OpenSC checks the 61 template and
// its 4F before it accepts the card as PIV.
func applicationPropertyTemplate() []byte {
	var algs []byte
	for _, a := range append(append([]Algorithm(nil), symmetric...), asymmetric...) {
		algs = apdu.AppendTLV(algs, pivspec.TagAlgorithm, []byte{byte(a)})
	}
	algs = apdu.AppendTLV(algs, 0x06, []byte{0x00})
	inner := apdu.AppendTLVs(nil,
		apdu.TLV{Tag: pivspec.TagAID, Value: pivspec.PIX()},
		apdu.TLV{Tag: pivspec.TagAuthority, Value: apdu.AppendTLV(nil, pivspec.TagAID, pivspec.RID())},
		apdu.TLV{Tag: pivspec.TagLabel, Value: []byte("Lanyard PIV")},
		apdu.TLV{Tag: pivspec.TagAlgorithms, Value: algs},
	)
	return apdu.AppendTLV(nil, pivspec.TagApplication, inner)
}
