package pegasusrpc

import (
	"bytes"
	"testing"
)

// The hot path of a replica listener: one put request in, one response out.

func benchPutRequest(b *testing.B) []byte {
	key, _ := EncodeKey([]byte("user:000042"), []byte("profile"))
	req := Request{
		Header: RequestHeader{Gpid: Gpid{AppID: 3, PartitionIndex: 5}, ClientTimeout: 1000},
		RPC:    RPCPut,
		SeqID:  1,
		Args:   &UpdateRequest{Key: key, Value: bytes.Repeat([]byte("v"), 1024)},
	}
	wire, err := AppendRequest(nil, &req)
	if err != nil {
		b.Fatal(err)
	}
	return wire
}

func BenchmarkDecodePutRequest(b *testing.B) {
	wire := benchPutRequest(b)
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		f, _, err := DecodeRequestFrame(wire, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := DecodeRequest(f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadPutRequest(b *testing.B) {
	wire := benchPutRequest(b)
	r := bytes.NewReader(wire)
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(wire)
		f, err := ReadRequestFrame(r, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := DecodeRequest(f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendPutResponse(b *testing.B) {
	resp := &UpdateResponse{AppID: 3, PartitionIndex: 5, Decree: 123456, Server: "10.0.0.1:34801"}
	out := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		out, err = AppendResponse(out[:0], RPCPut, 1, CodeOK, resp)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendMultiGetResponse(b *testing.B) {
	resp := &MultiGetResponse{AppID: 3, PartitionIndex: 5, Server: "10.0.0.1:34801"}
	for i := range 100 {
		resp.Kvs = append(resp.Kvs, KeyValue{Key: []byte{'k', byte(i)}, Value: bytes.Repeat([]byte("v"), 100)})
	}
	out := make([]byte, 0, 16<<10)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		out, err = AppendResponse(out[:0], RPCMultiGet, 1, CodeOK, resp)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(out)))
}

func BenchmarkHashKeyHash(b *testing.B) {
	hashKey := []byte("user:000042")
	b.SetBytes(int64(len(hashKey)))
	for b.Loop() {
		HashKeyHash(hashKey)
	}
}

func BenchmarkDecodeMultiGetResponse(b *testing.B) {
	resp := &MultiGetResponse{AppID: 3, PartitionIndex: 5, Server: "10.0.0.1:34801"}
	for i := range 100 {
		resp.Kvs = append(resp.Kvs, KeyValue{Key: []byte{'k', byte(i)}, Value: bytes.Repeat([]byte("v"), 100)})
	}
	wire, err := AppendResponse(nil, RPCMultiGet, 1, CodeOK, resp)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(wire)))
	b.ReportAllocs()
	for b.Loop() {
		f, _, err := DecodeResponseFrame(wire, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := DecodeResponse(f); err != nil {
			b.Fatal(err)
		}
	}
}
