package pegasusrpc

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/apache/thrift/lib/go/thrift"
)

const strictGetBegin = `
	80010001                     // i32: 0x8001 version | type CALL
	00000011 "RPC_RRDB_RRDB_GET" // string name
	00000007                     // i32 seqid`

const nonStrictGetBegin = `
	00000011 "RPC_RRDB_RRDB_GET" // string name (first word >= 0)
	01                           // byte type CALL
	00000007                     // i32 seqid`

func TestMessageBeginGolden(t *testing.T) {
	want := MessageHeader{Name: "RPC_RRDB_RRDB_GET", Type: MessageCall, SeqID: 7}
	strict := unhex(t, strictGetBegin)
	if got := AppendMessageBegin(nil, want); !bytes.Equal(got, strict) {
		t.Errorf("encode: got % x, want % x", got, strict)
	}
	for _, golden := range []string{strictGetBegin, nonStrictGetBegin} {
		wire := unhex(t, golden)
		h, n, err := DecodeMessageBegin(wire)
		if err != nil || h != want || n != len(wire) {
			t.Errorf("decode % x = %+v, %d, %v", wire, h, n, err)
		}
	}
}

// TestMessageBeginInterop checks both encodings against apache/thrift,
// which the official clients use: our strict bytes equal a strict thrift
// writer's and parse with its reader; a non-strict thrift writer's bytes
// parse with ours.
func TestMessageBeginInterop(t *testing.T) {
	ctx := context.Background()
	for _, strict := range []bool{true, false} {
		buf := thrift.NewTMemoryBuffer()
		proto := thrift.NewTBinaryProtocolConf(buf, &thrift.TConfiguration{TBinaryStrictWrite: thrift.BoolPtr(strict)})
		if err := proto.WriteMessageBegin(ctx, "RPC_RRDB_RRDB_SCAN_ACK", thrift.REPLY, -3); err != nil {
			t.Fatal(err)
		}
		wire := append([]byte(nil), buf.Bytes()...)
		want := MessageHeader{Name: "RPC_RRDB_RRDB_SCAN_ACK", Type: MessageReply, SeqID: -3}
		if h, n, err := DecodeMessageBegin(wire); err != nil || h != want || n != len(wire) {
			t.Errorf("strict=%v: decoded %+v, %d, %v", strict, h, n, err)
		}
		if strict && !bytes.Equal(AppendMessageBegin(nil, want), wire) {
			t.Errorf("strict encoding differs from apache/thrift: % x", wire)
		}
	}

	ours := AppendMessageBegin(nil, MessageHeader{Name: "X", Type: MessageOneway, SeqID: 9})
	buf := thrift.NewTMemoryBuffer()
	buf.Write(ours)
	name, typ, seq, err := thrift.NewTBinaryProtocolConf(buf, &thrift.TConfiguration{TBinaryStrictRead: thrift.BoolPtr(true)}).ReadMessageBegin(ctx)
	if err != nil || name != "X" || typ != thrift.ONEWAY || seq != 9 {
		t.Errorf("apache/thrift read %q %v %d %v", name, typ, seq, err)
	}
}

func TestMessageBeginErrors(t *testing.T) {
	cases := []struct {
		name, golden string
		want         error
	}{
		{"bad version", `80020001 00000001 "X" 00000001`, ErrMalformed},
		{"type 0", `80010000 00000001 "X" 00000001`, ErrMalformed},
		{"type 5", `80010005 00000001 "X" 00000001`, ErrMalformed},
		{"non-strict type 9", `00000001 "X" 09 00000001`, ErrMalformed},
		{"negative name length", `80010001 ffffffff 00000001`, ErrMalformed},
		{"name longer than input", `80010001 00001000 "X" 00000001`, ErrTruncated},
		{"no seqid", `80010001 00000001 "X" 0000`, ErrTruncated},
		{"empty", ``, ErrTruncated},
	}
	for _, c := range cases {
		if _, _, err := DecodeMessageBegin(unhex(t, c.golden)); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
}
