package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

func collect(t *testing.T, sc *Scanner) []Record {
	t.Helper()
	var out []Record
	for sc.Next() {
		out = append(out, sc.Record())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// countScans counts scan requests per partition on every replica server.
func countScans(fc *fakeCluster) (perPartition func() map[int32]int) {
	var mu sync.Mutex
	counts := make(map[int32]int)
	for _, r := range fc.replicas {
		r.setHook(func(req *pb.ClientRequest) fault {
			if req.GetScan() != nil {
				mu.Lock()
				counts[req.Gpid.GetPartitionIndex()]++
				mu.Unlock()
			}
			return fault{}
		})
	}
	return func() map[int32]int {
		mu.Lock()
		defer mu.Unlock()
		out := make(map[int32]int, len(counts))
		for k, v := range counts {
			out[k] = v
		}
		return out
	}
}

func TestScanSortKeyRange(t *testing.T) {
	fc := newFakeCluster(t, 1, 2)
	fc.createTable("t", 4)
	tbl := fc.open(fc.newClient(nil), "t")
	ctx := testCtx(t)
	const n = 250
	var kvs []KeyValue
	for i := range n {
		kvs = append(kvs, KeyValue{SortKey: b(fmt.Sprintf("s%03d", i)), Value: b(fmt.Sprint(i))})
	}
	if err := tbl.MultiSet(ctx, b("h"), kvs, 0); err != nil {
		t.Fatal(err)
	}
	tbl.Set(ctx, b("other"), b("s000"), b("x"), 0) // another hash key: never scanned
	scans := countScans(fc)

	all := collect(t, tbl.Scan(ctx, b("h"), nil, nil, &ScanOptions{BatchSize: 7}))
	if len(all) != n {
		t.Fatalf("scan returned %d records, want %d", len(all), n)
	}
	for i, rec := range all {
		if string(rec.HashKey) != "h" || string(rec.SortKey) != fmt.Sprintf("s%03d", i) || string(rec.Value) != fmt.Sprint(i) {
			t.Fatalf("record %d = %q/%q=%q", i, rec.HashKey, rec.SortKey, rec.Value)
		}
	}
	total := 0
	for _, c := range scans() {
		total += c
	}
	if want := (n + 6) / 7; total < want {
		t.Fatalf("%d scan round trips for %d records in batches of 7, want at least %d", total, n, want)
	}

	for _, tc := range []struct {
		name        string
		opts        ScanOptions
		first, last string
		count       int
	}{
		{"half open", ScanOptions{BatchSize: 3}, "s010", "s019", 10},
		{"open closed", ScanOptions{BatchSize: 3, StartExclusive: true, StopInclusive: true}, "s011", "s020", 10},
		{"closed closed", ScanOptions{BatchSize: 100, StopInclusive: true}, "s010", "s020", 11},
	} {
		got := collect(t, tbl.Scan(ctx, b("h"), b("s010"), b("s020"), &tc.opts))
		if len(got) != tc.count || string(got[0].SortKey) != tc.first || string(got[len(got)-1].SortKey) != tc.last {
			t.Errorf("%s: %d records %q..%q, want %d %s..%s", tc.name, len(got), got[0].SortKey, got[len(got)-1].SortKey, tc.count, tc.first, tc.last)
		}
	}

	keysOnly := collect(t, tbl.Scan(ctx, b("h"), b("s240"), nil, &ScanOptions{NoValue: true}))
	if len(keysOnly) != 10 || keysOnly[0].Value != nil {
		t.Fatalf("NoValue scan: %d records, first value %q", len(keysOnly), keysOnly[0].Value)
	}
	if got := collect(t, tbl.Scan(ctx, b("nobody"), nil, nil, nil)); len(got) != 0 {
		t.Fatalf("scan of an empty hash key returned %d records", len(got))
	}
}

// TestFullScanAllPartitions: every record of every partition comes back
// exactly once, across many batches per partition.
func TestFullScanAllPartitions(t *testing.T) {
	fc := newFakeCluster(t, 1, 3)
	fc.createTable("t", 8)
	tbl := fc.open(fc.newClient(nil), "t")
	ctx := testCtx(t)
	want := make(map[string]string)
	for i := range 300 {
		hk, sk := fmt.Sprintf("user-%d", i%37), fmt.Sprintf("field-%d", i)
		want[hk+"/"+sk] = fmt.Sprint(i)
		if err := tbl.Set(ctx, b(hk), b(sk), b(fmt.Sprint(i)), 0); err != nil {
			t.Fatal(err)
		}
	}
	scans := countScans(fc)
	got := collect(t, tbl.FullScan(ctx, &FullScanOptions{BatchSize: 5}))
	if len(got) != len(want) {
		t.Fatalf("full scan returned %d records, want %d", len(got), len(want))
	}
	for _, rec := range got {
		k := string(rec.HashKey) + "/" + string(rec.SortKey)
		v, ok := want[k]
		if !ok || v != string(rec.Value) {
			t.Fatalf("unexpected or repeated record %s=%q", k, rec.Value)
		}
		delete(want, k)
	}
	perPartition := scans()
	if len(perPartition) != 8 {
		t.Fatalf("scanned partitions %v, want all 8", perPartition)
	}
	for pidx, c := range perPartition {
		if c < 2 {
			t.Errorf("partition %d scanned in %d batch(es); the cursor was not exercised", pidx, c)
		}
	}
}

// TestFullScanOnePartition: OnePartition reads that partition only, and a
// partition the table does not have is an invalid argument.
func TestFullScanOnePartition(t *testing.T) {
	fc := newFakeCluster(t, 1, 3)
	fc.createTable("t", 4)
	tbl := fc.open(fc.newClient(nil), "t")
	ctx := testCtx(t)
	for i := range 40 {
		if err := tbl.Set(ctx, b(fmt.Sprintf("user-%d", i)), b("f"), b("v"), 0); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for pidx := range 4 {
		scans := countScans(fc)
		got := collect(t, tbl.FullScan(ctx, &FullScanOptions{OnePartition: true, Partition: pidx}))
		for _, rec := range got {
			if p := int(PartitionHash(rec.HashKey, nil) % 4); p != pidx {
				t.Fatalf("partition %d scan returned %q of partition %d", pidx, rec.HashKey, p)
			}
		}
		if per := scans(); len(per) != 1 {
			t.Fatalf("partition %d scan touched partitions %v", pidx, per)
		}
		total += len(got)
	}
	if total != 40 {
		t.Fatalf("partition scans returned %d records in all, want 40", total)
	}
	sc := tbl.FullScan(ctx, &FullScanOptions{OnePartition: true, Partition: 4})
	if sc.Next() || !errors.Is(sc.Err(), ErrInvalidArgument) {
		t.Fatalf("partition 4 of 4: %v", sc.Err())
	}
}

// TestScanAcrossPrimaryMove: the partition's primary moves between two
// batches; the scan follows it and loses nothing.
func TestScanAcrossPrimaryMove(t *testing.T) {
	fc := newFakeCluster(t, 1, 2)
	fc.createTable("t", 1)
	tbl := fc.open(fc.newClient(nil), "t")
	ctx := testCtx(t)
	for i := range 20 {
		tbl.Set(ctx, b("h"), b(fmt.Sprintf("s%02d", i)), b("v"), 0)
	}
	sc := tbl.Scan(ctx, b("h"), nil, nil, &ScanOptions{BatchSize: 4})
	var got []string
	for sc.Next() {
		got = append(got, string(sc.Record().SortKey))
		if len(got) == 2 {
			fc.movePrimary("t", 0, fc.replicas[1].addr, answerHint, false)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 20 || got[19] != "s19" {
		t.Fatalf("scan across a move returned %v", got)
	}
	if fc.replicas[1].requests.Load() == 0 {
		t.Fatal("the scan never reached the new primary")
	}
}

func TestScanCanceled(t *testing.T) {
	fc := newFakeCluster(t, 1, 1)
	fc.createTable("t", 2)
	tbl := fc.open(fc.newClient(nil), "t")
	for i := range 10 {
		tbl.Set(testCtx(t), b("h"), b(fmt.Sprint(i)), b("v"), 0)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sc := tbl.FullScan(ctx, &FullScanOptions{BatchSize: 2})
	if !sc.Next() {
		t.Fatal(sc.Err())
	}
	cancel()
	for sc.Next() {
	}
	if !errors.Is(sc.Err(), context.Canceled) {
		t.Fatalf("Err after cancel = %v", sc.Err())
	}
}
