package redisproxy

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/meta/metatest"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// wireServer is one in-process gRPC server playing a meta server
// (metatest's, with a table of one partition) and that partition's
// primary, speaking the real client contract. It records every data request, so tests check what the proxy
// puts on the wire, and answers from a map with Pegasus' semantics, so the
// proxy can be driven through it end to end.
type wireServer struct {
	pb.UnimplementedReplicaClientServer
	addr string

	mu       sync.Mutex
	requests []*pb.ClientRequest
	records  map[string][]byte // by hash key + "\x00" + sort key
	ttls     map[string]int32
}

func startWireServer(t *testing.T) *wireServer {
	t.Helper()
	w := &wireServer{records: map[string][]byte{}, ttls: map[string]int32{}}
	meta := metatest.New()
	w.addr = metatest.Serve(t, func(s *grpc.Server) {
		meta.Register(s)
		pb.RegisterReplicaClientServer(s, w)
	})
	meta.AddTable("t", 1, 1, []string{w.addr})
	return w
}

func (w *wireServer) Data(stream grpc.BidiStreamingServer[pb.ClientRequest, pb.ClientResponse]) error {
	for {
		req, err := stream.Recv()
		if err != nil {
			return nil
		}
		resp := w.apply(req)
		resp.Id = req.GetId()
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

// apply executes one request on the map: what a primary with a clock
// standing still would answer.
func (w *wireServer) apply(req *pb.ClientRequest) *pb.ClientResponse {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.requests = append(w.requests, req)
	key := func(h, s []byte) string { return string(h) + "\x00" + string(s) }
	switch op := req.GetOp().(type) {
	case *pb.ClientRequest_Get:
		v, ok := w.records[key(op.Get.HashKey, op.Get.SortKey)]
		return &pb.ClientResponse{Result: &pb.ClientResponse_Get{Get: &pb.GetResponse{Found: ok, Value: v}}}
	case *pb.ClientRequest_Exist:
		_, ok := w.records[key(op.Exist.HashKey, op.Exist.SortKey)]
		return &pb.ClientResponse{Result: &pb.ClientResponse_Exist{Exist: &pb.ExistResponse{Found: ok}}}
	case *pb.ClientRequest_Ttl:
		k := key(op.Ttl.HashKey, op.Ttl.SortKey)
		_, ok := w.records[k]
		ttl := w.ttls[k]
		if ttl == 0 {
			ttl = -1
		}
		return &pb.ClientResponse{Result: &pb.ClientResponse_Ttl{Ttl: &pb.TTLResponse{Found: ok, TtlSeconds: ttl}}}
	case *pb.ClientRequest_Set:
		k := key(op.Set.HashKey, op.Set.SortKey)
		w.records[k], w.ttls[k] = op.Set.Value, op.Set.TtlSeconds
		return &pb.ClientResponse{}
	case *pb.ClientRequest_Del:
		delete(w.records, key(op.Del.HashKey, op.Del.SortKey))
		return &pb.ClientResponse{}
	case *pb.ClientRequest_Incr:
		k := key(op.Incr.HashKey, op.Incr.SortKey)
		var v int64
		if old := w.records[k]; len(old) > 0 {
			var err error
			if v, err = strconv.ParseInt(string(old), 10, 64); err != nil {
				return &pb.ClientResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_INVALID_PARAMETERS, Message: "incr: value is not an integer"}}
			}
		}
		v += op.Incr.Increment
		w.records[k] = []byte(strconv.FormatInt(v, 10))
		return &pb.ClientResponse{Result: &pb.ClientResponse_Incr{Incr: &pb.IncrResponse{NewValue: v}}}
	case *pb.ClientRequest_CheckAndSet:
		c := op.CheckAndSet
		old, exists := w.records[key(c.HashKey, c.CheckSortKey)]
		var pass bool
		switch c.CheckType {
		case pb.CheckType_CT_VALUE_NOT_EXIST:
			pass = !exists
		case pb.CheckType_CT_VALUE_EXIST:
			pass = exists
		case pb.CheckType_CT_VALUE_BYTES_EQUAL:
			pass = exists && bytes.Equal(old, c.CheckOperand)
		}
		if pass {
			setSortKey := c.CheckSortKey
			if c.SetDiffSortKey {
				setSortKey = c.SetSortKey
			}
			k := key(c.HashKey, setSortKey)
			w.records[k], w.ttls[k] = c.SetValue, c.SetExpireSeconds
		}
		return &pb.ClientResponse{Result: &pb.ClientResponse_CheckAndSet{CheckAndSet: &pb.CheckAndSetResponse{SetSucceed: pass}}}
	}
	return &pb.ClientResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_INVALID_PARAMETERS, Message: "unexpected request"}}
}

// take returns and forgets the recorded requests.
func (w *wireServer) take() []*pb.ClientRequest {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.requests
	w.requests = nil
	return r
}

// openWireTable opens table "t" of a wireServer through the real client.
func openWireTable(t *testing.T, w *wireServer) *client.Table {
	t.Helper()
	ctx := context.Background()
	c, err := client.New(ctx, client.Config{MetaServers: []string{w.addr}, OperationTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	table, err := c.Open(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	return table
}

// TestTableBackendWire: each Backend method becomes the Pegasus request
// Pegasus' own Redis proxy would send: hash key = the Redis key, empty sort
// key, conditions as check_and_set on that same record, TTLs in seconds.
func TestTableBackendWire(t *testing.T) {
	w := startWireServer(t)
	b := NewTableBackend(openWireTable(t, w))
	ctx := context.Background()
	one := func() *pb.ClientRequest {
		t.Helper()
		reqs := w.take()
		if len(reqs) != 1 {
			t.Fatalf("%d requests on the wire, want 1", len(reqs))
		}
		return reqs[0]
	}

	if err := b.Set(ctx, []byte("k"), []byte("v"), 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if s := one().GetSet(); string(s.GetHashKey()) != "k" || len(s.GetSortKey()) != 0 || string(s.GetValue()) != "v" || s.GetTtlSeconds() != 2 {
		t.Errorf("Set sent %v", s)
	}
	if v, found, err := b.Get(ctx, []byte("k")); err != nil || !found || string(v) != "v" {
		t.Errorf("Get = %q, %v, %v", v, found, err)
	}
	if g := one().GetGet(); string(g.GetHashKey()) != "k" || len(g.GetSortKey()) != 0 {
		t.Errorf("Get sent %v", g)
	}
	if ttl, found, err := b.TTL(ctx, []byte("k")); err != nil || !found || ttl != 2*time.Second {
		t.Errorf("TTL = %v, %v, %v", ttl, found, err)
	}
	one()

	for _, tc := range []struct {
		cond    Condition
		check   pb.CheckType
		applied bool
	}{
		{Condition{Kind: IfAbsent}, pb.CheckType_CT_VALUE_NOT_EXIST, false},
		{Condition{Kind: IfPresent}, pb.CheckType_CT_VALUE_EXIST, true},
		{Condition{Kind: IfEqual, Value: []byte("v2")}, pb.CheckType_CT_VALUE_BYTES_EQUAL, true},
		{Condition{Kind: IfEqual, Value: []byte("other")}, pb.CheckType_CT_VALUE_BYTES_EQUAL, false},
	} {
		applied, err := b.SetIf(ctx, []byte("k"), tc.cond, []byte("v2"), time.Minute)
		if err != nil || applied != tc.applied {
			t.Errorf("SetIf %v = %v, %v; want %v", tc.cond, applied, err, tc.applied)
		}
		c := one().GetCheckAndSet()
		if string(c.GetHashKey()) != "k" || len(c.GetCheckSortKey()) != 0 || c.GetSetDiffSortKey() ||
			c.GetCheckType() != tc.check || !bytes.Equal(c.GetCheckOperand(), tc.cond.Value) ||
			string(c.GetSetValue()) != "v2" || c.GetSetExpireSeconds() != 60 {
			t.Errorf("SetIf %v sent %v", tc.cond, c)
		}
	}
	if _, err := b.SetIf(ctx, []byte("k"), Condition{Kind: 99}, nil, 0); err == nil {
		t.Error("SetIf with an unknown condition succeeded")
	}

	if ok, err := b.Exist(ctx, []byte("k")); err != nil || !ok {
		t.Errorf("Exist = %v, %v", ok, err)
	}
	one()
	if err := b.Del(ctx, []byte("k")); err != nil {
		t.Fatal(err)
	}
	if d := one().GetDel(); string(d.GetHashKey()) != "k" || len(d.GetSortKey()) != 0 {
		t.Errorf("Del sent %v", d)
	}
	if _, found, err := b.TTL(ctx, []byte("k")); err != nil || found {
		t.Errorf("TTL of a deleted key: found %v, %v", found, err)
	}
	one()

	if n, err := b.Incr(ctx, []byte("n"), -3); err != nil || n != -3 {
		t.Errorf("Incr = %d, %v", n, err)
	}
	if i := one().GetIncr(); string(i.GetHashKey()) != "n" || len(i.GetSortKey()) != 0 || i.GetIncrement() != -3 || i.GetExpireSeconds() != 0 {
		t.Errorf("Incr sent %v", i)
	}
	b.Set(ctx, []byte("s"), []byte("abc"), 0)
	if _, err := b.Incr(ctx, []byte("s"), 1); !errors.Is(err, ErrNotInteger) || !errors.Is(err, client.ErrInvalidArgument) {
		t.Errorf("Incr of a string: %v", err)
	}
}

// TestProxyOverTableBackend runs Redis commands through the proxy, the
// Pegasus client and its wire protocol.
func TestProxyOverTableBackend(t *testing.T) {
	w := startWireServer(t)
	srv, err := New(NewTableBackend(openWireTable(t, w)), Config{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Error(err)
		}
	}()
	p := &proxy{addr: ln.Addr().String()}
	rdb := p.client(t)

	want(t, rdb, "OK", "SET", "k", "v")
	wantNil(t, rdb, "SET", "k", "w", "NX")
	want(t, rdb, 1, "EXPIRE", "k", "90")
	want(t, rdb, 90, "TTL", "k")
	want(t, rdb, "v", "GET", "k")
	want(t, rdb, 5, "INCRBY", "n", "5")
	wantErr(t, rdb, "ERR value is not an integer or out of range", "INCR", "k")
	want(t, rdb, 1, "DEL", "k", "nope")
	want(t, rdb, 1, "EXISTS", "n", "k")
}
