package pegasusserve

import (
	"context"
	"sync"

	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// The single-record and counting reads. A missing (or expired) record is
// RocksDB NotFound in the response, which the clients report as "no
// value", not as an error.

func (h *ReplicaHandler) get(ctx context.Context, req *pegasusrpc.Request, key []byte) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
	appID, pidx, server := h.partition(req)
	out := &pegasusrpc.ReadResponse{AppID: appID, PartitionIndex: pidx, Server: server}
	hashKey, sortKey, err := pegasusrpc.DecodeKey(key)
	if err != nil {
		out.Error = pegasusrpc.StatusInvalidArgument
		return pegasusrpc.CodeOK, out
	}
	resp, oc := h.read(ctx, req, req.Header.PartitionHash,
		&pb.ClientRequest{Op: &pb.ClientRequest_Get{Get: &pb.GetRequest{HashKey: hashKey, SortKey: sortKey}}},
		func(r *pb.ClientResponse) bool { return r.GetGet() != nil })
	if !oc.code.IsOK() {
		return oc.code, nil
	}
	out.Error = oc.status
	if oc.status == pegasusrpc.StatusOK {
		if g := resp.GetGet(); g.GetFound() {
			out.Value = g.GetValue()
		} else {
			out.Error = pegasusrpc.StatusNotFound
		}
	}
	return pegasusrpc.CodeOK, out
}

func (h *ReplicaHandler) ttl(ctx context.Context, req *pegasusrpc.Request, key []byte) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
	appID, pidx, server := h.partition(req)
	out := &pegasusrpc.TTLResponse{AppID: appID, PartitionIndex: pidx, Server: server}
	hashKey, sortKey, err := pegasusrpc.DecodeKey(key)
	if err != nil {
		out.Error = pegasusrpc.StatusInvalidArgument
		return pegasusrpc.CodeOK, out
	}
	resp, oc := h.read(ctx, req, req.Header.PartitionHash,
		&pb.ClientRequest{Op: &pb.ClientRequest_Ttl{Ttl: &pb.TTLRequest{HashKey: hashKey, SortKey: sortKey}}},
		func(r *pb.ClientResponse) bool { return r.GetTtl() != nil })
	if !oc.code.IsOK() {
		return oc.code, nil
	}
	out.Error = oc.status
	if oc.status == pegasusrpc.StatusOK {
		if t := resp.GetTtl(); t.GetFound() {
			// Both sides use -1 for "never expires".
			out.TTLSeconds = t.GetTtlSeconds()
		} else {
			out.Error = pegasusrpc.StatusNotFound
		}
	}
	return pegasusrpc.CodeOK, out
}

func (h *ReplicaHandler) sortKeyCount(ctx context.Context, req *pegasusrpc.Request, hashKey []byte) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
	appID, pidx, server := h.partition(req)
	resp, oc := h.read(ctx, req, req.Header.PartitionHash,
		&pb.ClientRequest{Op: &pb.ClientRequest_SortKeyCount{SortKeyCount: &pb.SortKeyCountRequest{HashKey: hashKey}}},
		func(r *pb.ClientResponse) bool { return r.GetSortKeyCount() != nil })
	if !oc.code.IsOK() {
		return oc.code, nil
	}
	return pegasusrpc.CodeOK, &pegasusrpc.CountResponse{
		Error: oc.status, Count: resp.GetSortKeyCount().GetCount(), AppID: appID, PartitionIndex: pidx, Server: server,
	}
}

// batchGetParallelism bounds the gets one batch_get runs at once.
const batchGetParallelism = 32

// batchGet reads each key with its own get, concurrently on the stream.
// Pegasus' batch_get is not atomic across keys either (it is one RocksDB
// MultiGet without a snapshot), and every key belongs to this partition:
// the Java client groups keys by partition before sending. The first
// failure of any get fails the whole call, as it would on the C++ server.
func (h *ReplicaHandler) batchGet(ctx context.Context, req *pegasusrpc.Request, b *pegasusrpc.BatchGetRequest) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
	appID, pidx, server := h.partition(req)
	type result struct {
		value []byte
		found bool
		oc    outcome
	}
	results := make([]result, len(b.Keys))
	sem := make(chan struct{}, batchGetParallelism)
	var wg sync.WaitGroup
	for i, k := range b.Keys {
		key, err := pegasusrpc.EncodeKey(k.HashKey, k.SortKey)
		if err != nil {
			return pegasusrpc.CodeOK, &pegasusrpc.BatchGetResponse{
				Error: pegasusrpc.StatusInvalidArgument, AppID: appID, PartitionIndex: pidx, Server: server,
			}
		}
		hash, _ := pegasusrpc.KeyHash(key) // cannot fail on a key EncodeKey built
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			resp, oc := h.read(ctx, req, hash,
				&pb.ClientRequest{Op: &pb.ClientRequest_Get{Get: &pb.GetRequest{HashKey: k.HashKey, SortKey: k.SortKey}}},
				func(r *pb.ClientResponse) bool { return r.GetGet() != nil })
			results[i] = result{value: resp.GetGet().GetValue(), found: resp.GetGet().GetFound(), oc: oc}
		}()
	}
	wg.Wait()
	out := &pegasusrpc.BatchGetResponse{AppID: appID, PartitionIndex: pidx, Server: server}
	for i, r := range results {
		if !r.oc.code.IsOK() {
			return r.oc.code, nil
		}
		if r.oc.status != pegasusrpc.StatusOK {
			out.Error, out.Data = r.oc.status, nil
			return pegasusrpc.CodeOK, out
		}
		if r.found {
			out.Data = append(out.Data, pegasusrpc.FullData{HashKey: b.Keys[i].HashKey, SortKey: b.Keys[i].SortKey, Value: r.value})
		}
	}
	return pegasusrpc.CodeOK, out
}
