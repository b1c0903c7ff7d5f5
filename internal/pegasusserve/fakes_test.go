package pegasusserve

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/pegasus-go/pegasus/internal/meta/metatest"
	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/storage"
)

// The fakes in this file stand in for our meta and replica servers behind
// their real gRPC services on loopback, so the handlers are tested through
// the same stream and unary calls they make in production.

// fakeClock is a settable clock shared by the fakes and the handler.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeReplica is a ReplicaClient service over real partition stores
// (internal/storage on an in-memory filesystem), one per gpid, so that
// reads, writes, TTLs, checks and scan pages behave as the replica's
// storage makes them behave.
type fakeReplica struct {
	pb.UnimplementedReplicaClientServer
	clock *fakeClock

	mu         sync.Mutex
	partitions map[pegasusrpc.Gpid]*fakePartition
	received   []*pb.ClientRequest
	// fail, when it returns non-nil, is the answer instead of executing.
	fail func(*pb.ClientRequest) *pb.Error
	// stall, when it returns true, leaves the request unanswered.
	stall func(*pb.ClientRequest) bool
}

type fakePartition struct {
	mu     sync.Mutex // serialises writes, as a primary's decree order does
	store  *storage.Store
	decree int64
}

func newFakeReplica(t testing.TB, clock *fakeClock) (*fakeReplica, string) {
	f := &fakeReplica{clock: clock, partitions: make(map[pegasusrpc.Gpid]*fakePartition)}
	t.Cleanup(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, p := range f.partitions {
			p.store.Close()
		}
	})
	addr := metatest.Serve(t, func(s *grpc.Server) { pb.RegisterReplicaClientServer(s, f) })
	return f, addr
}

func (f *fakeReplica) setFail(fn func(*pb.ClientRequest) *pb.Error) {
	f.mu.Lock()
	f.fail = fn
	f.mu.Unlock()
}

func (f *fakeReplica) setStall(fn func(*pb.ClientRequest) bool) {
	f.mu.Lock()
	f.stall = fn
	f.mu.Unlock()
}

// requests returns the requests received so far.
func (f *fakeReplica) requests() []*pb.ClientRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*pb.ClientRequest(nil), f.received...)
}

func (f *fakeReplica) partition(g *pb.Gpid) (*fakePartition, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := pegasusrpc.Gpid{AppID: g.GetAppId(), PartitionIndex: g.GetPartitionIndex()}
	if p := f.partitions[key]; p != nil {
		return p, nil
	}
	st, err := storage.Open("/data", storage.Options{FS: vfs.NewMem(), Clock: f.clock.Now, MemTableSize: 256 << 10})
	if err != nil {
		return nil, err
	}
	p := &fakePartition{store: st}
	f.partitions[key] = p
	return p, nil
}

func (f *fakeReplica) Data(stream pb.ReplicaClient_DataServer) error {
	var sendMu sync.Mutex
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		req, err := stream.Recv()
		if err != nil {
			return nil
		}
		f.mu.Lock()
		f.received = append(f.received, proto.Clone(req).(*pb.ClientRequest))
		fail, stall := f.fail, f.stall
		f.mu.Unlock()
		if stall != nil && stall(req) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var resp *pb.ClientResponse
			if fail != nil {
				if e := fail(req); e != nil {
					resp = &pb.ClientResponse{Error: e}
				}
			}
			if resp == nil {
				resp = f.execute(req)
			}
			resp.Id = req.GetId()
			sendMu.Lock()
			stream.Send(resp)
			sendMu.Unlock()
		}()
	}
}

func errResp(code pb.ErrorCode, err error) *pb.ClientResponse {
	return &pb.ClientResponse{Error: &pb.Error{Code: code, Message: fmt.Sprint(err)}}
}

func (f *fakeReplica) execute(req *pb.ClientRequest) *pb.ClientResponse {
	p, err := f.partition(req.GetGpid())
	if err != nil {
		return errResp(pb.ErrorCode_ERR_UNKNOWN, err)
	}
	st := p.store
	switch op := req.GetOp().(type) {
	case *pb.ClientRequest_Get:
		v, err := st.Get(op.Get.GetHashKey(), op.Get.GetSortKey())
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return &pb.ClientResponse{Result: &pb.ClientResponse_Get{Get: &pb.GetResponse{}}}
		case err != nil:
			return errResp(pb.ErrorCode_ERR_UNKNOWN, err)
		}
		return &pb.ClientResponse{Result: &pb.ClientResponse_Get{Get: &pb.GetResponse{Found: true, Value: v}}}
	case *pb.ClientRequest_Ttl:
		ttl, err := st.TTL(op.Ttl.GetHashKey(), op.Ttl.GetSortKey())
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return &pb.ClientResponse{Result: &pb.ClientResponse_Ttl{Ttl: &pb.TTLResponse{}}}
		case err != nil:
			return errResp(pb.ErrorCode_ERR_UNKNOWN, err)
		}
		return &pb.ClientResponse{Result: &pb.ClientResponse_Ttl{Ttl: &pb.TTLResponse{Found: true, TtlSeconds: int32(ttl)}}}
	case *pb.ClientRequest_MultiGet:
		m := op.MultiGet
		kvs, complete, err := st.MultiGet(m.GetHashKey(), m.GetSortKeys(),
			storage.ReadOptions{MaxCount: int(m.GetMaxCount()), MaxBytes: int(m.GetMaxBytes()), NoValue: m.GetNoValue()})
		if err != nil {
			return errResp(pb.ErrorCode_ERR_UNKNOWN, err)
		}
		out := &pb.MultiGetResponse{Incomplete: !complete}
		for _, kv := range kvs {
			out.Kvs = append(out.Kvs, &pb.KeyValue{SortKey: kv.SortKey, Value: kv.Value})
		}
		return &pb.ClientResponse{Result: &pb.ClientResponse_MultiGet{MultiGet: out}}
	case *pb.ClientRequest_SortKeyCount:
		n, err := st.SortKeyCount(op.SortKeyCount.GetHashKey())
		if err != nil {
			return errResp(pb.ErrorCode_ERR_UNKNOWN, err)
		}
		return &pb.ClientResponse{Result: &pb.ClientResponse_SortKeyCount{SortKeyCount: &pb.SortKeyCountResponse{Count: n}}}
	case *pb.ClientRequest_Scan:
		return f.scan(st, op.Scan)
	}
	return f.write(p, req)
}

// scan pages the way the replica's scan does: a full scan resumes after
// its cursor (the last record key), a hash key scan after the sort key in
// its cursor.
func (f *fakeReplica) scan(st *storage.Store, s *pb.ScanRequest) *pb.ClientResponse {
	o := storage.ReadOptions{MaxCount: int(s.GetBatchSize()), NoValue: s.GetNoValue()}
	out := &pb.ScanResponse{}
	if s.GetFull() {
		var cursor []byte
		if len(s.GetCursor()) > 0 {
			cursor = s.GetCursor()
		}
		recs, next, err := st.FullScan(cursor, o)
		if err != nil {
			return errResp(pb.ErrorCode_ERR_UNKNOWN, err)
		}
		for _, r := range recs {
			out.Records = append(out.Records, &pb.ScanRecord{HashKey: r.HashKey, SortKey: r.SortKey, Value: r.Value})
		}
		out.Cursor = next
		return &pb.ClientResponse{Result: &pb.ClientResponse_Scan{Scan: out}}
	}
	r := storage.SortKeyRange{Start: s.GetStartSortKey(), Stop: s.GetStopSortKey(), StartInclusive: s.GetStartInclusive(), StopInclusive: s.GetStopInclusive()}
	if len(s.GetCursor()) > 0 {
		r = r.After(s.GetCursor())
	}
	page, err := st.Scan(s.GetHashKey(), r, o)
	if err != nil {
		return errResp(pb.ErrorCode_ERR_UNKNOWN, err)
	}
	for _, kv := range page.KVs {
		out.Records = append(out.Records, &pb.ScanRecord{SortKey: kv.SortKey, Value: kv.Value})
	}
	if page.More {
		out.Cursor = page.Next.Start
	}
	return &pb.ClientResponse{Result: &pb.ClientResponse_Scan{Scan: out}}
}

func (f *fakeReplica) write(p *fakePartition, req *pb.ClientRequest) *pb.ClientResponse {
	var op storage.WriteOp
	switch o := req.GetOp().(type) {
	case *pb.ClientRequest_Set:
		op = storage.Put{HashKey: o.Set.GetHashKey(), SortKey: o.Set.GetSortKey(), Value: o.Set.GetValue(), TTLSeconds: o.Set.GetTtlSeconds()}
	case *pb.ClientRequest_MultiSet:
		m := storage.MultiPut{HashKey: o.MultiSet.GetHashKey(), TTLSeconds: o.MultiSet.GetTtlSeconds()}
		for _, kv := range o.MultiSet.GetKvs() {
			m.KVs = append(m.KVs, storage.KV{SortKey: kv.GetSortKey(), Value: kv.GetValue()})
		}
		op = m
	case *pb.ClientRequest_Del:
		op = storage.Remove{HashKey: o.Del.GetHashKey(), SortKey: o.Del.GetSortKey()}
	case *pb.ClientRequest_MultiDel:
		op = storage.MultiRemove{HashKey: o.MultiDel.GetHashKey(), SortKeys: o.MultiDel.GetSortKeys()}
	case *pb.ClientRequest_Incr:
		op = storage.Incr{HashKey: o.Incr.GetHashKey(), SortKey: o.Incr.GetSortKey(), Delta: o.Incr.GetIncrement(), TTLSeconds: o.Incr.GetExpireSeconds()}
	case *pb.ClientRequest_CheckAndSet:
		c := o.CheckAndSet
		setSortKey := c.GetCheckSortKey()
		if c.GetSetDiffSortKey() {
			setSortKey = c.GetSetSortKey()
		}
		op = storage.CheckAndSet{
			HashKey: c.GetHashKey(), CheckSortKey: c.GetCheckSortKey(), CheckType: storage.CheckType(c.GetCheckType()),
			CheckOperand: c.GetCheckOperand(), SetSortKey: setSortKey, SetValue: c.GetSetValue(),
			SetTTLSeconds: c.GetSetExpireSeconds(), ReturnCheckValue: c.GetReturnCheckValue(),
		}
	default:
		return errResp(pb.ErrorCode_ERR_INVALID_DATA, fmt.Errorf("no op in request %d", req.GetId()))
	}
	ops := []storage.WriteOp{op}
	if err := p.store.Validate(ops); err != nil {
		return errResp(pb.ErrorCode_ERR_INVALID_PARAMETERS, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.decree++
	res, err := p.store.Apply(p.decree, uint32(f.clock.Now().Unix()), storage.RequestID{}, ops)
	if err != nil {
		return errResp(pb.ErrorCode_ERR_UNKNOWN, err)
	}
	if res[0].Err != nil {
		return errResp(pb.ErrorCode_ERR_INVALID_PARAMETERS, res[0].Err)
	}
	resp := &pb.ClientResponse{Result: &pb.ClientResponse_Write{Write: &pb.WriteResponse{Decree: p.decree}}}
	switch op := op.(type) {
	case storage.Incr:
		resp.Result = &pb.ClientResponse_Incr{Incr: &pb.IncrResponse{NewValue: res[0].NewValue}}
	case storage.CheckAndSet:
		resp.Result = &pb.ClientResponse_CheckAndSet{CheckAndSet: &pb.CheckAndSetResponse{
			SetSucceed: res[0].CheckPassed, CheckValueReturned: op.ReturnCheckValue,
			CheckValueExist: res[0].CheckValueExist, CheckValue: res[0].CheckValue,
		}}
	}
	return resp
}

var busy = &pb.Error{Code: pb.ErrorCode_ERR_BUSY, Message: "throttled"}

// failAll makes every request fail with e.
func failAll(e *pb.Error) func(*pb.ClientRequest) *pb.Error {
	return func(*pb.ClientRequest) *pb.Error { return e }
}
