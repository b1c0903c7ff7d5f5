package pegasusserve

import (
	"context"

	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// The write RPCs. Keys arrive as Pegasus full keys ([u16 len][hash][sort])
// in put, remove and incr, and as separate hash and sort keys elsewhere;
// expiry arrives as an absolute time (expire.go). A request the translator
// itself finds invalid gets RocksDB InvalidArgument in the response, as
// the C++ server reports invalid writes; it never reaches the replica.

func (h *ReplicaHandler) updateResponse(req *pegasusrpc.Request, oc outcome, resp *pb.ClientResponse) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
	if !oc.code.IsOK() {
		return oc.code, nil
	}
	appID, pidx, server := h.partition(req)
	return pegasusrpc.CodeOK, &pegasusrpc.UpdateResponse{
		Error: oc.status, AppID: appID, PartitionIndex: pidx, Decree: resp.GetWrite().GetDecree(), Server: server,
	}
}

func (h *ReplicaHandler) put(ctx context.Context, req *pegasusrpc.Request, u *pegasusrpc.UpdateRequest) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
	hashKey, sortKey, err := pegasusrpc.DecodeKey(u.Key)
	if err != nil {
		return h.updateResponse(req, storageOutcome(pegasusrpc.StatusInvalidArgument), nil)
	}
	cr := &pb.ClientRequest{}
	if ttl, expired := ttlFromExpire(u.ExpireTsSeconds, h.now()); expired {
		cr.Op = &pb.ClientRequest_Del{Del: &pb.DelRequest{HashKey: hashKey, SortKey: sortKey}}
	} else {
		cr.Op = &pb.ClientRequest_Set{Set: &pb.SetRequest{HashKey: hashKey, SortKey: sortKey, Value: u.Value, TtlSeconds: ttl}}
	}
	resp, oc := h.send(ctx, req, req.Header.PartitionHash, cr)
	return h.updateResponse(req, oc, resp)
}

func (h *ReplicaHandler) remove(ctx context.Context, req *pegasusrpc.Request, key []byte) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
	hashKey, sortKey, err := pegasusrpc.DecodeKey(key)
	if err != nil {
		return h.updateResponse(req, storageOutcome(pegasusrpc.StatusInvalidArgument), nil)
	}
	resp, oc := h.send(ctx, req, req.Header.PartitionHash, &pb.ClientRequest{
		Op: &pb.ClientRequest_Del{Del: &pb.DelRequest{HashKey: hashKey, SortKey: sortKey}},
	})
	return h.updateResponse(req, oc, resp)
}

func (h *ReplicaHandler) multiPut(ctx context.Context, req *pegasusrpc.Request, m *pegasusrpc.MultiPutRequest) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
	if len(m.Kvs) == 0 {
		// The C++ server refuses an empty multi_put the same way.
		return h.updateResponse(req, storageOutcome(pegasusrpc.StatusInvalidArgument), nil)
	}
	// The request's expire time applies to every record; key_value's own
	// expire_ts_seconds is ignored in a multi_put, as by the C++ server.
	cr := &pb.ClientRequest{}
	if ttl, expired := ttlFromExpire(m.ExpireTsSeconds, h.now()); expired {
		sortKeys := make([][]byte, len(m.Kvs))
		for i, kv := range m.Kvs {
			sortKeys[i] = kv.Key
		}
		cr.Op = &pb.ClientRequest_MultiDel{MultiDel: &pb.MultiDelRequest{HashKey: m.HashKey, SortKeys: sortKeys}}
	} else {
		kvs := make([]*pb.KeyValue, len(m.Kvs))
		for i, kv := range m.Kvs {
			kvs[i] = &pb.KeyValue{SortKey: kv.Key, Value: kv.Value}
		}
		cr.Op = &pb.ClientRequest_MultiSet{MultiSet: &pb.MultiSetRequest{HashKey: m.HashKey, Kvs: kvs, TtlSeconds: ttl}}
	}
	resp, oc := h.send(ctx, req, req.Header.PartitionHash, cr)
	return h.updateResponse(req, oc, resp)
}

func (h *ReplicaHandler) multiRemove(ctx context.Context, req *pegasusrpc.Request, m *pegasusrpc.MultiRemoveRequest) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
	appID, pidx, server := h.partition(req)
	if len(m.SortKeys) == 0 {
		// The C++ server refuses an empty sort key list; the clients
		// check it before sending.
		return pegasusrpc.CodeOK, &pegasusrpc.MultiRemoveResponse{
			Error: pegasusrpc.StatusInvalidArgument, AppID: appID, PartitionIndex: pidx, Server: server,
		}
	}
	resp, oc := h.send(ctx, req, req.Header.PartitionHash, &pb.ClientRequest{
		Op: &pb.ClientRequest_MultiDel{MultiDel: &pb.MultiDelRequest{HashKey: m.HashKey, SortKeys: m.SortKeys}},
	})
	if !oc.code.IsOK() {
		return oc.code, nil
	}
	out := &pegasusrpc.MultiRemoveResponse{
		Error: oc.status, AppID: appID, PartitionIndex: pidx, Decree: resp.GetWrite().GetDecree(), Server: server,
	}
	if oc.status == pegasusrpc.StatusOK {
		// Pegasus counts the keys it was asked to remove, present or not.
		out.Count = int64(len(m.SortKeys))
	}
	return pegasusrpc.CodeOK, out
}

func (h *ReplicaHandler) incr(ctx context.Context, req *pegasusrpc.Request, in *pegasusrpc.IncrRequest) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
	appID, pidx, server := h.partition(req)
	out := &pegasusrpc.IncrResponse{AppID: appID, PartitionIndex: pidx, Server: server}
	hashKey, sortKey, err := pegasusrpc.DecodeKey(in.Key)
	if err != nil {
		out.Error = pegasusrpc.StatusInvalidArgument
		return pegasusrpc.CodeOK, out
	}
	resp, oc := h.send(ctx, req, req.Header.PartitionHash, &pb.ClientRequest{
		Op: &pb.ClientRequest_Incr{Incr: &pb.IncrRequest{
			HashKey: hashKey, SortKey: sortKey, Increment: in.Increment, ExpireSeconds: incrTTL(in.ExpireTsSeconds, h.now()),
		}},
	})
	if !oc.code.IsOK() {
		return oc.code, nil
	}
	if oc.status == pegasusrpc.StatusOK && resp.GetIncr() == nil {
		return h.appliedWithoutResult(req), nil
	}
	out.Error, out.NewValue = oc.status, resp.GetIncr().GetNewValue()
	return pegasusrpc.CodeOK, out
}

func (h *ReplicaHandler) checkAndSet(ctx context.Context, req *pegasusrpc.Request, c *pegasusrpc.CheckAndSetRequest) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
	appID, pidx, server := h.partition(req)
	out := &pegasusrpc.CheckAndSetResponse{AppID: appID, PartitionIndex: pidx, Server: server}
	if c.CheckType < pegasusrpc.CheckNoCheck || c.CheckType > pegasusrpc.CheckValueIntGreater {
		out.Error = pegasusrpc.StatusInvalidArgument
		return pegasusrpc.CodeOK, out
	}
	setSortKey := c.CheckSortKey
	if c.SetDiffSortKey {
		setSortKey = c.SetSortKey
	}
	resp, oc := h.send(ctx, req, req.Header.PartitionHash, &pb.ClientRequest{
		Op: &pb.ClientRequest_CheckAndSet{CheckAndSet: &pb.CheckAndSetRequest{
			HashKey:          c.HashKey,
			CheckSortKey:     c.CheckSortKey,
			CheckType:        pb.CheckType(c.CheckType), // the same numbering: Pegasus' cas_check_type
			CheckOperand:     c.CheckOperand,
			SetDiffSortKey:   c.SetDiffSortKey,
			SetSortKey:       setSortKey,
			SetValue:         c.SetValue,
			SetExpireSeconds: casTTL(c.SetExpireTsSeconds, h.now()),
			ReturnCheckValue: c.ReturnCheckValue,
		}},
	})
	if !oc.code.IsOK() {
		return oc.code, nil
	}
	out.Error = oc.status
	if oc.status != pegasusrpc.StatusOK {
		return pegasusrpc.CodeOK, out
	}
	r := resp.GetCheckAndSet()
	if r == nil {
		return h.appliedWithoutResult(req), nil
	}
	if !r.GetSetSucceed() {
		// How Pegasus says "the check did not pass, nothing was written".
		out.Error = pegasusrpc.StatusTryAgain
	}
	out.Decree = resp.GetWrite().GetDecree()
	out.CheckValueReturned = r.GetCheckValueReturned()
	out.CheckValueExist = r.GetCheckValueExist()
	out.CheckValue = r.GetCheckValue()
	return pegasusrpc.CodeOK, out
}

// appliedWithoutResult answers a write the replica reported applied without
// the result it returns (a fault on one side or the other): it took effect,
// what it did is unknown. Pegasus clients hear an unknown outcome as a
// timeout (errmap.go), never as a failure that would say nothing changed.
func (h *ReplicaHandler) appliedWithoutResult(req *pegasusrpc.Request) pegasusrpc.ErrorCode {
	h.opts.Logger.Error("pegasus: replica applied a write without returning its result", "rpc", req.Name, "err", ErrBackendResult)
	return pegasusrpc.CodeTimeout
}

// checkAndMutate is not translated: our replica has no conditional
// multi-write, and a check_and_set followed by more writes would not be
// atomic. The answer is RocksDB NotSupported in the response, which the
// Java client (the only one that sends this RPC) raises to its caller at
// once, instead of a routing error it would retry until its deadline.
func (h *ReplicaHandler) checkAndMutate(req *pegasusrpc.Request) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
	appID, pidx, server := h.partition(req)
	return pegasusrpc.CodeOK, &pegasusrpc.CheckAndMutateResponse{
		Error: pegasusrpc.StatusNotSupported, AppID: appID, PartitionIndex: pidx, Server: server,
	}
}
