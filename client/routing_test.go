package client

import (
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// TestPartitionHashVectors pins the hash to Pegasus' CRC-64 (polynomial
// 0x9a6c9329ac4bc9b5, reflected): "a" lands in partition 4 of 8 as the
// official Go client's own test says, and the other keys were computed with
// an independent bitwise implementation. Every role must place keys the same
// way, so this must never change.
func TestPartitionHashVectors(t *testing.T) {
	for _, tc := range []struct {
		hashKey, sortKey string
		want             uint64
		pidx8            uint64
	}{
		{"123456789", "", 0xae8b14860a799888, 0},
		{"a", "ignored", 0x8c2f8445b4cbfc3c, 4},
		{"user:42", "", 0xcb0d361b08e60141, 1},
		{"hello world", "x", 0x8d29d5c3f6ea8ebe, 6},
		// Empty hash key: the sort key places the record.
		{"", "sort-only", 0x1067837c73ba7dcd, 5},
		{"", "", 0, 0},
	} {
		got := PartitionHash([]byte(tc.hashKey), []byte(tc.sortKey))
		if got != tc.want || got%8 != tc.pidx8 {
			t.Errorf("PartitionHash(%q, %q) = %#x (partition %d of 8), want %#x (partition %d)",
				tc.hashKey, tc.sortKey, got, got%8, tc.want, tc.pidx8)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		key := make([]byte, rng.IntN(64))
		for i := range key {
			key[i] = byte(rng.Uint32())
		}
		if got, want := PartitionHash(key, nil), refCRC64(key); got != want {
			t.Fatalf("PartitionHash(%x) = %#x, reference %#x", key, got, want)
		}
	}
}

// TestRequestsCarryRouting checks what reaches the replica: the gpid of the
// partition the key hashes to and the hash itself, for single-record,
// multi-record and empty-hash-key operations.
func TestRequestsCarryRouting(t *testing.T) {
	fc := newFakeCluster(t, 1, 3)
	ft := fc.createTable("t", 16)
	tbl := fc.open(fc.newClient(nil), "t")
	ctx := testCtx(t)

	var mu sync.Mutex
	var seen []*pb.ClientRequest
	for _, r := range fc.replicas {
		r.setHook(func(req *pb.ClientRequest) fault {
			mu.Lock()
			seen = append(seen, req)
			mu.Unlock()
			return fault{}
		})
	}
	if _, _, err := tbl.Get(ctx, []byte("user:42"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := tbl.Set(ctx, nil, []byte("sort-only"), []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := tbl.SortKeyCount(ctx, []byte("hello world")); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		hash uint64
		pidx int32
	}{
		{0xcb0d361b08e60141, 1},
		{0x1067837c73ba7dcd, 13},
		{0x8d29d5c3f6ea8ebe, 14},
	}
	if len(seen) != len(want) {
		t.Fatalf("replicas saw %d requests, want %d", len(seen), len(want))
	}
	for i, w := range want {
		req := seen[i]
		if req.PartitionHash != w.hash || req.Gpid.GetPartitionIndex() != w.pidx || req.Gpid.GetAppId() != ft.appID {
			t.Errorf("request %d carries hash %#x gpid %d.%d; want %#x %d.%d",
				i, req.PartitionHash, req.Gpid.GetAppId(), req.Gpid.GetPartitionIndex(), w.hash, ft.appID, w.pidx)
		}
		if req.TimeoutMs == 0 || req.TimeoutMs > 10000 {
			t.Errorf("request %d carries timeout %d ms, want the remaining operation time", i, req.TimeoutMs)
		}
	}
	if seen[0].RequestId != nil {
		t.Errorf("a read carries a RequestID")
	}
	if rid := seen[1].RequestId; rid == nil || rid.ClientId == 0 || rid.Seq == 0 {
		t.Errorf("a write carries RequestID %v", rid)
	}
}

// TestRouteCacheMerge covers how a configuration answer merges with routes
// learned from hints: newer ballots win, a recreated or resized table is
// replaced outright, and malformed answers are refused.
func TestRouteCacheMerge(t *testing.T) {
	rc := newRouteCache("t", nil, 0)
	conf := func(appID int32, parts ...*pb.PartitionConfiguration) *pb.QueryConfigResponse {
		return &pb.QueryConfigResponse{Table: &pb.TableInfo{AppId: appID, PartitionCount: int32(len(parts))}, Partitions: parts}
	}
	part := func(appID, pidx int32, primary string, ballot int64) *pb.PartitionConfiguration {
		return &pb.PartitionConfiguration{Gpid: &pb.Gpid{AppId: appID, PartitionIndex: pidx}, Primary: primary, Ballot: ballot}
	}
	if err := rc.install(conf(1, part(1, 1, "b", 3), part(1, 0, "a", 3))); err != nil {
		t.Fatal(err)
	}
	if rt := rc.snapshot(); rt.parts[0].primary != "a" || rt.parts[1].primary != "b" {
		t.Fatalf("partitions not placed by index: %+v", rt.parts)
	}

	rc.learnPrimary(1, 0, "c", 4)
	rc.learnPrimary(1, 1, "stale", 3) // not newer: ignored
	rc.learnPrimary(2, 1, "other", 9) // another incarnation: ignored
	if rt := rc.snapshot(); rt.parts[0] != (partitionRoute{"c", 4}) || rt.parts[1] != (partitionRoute{"b", 3}) {
		t.Fatalf("after hints: %+v", rt.parts)
	}
	gen := rc.snapshot().generation

	// A lagging meta server does not roll the hint back; a newer ballot wins.
	rc.install(conf(1, part(1, 0, "a", 3), part(1, 1, "d", 5)))
	if rt := rc.snapshot(); rt.parts[0] != (partitionRoute{"c", 4}) || rt.parts[1] != (partitionRoute{"d", 5}) || rt.generation <= gen {
		t.Fatalf("after merge: %+v gen %d", rt.parts, rt.generation)
	}
	// The table was dropped and recreated: everything is replaced.
	rc.install(conf(7, part(7, 0, "x", 1), part(7, 1, "y", 1), part(7, 2, "z", 1)))
	if rt := rc.snapshot(); rt.appID != 7 || len(rt.parts) != 3 || rt.parts[0] != (partitionRoute{"x", 1}) {
		t.Fatalf("after recreate: %+v", rt)
	}

	for name, bad := range map[string]*pb.QueryConfigResponse{
		"no partitions":   conf(1),
		"count mismatch":  {Table: &pb.TableInfo{AppId: 1, PartitionCount: 2}, Partitions: []*pb.PartitionConfiguration{part(1, 0, "a", 1)}},
		"repeated index":  conf(1, part(1, 0, "a", 1), part(1, 0, "b", 1)),
		"index too large": conf(1, part(1, 0, "a", 1), part(1, 2, "b", 1)),
	} {
		if err := rc.install(bad); err == nil {
			t.Errorf("%s: malformed configuration accepted", name)
		}
	}
	if rt := rc.snapshot(); rt.appID != 7 {
		t.Fatalf("a refused configuration changed the routing: %+v", rt)
	}
}
