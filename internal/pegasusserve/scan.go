package pegasusserve

import (
	"bytes"
	"context"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Pegasus scanners are server-side iterators: get_scanner opens one over a
// range of full keys ([u16 len][hash][sort]) of one partition and returns
// the first batch and a context id; each scan call returns the next batch;
// clear_scanner (or the end of the range, or five idle minutes) frees it.
// Our replica's scan is stateless instead: a request with bounds and an
// opaque cursor, answered with a page and the next cursor. A scanState is
// the translation: the bounds and options of the Pegasus scanner plus our
// cursor, kept between calls in scanContexts.
//
// Two shapes of range reach the replica:
//
//   - Within one hash key (what GetScanner of both clients asks for): a
//     scan of that hash key between two sort keys.
//   - Anything wider (the unordered scanners' [0x0000, 0xFFFF) over a
//     whole partition, or a range across hash keys): a full scan of the
//     partition. A full scan has no start bound on our side, so a range
//     that starts after the partition's first key reads and skips the keys
//     before it.
//
// Either way the translator checks every record against the Pegasus
// bounds and filters itself, and stops at the first record past the stop
// key: the replica returns records in key order, which for Pegasus full
// keys is hash key length, hash key, sort key, the same order the C++
// server iterates in. So the answers do not depend on how precisely the
// range could be expressed to the replica.

// scanBatchMax caps a batch like rocksdb_max_iteration_count caps the C++
// server's: a batch_size of 0 or less, or a larger one, gets this many.
const scanBatchMax = 1000

// scanFetchRounds bounds the replica requests one get_scanner or scan call
// makes while filters or the skipped head of a full scan leave its batch
// short. A batch that is still short is returned as it is, with the
// context: the clients ask again when a batch runs out, even an empty one.
const scanFetchRounds = 8

// scanDroppingFetch is the smallest page a scanner that may drop records
// asks the replica for: fetching only what the batch lacks would cost a
// round trip per record dropped. Records fetched beyond the batch wait in
// the scanner for the next call.
const scanDroppingFetch = 100

// scanState is one Pegasus scanner.
type scanState struct {
	id            int64 // 0 until registered in scanContexts
	gpid          pegasusrpc.Gpid
	partitionHash uint64

	// The Pegasus range, in full keys. stopOpen: to the partition's end.
	start, stop         []byte
	startIncl, stopIncl bool
	stopOpen            bool

	hashFilter, sortFilter keyFilter
	noValue                bool
	onlyCount              bool
	returnExpireTS         bool
	batch                  int

	// hashKey is set for a scan within one hash key: the replica's
	// records then carry sort keys only.
	hashKey    []byte
	hashScoped bool
	// sreq is the replica request of the next page; its cursor advances.
	sreq *pb.ScanRequest
	// pending holds records fetched but not yet returned; exhausted is
	// set once the replica's cursor ran out.
	pending   []*pb.ScanRecord
	exhausted bool
	// done is set once the range is fully returned (its end reached).
	done bool

	lastUsed int64 // unix nanoseconds, for idle expiry
}

// mayDrop reports whether records the replica returns may not be part of
// the answer: filtered out, or before the start of a range that a full
// scan of the partition cannot seek to.
func (s *scanState) mayDrop() bool {
	active := func(f keyFilter) bool { return f.typ != pegasusrpc.FilterNone && len(f.pattern) > 0 }
	return s.sreq.Full || active(s.hashFilter) || active(s.sortFilter)
}

// finished reports whether nothing is left to return.
func (s *scanState) finished() bool {
	return s.done || s.exhausted && len(s.pending) == 0
}

// newScanState plans a scanner for get_scanner request g. empty reports a
// range that holds nothing.
func newScanState(req *pegasusrpc.Request, g *pegasusrpc.GetScannerRequest) (s *scanState, empty bool) {
	s = &scanState{
		gpid:          req.Header.Gpid,
		partitionHash: req.Header.PartitionHash,
		start:         g.StartKey,
		startIncl:     g.StartInclusive,
		stop:          g.StopKey,
		stopIncl:      g.StopInclusive,
		hashFilter:    keyFilter{typ: g.HashKeyFilterType, pattern: g.HashKeyFilterPattern},
		sortFilter:    keyFilter{typ: g.SortKeyFilterType, pattern: g.SortKeyFilterPattern},
		noValue:       g.NoValue || g.OnlyReturnCount.Or(false),
		onlyCount:     g.OnlyReturnCount.Or(false),
		// validate_partition_hash is not needed: a partition's records all
		// hash to it, since partition counts never change here (no
		// partition split).
		returnExpireTS: g.ReturnExpireTs.Or(false),
		batch:          scanBatchMax,
	}
	if g.BatchSize > 0 {
		s.batch = min(int(g.BatchSize), scanBatchMax)
	}
	if len(s.stop) == 0 {
		s.stop, s.stopIncl, s.stopOpen = nil, false, true
	}
	// A hash key prefix filter can only move the start: hash keys of one
	// prefix are not contiguous (keys sort by length first).
	if s.hashFilter.typ == pegasusrpc.FilterMatchPrefix && len(s.hashFilter.pattern) > 0 {
		if p, err := pegasusrpc.EncodeKey(s.hashFilter.pattern, nil); err == nil && bytes.Compare(p, s.start) > 0 {
			s.start, s.startIncl = p, true
		}
	}
	if !s.stopOpen {
		c := bytes.Compare(s.start, s.stop)
		if c > 0 || c == 0 && !(s.startIncl && s.stopIncl) {
			return s, true
		}
	}
	s.plan()
	return s, false
}

// plan chooses the replica request for the range.
func (s *scanState) plan() {
	s.sreq = &pb.ScanRequest{NoValue: s.noValue}
	hashKey, startSort, err := pegasusrpc.DecodeKey(s.start)
	if err == nil && !s.stopOpen {
		prefix := s.start[:len(s.start)-len(startSort)]
		// Every key in [prefix, end) has hash key hashKey; the range fits
		// in it when the stop key is below end (or is end, excluded).
		if end, ok := prefixEnd(prefix); ok {
			if c := bytes.Compare(s.stop, end); c < 0 || c == 0 && !s.stopIncl {
				s.hashKey, s.hashScoped = hashKey, true
				s.sreq.HashKey = hashKey
				s.sreq.StartSortKey, s.sreq.StartInclusive = startSort, s.startIncl
				// A stop key in the hash key with a non-empty sort key
				// bounds the replica's scan; otherwise (the stop is the
				// next hash key, or the hash key's empty sort key) the
				// scan runs to the hash key's end and the check of every
				// record against s.stop ends it.
				if stopSort, ok := bytes.CutPrefix(s.stop, prefix); ok && len(stopSort) > 0 {
					s.sreq.StopSortKey, s.sreq.StopInclusive = stopSort, s.stopIncl
				}
				return
			}
		}
	}
	s.sreq.Full = true
}

// fill reads the next batch: up to s.batch records in range that pass the
// filters. It advances s.
func (h *ReplicaHandler) fill(ctx context.Context, req *pegasusrpc.Request, s *scanState) ([]pegasusrpc.KeyValue, outcome) {
	var kvs []pegasusrpc.KeyValue
	for round := 0; len(kvs) < s.batch && !s.finished(); {
		if len(s.pending) == 0 {
			if round == scanFetchRounds {
				break
			}
			round++
			fetch := s.batch - len(kvs)
			if s.mayDrop() {
				fetch = max(fetch, scanDroppingFetch)
			}
			s.sreq.BatchSize = int32(min(fetch, fetchMaxRecords))
			recs, cursor, oc := h.scanPage(ctx, req, s.partitionHash, s.sreq)
			if oc != okOutcome {
				return nil, oc
			}
			s.pending, s.exhausted = recs, cursor == nil
			continue
		}
		rec := s.pending[0]
		s.pending = s.pending[1:]
		hashKey := rec.GetHashKey()
		if s.hashScoped {
			hashKey = s.hashKey
		}
		key, err := pegasusrpc.EncodeKey(hashKey, rec.GetSortKey())
		if err != nil {
			return nil, failureOutcome(ErrBackendResult)
		}
		if c := bytes.Compare(key, s.start); c < 0 || c == 0 && !s.startIncl {
			continue
		}
		if !s.stopOpen {
			if c := bytes.Compare(key, s.stop); c > 0 || c == 0 && !s.stopIncl {
				s.done, s.pending = true, nil
				break
			}
		}
		if !s.hashFilter.match(hashKey) || !s.sortFilter.match(rec.GetSortKey()) {
			continue
		}
		kv := pegasusrpc.KeyValue{Key: key}
		if !s.noValue {
			kv.Value = rec.GetValue()
		}
		kvs = append(kvs, kv)
	}
	if s.returnExpireTS && len(kvs) > 0 {
		return h.withExpireTS(ctx, req, s, kvs)
	}
	return kvs, okOutcome
}

// withExpireTS adds each record's expire time, which scan pages do not
// carry, with one ttl read per record (concurrent on the stream). A record
// removed in between is left out, as if the scan had come later.
func (h *ReplicaHandler) withExpireTS(ctx context.Context, req *pegasusrpc.Request, s *scanState, kvs []pegasusrpc.KeyValue) ([]pegasusrpc.KeyValue, outcome) {
	type result struct {
		ttl   int32
		found bool
		oc    outcome
	}
	results := make([]result, len(kvs))
	sem := make(chan struct{}, batchGetParallelism)
	var wg sync.WaitGroup
	for i, kv := range kvs {
		hashKey, sortKey, _ := pegasusrpc.DecodeKey(kv.Key) // built by EncodeKey above
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			resp, oc := h.read(ctx, req, s.partitionHash,
				&pb.ClientRequest{Op: &pb.ClientRequest_Ttl{Ttl: &pb.TTLRequest{HashKey: hashKey, SortKey: sortKey}}},
				func(r *pb.ClientResponse) bool { return r.GetTtl() != nil })
			results[i] = result{ttl: resp.GetTtl().GetTtlSeconds(), found: resp.GetTtl().GetFound(), oc: oc}
		}()
	}
	wg.Wait()
	now := h.now()
	out := kvs[:0]
	for i, r := range results {
		if r.oc != okOutcome {
			return nil, r.oc
		}
		if r.found {
			kv := kvs[i]
			kv.ExpireTsSeconds = pegasusrpc.Some(expireFromTTL(r.ttl, now))
			out = append(out, kv)
		}
	}
	return out, okOutcome
}

// getScanner opens a scanner and returns its first batch.
func (h *ReplicaHandler) getScanner(ctx context.Context, req *pegasusrpc.Request, g *pegasusrpc.GetScannerRequest) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
	appID, pidx, server := h.partition(req)
	out := &pegasusrpc.ScanResponse{AppID: appID, PartitionIndex: pidx, Server: server, ContextID: pegasusrpc.ScanContextCompleted}
	s, empty := newScanState(req, g)
	switch {
	case !s.hashFilter.valid() || !s.sortFilter.valid():
		out.Error = pegasusrpc.StatusInvalidArgument
		return pegasusrpc.CodeOK, out
	case empty:
		return pegasusrpc.CodeOK, out
	}
	return h.nextBatch(ctx, req, s, out)
}

// scan returns the next batch of an open scanner.
func (h *ReplicaHandler) scan(ctx context.Context, req *pegasusrpc.Request, id pegasusrpc.ScanContextID) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
	appID, pidx, server := h.partition(req)
	out := &pegasusrpc.ScanResponse{AppID: appID, PartitionIndex: pidx, Server: server, ContextID: pegasusrpc.ScanContextCompleted}
	s := h.scans.take(int64(id), req.Header.Gpid)
	if s == nil {
		// Expired, cleared, evicted, or never ours. The clients reopen
		// the scanner after the last key they received.
		out.Error, out.ContextID = pegasusrpc.StatusNotFound, pegasusrpc.ScanContextNotExist
		return pegasusrpc.CodeOK, out
	}
	return h.nextBatch(ctx, req, s, out)
}

// nextBatch fills out with s's next batch and keeps s for the next call
// unless it is finished. A failed batch keeps s as it was, under the same
// id, so that the client may ask again.
func (h *ReplicaHandler) nextBatch(ctx context.Context, req *pegasusrpc.Request, s *scanState, out *pegasusrpc.ScanResponse) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
	saved := *s
	saved.sreq = proto.Clone(s.sreq).(*pb.ScanRequest)
	kvs, oc := h.fill(ctx, req, s)
	if oc != okOutcome {
		if saved.id != 0 {
			h.scans.put(&saved)
		}
		if !oc.code.IsOK() {
			return oc.code, nil
		}
		out.Error = oc.status
		return pegasusrpc.CodeOK, out
	}
	if s.onlyCount {
		out.KvCount = pegasusrpc.Some(int32(len(kvs)))
	} else {
		out.Kvs = kvs
	}
	// A finished scanner is simply not put back (scan took it out).
	if !s.finished() {
		out.ContextID = pegasusrpc.ScanContextID(h.scans.put(s))
	}
	return pegasusrpc.CodeOK, out
}
