package pegasusrpc

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// The fuzz targets check that decoders never panic, only return errors
// wrapping this package's sentinels, never report ErrTruncated for a
// complete frame, and that whatever decodes re-encodes to the same value.
// Allocation bounds are checked deterministically in binary_test.go and
// frame_test.go; here the small body limit keeps each input cheap.

const fuzzMaxBody = 1 << 20

var sentinels = []error{
	ErrBadMagic, ErrBadHeader, ErrFrameTooLarge, ErrTruncated, ErrMalformed,
	ErrUnknownRPC, ErrUnknownErrorCode, ErrTypeMismatch, ErrOneway, ErrInvalidKey,
}

func checkSentinel(t *testing.T, err error) {
	t.Helper()
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("error without a sentinel: %v", err)
}

// requestSeeds returns every golden request plus each RPC's sample in both
// header versions.
func requestSeeds(t testing.TB) [][]byte {
	seeds := [][]byte{unhex(t, capturedQueryConfig), unhex(t, v1GetRequest)}
	for _, r := range allRPCs() {
		for _, v := range []uint32{HeaderVersion0, HeaderVersion1} {
			req := Request{Header: RequestHeader{Version: v, Gpid: Gpid{AppID: 1, PartitionIndex: 2}}, RPC: r, SeqID: 3, Args: sampleArgs(r)}
			wire, err := AppendRequest(nil, &req)
			if err != nil {
				t.Fatal(err)
			}
			seeds = append(seeds, wire)
		}
	}
	return seeds
}

func FuzzDecodeRequestFrame(f *testing.F) {
	for _, seed := range requestSeeds(f) {
		f.Add(seed)
	}
	f.Add([]byte("THFT\x00\x00\x00\x01\x00\x00\x00\x05\x7f\xff\xff\xff")) // v1 with a huge body claim
	f.Fuzz(func(t *testing.T, data []byte) {
		frame, n, err := DecodeRequestFrame(data, fuzzMaxBody)
		// The streaming reader must agree with the buffer decoder.
		streamed, streamErr := ReadRequestFrame(bytes.NewReader(data), fuzzMaxBody)
		if err != nil {
			checkSentinel(t, err)
			if streamErr == nil {
				t.Fatalf("DecodeRequestFrame failed (%v) but ReadRequestFrame succeeded", err)
			}
			return
		}
		if n > len(data) || streamErr != nil || !reflect.DeepEqual(streamed, frame) {
			t.Fatalf("n=%d/%d, reader err %v, reader frame %+v vs %+v", n, len(data), streamErr, streamed, frame)
		}
		checkRequestRoundTrip(t, frame)
	})
}

func FuzzDecodeBody(f *testing.F) {
	for _, r := range allRPCs() {
		f.Add(uint8(r-1), appendWrapped(nil, argsFieldID, sampleArgs(r)))
		f.Add(uint8(r-1), []byte{byte(typeStop)})
	}
	f.Fuzz(func(t *testing.T, rpcIndex uint8, args []byte) {
		// Every request decoder is reached by its RPC name.
		r := RPC(rpcIndex%uint8(numRPCs-1)) + 1
		body := AppendMessageBegin(nil, MessageHeader{Name: r.String(), Type: MessageCall, SeqID: 1})
		body = append(body, args...)
		checkRequestRoundTrip(t, RequestFrame{Header: RequestHeader{Version: HeaderVersion0}, Body: body})
	})
}

// checkRequestRoundTrip decodes frame's body and, if it decodes,
// re-encodes the request and checks that it decodes to the same value.
func checkRequestRoundTrip(t *testing.T, frame RequestFrame) {
	t.Helper()
	req, err := DecodeRequest(frame)
	if err != nil {
		checkSentinel(t, err)
		if errors.Is(err, ErrTruncated) {
			t.Fatalf("ErrTruncated from a complete frame: %v", err)
		}
		return
	}
	wire, err := AppendRequest(nil, &req)
	if err != nil {
		t.Fatalf("re-encoding %+v: %v", req, err)
	}
	frame2, n, err := DecodeRequestFrame(wire, 0)
	if err != nil || n != len(wire) {
		t.Fatalf("re-decoding frame: n=%d/%d %v", n, len(wire), err)
	}
	req2, err := DecodeRequest(frame2)
	if err != nil {
		t.Fatalf("re-decoding request: %v", err)
	}
	if !reflect.DeepEqual(req, req2) {
		t.Fatalf("round trip changed the request:\n%+v\n%+v", req, req2)
	}
}

func FuzzDecodeResponse(f *testing.F) {
	f.Add(unhex(f, putOKResponse))
	f.Add(unhex(f, putNotFoundResponse))
	for _, r := range allRPCs() {
		if r.Oneway() {
			continue
		}
		wire, err := AppendResponse(nil, r, 9, CodeOK, sampleResult(r))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(wire)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		frame, _, err := DecodeResponseFrame(data, fuzzMaxBody)
		if err != nil {
			checkSentinel(t, err)
			return
		}
		resp, err := DecodeResponse(frame)
		if err != nil {
			checkSentinel(t, err)
			return
		}
		if !resp.RPC.valid() {
			return // an error reply under a name we do not know
		}
		wire, err := AppendResponse(nil, resp.RPC, resp.SeqID, resp.Err, resp.Result)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", resp, err)
		}
		frame2, _, err := DecodeResponseFrame(wire, 0)
		if err != nil {
			t.Fatal(err)
		}
		resp2, err := DecodeResponse(frame2)
		if err != nil || !reflect.DeepEqual(resp, resp2) {
			t.Fatalf("round trip changed the response:\n%+v\n%+v (%v)", resp, resp2, err)
		}
	})
}
