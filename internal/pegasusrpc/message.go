package pegasusrpc

import "fmt"

// MessageType is the thrift message type in a message header.
type MessageType byte

const (
	MessageCall      MessageType = 1
	MessageReply     MessageType = 2
	MessageException MessageType = 3
	MessageOneway    MessageType = 4
)

// MessageHeader is the thrift message begin: RPC name, type and sequence
// id. Requests carry the RPC name (RPC_RRDB_RRDB_PUT); responses carry the
// ack name (RPC_RRDB_RRDB_PUT_ACK) and echo the request's SeqID, which is
// how clients match out-of-order responses on a pipelined connection.
// Message end writes no bytes in the binary protocol.
type MessageHeader struct {
	Name  string
	Type  MessageType
	SeqID int32
}

// strictVersion1 marks a strict message begin: the high 16 bits of the
// first i32 are 0x8001 and its low byte is the message type.
const (
	strictVersion1    = 0x80010000
	strictVersionMask = 0xffff0000
)

// AppendMessageBegin appends h in the strict encoding, which is what the
// official clients and the C++ server write:
// i32 0x8001_00tt | string name | i32 seqid.
func AppendMessageBegin(b []byte, h MessageHeader) []byte {
	b = appendI32(b, int32(uint32(strictVersion1)|uint32(h.Type)))
	b = appendString(b, h.Name)
	return appendI32(b, h.SeqID)
}

// DecodeMessageBegin decodes a message begin at the start of b and returns
// it with the number of bytes it occupied.
func DecodeMessageBegin(b []byte) (MessageHeader, int, error) {
	d := decoder{buf: b}
	name, typ, seqID := d.readMessageBegin()
	if d.err != nil {
		return MessageHeader{}, 0, d.err
	}
	return MessageHeader{Name: string(name), Type: typ, SeqID: seqID}, d.off, nil
}

// readMessageBegin reads a strict or non-strict message begin. It returns
// the name as a slice of the input so that a caller can look the RPC up
// without allocating.
//
// Non-strict (old-style) headers start directly with the name length:
// string name | byte type | i32 seqid. The official clients never send
// them, but thrift readers accept both and so do we; a negative first word
// can only be a strict header, which removes any ambiguity.
func (d *decoder) readMessageBegin() (name []byte, typ MessageType, seqID int32) {
	first := d.i32()
	if d.err != nil {
		return nil, 0, 0
	}
	if first < 0 {
		if uint32(first)&strictVersionMask != strictVersion1 {
			d.fail(fmt.Errorf("%w: bad message version %#08x", ErrMalformed, uint32(first)))
			return nil, 0, 0
		}
		typ = MessageType(first & 0xff)
		name = d.binary()
	} else {
		name = d.take(int(first))
		typ = MessageType(d.byte())
	}
	seqID = d.i32()
	if d.err != nil {
		return nil, 0, 0
	}
	if typ < MessageCall || typ > MessageOneway {
		d.fail(fmt.Errorf("%w: bad message type %d", ErrMalformed, typ))
		return nil, 0, 0
	}
	return name, typ, seqID
}

// Every RPC body wraps its single argument in an "args" struct with field
// id 1 and its single result in a "result" struct with field id 0
// ("success"). Both are ordinary thrift structs terminated by STOP.
const (
	argsFieldID   int16 = 1
	resultFieldID int16 = 0
)

// appendWrapped appends the one-field struct {id: v} + STOP.
func appendWrapped(b []byte, id int16, v Value) []byte {
	b = appendFieldHeader(b, v.wireType(), id)
	b = v.appendValue(b)
	return appendStop(b)
}

// readWrapped decodes the one-field struct written by appendWrapped into v.
// Fields with other ids or types are skipped, and a missing field leaves v
// at its zero value (what generated readers do with missing fields); a
// repeated field is skipped. found reports whether the field was present.
func (d *decoder) readWrapped(id int16, v Value) (found bool) {
	want := field(id, v.wireType())
	for d.nextField() {
		if d.field() == want && !found {
			v.readValue(d)
			found = true
			continue
		}
		d.skipField()
	}
	return found && d.err == nil
}
