package replica

import (
	"github.com/pegasus-go/pegasus/internal/mutlog"
	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/storage"
)

// maxMutationBytes bounds the encoded ops of one write, with room for the
// log record's header: a write the log would refuse is refused before it is
// proposed, so nothing about it is ever replicated.
const maxMutationBytes = mutlog.DefaultMaxRecordBytes - 64

// writeOf turns a client write request into the storage ops it stands for.
// ok is false for reads.
func writeOf(req *pb.ClientRequest) (kind writeKind, op storage.WriteOp, ok bool) {
	switch r := req.GetOp().(type) {
	case *pb.ClientRequest_Set:
		s := r.Set
		return writeSet, storage.Put{HashKey: s.GetHashKey(), SortKey: s.GetSortKey(), Value: s.GetValue(), TTLSeconds: s.GetTtlSeconds()}, true
	case *pb.ClientRequest_MultiSet:
		m := r.MultiSet
		kvs := make([]storage.KV, len(m.GetKvs()))
		for i, kv := range m.GetKvs() {
			kvs[i] = storage.KV{SortKey: kv.GetSortKey(), Value: kv.GetValue()}
		}
		return writeMultiSet, storage.MultiPut{HashKey: m.GetHashKey(), KVs: kvs, TTLSeconds: m.GetTtlSeconds()}, true
	case *pb.ClientRequest_Del:
		return writeDel, storage.Remove{HashKey: r.Del.GetHashKey(), SortKey: r.Del.GetSortKey()}, true
	case *pb.ClientRequest_MultiDel:
		return writeMultiDel, storage.MultiRemove{HashKey: r.MultiDel.GetHashKey(), SortKeys: r.MultiDel.GetSortKeys()}, true
	case *pb.ClientRequest_Incr:
		i := r.Incr
		return writeIncr, storage.Incr{HashKey: i.GetHashKey(), SortKey: i.GetSortKey(), Delta: i.GetIncrement(), TTLSeconds: i.GetExpireSeconds()}, true
	case *pb.ClientRequest_CheckAndSet:
		c := r.CheckAndSet
		set := c.GetCheckSortKey()
		if c.GetSetDiffSortKey() {
			set = c.GetSetSortKey()
		}
		return writeCheckAndSet, storage.CheckAndSet{
			HashKey:          c.GetHashKey(),
			CheckSortKey:     c.GetCheckSortKey(),
			CheckType:        storage.CheckType(c.GetCheckType()),
			CheckOperand:     c.GetCheckOperand(),
			SetSortKey:       set,
			SetValue:         c.GetSetValue(),
			SetTTLSeconds:    c.GetSetExpireSeconds(),
			ReturnCheckValue: c.GetReturnCheckValue(),
		}, true
	}
	return 0, nil, false
}

// encodeWrite validates op against the store's limits and encodes it as a
// mutation payload. Every failure is the input's fault (ErrInvalidRequest
// or a storage validation error) and nothing has been logged.
func encodeWrite(store *storage.Store, op storage.WriteOp) ([]byte, error) {
	ops := []storage.WriteOp{op}
	if err := store.Validate(ops); err != nil {
		return nil, err
	}
	data, err := storage.EncodeOps(ops)
	if err != nil {
		return nil, err
	}
	if len(data) > maxMutationBytes {
		return nil, errorf(ErrInvalidRequest, "write of %d bytes exceeds %d", len(data), maxMutationBytes)
	}
	return data, nil
}

// requestID converts the wire request id.
func requestID(r *pb.RequestID) pacifica.RequestID {
	return pacifica.RequestID{ClientID: r.GetClientId(), Seq: r.GetSeq()}
}
