package piv

import (
	"context"
	"fmt"

	"github.com/lanyard-cms/lanyard/internal/card/apdu"
	"github.com/lanyard-cms/lanyard/internal/card/pivspec"
)

// MaxObjectSize caps what WriteObject sends: the largest data object of SP
// 800-73-4 Part 1 table 3 (the facial image, 12,710 bytes) with room for
// vendor objects.
const MaxObjectSize = 16 << 10

// ReadObject returns the contents of data object id (GET DATA, SP 800-73-4
// Part 2 3.1.2): the value inside its outer tag, 53 for most objects, 7E
// for the Discovery Object and 7F61 for the BIT Group Template. An empty
// object is ErrNotFound, as is one the card does not hold (6A82).
func (c *Card) ReadObject(ctx context.Context, id uint32) ([]byte, error) {
	op := fmt.Sprintf("GET DATA %X", id)
	tag, err := objectTag(id)
	if err != nil {
		return nil, fmt.Errorf("piv: %s: %w", op, err)
	}
	cmd := apdu.Command{INS: pivspec.InsGetData, P1: 0x3F, P2: 0xFF, Data: apdu.AppendTLV(nil, pivspec.TagObjectID, objectIDBytes(id)), Le: apdu.MaxShortLe}
	data, err := c.do(ctx, op, cmd)
	if err != nil {
		return nil, err
	}
	v, err := apdu.Unwrap(data, tag)
	if err != nil {
		return nil, fmt.Errorf("piv: %s: %w", op, err)
	}
	if len(v) == 0 {
		return nil, fmt.Errorf("%w: %s: the object is empty", ErrNotFound, op)
	}
	return v, nil
}

// WriteObject replaces data object id with contents (PUT DATA, SP 800-73-4
// Part 2 3.3.1); contents is the value inside the outer tag, as ReadObject
// returns it. Empty contents delete the object on cards that support it.
// Most objects are writable only after management key authentication.
func (a *Admin) WriteObject(ctx context.Context, id uint32, contents []byte) error {
	op := fmt.Sprintf("PUT DATA %X", id)
	tag, err := objectTag(id)
	if err != nil {
		return fmt.Errorf("piv: %s: %w", op, err)
	}
	if len(contents) > MaxObjectSize {
		return fmt.Errorf("piv: %s: %d bytes is more than the %d an object may hold", op, len(contents), MaxObjectSize)
	}
	// 3.3.1: the Discovery Object and the BIT Group Template are sent as
	// their own TLV; every other object as a tag list 5C and a 53.
	var data []byte
	if tag == pivspec.TagData {
		data = apdu.AppendTLV(data, pivspec.TagObjectID, objectIDBytes(id))
	}
	data = apdu.AppendTLV(data, tag, contents)
	_, err = a.do(ctx, op, apdu.Command{INS: pivspec.InsPutData, P1: 0x3F, P2: 0xFF, Data: data})
	return err
}

// objectTag returns the outer tag of object id's value, or an error for
// IDs that are no BER-TLV tag.
func objectTag(id uint32) (uint32, error) {
	switch id {
	case pivspec.ObjectDiscovery, pivspec.ObjectBITGroup:
		return id, nil
	}
	if !apdu.ValidTag(id) {
		return 0, fmt.Errorf("%X is not a data object identifier", id)
	}
	return pivspec.TagData, nil
}

// objectIDBytes encodes id in its 1 to 3 bytes.
func objectIDBytes(id uint32) []byte {
	switch {
	case id > 0xFFFF:
		return []byte{byte(id >> 16), byte(id >> 8), byte(id)}
	case id > 0xFF:
		return []byte{byte(id >> 8), byte(id)}
	}
	return []byte{byte(id)}
}
