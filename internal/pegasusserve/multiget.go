package pegasusserve

import (
	"bytes"
	"context"

	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Bounds of reads that return many records.
const (
	// rangeMaxCount and rangeMaxBytes are Pegasus' defaults for one
	// multi_get over a sort key range (rocksdb_multi_get_max_iteration_count
	// and _size): a request asking for more, or for no limit, gets at most
	// this and "incomplete".
	rangeMaxCount = 3000
	rangeMaxBytes = 30 << 20
	// fetchMaxRecords bounds the records asked of the replica in one scan
	// request, and multiGetChunk the sort keys of one multi_get request:
	// both stay below the replica's own per-request bounds, so the replica
	// never cuts a request short for reasons of its own in a way the
	// translator could not resume from.
	fetchMaxRecords = 1000
	multiGetChunk   = 1000
)

// multiGet reads sort keys of one hash key: a list of them, or a range
// with filter, limits and direction. Limits follow the C++ server: a
// record is added only while the records already taken stay below both
// max_kv_count and max_kv_size, and a result cut short by them is
// RocksDB Incomplete.
func (h *ReplicaHandler) multiGet(ctx context.Context, req *pegasusrpc.Request, m *pegasusrpc.MultiGetRequest) (pegasusrpc.ErrorCode, pegasusrpc.Value) {
	appID, pidx, server := h.partition(req)
	out := &pegasusrpc.MultiGetResponse{AppID: appID, PartitionIndex: pidx, Server: server}
	var kvs []pegasusrpc.KeyValue
	var oc outcome
	if len(m.SortKeys) > 0 {
		kvs, oc = h.multiGetKeys(ctx, req, m)
	} else {
		kvs, oc = h.multiGetRange(ctx, req, m)
	}
	if !oc.code.IsOK() {
		return oc.code, nil
	}
	out.Error = oc.status
	if oc.status == pegasusrpc.StatusOK || oc.status == pegasusrpc.StatusIncomplete {
		out.Kvs = kvs
	}
	return pegasusrpc.CodeOK, out
}

// kvLimits counts what a multi_get has taken against its limits.
type kvLimits struct {
	maxCount, maxBytes int
	count, bytes       int
}

// full reports whether another record may no longer be added.
func (l *kvLimits) full() bool { return l.count >= l.maxCount || l.bytes >= l.maxBytes }

func (l *kvLimits) add(kv pegasusrpc.KeyValue) {
	l.count++
	l.bytes += len(kv.Key) + len(kv.Value)
}

func positiveOr(v int32, def int) int {
	if v > 0 {
		return int(v)
	}
	return def
}

// multiGetKeys reads the listed sort keys, in the order given, skipping
// absent ones. With explicit keys the C++ server applies only the
// request's own limits, not its iteration bounds.
func (h *ReplicaHandler) multiGetKeys(ctx context.Context, req *pegasusrpc.Request, m *pegasusrpc.MultiGetRequest) ([]pegasusrpc.KeyValue, outcome) {
	lim := kvLimits{maxCount: positiveOr(m.MaxKvCount, int(^uint(0)>>1)), maxBytes: positiveOr(m.MaxKvSize, int(^uint(0)>>1))}
	var kvs []pegasusrpc.KeyValue
	remaining := m.SortKeys
	for len(remaining) > 0 {
		chunk := remaining[:min(len(remaining), multiGetChunk)]
		resp, oc := h.read(ctx, req, req.Header.PartitionHash,
			&pb.ClientRequest{Op: &pb.ClientRequest_MultiGet{MultiGet: &pb.MultiGetRequest{
				HashKey: m.HashKey, SortKeys: chunk, NoValue: m.NoValue,
			}}},
			func(r *pb.ClientResponse) bool { return r.GetMultiGet() != nil })
		if oc != okOutcome {
			return nil, oc
		}
		got := resp.GetMultiGet()
		// The replica answers in the order asked, skipping absent keys:
		// pos follows it through the chunk, which is where a partial
		// answer resumes.
		pos := 0
		for _, kv := range got.GetKvs() {
			for pos < len(chunk) && !bytes.Equal(chunk[pos], kv.GetSortKey()) {
				pos++
			}
			if pos == len(chunk) {
				return nil, failureOutcome(ErrBackendResult) // out of order, or a key not asked for
			}
			pos++
			if lim.full() {
				return kvs, storageOutcome(pegasusrpc.StatusIncomplete)
			}
			kv := pegasusrpc.KeyValue{Key: kv.GetSortKey(), Value: kv.GetValue()}
			lim.add(kv)
			kvs = append(kvs, kv)
		}
		if !got.GetIncomplete() {
			pos = len(chunk)
		} else if pos == 0 {
			// A chunk is below every bound of the replica; an incomplete
			// answer without a single record cannot be resumed.
			return nil, failureOutcome(ErrBackendResult)
		}
		remaining = remaining[pos:]
	}
	return kvs, okOutcome
}

// sortRange is a sort key range of one hash key. stopOpen means "to the
// last sort key", whatever stop holds.
type sortRange struct {
	start, stop         []byte
	startIncl, stopIncl bool
	stopOpen            bool
}

// planSortRange derives the range a multi_get reads, as the C++ server
// does: an empty stop sort key runs to the end of the hash key, and a
// prefix filter narrows the range to the keys that can match it.
func planSortRange(m *pegasusrpc.MultiGetRequest) (r sortRange, empty bool) {
	r = sortRange{start: m.StartSortkey, startIncl: m.StartInclusive, stop: m.StopSortkey, stopIncl: m.StopInclusive}
	if len(r.stop) == 0 {
		r.stop, r.stopIncl, r.stopOpen = nil, false, true
	}
	if m.SortKeyFilterType == pegasusrpc.FilterMatchPrefix && len(m.SortKeyFilterPattern) > 0 {
		p := m.SortKeyFilterPattern
		if bytes.Compare(p, r.start) > 0 {
			r.start, r.startIncl = p, true
		}
		// Without an end (a pattern of 0xFF bytes) the prefix reaches the
		// end of the hash key, which bounds nothing.
		if end, ok := prefixEnd(p); ok && (r.stopOpen || bytes.Compare(end, r.stop) <= 0) {
			r.stop, r.stopIncl, r.stopOpen = end, false, false
		}
	}
	if !r.stopOpen {
		c := bytes.Compare(r.start, r.stop)
		if c > 0 || c == 0 && !(r.startIncl && r.stopIncl) {
			return r, true
		}
	}
	return r, false
}

// multiGetRange reads a sort key range through the replica's scan,
// filtering as it goes.
//
// Its limits count as the C++ server's do: every record of the range
// visited counts against max_kv_count, whether the filter keeps it or not,
// and only the records kept count against max_kv_size. So a filter that
// keeps few records yields a short, Incomplete answer rather than a read
// of the whole hash key, and the client pages on.
//
// A reverse multi_get returns the last records of the range (in ascending
// order). The replica scans forward only, so the translator reads the
// whole range and keeps a window of what a backward walk would have
// visited: memory stays within the limits, but the whole range is read.
func (h *ReplicaHandler) multiGetRange(ctx context.Context, req *pegasusrpc.Request, m *pegasusrpc.MultiGetRequest) ([]pegasusrpc.KeyValue, outcome) {
	filter := keyFilter{typ: m.SortKeyFilterType, pattern: m.SortKeyFilterPattern}
	if !filter.valid() {
		return nil, storageOutcome(pegasusrpc.StatusInvalidArgument)
	}
	r, empty := planSortRange(m)
	if empty {
		return nil, okOutcome
	}
	lim := kvLimits{
		maxCount: min(positiveOr(m.MaxKvCount, rangeMaxCount), rangeMaxCount),
		maxBytes: min(positiveOr(m.MaxKvSize, rangeMaxBytes), rangeMaxBytes),
	}
	sreq := &pb.ScanRequest{
		HashKey: m.HashKey, StartSortKey: r.start, StartInclusive: r.startIncl,
		StopSortKey: r.stop, StopInclusive: r.stopIncl, NoValue: m.NoValue,
	}
	var kvs []pegasusrpc.KeyValue
	var window visitWindow // reverse only
	for {
		sreq.BatchSize = fetchMaxRecords
		if !m.Reverse {
			// One more than the limit leaves room to see whether the
			// range goes on.
			sreq.BatchSize = int32(min(lim.maxCount-lim.count+1, fetchMaxRecords))
		}
		recs, cursor, oc := h.scanPage(ctx, req, req.Header.PartitionHash, sreq)
		if oc != okOutcome {
			return nil, oc
		}
		for _, rec := range recs {
			v := visit{kv: pegasusrpc.KeyValue{Key: rec.GetSortKey(), Value: rec.GetValue()}, kept: filter.match(rec.GetSortKey())}
			if m.Reverse {
				window.push(v, lim)
				continue
			}
			if lim.full() {
				return kvs, storageOutcome(pegasusrpc.StatusIncomplete)
			}
			lim.count++
			if v.kept {
				lim.bytes += v.size()
				kvs = append(kvs, v.kv)
			}
		}
		if cursor == nil {
			break
		}
	}
	if m.Reverse {
		kvs = window.kept()
		if window.dropped {
			return kvs, storageOutcome(pegasusrpc.StatusIncomplete)
		}
	}
	return kvs, okOutcome
}

// visit is one record of a range, and whether the filter kept it.
type visit struct {
	kv   pegasusrpc.KeyValue
	kept bool
}

// size is what the record counts against max_kv_size.
func (v visit) size() int {
	if !v.kept {
		return 0
	}
	return len(v.kv.Key) + len(v.kv.Value)
}

// visitWindow keeps the longest suffix of the records pushed so far that a
// backward walk under the limits would visit: walking from the last record
// backwards, a record is visited while the records already visited number
// fewer than max_kv_count and those kept among them weigh less than
// max_kv_size.
type visitWindow struct {
	visits  []visit
	bytes   int // of the kept records in visits
	dropped bool
}

func (w *visitWindow) push(v visit, lim kvLimits) {
	w.visits = append(w.visits, v)
	w.bytes += v.size()
	for len(w.visits) > 0 {
		first := w.visits[0].size()
		if len(w.visits)-1 < lim.maxCount && w.bytes-first < lim.maxBytes {
			break
		}
		w.visits = w.visits[1:]
		w.bytes -= first
		w.dropped = true
	}
}

func (w *visitWindow) kept() []pegasusrpc.KeyValue {
	var out []pegasusrpc.KeyValue
	for _, v := range w.visits {
		if v.kept {
			out = append(out, v.kv)
		}
	}
	return out
}

// scanPage reads one page of a scan and moves sreq past it: cursor and
// start bound both advance, as our own client does, so the next call
// resumes after the last record. cursor is nil when the scan is done.
func (h *ReplicaHandler) scanPage(ctx context.Context, req *pegasusrpc.Request, partitionHash uint64, sreq *pb.ScanRequest) (recs []*pb.ScanRecord, cursor []byte, oc outcome) {
	prev := sreq.Cursor
	resp, oc := h.read(ctx, req, partitionHash,
		&pb.ClientRequest{Op: &pb.ClientRequest_Scan{Scan: sreq}},
		func(r *pb.ClientResponse) bool { return r.GetScan() != nil })
	if oc != okOutcome {
		return nil, nil, oc
	}
	recs, cursor = resp.GetScan().GetRecords(), resp.GetScan().GetCursor()
	if len(cursor) == 0 {
		return recs, nil, okOutcome
	}
	if len(recs) == 0 && bytes.Equal(cursor, prev) {
		// A page that neither returns records nor moves would loop.
		return nil, nil, failureOutcome(ErrBackendResult)
	}
	sreq.Cursor = cursor
	if !sreq.Full && len(recs) > 0 {
		sreq.StartSortKey, sreq.StartInclusive = recs[len(recs)-1].GetSortKey(), false
	}
	return recs, cursor, okOutcome
}
