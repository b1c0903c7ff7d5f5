package pegasusrpc

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func decodeRequestBytes(t *testing.T, wire []byte) (Request, error) {
	t.Helper()
	f, n, err := DecodeRequestFrame(wire, 0)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(wire) {
		t.Fatalf("frame is %d of %d bytes", n, len(wire))
	}
	return DecodeRequest(f)
}

func TestDecodeCapturedQueryConfig(t *testing.T) {
	wire := unhex(t, capturedQueryConfig)
	req, err := decodeRequestBytes(t, wire)
	if err != nil {
		t.Fatal(err)
	}
	want := Request{
		Header: RequestHeader{Version: HeaderVersion0, ClientTimeout: 1998},
		RPC:    RPCQueryConfig,
		Name:   "RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX",
		Type:   MessageCall,
		SeqID:  1,
		Args:   &QueryCfgRequest{AppName: "temp"},
	}
	if !reflect.DeepEqual(req, want) {
		t.Fatalf("got %+v, want %+v", req, want)
	}
	// Encoding the decoded request reproduces the client's bytes exactly.
	if got, err := AppendRequest(nil, &req); err != nil || !bytes.Equal(got, wire) {
		t.Errorf("AppendRequest = % x, %v\nwant % x", got, err, wire)
	}
}

func TestDecodeV1Get(t *testing.T) {
	wire := unhex(t, v1GetRequest)
	req, err := decodeRequestBytes(t, wire)
	if err != nil {
		t.Fatal(err)
	}
	key := Blob("\x00\x01hs")
	want := Request{Header: v1GetHeader, RPC: RPCGet, Name: "RPC_RRDB_RRDB_GET", Type: MessageCall, SeqID: 7, Args: &key}
	if !reflect.DeepEqual(req, want) {
		t.Fatalf("got %+v, want %+v", req, want)
	}
	if got, err := AppendRequest(nil, &req); err != nil || !bytes.Equal(got, wire) {
		t.Errorf("AppendRequest = % x, %v\nwant % x", got, err, wire)
	}
}

func TestClearScannerGolden(t *testing.T) {
	wire := unhex(t, `
		"THFT" 00000000 00000030 00000000
		00000033                 // body_length 51
		00000000
		00000002 00000001        // gpid 2.1
		00000000                 // client_timeout
		00003ddf                 // thread_hash 2*7919+1
		0000000000000000         // partition_hash
		80010001 0000001b "RPC_RRDB_RRDB_CLEAR_SCANNER" 00000003
		0a 0001 0000000000000005 // args field 1: plain I64 context_id, not a STRUCT
		00`)
	req, err := decodeRequestBytes(t, wire)
	if err != nil {
		t.Fatal(err)
	}
	id, ok := req.Args.(*ScanContextID)
	if req.RPC != RPCClearScanner || !ok || *id != 5 || !req.RPC.Oneway() {
		t.Fatalf("decoded %+v", req)
	}
	if got, err := AppendRequest(nil, &req); err != nil || !bytes.Equal(got, wire) {
		t.Errorf("AppendRequest = % x, %v", got, err)
	}
	// The server must never answer it.
	if _, err := req.AppendReply(nil, CodeOK, nil); !errors.Is(err, ErrOneway) {
		t.Errorf("reply to clear_scanner: err = %v, want ErrOneway", err)
	}
}

func TestAppendResponseGolden(t *testing.T) {
	got, err := AppendResponse(nil, RPCPut, 7, CodeOK,
		&UpdateResponse{AppID: 2, PartitionIndex: 1, Decree: 42, Server: "s"})
	if want := unhex(t, putOKResponse); err != nil || !bytes.Equal(got, want) {
		t.Errorf("OK response = % x, %v\nwant % x", got, err, want)
	}

	// A non-OK reply has no body; a result passed anyway is ignored.
	got, err = AppendResponse(nil, RPCPut, 7, CodeObjectNotFound, &UpdateResponse{Decree: 1})
	if want := unhex(t, putNotFoundResponse); err != nil || !bytes.Equal(got, want) {
		t.Errorf("error response = % x, %v\nwant % x", got, err, want)
	}

	// The meta's answer to the captured request when the table is missing:
	// the rpc-level error is OK, the body carries the table error.
	got, err = AppendResponse(nil, RPCQueryConfig, 1, CodeOK, &QueryCfgResponse{Err: CodeObjectNotFound})
	want := unhex(t, `
		0000007e                 // total_length 126
		00000006 "ERR_OK"
		80010002 0000002a "RPC_CM_QUERY_PARTITION_CONFIG_BY_INDEX_ACK" 00000001
		0c 0000                  // result field 0
		   0c 0001 00000014 "ERR_OBJECT_NOT_FOUND" // err
		   08 0002 00000000      // app_id
		   08 0003 00000000      // partition_count
		   02 0004 00            // is_stateful
		   0f 0005 0c 00000000   // partitions []
		   00
		00`)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("query_cfg response = % x, %v\nwant % x", got, err, want)
	}
}

func TestDecodeResponseGolden(t *testing.T) {
	f, _, err := DecodeResponseFrame(unhex(t, putOKResponse), 0)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := DecodeResponse(f)
	want := Response{RPC: RPCPut, Name: "RPC_RRDB_RRDB_PUT_ACK", SeqID: 7, Err: CodeOK,
		Result: &UpdateResponse{AppID: 2, PartitionIndex: 1, Decree: 42, Server: "s"}}
	if err != nil || !reflect.DeepEqual(resp, want) {
		t.Errorf("got %+v, %v\nwant %+v", resp, err, want)
	}
}

func TestAppendResponseRefusesBrokenReplies(t *testing.T) {
	cases := []struct {
		name   string
		rpc    RPC
		code   ErrorCode
		result Value
		want   error
	}{
		{"one-way", RPCClearScanner, CodeOK, nil, ErrOneway},
		{"name the Go client cannot parse", RPCGet, "ERR_LEARNER_NOT_FOUND", nil, ErrUnknownErrorCode},
		{"OK without result", RPCGet, CodeOK, nil, ErrTypeMismatch},
		{"OK with another RPC's result", RPCPut, CodeOK, &ReadResponse{}, ErrTypeMismatch},
		{"check_and_mutate with check_and_set result", RPCCheckAndMutate, CodeOK, &CheckAndSetResponse{}, ErrTypeMismatch},
		{"invalid rpc", RPCInvalid, CodeBusy, nil, ErrUnknownRPC},
		{"out of range rpc", numRPCs, CodeBusy, nil, ErrUnknownRPC},
	}
	for _, c := range cases {
		out, err := AppendResponse([]byte("prefix"), c.rpc, 1, c.code, c.result)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		if string(out) != "prefix" {
			t.Errorf("%s: buffer modified on error: %q", c.name, out)
		}
	}
}

func TestAppendRequestRefusesWrongArgs(t *testing.T) {
	key := Blob("k")
	for _, req := range []Request{
		{RPC: RPCPut, Args: &key},
		{RPC: RPCGet, Args: nil},
		{RPC: RPCClearScanner, Args: &ScanRequest{}},
	} {
		if _, err := AppendRequest(nil, &req); !errors.Is(err, ErrTypeMismatch) {
			t.Errorf("%s with %T: err = %v, want ErrTypeMismatch", req.RPC, req.Args, err)
		}
	}
	if _, err := AppendRequest(nil, &Request{Args: &key}); !errors.Is(err, ErrUnknownRPC) {
		t.Errorf("invalid rpc: err = %v", err)
	}
}

// requestBody builds a request frame around a hand-written body.
func requestBody(t *testing.T, body string) RequestFrame {
	return RequestFrame{Header: RequestHeader{Version: HeaderVersion0}, Body: unhex(t, body)}
}

func TestUnknownRPCCanBeAnswered(t *testing.T) {
	req, err := DecodeRequest(requestBody(t, `80010001 00000009 "RPC_NEGOT" 0000002a 00`))
	if !errors.Is(err, ErrUnknownRPC) {
		t.Fatalf("err = %v, want ErrUnknownRPC", err)
	}
	if req.Name != "RPC_NEGOT" || req.SeqID != 42 || req.RPC != RPCInvalid {
		t.Fatalf("request = %+v", req)
	}
	if _, err := req.AppendReply(nil, CodeOK, nil); !errors.Is(err, ErrTypeMismatch) {
		t.Errorf("OK reply to an unknown rpc: err = %v", err)
	}
	wire, err := req.AppendReply(nil, CodeHandlerNotFound, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := DecodeResponseFrame(wire, 0)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := DecodeResponse(f)
	want := Response{Name: "RPC_NEGOT_ACK", SeqID: 42, Err: CodeHandlerNotFound}
	if err != nil || !reflect.DeepEqual(resp, want) {
		t.Errorf("reply decodes to %+v, %v", resp, err)
	}
}

func TestDecodeRequestBodyCases(t *testing.T) {
	cases := []struct {
		name     string
		body     string
		wantErr  error
		wantArgs Value
	}{
		{
			name:     "non-strict message begin",
			body:     `00000011 "RPC_RRDB_RRDB_TTL" 01 00000001 0c 0001 00000001 "k" 00`,
			wantArgs: func() Value { b := Blob("k"); return &b }(),
		},
		{
			name:     "oneway message type",
			body:     `80010004 0000001b "RPC_RRDB_RRDB_CLEAR_SCANNER" 00000001 0a 0001 0000000000000009 00`,
			wantArgs: func() Value { id := ScanContextID(9); return &id }(),
		},
		{
			// Generated readers leave a missing field at its zero value.
			name:     "missing args field",
			body:     `80010001 00000012 "RPC_RRDB_RRDB_SCAN" 00000001 00`,
			wantArgs: &ScanRequest{},
		},
		{
			name:     "unknown args fields skipped",
			body:     `80010001 00000012 "RPC_RRDB_RRDB_SCAN" 00000001 0b 0002 00000001 "x" 0c 0001 0a 0001 0000000000000003 00 08 0003 00000001 00`,
			wantArgs: &ScanRequest{ContextID: 3},
		},
		{
			name:     "args field of the wrong type skipped",
			body:     `80010001 00000011 "RPC_RRDB_RRDB_GET" 00000001 0b 0001 00000001 "k" 00`,
			wantArgs: new(Blob),
		},
		{
			name:    "reply sent as a request",
			body:    `80010002 00000011 "RPC_RRDB_RRDB_GET" 00000001 00`,
			wantErr: ErrMalformed,
		},
		{
			// The frame said these bytes are the whole body.
			name:    "args cut short inside a complete frame",
			body:    `80010001 00000011 "RPC_RRDB_RRDB_GET" 00000001 0c 0001 00000010 "k"`,
			wantErr: ErrMalformed,
		},
		{
			name:    "message header cut short",
			body:    `80010001 00000011 "RPC_RRDB"`,
			wantErr: ErrMalformed,
		},
	}
	for _, c := range cases {
		req, err := DecodeRequest(requestBody(t, c.body))
		if !errors.Is(err, c.wantErr) || (c.wantErr == nil) != (err == nil) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.wantErr)
			continue
		}
		if err != nil {
			if errors.Is(err, ErrTruncated) {
				t.Errorf("%s: ErrTruncated from a complete frame", c.name)
			}
			continue
		}
		if !reflect.DeepEqual(req.Args, c.wantArgs) {
			t.Errorf("%s: args = %+v, want %+v", c.name, req.Args, c.wantArgs)
		}
	}

	// A malformed argument still identifies the call so it can be answered.
	req, err := DecodeRequest(requestBody(t, `80010001 00000011 "RPC_RRDB_RRDB_GET" 00000009 0c 0001 ffffffff`))
	if !errors.Is(err, ErrMalformed) || req.RPC != RPCGet || req.SeqID != 9 || req.Args != nil {
		t.Errorf("malformed args: %+v, %v", req, err)
	}
}

func TestDecodeResponseErrors(t *testing.T) {
	frame := func(code ErrorCode, name, body string) ResponseFrame {
		return ResponseFrame{Err: code, Name: name, SeqID: 1, Body: unhex(t, body)}
	}
	cases := []struct {
		name string
		f    ResponseFrame
		want error
	}{
		{"unparseable error name", frame("ERR_DUP_EXIST", "RPC_RRDB_RRDB_GET_ACK", ``), ErrUnknownErrorCode},
		{"OK for an unknown ack", frame(CodeOK, "RPC_RRDB_RRDB_FLY_ACK", `00`), ErrUnknownRPC},
		{"request name instead of ack", frame(CodeOK, "RPC_RRDB_RRDB_GET", `00`), ErrUnknownRPC},
		{"OK without result field", frame(CodeOK, "RPC_RRDB_RRDB_GET_ACK", `00`), ErrTypeMismatch},
		{"OK with cut result", frame(CodeOK, "RPC_RRDB_RRDB_GET_ACK", `0c 0000 08 0001`), ErrMalformed},
	}
	for _, c := range cases {
		if _, err := DecodeResponse(c.f); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	// An error reply needs no known ack name and carries no result.
	resp, err := DecodeResponse(frame(CodeBusy, "RPC_WHATEVER_ACK", ``))
	if err != nil || resp.Result != nil || resp.RPC != RPCInvalid || resp.Err != CodeBusy {
		t.Errorf("error reply: %+v, %v", resp, err)
	}
}

func TestRPCNames(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range allRPCs() {
		name := r.String()
		if seen[name] {
			t.Errorf("duplicate name %s", name)
		}
		seen[name] = true
		if got, ok := LookupRPC(name); !ok || got != r {
			t.Errorf("LookupRPC(%s) = %v, %v", name, got, ok)
		}
		if want := name + "_ACK"; !r.Oneway() && r.AckName() != want {
			t.Errorf("%s ack = %q", name, r.AckName())
		}
	}
	if !RPCClearScanner.Oneway() || RPCClearScanner.AckName() != "" || RPCGet.Oneway() {
		t.Error("oneway flags")
	}
	if _, ok := LookupRPC("RPC_RRDB_RRDB_GET_ACK"); ok {
		t.Error("ack name looked up as a request")
	}
	if RPCInvalid.String() != "RPC(0)" || RPCInvalid.AckName() != "" || RPCInvalid.Oneway() {
		t.Error("invalid rpc")
	}
}
