package pegasusrpc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"runtime"
	"testing"
)

// capturedQueryConfig is a request captured from the official Go client
// (OpenTable("temp") against a meta server, 2 s context): v0 header, then
// the strict message begin and the args struct.
const capturedQueryConfig = `
	"THFT"                   // magic
	00000000                 // hdr_version 0
	00000030                 // hdr_length 48
	00000000                 // hdr_crc32, unused
	0000004a                 // body_length 74
	00000000                 // body_crc32, unused
	00000000                 // app_id 0: meta call
	00000000                 // partition_index 0
	000007ce                 // client_timeout 1998 ms
	00000000                 // thread_hash 0*7919+0
	0000000000000000         // partition_hash 0
	80010001                 // strict message begin, CALL
	00000026 "RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX"
	00000001                 // seqid 1
	0c 0001                  // args field 1: STRUCT query_cfg_request
	   0b 0001 00000004 "temp"
	   0f 0002 08 00000000
	   00
	00                       // STOP of the args struct`

// v1GetRequest is a get as the Java client frames it: a 16-byte header,
// the thrift request_meta, then the body.
var v1GetRequest = `
	"THFT"                   // magic
	00000001                 // hdr_version 1
	00000025                 // meta_length 37
	00000029                 // body_length 41
	` + requestMetaGolden + `
	80010001                 // strict message begin, CALL
	00000011 "RPC_RRDB_RRDB_GET"
	00000007                 // seqid 7
	0c 0001 00000004 0001 "hs" // args field 1: blob key (STRUCT header, binary payload)
	00                       // STOP`

var v1GetHeader = RequestHeader{
	Version:         HeaderVersion1,
	Gpid:            Gpid{AppID: 2, PartitionIndex: 5},
	ClientTimeout:   1000,
	ThreadHash:      2*7919 + 5, // derived, v1 does not carry it
	PartitionHash:   0x0123456789abcdef,
	IsBackupRequest: true,
}

func TestRequestFrameV0Golden(t *testing.T) {
	wire := unhex(t, capturedQueryConfig)
	f, n, err := DecodeRequestFrame(wire, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(wire) {
		t.Errorf("consumed %d of %d bytes", n, len(wire))
	}
	wantHeader := RequestHeader{Version: HeaderVersion0, ClientTimeout: 1998}
	if f.Header != wantHeader {
		t.Errorf("header = %+v, want %+v", f.Header, wantHeader)
	}
	if !bytes.Equal(f.Body, wire[headerV0Len:]) {
		t.Errorf("body = % x", f.Body)
	}
	if got := AppendRequestFrame(nil, f); !bytes.Equal(got, wire) {
		t.Errorf("re-encoded frame differs:\n got % x\nwant % x", got, wire)
	}
}

func TestRequestFrameV1Golden(t *testing.T) {
	wire := unhex(t, v1GetRequest)
	f, n, err := DecodeRequestFrame(wire, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(wire) {
		t.Errorf("consumed %d of %d bytes", n, len(wire))
	}
	if f.Header != v1GetHeader {
		t.Errorf("header = %+v, want %+v", f.Header, v1GetHeader)
	}
	if got := AppendRequestFrame(nil, f); !bytes.Equal(got, wire) {
		t.Errorf("re-encoded frame differs:\n got % x\nwant % x", got, wire)
	}
}

func TestDecodeRequestFrameTwoInARow(t *testing.T) {
	first, second := unhex(t, capturedQueryConfig), unhex(t, v1GetRequest)
	stream := append(append([]byte(nil), first...), second...)
	f1, n1, err := DecodeRequestFrame(stream, 0)
	if err != nil || n1 != len(first) {
		t.Fatalf("first frame: n=%d err=%v", n1, err)
	}
	f2, n2, err := DecodeRequestFrame(stream[n1:], 0)
	if err != nil || n2 != len(second) {
		t.Fatalf("second frame: n=%d err=%v", n2, err)
	}
	if f1.Header.Version != 0 || f2.Header.Version != 1 {
		t.Errorf("versions %d, %d", f1.Header.Version, f2.Header.Version)
	}
}

func TestDecodeRequestFrameEveryPrefixIsTruncated(t *testing.T) {
	for _, golden := range []string{capturedQueryConfig, v1GetRequest} {
		wire := unhex(t, golden)
		for i := range len(wire) {
			_, _, err := DecodeRequestFrame(wire[:i], 0)
			if !errors.Is(err, ErrTruncated) {
				t.Fatalf("prefix of %d/%d bytes: err = %v, want ErrTruncated", i, len(wire), err)
			}
			_, err = ReadRequestFrame(bytes.NewReader(wire[:i]), 0)
			if i == 0 {
				if err != io.EOF {
					t.Fatalf("empty stream: err = %v, want io.EOF", err)
				}
			} else if !errors.Is(err, ErrTruncated) {
				t.Fatalf("reader cut after %d/%d bytes: err = %v, want ErrTruncated", i, len(wire), err)
			}
		}
	}
}

func TestRequestFrameErrors(t *testing.T) {
	v0 := unhex(t, capturedQueryConfig)
	v1 := unhex(t, v1GetRequest)
	patch := func(b []byte, off int, v uint32) []byte {
		c := append([]byte(nil), b...)
		binary.BigEndian.PutUint32(c[off:], v)
		return c
	}
	cases := []struct {
		name    string
		wire    []byte
		maxBody int
		want    error
	}{
		{"bad magic", append([]byte("THRF"), v0[4:]...), 0, ErrBadMagic},
		{"http on the port", []byte("GET / HTTP/1.1\r\n\r\n"), 0, ErrBadMagic},
		{"unknown version", patch(v0, 4, 2), 0, ErrBadHeader},
		{"v0 hdr_length not 48", patch(v0, 8, 47), 0, ErrBadHeader},
		{"v0 body over limit", v0, 73, ErrFrameTooLarge},
		{"v0 body at limit", v0, 74, nil},
		// The limit is enforced from the header alone: a 4 GiB claim with
		// no body behind it is rejected, not waited for.
		{"v0 huge body claim", patch(v0[:headerV0Len], 16, 0xffffffff), 0, ErrFrameTooLarge},
		{"v1 body over limit", v1, 40, ErrFrameTooLarge},
		{"v1 meta over limit", patch(v1, 8, maxRequestMetaLen+1), 0, ErrBadHeader},
		// meta_length 0: the body's first bytes are not a request_meta.
		{"v1 empty meta", patch(patch(v1, 8, 0), 12, 37+41), 0, ErrBadHeader},
		// meta_length cut by one: the meta lacks its STOP byte.
		{"v1 short meta", patch(patch(v1, 8, 36), 12, 42), 0, ErrBadHeader},
	}
	for _, c := range cases {
		_, _, err := DecodeRequestFrame(c.wire, c.maxBody)
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: DecodeRequestFrame err = %v, want %v", c.name, err, c.want)
		}
		_, err = ReadRequestFrame(bytes.NewReader(c.wire), c.maxBody)
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: ReadRequestFrame err = %v, want %v", c.name, err, c.want)
		}
	}
}

func TestReadRequestFrameStream(t *testing.T) {
	first, second := unhex(t, capturedQueryConfig), unhex(t, v1GetRequest)
	r := bytes.NewReader(append(append([]byte(nil), first...), second...))
	for i, want := range [][]byte{first, second} {
		f, err := ReadRequestFrame(r, 0)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		g, _, _ := DecodeRequestFrame(want, 0)
		if !reflect.DeepEqual(f, g) {
			t.Errorf("frame %d: reader and decoder disagree:\n%+v\n%+v", i, f, g)
		}
	}
	if _, err := ReadRequestFrame(r, 0); err != io.EOF {
		t.Errorf("after the last frame: err = %v, want io.EOF", err)
	}
}

// errReader fails every read with a non-EOF error, like a reset socket.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestReadRequestFrameKeepsIOErrors(t *testing.T) {
	boom := errors.New("connection reset")
	wire := unhex(t, capturedQueryConfig)
	r := io.MultiReader(bytes.NewReader(wire[:20]), errReader{boom})
	_, err := ReadRequestFrame(r, 0)
	if !errors.Is(err, boom) || errors.Is(err, ErrTruncated) {
		t.Errorf("err = %v, want the I/O error itself", err)
	}
}

// TestReadRequestFrameAllocatesWhatArrives announces a body near the limit
// and sends only a few bytes: the reader must fail without having
// allocated anything close to the announced size.
func TestReadRequestFrameAllocatesWhatArrives(t *testing.T) {
	const announced = 60 << 20
	hdr := unhex(t, capturedQueryConfig)[:headerV0Len]
	binary.BigEndian.PutUint32(hdr[16:], announced)
	wire := append(hdr, make([]byte, 1000)...)

	allocated := bytesAllocated(func() {
		if _, err := ReadRequestFrame(bytes.NewReader(wire), DefaultMaxBodySize); !errors.Is(err, ErrTruncated) {
			t.Fatalf("err = %v, want ErrTruncated", err)
		}
	})
	if allocated > 1<<20 {
		t.Errorf("allocated %d bytes for a %d-byte input announcing %d", allocated, len(wire), announced)
	}
}

func bytesAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestReadGrowingLargeBody(t *testing.T) {
	// Bodies larger than the initial allocation arrive intact.
	body := bytes.Repeat([]byte("0123456789abcdef"), (3*initialBodyAlloc)/16+3)
	f := RequestFrame{Header: RequestHeader{Version: HeaderVersion0}, Body: body}
	got, err := ReadRequestFrame(bytes.NewReader(AppendRequestFrame(nil, f)), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Body, body) {
		t.Error("body corrupted")
	}
}

// putOKResponse is the answer to a put with seqid 7.
const putOKResponse = `
	0000005c                    // total_length 92, counting itself
	00000006 "ERR_OK"           // rpc-level error name
	80010002                    // strict message begin, REPLY
	00000015 "RPC_RRDB_RRDB_PUT_ACK"
	00000007                    // seqid echoed
	0c 0000                     // result field 0 "success": STRUCT update_response
	   08 0001 00000000         //   error
	   08 0002 00000002         //   app_id
	   08 0003 00000001         //   partition_index
	   0a 0004 000000000000002a //   decree 42
	   0b 0005 00000001 "s"     //   server
	   00                       //   STOP of update_response
	00                          // STOP of the result struct`

// putNotFoundResponse is an rpc-level error: no body at all.
const putNotFoundResponse = `
	0000003d                    // total_length 61
	00000014 "ERR_OBJECT_NOT_FOUND"
	80010002
	00000015 "RPC_RRDB_RRDB_PUT_ACK"
	00000007`

func TestResponseFrameGolden(t *testing.T) {
	for _, c := range []struct {
		golden string
		code   ErrorCode
	}{{putOKResponse, CodeOK}, {putNotFoundResponse, CodeObjectNotFound}} {
		wire := unhex(t, c.golden)
		f, n, err := DecodeResponseFrame(wire, 0)
		if err != nil {
			t.Fatal(err)
		}
		if n != len(wire) || f.Err != c.code || f.Name != "RPC_RRDB_RRDB_PUT_ACK" || f.SeqID != 7 {
			t.Errorf("decoded n=%d %+v", n, f)
		}
		if got := AppendResponseFrame(nil, f); !bytes.Equal(got, wire) {
			t.Errorf("re-encoded:\n got % x\nwant % x", got, wire)
		}
		r, err := ReadResponseFrame(bytes.NewReader(wire), 0)
		if err != nil || !reflect.DeepEqual(r, f) {
			t.Errorf("ReadResponseFrame = %+v, %v", r, err)
		}
	}
}

func TestResponseFrameErrors(t *testing.T) {
	ok := unhex(t, putOKResponse)
	withLen := func(n uint32) []byte {
		c := append([]byte(nil), ok...)
		binary.BigEndian.PutUint32(c, n)
		return c
	}
	cases := []struct {
		name    string
		wire    []byte
		maxSize int
		want    error
	}{
		{"length below 4", withLen(3), 0, ErrBadHeader},
		{"over limit", ok, 87, ErrFrameTooLarge},
		{"at limit", ok, 88, nil},
		{"cut short", ok[:50], 0, ErrTruncated},
		// A length that ends inside the ack name: the frame is complete
		// but its content is not, which is malformed, not truncated.
		{"length inside header", withLen(20)[:20], 0, ErrMalformed},
		{"bad message version", func() []byte {
			c := append([]byte(nil), ok...)
			c[14] = 0x90 // first byte of the message begin
			return c
		}(), 0, ErrMalformed},
	}
	for _, c := range cases {
		_, _, err := DecodeResponseFrame(c.wire, c.maxSize)
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: DecodeResponseFrame err = %v, want %v", c.name, err, c.want)
		}
		_, err = ReadResponseFrame(bytes.NewReader(c.wire), c.maxSize)
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: ReadResponseFrame err = %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := ReadResponseFrame(bytes.NewReader(nil), 0); err != io.EOF {
		t.Errorf("empty stream: %v, want io.EOF", err)
	}
}
