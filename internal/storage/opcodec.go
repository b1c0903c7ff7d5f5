package storage

import (
	"encoding/binary"
	"fmt"
	"math"
)

// The op list encoding is the payload of a replicated mutation, so it is
// read back by other replicas and by future versions of this code: it carries
// a version byte, and decoding trusts nothing.
//
//	list  = version(1 byte) count(uvarint) op*
//	op    = kind(1 byte) fields
//	bytes = length(uvarint) data
//	Put         = hash sort value ttl
//	Remove      = hash sort
//	MultiPut    = hash ttl count(uvarint) (sort value)*
//	MultiRemove = hash count(uvarint) sort*
//	Incr        = hash sort delta ttl
//	CheckAndSet = hash checkSort checkType(1 byte) operand setSort setValue ttl flags(1 byte)
//
// ttl and delta are zig-zag varints; flags bit 0 is ReturnCheckValue.

// opsFormatV1 is the only version of the op list encoding so far.
const opsFormatV1 = 1

// casFlagReturnCheckValue is the CheckAndSet flag for ReturnCheckValue.
const casFlagReturnCheckValue = 1 << 0

// EncodeOps encodes an op list for a mutation. It fails only with
// ErrUnknownOp; call ValidateOp first to refuse ops that are well typed but
// invalid.
func EncodeOps(ops []WriteOp) ([]byte, error) {
	return AppendOps(nil, ops)
}

// AppendOps is EncodeOps appending to dst.
func AppendOps(dst []byte, ops []WriteOp) ([]byte, error) {
	dst = append(dst, opsFormatV1)
	dst = binary.AppendUvarint(dst, uint64(len(ops)))
	for i, op := range ops {
		switch op := op.(type) {
		case Put:
			dst = append(dst, byte(OpPut))
			dst = appendBytes(dst, op.HashKey)
			dst = appendBytes(dst, op.SortKey)
			dst = appendBytes(dst, op.Value)
			dst = binary.AppendVarint(dst, int64(op.TTLSeconds))
		case Remove:
			dst = append(dst, byte(OpRemove))
			dst = appendBytes(dst, op.HashKey)
			dst = appendBytes(dst, op.SortKey)
		case MultiPut:
			dst = append(dst, byte(OpMultiPut))
			dst = appendBytes(dst, op.HashKey)
			dst = binary.AppendVarint(dst, int64(op.TTLSeconds))
			dst = binary.AppendUvarint(dst, uint64(len(op.KVs)))
			for _, kv := range op.KVs {
				dst = appendBytes(dst, kv.SortKey)
				dst = appendBytes(dst, kv.Value)
			}
		case MultiRemove:
			dst = append(dst, byte(OpMultiRemove))
			dst = appendBytes(dst, op.HashKey)
			dst = binary.AppendUvarint(dst, uint64(len(op.SortKeys)))
			for _, sk := range op.SortKeys {
				dst = appendBytes(dst, sk)
			}
		case Incr:
			dst = append(dst, byte(OpIncr))
			dst = appendBytes(dst, op.HashKey)
			dst = appendBytes(dst, op.SortKey)
			dst = binary.AppendVarint(dst, op.Delta)
			dst = binary.AppendVarint(dst, int64(op.TTLSeconds))
		case CheckAndSet:
			dst = append(dst, byte(OpCheckAndSet))
			dst = appendBytes(dst, op.HashKey)
			dst = appendBytes(dst, op.CheckSortKey)
			dst = append(dst, byte(op.CheckType))
			dst = appendBytes(dst, op.CheckOperand)
			dst = appendBytes(dst, op.SetSortKey)
			dst = appendBytes(dst, op.SetValue)
			dst = binary.AppendVarint(dst, int64(op.SetTTLSeconds))
			var flags byte
			if op.ReturnCheckValue {
				flags |= casFlagReturnCheckValue
			}
			dst = append(dst, flags)
		default:
			return nil, fmt.Errorf("%w: op %d is a %T", ErrUnknownOp, i, op)
		}
	}
	return dst, nil
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// DecodeOps decodes an op list written by EncodeOps. Byte slices in the
// result alias buf, which must stay unchanged while the ops are in use.
// Malformed input, whatever it is, yields an error wrapping ErrCorrupt.
func DecodeOps(buf []byte) ([]WriteOp, error) {
	d := opDecoder{buf: buf}
	if v := d.byte(); d.err == nil && v != opsFormatV1 {
		return nil, fmt.Errorf("%w: op list format version %d", ErrCorrupt, v)
	}
	n := d.count()
	ops := make([]WriteOp, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		ops = append(ops, d.op())
	}
	if d.err == nil && len(d.buf) != 0 {
		d.fail("%d trailing bytes", len(d.buf))
	}
	if d.err != nil {
		return nil, d.err
	}
	return ops, nil
}

// opDecoder reads the fields of an op list. The first failure sticks: later
// reads return zero values, so decoding code reads like the format and checks
// d.err once.
type opDecoder struct {
	buf []byte
	err error
}

func (d *opDecoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: op list: "+format, append([]any{ErrCorrupt}, args...)...)
	}
	d.buf = nil
}

func (d *opDecoder) op() WriteOp {
	switch kind := OpKind(d.byte()); kind {
	case OpPut:
		return Put{HashKey: d.bytes(), SortKey: d.bytes(), Value: d.bytes(), TTLSeconds: d.int32()}
	case OpRemove:
		return Remove{HashKey: d.bytes(), SortKey: d.bytes()}
	case OpMultiPut:
		op := MultiPut{HashKey: d.bytes(), TTLSeconds: d.int32()}
		n := d.count()
		op.KVs = make([]KV, 0, n)
		for i := 0; i < n && d.err == nil; i++ {
			op.KVs = append(op.KVs, KV{SortKey: d.bytes(), Value: d.bytes()})
		}
		return op
	case OpMultiRemove:
		op := MultiRemove{HashKey: d.bytes()}
		n := d.count()
		op.SortKeys = make([][]byte, 0, n)
		for i := 0; i < n && d.err == nil; i++ {
			op.SortKeys = append(op.SortKeys, d.bytes())
		}
		return op
	case OpIncr:
		return Incr{HashKey: d.bytes(), SortKey: d.bytes(), Delta: d.varint(), TTLSeconds: d.int32()}
	case OpCheckAndSet:
		op := CheckAndSet{
			HashKey:       d.bytes(),
			CheckSortKey:  d.bytes(),
			CheckType:     CheckType(d.byte()),
			CheckOperand:  d.bytes(),
			SetSortKey:    d.bytes(),
			SetValue:      d.bytes(),
			SetTTLSeconds: d.int32(),
		}
		flags := d.byte()
		if flags&^casFlagReturnCheckValue != 0 {
			d.fail("unknown check_and_set flags %#x", flags)
		}
		op.ReturnCheckValue = flags&casFlagReturnCheckValue != 0
		return op
	default:
		d.fail("unknown op kind %d", uint8(kind))
		return nil
	}
}

func (d *opDecoder) byte() byte {
	if len(d.buf) < 1 {
		d.fail("truncated")
		return 0
	}
	b := d.buf[0]
	d.buf = d.buf[1:]
	return b
}

func (d *opDecoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *opDecoder) varint() int64 {
	v, n := binary.Varint(d.buf)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *opDecoder) int32() int32 {
	v := d.varint()
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.fail("ttl %d out of int32 range", v)
		return 0
	}
	return int32(v)
}

// count reads an element count. Every element takes at least one byte, so a
// count above the remaining length is corrupt; checking it here keeps a forged
// count from sizing a huge allocation.
func (d *opDecoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.buf)) {
		d.fail("count %d exceeds the %d bytes left", n, len(d.buf))
		return 0
	}
	return int(n)
}

// bytes reads a length-prefixed field. An empty field decodes as nil, so that
// decoding is canonical.
func (d *opDecoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.buf)) {
		d.fail("field of %d bytes exceeds the %d bytes left", n, len(d.buf))
		return nil
	}
	if n == 0 {
		return nil
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b
}
