package replica

import (
	"errors"
	"math"
	"time"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/storage"
)

// read serves a read request from the partition's store. Only a primary
// whose core allows reads (see replicaView) serves them; the caller checked
// the server's lease.
func (s *Server) read(p *partition, req *pb.ClientRequest, deadline time.Time) *pb.ClientResponse {
	resp := &pb.ClientResponse{Id: req.GetId()}
	fail := func(err error) *pb.ClientResponse {
		resp.Error = wireError(err)
		return resp
	}
	if time.Now().After(deadline) {
		return fail(errorf(ErrTimeout, "expired before it was served"))
	}
	// The lease is checked with the time of the read itself.
	if err := p.view.Load().readError(s.mono(), s.metaLeaseUntil()); err != nil {
		return fail(err)
	}
	store := p.store.Load()
	switch r := req.GetOp().(type) {
	case *pb.ClientRequest_Get:
		value, err := store.Get(r.Get.GetHashKey(), r.Get.GetSortKey())
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fail(err)
		}
		resp.Result = &pb.ClientResponse_Get{Get: &pb.GetResponse{Found: err == nil, Value: value}}
	case *pb.ClientRequest_Exist:
		found, err := store.Exist(r.Exist.GetHashKey(), r.Exist.GetSortKey())
		if err != nil {
			return fail(err)
		}
		resp.Result = &pb.ClientResponse_Exist{Exist: &pb.ExistResponse{Found: found}}
	case *pb.ClientRequest_Ttl:
		ttl, err := store.TTL(r.Ttl.GetHashKey(), r.Ttl.GetSortKey())
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fail(err)
		}
		resp.Result = &pb.ClientResponse_Ttl{Ttl: &pb.TTLResponse{
			Found:      err == nil,
			TtlSeconds: int32(min(ttl, math.MaxInt32)),
		}}
	case *pb.ClientRequest_MultiGet:
		m := r.MultiGet
		if m.GetMaxCount() < 0 || m.GetMaxBytes() < 0 {
			return fail(errorf(ErrInvalidRequest, "negative multi_get limits"))
		}
		kvs, complete, err := store.MultiGet(m.GetHashKey(), m.GetSortKeys(), storage.ReadOptions{
			MaxCount: int(m.GetMaxCount()),
			MaxBytes: int(m.GetMaxBytes()),
			NoValue:  m.GetNoValue(),
		})
		if err != nil {
			return fail(err)
		}
		out := &pb.MultiGetResponse{Incomplete: !complete, Kvs: make([]*pb.KeyValue, len(kvs))}
		for i, kv := range kvs {
			out.Kvs[i] = &pb.KeyValue{SortKey: kv.SortKey, Value: kv.Value}
		}
		resp.Result = &pb.ClientResponse_MultiGet{MultiGet: out}
	case *pb.ClientRequest_SortKeyCount:
		n, err := store.SortKeyCount(r.SortKeyCount.GetHashKey())
		if err != nil {
			return fail(err)
		}
		resp.Result = &pb.ClientResponse_SortKeyCount{SortKeyCount: &pb.SortKeyCountResponse{Count: n}}
	case *pb.ClientRequest_Scan:
		out, err := scan(store, r.Scan)
		if err != nil {
			return fail(err)
		}
		resp.Result = &pb.ClientResponse_Scan{Scan: out}
	default:
		return fail(errorf(ErrInvalidRequest, "unknown operation %T", r))
	}
	return resp
}

// Scan cursors are the server's to interpret. A full scan's cursor is the
// store's (an encoded record key). A hash key scan's cursor is
// scanCursorKey followed by the sort key the next batch starts after: the
// marker byte keeps a cursor after the empty sort key non-empty, which is
// what "more to come" means on the wire.
const scanCursorKey = 1

func scan(store *storage.Store, r *pb.ScanRequest) (*pb.ScanResponse, error) {
	if r.GetBatchSize() < 0 {
		return nil, errorf(ErrInvalidRequest, "negative scan batch size")
	}
	o := storage.ReadOptions{MaxCount: int(r.GetBatchSize()), NoValue: r.GetNoValue()}
	out := &pb.ScanResponse{}
	if r.GetFull() {
		var cursor []byte
		if len(r.GetCursor()) > 0 {
			cursor = r.GetCursor()
		}
		recs, next, err := store.FullScan(cursor, o)
		if err != nil {
			return nil, err
		}
		out.Records = make([]*pb.ScanRecord, len(recs))
		for i, rec := range recs {
			out.Records[i] = &pb.ScanRecord{HashKey: rec.HashKey, SortKey: rec.SortKey, Value: rec.Value}
		}
		out.Cursor = next
		return out, nil
	}
	rng := storage.SortKeyRange{
		Start:          r.GetStartSortKey(),
		Stop:           r.GetStopSortKey(),
		StartInclusive: r.GetStartInclusive(),
		StopInclusive:  r.GetStopInclusive(),
	}
	if c := r.GetCursor(); len(c) > 0 {
		if c[0] != scanCursorKey {
			return nil, errorf(ErrInvalidRequest, "scan cursor of another kind")
		}
		rng = rng.After(c[1:])
	}
	page, err := store.Scan(r.GetHashKey(), rng, o)
	if err != nil {
		return nil, err
	}
	out.Records = make([]*pb.ScanRecord, len(page.KVs))
	for i, kv := range page.KVs {
		out.Records[i] = &pb.ScanRecord{HashKey: r.GetHashKey(), SortKey: kv.SortKey, Value: kv.Value}
	}
	if page.More {
		out.Cursor = append([]byte{scanCursorKey}, page.Next.Start...)
	}
	return out, nil
}
