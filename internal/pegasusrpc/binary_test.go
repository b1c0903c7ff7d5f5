package pegasusrpc

import (
	"bytes"
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/apache/thrift/lib/go/thrift"
)

// thriftWriter wraps apache/thrift's TBinaryProtocol (strict, as the
// official clients configure it) for writing test input the way generated
// client code does.
type thriftWriter struct {
	t     *testing.T
	buf   *thrift.TMemoryBuffer
	proto *thrift.TBinaryProtocol
}

func newThriftWriter(t *testing.T) *thriftWriter {
	buf := thrift.NewTMemoryBuffer()
	return &thriftWriter{t: t, buf: buf, proto: thrift.NewTBinaryProtocolConf(buf, nil)}
}

// do runs one protocol call and fails the test on error.
func (w *thriftWriter) do(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *thriftWriter) field(name string, typ thrift.TType, id int16) {
	w.do(w.proto.WriteFieldBegin(context.Background(), name, typ, id))
}

func (w *thriftWriter) bytes() []byte { return append([]byte(nil), w.buf.Bytes()...) }

// TestSkipsUnknownFieldsWrittenByThrift writes an update_response with
// unknown fields of every thrift type interleaved with the known ones, as a
// newer peer might, plus a known id with the wrong type. The decoder must
// skip all of them and still read every known field.
func TestSkipsUnknownFieldsWrittenByThrift(t *testing.T) {
	ctx := context.Background()
	w := newThriftWriter(t)
	p := w.proto
	w.do(p.WriteStructBegin(ctx, "update_response"))

	w.field("error", thrift.I32, 1)
	w.do(p.WriteI32(ctx, int32(StatusBusy)))

	w.field("f_double", thrift.DOUBLE, 20)
	w.do(p.WriteDouble(ctx, 1.5))
	w.field("f_byte", thrift.BYTE, 21)
	w.do(p.WriteByte(ctx, -1))
	w.field("f_i16", thrift.I16, 22)
	w.do(p.WriteI16(ctx, 300))
	w.field("f_map", thrift.MAP, 23) // map<string, list<i32>>
	w.do(p.WriteMapBegin(ctx, thrift.STRING, thrift.LIST, 2))
	for _, k := range []string{"a", "bb"} {
		w.do(p.WriteString(ctx, k))
		w.do(p.WriteListBegin(ctx, thrift.I32, 2))
		w.do(p.WriteI32(ctx, 1))
		w.do(p.WriteI32(ctx, 2))
	}
	w.field("f_set", thrift.SET, 24)
	w.do(p.WriteSetBegin(ctx, thrift.I64, 1))
	w.do(p.WriteI64(ctx, 99))

	// A known id with an unexpected type is skipped, like generated code.
	w.field("app_id", thrift.STRING, 2)
	w.do(p.WriteString(ctx, "not an i32"))

	w.field("f_struct", thrift.STRUCT, 25) // struct { 1: struct { 1: string }, 2: bool }
	w.field("inner", thrift.STRUCT, 1)
	w.field("s", thrift.STRING, 1)
	w.do(p.WriteString(ctx, "deep"))
	w.do(p.WriteFieldStop(ctx))
	w.field("b", thrift.BOOL, 2)
	w.do(p.WriteBool(ctx, true))
	w.do(p.WriteFieldStop(ctx))
	w.field("f_uuid", thrift.UUID, 26)
	w.do(p.WriteUUID(ctx, thrift.Tuuid{1, 2, 3}))
	w.field("f_empty_list", thrift.LIST, 27)
	w.do(p.WriteListBegin(ctx, thrift.STRUCT, 0))

	w.field("partition_index", thrift.I32, 3)
	w.do(p.WriteI32(ctx, 4))
	w.field("decree", thrift.I64, 4)
	w.do(p.WriteI64(ctx, 1<<40))
	w.field("server", thrift.STRING, 5)
	w.do(p.WriteString(ctx, "host:1"))
	w.field("f_binary", thrift.STRING, 28)
	w.do(p.WriteBinary(ctx, []byte{0, 1, 2}))
	w.do(p.WriteFieldStop(ctx))

	wire := w.bytes()
	var got UpdateResponse
	d := decoder{buf: wire}
	got.readValue(&d)
	if d.err != nil {
		t.Fatal(d.err)
	}
	if d.off != len(wire) {
		t.Errorf("consumed %d of %d bytes", d.off, len(wire))
	}
	want := UpdateResponse{Error: StatusBusy, PartitionIndex: 4, Decree: 1 << 40, Server: "host:1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// TestEncodingMatchesThriftWriter writes a multi_put_request field by
// field with apache/thrift, as the Go client's generated code and its
// base.Blob do (blob = STRUCT header + WriteBinary), and compares with our
// encoder byte for byte.
func TestEncodingMatchesThriftWriter(t *testing.T) {
	ctx := context.Background()
	req := MultiPutRequest{
		HashKey: []byte("user:1"),
		Kvs: []KeyValue{
			{Key: []byte("name"), Value: []byte("ann")},
			{Key: []byte("age"), Value: []byte("33"), ExpireTsSeconds: Some(int32(-7))},
		},
		ExpireTsSeconds: 1 << 20,
	}
	w := newThriftWriter(t)
	p := w.proto
	w.do(p.WriteStructBegin(ctx, "multi_put_request"))
	w.field("hash_key", thrift.STRUCT, 1)
	w.do(p.WriteBinary(ctx, req.HashKey))
	w.field("kvs", thrift.LIST, 2)
	w.do(p.WriteListBegin(ctx, thrift.STRUCT, len(req.Kvs)))
	for _, kv := range req.Kvs {
		w.field("key", thrift.STRUCT, 1)
		w.do(p.WriteBinary(ctx, kv.Key))
		w.field("value", thrift.STRUCT, 2)
		w.do(p.WriteBinary(ctx, kv.Value))
		if kv.ExpireTsSeconds.Set {
			w.field("expire_ts_seconds", thrift.I32, 3)
			w.do(p.WriteI32(ctx, kv.ExpireTsSeconds.Value))
		}
		w.do(p.WriteFieldStop(ctx))
	}
	w.field("expire_ts_seconds", thrift.I32, 3)
	w.do(p.WriteI32(ctx, req.ExpireTsSeconds))
	w.do(p.WriteFieldStop(ctx))

	if got, want := req.appendValue(nil), w.bytes(); !bytes.Equal(got, want) {
		t.Errorf("encoding differs from apache/thrift:\n got % x\nwant % x", got, want)
	}
}

// decodeStruct runs a struct decoder over wire and returns its error.
func decodeStruct(v Value, wire []byte) error {
	d := decoder{buf: wire}
	v.readValue(&d)
	return d.err
}

func TestDecoderRejectsHostileInput(t *testing.T) {
	cases := []struct {
		name   string
		golden string
		want   error
	}{
		{"blob length beyond input", `0c 0001 7fffffff "abc"`, ErrTruncated},
		{"negative blob length", `0c 0001 ffffffff`, ErrMalformed},
		{"list count beyond input", `0f 0002 0c 40000000 00 00 00`, ErrTruncated},
		{"negative list count", `0f 0002 0c 80000000`, ErrMalformed},
		{"list element type mismatch", `0f 0002 08 00000001 00000001 00`, ErrMalformed},
		{"known field of wrong type is skipped, its bad length still counts", `0b 0001 00010000 00`, ErrTruncated},
		{"unknown field of unknown type", `63 0009 00`, ErrMalformed},
		// Zero-width element types would let a huge count loop forever
		// without consuming input.
		{"unknown list of STOP elements", `0f 0009 00 7fffffff 00`, ErrMalformed},
		{"unknown list of VOID elements", `0f 0009 01 7fffffff 00`, ErrMalformed},
		{"unknown map of invalid keys", `0d 0009 00 08 00000005 00`, ErrMalformed},
		{"unknown map count beyond input", `0d 0009 08 08 10000000 00000001 00000002 00`, ErrTruncated},
		{"unknown string beyond input", `0b 0009 00001000 "ab"`, ErrTruncated},
		{"missing STOP", `08 0001 00000000`, ErrTruncated},
		{"cut inside a field header", `08 00`, ErrTruncated},
	}
	for _, c := range cases {
		// multi_get_request: field 1 is a blob, field 2 a list<blob>.
		if err := decodeStruct(new(MultiGetRequest), unhex(t, c.golden)); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestEmptyListWithAnyElementType(t *testing.T) {
	// Some encoders write a placeholder element type for empty lists.
	var m MultiGetResponse
	if err := decodeStruct(&m, unhex(t, `0f 0002 08 00000000 00`)); err != nil || m.Kvs != nil {
		t.Errorf("kvs = %v, err = %v", m.Kvs, err)
	}
}

func TestSkipDepthLimit(t *testing.T) {
	// An unknown field made of nested structs: at the limit it is skipped,
	// one level deeper it is rejected.
	nested := func(depth int) []byte {
		var b []byte
		for range depth {
			b = appendFieldHeader(b, typeStruct, 1)
		}
		for range depth + 1 {
			b = appendStop(b)
		}
		return b
	}
	if err := decodeStruct(new(ScanRequest), nested(maxSkipDepth)); err != nil {
		t.Errorf("depth %d: %v", maxSkipDepth, err)
	}
	if err := decodeStruct(new(ScanRequest), nested(maxSkipDepth+1)); !errors.Is(err, ErrMalformed) {
		t.Errorf("depth %d: err = %v, want ErrMalformed", maxSkipDepth+1, err)
	}
	// Nested lists count as well.
	var b []byte
	b = appendFieldHeader(b, typeList, 9)
	for range maxSkipDepth + 1 {
		b = appendI32(append(b, byte(typeList)), 1)
	}
	b = appendI32(append(b, byte(typeI32)), 0)
	if err := decodeStruct(new(ScanRequest), appendStop(b)); !errors.Is(err, ErrMalformed) {
		t.Errorf("nested lists: err = %v, want ErrMalformed", err)
	}
}

// TestHostileCountsDoNotAllocate decodes lists whose counts claim far more
// elements than the input holds; the decoder must fail before reserving
// memory for them.
func TestHostileCountsDoNotAllocate(t *testing.T) {
	inputs := [][]byte{
		unhex(t, `0f 0002 0c 7fffffff 00 00 00 00`), // 2^31 key_values in 4 bytes
		unhex(t, `0f 0002 0c 00100000`+` 00`),       // a million key_values in 1 byte
	}
	for _, in := range inputs {
		allocated := bytesAllocated(func() {
			for range 100 {
				if err := decodeStruct(new(MultiGetResponse), in); err == nil {
					t.Fatal("accepted")
				}
			}
		})
		if allocated > 100*4096 {
			t.Errorf("% x: %d bytes allocated over 100 decodes", in, allocated)
		}
	}
}

func TestBoolAcceptsAnyNonZeroByte(t *testing.T) {
	// The C++ server reads a bool as byte != 0.
	var r GetScannerRequest
	if err := decodeStruct(&r, unhex(t, `02 0003 02 00`)); err != nil || !r.StartInclusive {
		t.Errorf("start_inclusive = %v, err = %v", r.StartInclusive, err)
	}
}

// TestExpansionBound decodes the densest legitimate lists (every element
// as small as a real client can make it) and a body of empty structs: the
// former must decode, the latter must be refused before it expands.
func TestExpansionBound(t *testing.T) {
	const n = 20000
	emptyKeys := make([][]byte, n)
	emptyKvs := make([]KeyValue, n)
	legit := []Value{
		&MultiRemoveRequest{HashKey: []byte("h"), SortKeys: emptyKeys},
		&MultiPutRequest{HashKey: []byte("h"), Kvs: emptyKvs},
		&BatchGetRequest{Keys: make([]FullKey, n)},
		&CheckAndMutateRequest{MutateList: make([]Mutate, n)},
		&QueryCfgResponse{Partitions: make([]PartitionConfiguration, n/10)},
	}
	for _, v := range legit {
		if err := decodeStruct(reflect.New(reflect.TypeOf(v).Elem()).Interface().(Value), v.appendValue(nil)); err != nil {
			t.Errorf("%T: %v", v, err)
		}
	}

	// key_value with the value field omitted, as an encoder that skips
	// nil fields writes it: still accepted.
	var b []byte
	b = appendListHeader(b, 2, typeStruct, n)
	for range n {
		b = appendStop(appendBlobField(b, 1, nil))
	}
	if err := decodeStruct(new(MultiPutRequest), appendStop(b)); err != nil {
		t.Errorf("key_values without value: %v", err)
	}

	// n empty key_value structs: one byte each on the wire.
	b = appendListHeader(nil, 2, typeStruct, n)
	b = appendStop(append(b, make([]byte, n)...))
	allocated := bytesAllocated(func() {
		if err := decodeStruct(new(MultiPutRequest), b); !errors.Is(err, ErrMalformed) {
			t.Errorf("empty structs: err = %v, want ErrMalformed", err)
		}
	})
	if allocated > uint64(len(b)) {
		t.Errorf("allocated %d bytes refusing a %d-byte body", allocated, len(b))
	}
}
