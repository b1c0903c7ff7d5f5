package pegasusserve

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
)

// duplexConn is the server's end of two net.Pipes: it reads what the
// client wrote into one and writes into the other, so the client can
// close its sending side (the server then reads EOF) and still read every
// answer, like a TCP half-close.
type duplexConn struct {
	net.Conn          // read side
	w        net.Conn // write side
}

func (d duplexConn) Write(b []byte) (int, error) { return d.w.Write(b) }

func (d duplexConn) Close() error {
	d.Conn.Close()
	return d.w.Close()
}

const fuzzMaxBody = 1 << 20

// FuzzListenerConn feeds arbitrary bytes to a connection of a Listener
// and checks what comes back: the server never hangs or crashes, every
// byte it writes is a response the Go client decodes, one-way messages get
// nothing, and every request frame up to the first one that breaks the
// connection gets exactly one answer under its sequence id.
func FuzzListenerConn(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add(seed)
	}
	l := NewListener(HandlerFunc(echoHandler), Config{
		MaxBodySize: fuzzMaxBody,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	f.Cleanup(func() { l.Close() })

	f.Fuzz(func(t *testing.T, data []byte) {
		inServer, inClient := net.Pipe()
		outServer, outClient := net.Pipe()
		served := make(chan struct{})
		go func() {
			defer close(served)
			l.ServeConn(duplexConn{Conn: inServer, w: outServer})
		}()
		written := make(chan struct{})
		go func() {
			defer close(written)
			inClient.Write(data) // fails early if the server closes on bad input
			inClient.Close()
		}()
		answers, err := io.ReadAll(outClient)
		if err != nil {
			t.Fatalf("reading answers: %v", err)
		}
		select {
		case <-served:
		case <-time.After(10 * time.Second):
			t.Fatal("ServeConn did not return after the input ended")
		}
		<-written

		var got []int32
		for len(answers) > 0 {
			frame, n, err := pegasusrpc.DecodeResponseFrame(answers, 0)
			if err != nil {
				t.Fatalf("server wrote bytes that are not a response frame: %v", err)
			}
			resp, err := pegasusrpc.DecodeResponse(frame)
			if err != nil {
				t.Fatalf("server wrote a response the Go client cannot decode: %v", err)
			}
			got = append(got, resp.SeqID)
			answers = answers[n:]
		}
		want := expectedAnswers(data)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("answered sequence ids %v, want %v", got, want)
		}
	})
}

// expectedAnswers walks the input as the listener must: frame by frame
// until one breaks the framing or carries no readable message header,
// expecting an answer for every frame that is not one-way.
func expectedAnswers(data []byte) []int32 {
	var want []int32
	for len(data) > 0 {
		frame, n, err := pegasusrpc.DecodeRequestFrame(data, fuzzMaxBody)
		if err != nil {
			break
		}
		data = data[n:]
		req, err := pegasusrpc.DecodeRequest(frame)
		if err != nil && req.RPC == pegasusrpc.RPCInvalid && !errors.Is(err, pegasusrpc.ErrUnknownRPC) {
			break
		}
		if req.Type == pegasusrpc.MessageOneway || req.RPC.Oneway() {
			continue
		}
		want = append(want, req.SeqID)
	}
	return want
}

// fuzzSeeds are request streams an official client sends, and damaged
// versions of them.
func fuzzSeeds(f *testing.F) [][]byte {
	key := pegasusrpc.Blob("\x00\x01hs")
	ctx := pegasusrpc.ScanContextID(3)
	requests := []struct {
		rpc  pegasusrpc.RPC
		args pegasusrpc.Value
	}{
		{pegasusrpc.RPCQueryConfig, &pegasusrpc.QueryCfgRequest{AppName: "temp"}},
		{pegasusrpc.RPCPut, &pegasusrpc.UpdateRequest{Key: key, Value: []byte("v"), ExpireTsSeconds: 100}},
		{pegasusrpc.RPCMultiPut, &pegasusrpc.MultiPutRequest{HashKey: []byte("h"), Kvs: []pegasusrpc.KeyValue{{Key: []byte("s"), Value: []byte("v")}}}},
		{pegasusrpc.RPCRemove, &key},
		{pegasusrpc.RPCMultiRemove, &pegasusrpc.MultiRemoveRequest{HashKey: []byte("h"), SortKeys: [][]byte{[]byte("s")}}},
		{pegasusrpc.RPCIncr, &pegasusrpc.IncrRequest{Key: key, Increment: 1}},
		{pegasusrpc.RPCCheckAndSet, &pegasusrpc.CheckAndSetRequest{HashKey: []byte("h"), CheckType: pegasusrpc.CheckValueExist}},
		{pegasusrpc.RPCCheckAndMutate, &pegasusrpc.CheckAndMutateRequest{HashKey: []byte("h"), MutateList: []pegasusrpc.Mutate{{SortKey: []byte("s")}}}},
		{pegasusrpc.RPCGet, &key},
		{pegasusrpc.RPCMultiGet, &pegasusrpc.MultiGetRequest{HashKey: []byte("h"), SortKeys: [][]byte{[]byte("a")}}},
		{pegasusrpc.RPCBatchGet, &pegasusrpc.BatchGetRequest{Keys: []pegasusrpc.FullKey{{HashKey: []byte("h")}}}},
		{pegasusrpc.RPCSortkeyCount, &key},
		{pegasusrpc.RPCTTL, &key},
		{pegasusrpc.RPCGetScanner, &pegasusrpc.GetScannerRequest{StartKey: []byte{0, 0}, StopKey: []byte{0xff, 0xff}, BatchSize: 10}},
		{pegasusrpc.RPCScan, &pegasusrpc.ScanRequest{ContextID: 3}},
		{pegasusrpc.RPCClearScanner, &ctx},
	}
	var all []byte
	var seeds [][]byte
	for i, r := range requests {
		version := uint32(pegasusrpc.HeaderVersion0)
		if i%3 == 2 {
			version = pegasusrpc.HeaderVersion1
		}
		b, err := pegasusrpc.AppendRequest(nil, &pegasusrpc.Request{
			Header: pegasusrpc.RequestHeader{Version: version, Gpid: pegasusrpc.Gpid{AppID: 1, PartitionIndex: 1}, ClientTimeout: 1000},
			RPC:    r.rpc, SeqID: int32(i + 1), Args: r.args,
		})
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
		all = append(all, b...)
	}
	seeds = append(seeds,
		all,
		all[:len(all)/2],                     // cut inside a frame
		append([]byte("THFX"), all[4:]...),   // bad magic
		append(slices.Clone(all[:60]), 0xff), // a body shorter than announced
	)
	// A known RPC with an argument whose blob length lies.
	body := pegasusrpc.AppendMessageBegin(nil, pegasusrpc.MessageHeader{Name: "RPC_RRDB_RRDB_GET", Type: pegasusrpc.MessageCall, SeqID: 9})
	body = append(body, 12, 0, 1, 0x7f, 0xff, 0xff, 0xff)
	seeds = append(seeds, pegasusrpc.AppendRequestFrame(nil, pegasusrpc.RequestFrame{Body: body}))
	// An RPC no server handles, sent as a call and as one-way.
	for _, typ := range []pegasusrpc.MessageType{pegasusrpc.MessageCall, pegasusrpc.MessageOneway} {
		body = pegasusrpc.AppendMessageBegin(nil, pegasusrpc.MessageHeader{Name: "RPC_NEGOTIATION", Type: typ, SeqID: 10})
		seeds = append(seeds, pegasusrpc.AppendRequestFrame(nil, pegasusrpc.RequestFrame{Body: append(body, 0)}))
	}
	return seeds
}
