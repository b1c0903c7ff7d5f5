package pegasusserve

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// scanAll drives a scanner the way the official Go client does: open it,
// then scan while the context id is valid, and returns the records as
// "hash/sort=value" with the number of calls it took.
func (r *replicaRig) scanAll(g *pegasusrpc.GetScannerRequest) (records []string, calls int) {
	r.t.Helper()
	resp := r.c.mustCall(r.gpid, 0, pegasusrpc.RPCGetScanner, g).(*pegasusrpc.ScanResponse)
	for calls = 1; ; calls++ {
		if resp.Error != pegasusrpc.StatusOK {
			r.t.Fatalf("scan call %d: status %v", calls, resp.Error)
		}
		for _, kv := range resp.Kvs {
			hk, sk, err := pegasusrpc.DecodeKey(kv.Key)
			if err != nil {
				r.t.Fatalf("scan returned a key that is not a full key: %x", kv.Key)
			}
			records = append(records, fmt.Sprintf("%s/%s=%s", hk, sk, kv.Value))
		}
		if resp.ContextID < 0 {
			if resp.ContextID != pegasusrpc.ScanContextCompleted {
				r.t.Fatalf("scan ended with context %d", resp.ContextID)
			}
			return records, calls
		}
		resp = r.c.mustCall(r.gpid, 0, pegasusrpc.RPCScan, &pegasusrpc.ScanRequest{ContextID: resp.ContextID}).(*pegasusrpc.ScanResponse)
	}
}

func (r *replicaRig) fill(hashKeys []string, sortKeys int) {
	r.t.Helper()
	for _, h := range hashKeys {
		var kvs []pegasusrpc.KeyValue
		for i := range sortKeys {
			kvs = append(kvs, pegasusrpc.KeyValue{Key: fmt.Appendf(nil, "s%02d", i), Value: fmt.Appendf(nil, "%s%d", h, i)})
		}
		r.call([]byte(h), pegasusrpc.RPCMultiPut, &pegasusrpc.MultiPutRequest{HashKey: []byte(h), Kvs: kvs})
	}
}

// GetScanner of the Go client: one hash key, the stop key built from the
// stop sort key or, without one, from the sort key 0xFFFF.
func TestScanWithinHashKey(t *testing.T) {
	r := newReplicaRig(t)
	r.fill([]string{"a", "h", "hh"}, 25)
	got, calls := r.scanAll(&pegasusrpc.GetScannerRequest{
		StartKey: fullKey(t, "h", ""), StopKey: fullKey(t, "h", "\xff\xff"), StartInclusive: true, BatchSize: 10,
	})
	if len(got) != 25 || got[0] != "h/s00=h0" || got[24] != "h/s24=h24" || calls != 3 {
		t.Fatalf("scan of one hash key in batches of 10: %d records in %d calls: %v", len(got), calls, got)
	}
	if n := r.h.scans.len(); n != 0 {
		t.Fatalf("%d scan contexts left after a completed scan", n)
	}
	for _, req := range r.fake.requests() {
		if s := req.GetScan(); s != nil && (s.GetFull() || string(s.GetHashKey()) != "h") {
			t.Fatalf("scan of one hash key sent to the replica as %v", s)
		}
	}

	got, _ = r.scanAll(&pegasusrpc.GetScannerRequest{
		StartKey: fullKey(t, "h", "s03"), StopKey: fullKey(t, "h", "s06"), StopInclusive: true, NoValue: true,
		SortKeyFilterType: pegasusrpc.FilterMatchPostfix, SortKeyFilterPattern: []byte("5"),
	})
	if want := []string{"h/s05="}; !slices.Equal(got, want) {
		t.Fatalf("bounded, filtered scan: %v, want %v", got, want)
	}
	// The stop key of the next hash key, excluded (the Java client's
	// form): the whole hash key.
	next, _ := prefixEnd(fullKey(t, "h", ""))
	got, _ = r.scanAll(&pegasusrpc.GetScannerRequest{StartKey: fullKey(t, "h", "s20"), StopKey: next, StartInclusive: true})
	if len(got) != 5 || got[0] != "h/s20=h20" {
		t.Fatalf("scan to the end of the hash key: %v", got)
	}
	// A stop at the hash key's empty sort key, excluded: nothing.
	got, _ = r.scanAll(&pegasusrpc.GetScannerRequest{StartKey: fullKey(t, "h", ""), StopKey: fullKey(t, "h", ""), StartInclusive: true})
	if len(got) != 0 {
		t.Fatalf("empty range returned %v", got)
	}
}

// GetUnorderedScanners of the Go client: a whole partition, from 0x0000
// to 0xFFFF, with filters and options.
func TestScanWholePartition(t *testing.T) {
	r := newReplicaRig(t)
	r.fill([]string{"b", "a", "ab", "ba"}, 3)
	whole := func(g pegasusrpc.GetScannerRequest) []string {
		g.StartKey, g.StopKey, g.StartInclusive = []byte{0, 0}, []byte{0xFF, 0xFF}, true
		g.ValidatePartitionHash = pegasusrpc.Some(true)
		got, _ := r.scanAll(&g)
		return got
	}
	// Key order: hash key length first, then hash key, then sort key.
	want := []string{"a/s00=a0", "a/s01=a1", "a/s02=a2", "b/s00=b0", "b/s01=b1", "b/s02=b2",
		"ab/s00=ab0", "ab/s01=ab1", "ab/s02=ab2", "ba/s00=ba0", "ba/s01=ba1", "ba/s02=ba2"}
	if got := whole(pegasusrpc.GetScannerRequest{BatchSize: 5}); !slices.Equal(got, want) {
		t.Fatalf("whole partition:\n got %v\nwant %v", got, want)
	}
	got := whole(pegasusrpc.GetScannerRequest{HashKeyFilterType: pegasusrpc.FilterMatchPrefix, HashKeyFilterPattern: []byte("b"), NoValue: true})
	if want := []string{"b/s00=", "b/s01=", "b/s02=", "ba/s00=", "ba/s01=", "ba/s02="}; !slices.Equal(got, want) {
		t.Fatalf("hash key prefix filter: %v, want %v", got, want)
	}
	got = whole(pegasusrpc.GetScannerRequest{HashKeyFilterType: pegasusrpc.FilterMatchPostfix, HashKeyFilterPattern: []byte("a"),
		SortKeyFilterType: pegasusrpc.FilterMatchAnywhere, SortKeyFilterPattern: []byte("1")})
	if want := []string{"a/s01=a1", "ba/s01=ba1"}; !slices.Equal(got, want) {
		t.Fatalf("hash postfix and sort anywhere filters: %v, want %v", got, want)
	}
	// A range across hash keys that starts after the first key.
	got, _ = r.scanAll(&pegasusrpc.GetScannerRequest{StartKey: fullKey(t, "b", "s01"), StopKey: fullKey(t, "ab", "s01"), StartInclusive: true, StopInclusive: true, BatchSize: 2})
	if want := []string{"b/s01=b1", "b/s02=b2", "ab/s00=ab0", "ab/s01=ab1"}; !slices.Equal(got, want) {
		t.Fatalf("range across hash keys: %v, want %v", got, want)
	}

	// Counting scans return counts, not records.
	resp := r.c.mustCall(r.gpid, 0, pegasusrpc.RPCGetScanner, &pegasusrpc.GetScannerRequest{
		StartKey: []byte{0, 0}, StopKey: []byte{0xFF, 0xFF}, StartInclusive: true, OnlyReturnCount: pegasusrpc.Some(true),
	}).(*pegasusrpc.ScanResponse)
	if len(resp.Kvs) != 0 || resp.KvCount.Or(-1) != 12 || resp.ContextID != pegasusrpc.ScanContextCompleted {
		t.Fatalf("counting scan: %d kvs, count %v, context %d", len(resp.Kvs), resp.KvCount, resp.ContextID)
	}
	for _, req := range r.fake.requests() {
		if s := req.GetScan(); s != nil && !s.GetFull() && len(s.GetHashKey()) == 0 {
			t.Fatalf("scan across hash keys sent as a hash key scan: %v", s)
		}
	}
}

func TestScanReturnsExpireTimes(t *testing.T) {
	r := newReplicaRig(t)
	r.put("h", "a", "1", r.expireIn(time.Hour))
	r.put("h", "b", "2", 0)
	resp := r.c.mustCall(r.gpid, 0, pegasusrpc.RPCGetScanner, &pegasusrpc.GetScannerRequest{
		StartKey: fullKey(t, "h", ""), StopKey: fullKey(t, "h", "\xff"), StartInclusive: true, ReturnExpireTs: pegasusrpc.Some(true),
	}).(*pegasusrpc.ScanResponse)
	if len(resp.Kvs) != 2 {
		t.Fatalf("scan: %+v", resp)
	}
	if got, want := resp.Kvs[0].ExpireTsSeconds, pegasusrpc.Some(r.expireIn(time.Hour)); got != want {
		t.Errorf("expire time of a record with a TTL: %v, want %v", got, want)
	}
	if got := resp.Kvs[1].ExpireTsSeconds; got != pegasusrpc.Some(int32(0)) {
		t.Errorf("expire time of a record without TTL: %v, want 0", got)
	}
}

// The life of a scan context: kept between calls, freed by clear_scanner
// (never answered), by idleness, or by eviction; a context that is gone
// reads as such, which the clients recover from.
func TestScanContextLifecycle(t *testing.T) {
	r := newReplicaRig(t)
	r.fill([]string{"h"}, 10)
	open := func() pegasusrpc.ScanContextID {
		t.Helper()
		resp := r.c.mustCall(r.gpid, 0, pegasusrpc.RPCGetScanner, &pegasusrpc.GetScannerRequest{
			StartKey: fullKey(t, "h", ""), StopKey: fullKey(t, "h", "\xff"), StartInclusive: true, BatchSize: 3,
		}).(*pegasusrpc.ScanResponse)
		if len(resp.Kvs) != 3 || resp.ContextID < 0 {
			t.Fatalf("get_scanner: %d records, context %d", len(resp.Kvs), resp.ContextID)
		}
		return resp.ContextID
	}
	scan := func(id pegasusrpc.ScanContextID) *pegasusrpc.ScanResponse {
		t.Helper()
		return r.c.mustCall(r.gpid, 0, pegasusrpc.RPCScan, &pegasusrpc.ScanRequest{ContextID: id}).(*pegasusrpc.ScanResponse)
	}
	gone := func(resp *pegasusrpc.ScanResponse) bool {
		return resp.Error == pegasusrpc.StatusNotFound && resp.ContextID == pegasusrpc.ScanContextNotExist
	}

	// clear_scanner frees the context and gets no answer. Requests of a
	// connection run concurrently, so the test waits for the context to
	// go before scanning it.
	id := open()
	clear := pegasusrpc.ScanContextID(id)
	r.c.sendOneway(r.c.request(r.gpid, 0, pegasusrpc.RPCClearScanner, &clear))
	for deadline := time.Now().Add(10 * time.Second); r.h.scans.len() != 0; {
		if time.Now().After(deadline) {
			t.Fatal("clear_scanner did not free the context")
		}
		time.Sleep(time.Millisecond)
	}
	if resp := scan(id); !gone(resp) {
		t.Fatalf("scan after clear_scanner: %+v", resp)
	}
	if s := r.c.strays(); len(s) != 0 {
		t.Fatalf("clear_scanner was answered: %+v", s)
	}

	// A context of another partition is not found there, and survives.
	id = open()
	other := r.c.mustCall(pegasusrpc.Gpid{AppID: 2, PartitionIndex: 1}, 0, pegasusrpc.RPCScan, &pegasusrpc.ScanRequest{ContextID: id}).(*pegasusrpc.ScanResponse)
	if !gone(other) {
		t.Fatalf("scan of another partition's context: %+v", other)
	}
	if resp := scan(id); resp.Error != pegasusrpc.StatusOK || len(resp.Kvs) != 3 {
		t.Fatalf("scan after a foreign partition asked for the context: %+v", resp)
	}

	// Idle contexts expire.
	r.clock.Advance(DefaultScanIdleTimeout + time.Second)
	if resp := scan(id); !gone(resp) {
		t.Fatalf("scan of an idle context: %+v", resp)
	}
	open()
	r.clock.Advance(DefaultScanIdleTimeout + time.Second)
	if n := r.h.scans.expire(); n != 1 || r.h.scans.len() != 0 {
		t.Fatalf("sweep dropped %d contexts, %d left", n, r.h.scans.len())
	}

	// Past the bound, the least recently used context goes.
	r.h.scans.max = 2
	first, second := open(), open()
	r.clock.Advance(time.Second)
	scan(first) // now second is the least recently used
	third := open()
	if resp := scan(second); !gone(resp) {
		t.Fatalf("the least recently used context survived eviction: %+v", resp)
	}
	for _, id := range []pegasusrpc.ScanContextID{first, third} {
		if resp := scan(id); resp.Error != pegasusrpc.StatusOK {
			t.Fatalf("context %d evicted instead: %+v", id, resp)
		}
	}
}

// A batch that fails at the replica leaves the context as it was, so the
// same scan call can be repeated.
func TestScanContextSurvivesFailedBatch(t *testing.T) {
	r := newReplicaRig(t)
	r.fill([]string{"h"}, 9)
	resp := r.c.mustCall(r.gpid, 0, pegasusrpc.RPCGetScanner, &pegasusrpc.GetScannerRequest{
		StartKey: fullKey(t, "h", ""), StopKey: fullKey(t, "h", "\xff"), StartInclusive: true, BatchSize: 3,
	}).(*pegasusrpc.ScanResponse)
	id := resp.ContextID
	r.fake.setFail(failAll(&pb.Error{Code: pb.ErrorCode_ERR_INVALID_STATE}))
	if resp, err := r.c.call(r.gpid, 0, pegasusrpc.RPCScan, &pegasusrpc.ScanRequest{ContextID: id}); err != nil || resp.Err != pegasusrpc.CodeObjectNotFound {
		t.Fatalf("scan at a replica that lost its role: %v %v", resp.Err, err)
	}
	r.fake.setFail(nil)
	var sortKeys []string
	for id >= 0 {
		resp := r.c.mustCall(r.gpid, 0, pegasusrpc.RPCScan, &pegasusrpc.ScanRequest{ContextID: id}).(*pegasusrpc.ScanResponse)
		for _, kv := range resp.Kvs {
			_, sk, _ := pegasusrpc.DecodeKey(kv.Key)
			sortKeys = append(sortKeys, string(sk))
		}
		id = resp.ContextID
	}
	if got := strings.Join(sortKeys, ","); got != "s03,s04,s05,s06,s07,s08" {
		t.Fatalf("records after the failed batch: %s", got)
	}
}

func TestScanRefusesBadFilter(t *testing.T) {
	r := newReplicaRig(t)
	resp := r.c.mustCall(r.gpid, 0, pegasusrpc.RPCGetScanner, &pegasusrpc.GetScannerRequest{
		StartKey: []byte{0, 0}, StopKey: []byte{0xFF, 0xFF}, HashKeyFilterType: 4,
	}).(*pegasusrpc.ScanResponse)
	if resp.Error != pegasusrpc.StatusInvalidArgument || resp.ContextID != pegasusrpc.ScanContextCompleted {
		t.Fatalf("get_scanner with an unknown filter type: %+v", resp)
	}
}
