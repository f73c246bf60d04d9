package emu

import (
	"bytes"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// getData is GET DATA (SP 800-73-4 Part 2, 3.1.2): P1-P2 3FFF, data 5C
// with the object's tag. The object comes back in its 53 container (the
// Discovery object and the BIT group template as themselves); an absent
// object is 6A82, one whose read access rule needs the PIN is 6982 until
// the PIN is verified. Long objects leave in pieces through the
// CardFramer (61XX), whatever Le the client asked with.
func (c *Card) getData(cmd apdu.Command) apdu.Response {
	if cmd.P1 != 0x3F || cmd.P2 != 0xFF {
		return status(apdu.SWIncorrectP1P2)
	}
	tlvs, err := apdu.ParseTLVs(cmd.Data)
	if err != nil || len(tlvs) != 1 || tlvs[0].Tag != pivspec.TagObjectID {
		return status(apdu.SWIncorrectData)
	}
	tag, ok := tagValue(tlvs[0].Value)
	if !ok {
		return status(apdu.SWIncorrectData)
	}
	if !knownObject(tag) {
		return status(apdu.SWNotFound)
	}
	if readNeedsPIN(tag) && !c.sess.pinVerified {
		return status(apdu.SWSecurityStatusNotSatisfied)
	}
	v, ok := c.st.Objects[tag]
	if !ok {
		return status(apdu.SWNotFound)
	}
	if unwrapped(tag) {
		return success(bytes.Clone(v))
	}
	return success(apdu.AppendTLV(nil, pivspec.TagData, v))
}

// putData is PUT DATA (SP 800-73-4 Part 2, 3.3.1), which needs the
// management key: data 5C tag 53 value, or the Discovery object or BIT
// group template as themselves. An empty 53 deletes the object, as on
// YubiKeys. 6A84 for objects over MaxObjectSize.
func (c *Card) putData(cmd apdu.Command) apdu.Response {
	if cmd.P1 != 0x3F || cmd.P2 != 0xFF {
		return status(apdu.SWIncorrectP1P2)
	}
	if !c.sess.mgmAuthenticated {
		return status(apdu.SWSecurityStatusNotSatisfied)
	}
	tlvs, err := apdu.ParseTLVs(cmd.Data)
	if err != nil || len(tlvs) == 0 {
		return status(apdu.SWIncorrectData)
	}
	var tag uint32
	var value []byte
	switch first := tlvs[0]; {
	case len(tlvs) == 1 && unwrapped(first.Tag):
		tag, value = first.Tag, bytes.Clone(cmd.Data)
		if len(first.Value) == 0 {
			value = nil
		}
	case len(tlvs) == 2 && first.Tag == pivspec.TagObjectID && tlvs[1].Tag == pivspec.TagData:
		var ok bool
		if tag, ok = tagValue(first.Value); !ok || !knownObject(tag) || unwrapped(tag) {
			return status(apdu.SWIncorrectData)
		}
		value = bytes.Clone(tlvs[1].Value)
	default:
		return status(apdu.SWIncorrectData)
	}
	if len(value) > MaxObjectSize {
		return status(apdu.SWNotEnoughMemory)
	}
	if len(value) == 0 {
		if _, ok := c.st.Objects[tag]; !ok {
			return success(nil)
		}
		delete(c.st.Objects, tag)
	} else {
		c.st.Objects[tag] = value
	}
	if !c.commit() {
		return status(apdu.SWMemoryFailure)
	}
	return success(nil)
}

// tagValue decodes the value of a tag list (5C): one BER-TLV tag of one to
// three bytes.
func tagValue(b []byte) (uint32, bool) {
	if len(b) == 0 || len(b) > 3 {
		return 0, false
	}
	var tag uint32
	for _, x := range b {
		tag = tag<<8 | uint32(x)
	}
	return tag, apdu.ValidTag(tag)
}
