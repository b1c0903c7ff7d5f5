package pegasusrpc

import (
	"encoding/binary"
	"fmt"
	"unsafe"
)

// This file implements the thrift binary protocol primitives the codec is
// built on. They are hand-written over byte slices instead of going through
// thrift.TProtocol for three reasons:
//
//   - bounds: every length or count is checked against the bytes that
//     remain before anything is allocated, so a hostile length field costs
//     an error, never a large make();
//   - no copies: blobs are returned as sub-slices of the input;
//   - no interface calls or contexts on the hot path.
//
// The encoding itself is the standard one (all integers big-endian), and the
// tests cross-check it against apache/thrift's TBinaryProtocol, the library
// the official Go and Java clients use.

// thriftType is the one-byte type id that prefixes fields and container
// elements in the binary protocol.
type thriftType byte

const (
	typeStop   thriftType = 0
	typeVoid   thriftType = 1
	typeBool   thriftType = 2
	typeByte   thriftType = 3
	typeDouble thriftType = 4
	typeI16    thriftType = 6
	typeI32    thriftType = 8
	typeI64    thriftType = 10
	typeString thriftType = 11
	typeStruct thriftType = 12
	typeMap    thriftType = 13
	typeSet    thriftType = 14
	typeList   thriftType = 15
	typeUUID   thriftType = 16
)

// The rDSN special types (blob, error_code, gpid, rpc_address, host_port) are
// declared as empty structs in dsn.thrift and carry a custom payload, but
// their field headers and list element types still say STRUCT. The generated
// readers of the official clients skip a field whose type is not STRUCT, so
// we must emit exactly this type id for them.
const typeSpecial = typeStruct

// maxSkipDepth bounds the nesting of unknown values we are willing to skip.
// Known fields are at most four levels deep; 64 is what generated thrift
// code allows and keeps a hostile body from exhausting the stack.
const maxSkipDepth = 64

// minEncodedSize is the smallest number of bytes one value of type t can
// occupy on the wire. Container counts are checked against it so that the
// number of loop iterations, and the memory reserved for elements, is
// bounded by the input size. Zero means t is not a valid value type
// (STOP, VOID, unknown ids): a container of those could loop forever
// without consuming input, so such containers are rejected.
func minEncodedSize(t thriftType) int {
	switch t {
	case typeBool, typeByte:
		return 1
	case typeI16:
		return 2
	case typeI32:
		return 4
	case typeDouble, typeI64:
		return 8
	case typeString:
		return 4 // i32 length
	case typeStruct:
		return 1 // STOP
	case typeMap:
		return 6 // key type, value type, i32 count
	case typeSet, typeList:
		return 5 // element type, i32 count
	case typeUUID:
		return 16
	default:
		return 0
	}
}

// maxExpansion bounds the memory a decode may reserve for list elements,
// as a multiple of the input size. Counting elements against the input
// (checkCount) is not enough on its own: an empty struct is one byte on
// the wire but a KeyValue is 56 bytes in memory, so a body of empty
// structs would expand 56-fold. Legitimate encodings expand at most about
// 7x (a key_value whose value field was omitted: 8 bytes in, 56 out), so
// 16x leaves a margin and still rejects the degenerate cases.
const maxExpansion = 16

// fieldKey packs a field id and its wire type so that a struct decoder can
// switch on both at once: a field with a known id but an unexpected type
// falls to the default branch and is skipped, exactly like generated
// thrift readers do.
type fieldKey uint32

func field(id int16, t thriftType) fieldKey {
	return fieldKey(uint16(id))<<8 | fieldKey(t)
}

// decoder reads thrift binary values from an in-memory buffer. Errors are
// sticky: after the first failure every read returns a zero value and d.err
// keeps the first error, so struct decoders can be written as straight-line
// code and checked once at the end.
type decoder struct {
	buf []byte
	off int
	err error

	// depth counts nested containers/structs entered by skip.
	depth int

	// reserved is the memory reserved so far for decoded list elements,
	// checked against maxExpansion.
	reserved int

	// The header of the field most recently returned by nextField.
	fieldType thriftType
	fieldID   int16
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *decoder) remaining() int { return len(d.buf) - d.off }

// take returns the next n bytes (aliasing the input) and advances past
// them. The failure path is kept out of line.
func (d *decoder) take(n int) []byte {
	if d.err != nil || n > len(d.buf)-d.off {
		return d.short(n)
	}
	b := d.buf[d.off : d.off+n : d.off+n]
	d.off += n
	return b
}

// short records that n bytes were wanted but not available.
func (d *decoder) short(n int) []byte {
	if d.err == nil {
		d.err = fmt.Errorf("%w: need %d bytes at offset %d, have %d", ErrTruncated, n, d.off, d.remaining())
	}
	return nil
}

func (d *decoder) byte() byte {
	b := d.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

// bool accepts any non-zero byte as true, as the C++ server does.
func (d *decoder) bool() bool { return d.byte() != 0 }

func (d *decoder) i16() int16 {
	b := d.take(2)
	if b == nil {
		return 0
	}
	return int16(binary.BigEndian.Uint16(b))
}

func (d *decoder) i32() int32 {
	b := d.take(4)
	if b == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}

func (d *decoder) i64() int64 {
	b := d.take(8)
	if b == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

// length reads an i32 length or count and rejects negative values.
func (d *decoder) length() int {
	n := d.i32()
	if n < 0 {
		d.fail(fmt.Errorf("%w: negative length %d at offset %d", ErrMalformed, n, d.off-4))
		return 0
	}
	return int(n)
}

// binary reads a length-prefixed byte string. The result aliases the input
// buffer; an empty value is returned as nil so that decoded values compare
// equal regardless of how they were produced.
func (d *decoder) binary() []byte {
	n := d.length()
	b := d.take(n)
	if len(b) == 0 {
		return nil
	}
	return b
}

// string reads a length-prefixed string; unlike binary it copies.
func (d *decoder) string() string { return string(d.binary()) }

// nextField reads the next field header of the struct being decoded and
// reports whether there is a field to process: false at the STOP byte or
// after an error.
func (d *decoder) nextField() bool {
	t := thriftType(d.byte())
	if d.err != nil || t == typeStop {
		return false
	}
	d.fieldType = t
	d.fieldID = d.i16()
	return d.err == nil
}

// field returns the key of the field nextField just read.
func (d *decoder) field() fieldKey { return field(d.fieldID, d.fieldType) }

// skipField discards the value of the field nextField just read.
func (d *decoder) skipField() { d.skip(d.fieldType) }

// listHeader reads a list (or set) header and returns its element count.
// The count is rejected when the remaining input could not possibly hold
// that many elements, which bounds both the decode loop and the slice the
// caller allocates. An empty list is accepted with any element type because
// some encoders write a placeholder type for empty lists.
func (d *decoder) listHeader(elem thriftType) int {
	t := thriftType(d.byte())
	n := d.length()
	if d.err != nil || n == 0 {
		return 0
	}
	if t != elem {
		d.fail(fmt.Errorf("%w: list element type %d, want %d", ErrMalformed, t, elem))
		return 0
	}
	d.checkCount(n, minEncodedSize(elem))
	if d.err != nil {
		return 0
	}
	return n
}

// checkCount fails unless n elements of at least minSize bytes each fit in
// the remaining input.
func (d *decoder) checkCount(n, minSize int) {
	if minSize == 0 {
		d.fail(fmt.Errorf("%w: container of invalid element type", ErrMalformed))
		return
	}
	if n > d.remaining()/minSize {
		d.fail(fmt.Errorf("%w: %d elements of at least %d bytes, %d bytes left",
			ErrTruncated, n, minSize, d.remaining()))
	}
}

// skip discards one value of type t, recursing into containers and structs.
// It is how unknown fields are ignored, which keeps the codec compatible
// with newer clients that add optional fields.
func (d *decoder) skip(t thriftType) {
	if d.err != nil {
		return
	}
	switch t {
	case typeBool, typeByte, typeI16, typeI32, typeI64, typeDouble, typeUUID:
		d.take(minEncodedSize(t))
	case typeString:
		d.take(d.length())
	case typeStruct:
		if !d.enter() {
			return
		}
		for d.nextField() {
			d.skip(d.fieldType)
		}
		d.depth--
	case typeMap:
		kt, vt := thriftType(d.byte()), thriftType(d.byte())
		n := d.length()
		if n == 0 || d.err != nil {
			return
		}
		km, vm := minEncodedSize(kt), minEncodedSize(vt)
		if km == 0 || vm == 0 {
			d.fail(fmt.Errorf("%w: map of invalid types %d/%d", ErrMalformed, kt, vt))
			return
		}
		d.checkCount(n, km+vm)
		if !d.enter() {
			return
		}
		for i := 0; i < n && d.err == nil; i++ {
			d.skip(kt)
			d.skip(vt)
		}
		d.depth--
	case typeSet, typeList:
		et := thriftType(d.byte())
		n := d.length()
		if n == 0 || d.err != nil {
			return
		}
		d.checkCount(n, minEncodedSize(et))
		if !d.enter() {
			return
		}
		for i := 0; i < n && d.err == nil; i++ {
			d.skip(et)
		}
		d.depth--
	default:
		d.fail(fmt.Errorf("%w: unknown type id %d at offset %d", ErrMalformed, t, d.off))
	}
}

func (d *decoder) enter() bool {
	if d.err != nil {
		return false
	}
	if d.depth >= maxSkipDepth {
		d.fail(fmt.Errorf("%w: nesting deeper than %d", ErrMalformed, maxSkipDepth))
		return false
	}
	d.depth++
	return true
}

// reserve accounts for a slice of n elements of elemSize bytes and fails
// once the decode as a whole would exceed maxExpansion times its input.
func (d *decoder) reserve(n, elemSize int) bool {
	d.reserved += n * elemSize // n <= len(d.buf) after checkCount: no overflow
	if d.reserved > maxExpansion*len(d.buf) {
		d.fail(fmt.Errorf("%w: %d list elements would expand %d input bytes more than %dx",
			ErrMalformed, n, len(d.buf), maxExpansion))
		return false
	}
	return true
}

// readList decodes a list whose elements are read by readElem. The count
// has been bounded by the input size before the slice is made.
func readList[T any](d *decoder, elem thriftType, readElem func(*decoder) T) []T {
	n := d.listHeader(elem)
	var zero T
	if n == 0 || !d.reserve(n, int(unsafe.Sizeof(zero))) {
		return nil
	}
	out := make([]T, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		out = append(out, readElem(d))
	}
	if d.err != nil {
		return nil
	}
	return out
}

// valuePtr lets generic helpers call Value methods on *T for a struct type T.
type valuePtr[T any] interface {
	*T
	Value
}

// readStructList decodes a list of structs. Elements are decoded in place
// in the result slice: decoding into a local and copying it out would make
// the local escape and cost one allocation per element.
func readStructList[T any, P valuePtr[T]](d *decoder) []T {
	n := d.listHeader(typeStruct)
	var zero T
	if n == 0 || !d.reserve(n, int(unsafe.Sizeof(zero))) {
		return nil
	}
	out := make([]T, n)
	for i := 0; i < n && d.err == nil; i++ {
		P(&out[i]).readValue(d)
	}
	if d.err != nil {
		return nil
	}
	return out
}

// Encoding. All writers append to b and return the extended slice, so a
// whole frame is built in one buffer with no intermediate copies.

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func appendI16(b []byte, v int16) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }
func appendI32(b []byte, v int32) []byte { return binary.BigEndian.AppendUint32(b, uint32(v)) }
func appendI64(b []byte, v int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(v)) }

func appendBinary(b []byte, v []byte) []byte {
	b = appendI32(b, int32(len(v)))
	return append(b, v...)
}

func appendString(b []byte, v string) []byte {
	b = appendI32(b, int32(len(v)))
	return append(b, v...)
}

func appendFieldHeader(b []byte, t thriftType, id int16) []byte {
	return appendI16(append(b, byte(t)), id)
}

func appendStop(b []byte) []byte { return append(b, byte(typeStop)) }

func appendBoolField(b []byte, id int16, v bool) []byte {
	return appendBool(appendFieldHeader(b, typeBool, id), v)
}

func appendI32Field(b []byte, id int16, v int32) []byte {
	return appendI32(appendFieldHeader(b, typeI32, id), v)
}

func appendI64Field(b []byte, id int16, v int64) []byte {
	return appendI64(appendFieldHeader(b, typeI64, id), v)
}

func appendStringField(b []byte, id int16, v string) []byte {
	return appendString(appendFieldHeader(b, typeString, id), v)
}

// appendBlobField writes a dsn.blob field: STRUCT header, binary payload.
func appendBlobField(b []byte, id int16, v []byte) []byte {
	return appendBinary(appendFieldHeader(b, typeSpecial, id), v)
}

// appendListHeader writes a list field header and the list header. A nil
// list is written as an empty one: the C++ server writes every
// non-optional field, and the clients expect them all.
func appendListHeader(b []byte, id int16, elem thriftType, n int) []byte {
	b = appendFieldHeader(b, typeList, id)
	return appendI32(append(b, byte(elem)), int32(n))
}

// appendListField writes a list field whose elements are written by
// appendElem.
func appendListField[T any](b []byte, id int16, elem thriftType, list []T, appendElem func([]byte, T) []byte) []byte {
	b = appendListHeader(b, id, elem, len(list))
	for _, v := range list {
		b = appendElem(b, v)
	}
	return b
}

// appendStructListField writes a list of structs, encoding each element in
// place (no copies, no allocations).
func appendStructListField[T any, P valuePtr[T]](b []byte, id int16, list []T) []byte {
	b = appendListHeader(b, id, typeStruct, len(list))
	for i := range list {
		b = P(&list[i]).appendValue(b)
	}
	return b
}
