package storage

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// t0 is the Unix time of the tests' first mutation.
const t0 = 1_700_000_000

// testClock is a settable wall clock for reads.
type testClock struct{ unix atomic.Int64 }

func newTestClock(unix int64) *testClock {
	c := &testClock{}
	c.unix.Store(unix)
	return c
}

func (c *testClock) now() time.Time { return time.Unix(c.unix.Load(), 0) }
func (c *testClock) set(unix int64) { c.unix.Store(unix) }

// openStore opens a store in dir on fs, closed at the end of the test.
func openStore(t testing.TB, fs vfs.FS, dir string, clock *testClock, opts Options) *Store {
	t.Helper()
	opts.FS = fs
	if clock != nil {
		opts.Clock = clock.now
	}
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// newMemStore opens a fresh store on an in-memory filesystem.
func newMemStore(t testing.TB, clock *testClock) *Store {
	return openStore(t, vfs.NewMem(), "/store", clock, Options{})
}

func mustApply(t testing.TB, s *Store, decree int64, now uint32, ops ...WriteOp) []OpResult {
	t.Helper()
	res, err := s.Apply(decree, now, RequestID{}, ops)
	if err != nil {
		t.Fatalf("Apply(%d): %v", decree, err)
	}
	return res
}

// lookup returns a record's value, or "<absent>".
func lookup(t testing.TB, s *Store, hash, sort string) string {
	t.Helper()
	v, err := s.Get([]byte(hash), []byte(sort))
	if errors.Is(err, ErrNotFound) {
		return "<absent>"
	}
	if err != nil {
		t.Fatalf("Get(%q, %q): %v", hash, sort, err)
	}
	return string(v)
}

func put(hash, sort, value string) Put {
	return Put{HashKey: []byte(hash), SortKey: []byte(sort), Value: []byte(value)}
}

func TestApplyDecreeOrdering(t *testing.T) {
	s := newMemStore(t, nil)
	if got := s.LastAppliedDecree(); got != 0 {
		t.Fatalf("new store: last applied %d", got)
	}
	mustApply(t, s, 1, t0, put("h", "a", "1"))
	mustApply(t, s, 2, t0, put("h", "b", "2"))
	mustApply(t, s, 5, t0) // an empty mutation advances the decree too
	for _, stale := range []int64{5, 3, 0, -1} {
		res, err := s.Apply(stale, t0, RequestID{}, []WriteOp{put("h", "a", "stale")})
		if !errors.Is(err, ErrStaleDecree) || res != nil {
			t.Fatalf("Apply(%d) after 5 = %v, %v; want ErrStaleDecree", stale, res, err)
		}
	}
	if got := s.LastAppliedDecree(); got != 5 {
		t.Fatalf("last applied %d, want 5", got)
	}
	if got := lookup(t, s, "h", "a"); got != "1" {
		t.Fatalf("a stale Apply wrote: h/a = %q", got)
	}
}

func TestValidateAgainstConfiguredLimits(t *testing.T) {
	s := openStore(t, vfs.NewMem(), "/store", nil, Options{MaxSortKeySize: 4, MaxValueSize: 8})
	ok := []WriteOp{put("h", "abcd", "12345678")}
	if err := s.Validate(ok); err != nil {
		t.Fatalf("ops at the limits: %v", err)
	}
	for _, tc := range []struct {
		ops  []WriteOp
		want error
	}{
		{[]WriteOp{put("h", "abcde", "")}, ErrSortKeyTooLarge},
		{[]WriteOp{put("h", "a", "123456789")}, ErrValueTooLarge},
		{[]WriteOp{ok[0], Put{HashKey: make([]byte, MaxHashKeySize+1)}}, ErrHashKeyTooLarge},
		{[]WriteOp{MultiRemove{HashKey: []byte("h")}}, ErrEmptyMultiOp},
	} {
		if err := s.Validate(tc.ops); !errors.Is(err, tc.want) {
			t.Errorf("Validate(%v) = %v, want %v", tc.ops, err, tc.want)
		}
	}
}

// An op that breaks the encoding's constraints can only reach Apply through a
// bug upstream; it must fail alone, identically on every replica, without
// writing anything or stopping the mutation.
func TestApplyRefusesInvalidOpAlone(t *testing.T) {
	s := newMemStore(t, nil)
	res := mustApply(t, s, 1, t0,
		put("h", "before", "1"),
		Put{HashKey: make([]byte, MaxHashKeySize+1), SortKey: []byte("x"), Value: []byte("bad")},
		MultiPut{HashKey: []byte("h")},
		Put{HashKey: []byte("h"), SortKey: []byte("neg"), Value: []byte("v"), TTLSeconds: -5},
		&Put{HashKey: []byte("h"), SortKey: []byte("ptr")},
		put("h", "after", "2"),
	)
	wantErrs := []error{nil, ErrHashKeyTooLarge, ErrEmptyMultiOp, ErrInvalidTTL, ErrUnknownOp, nil}
	for i, want := range wantErrs {
		if !errors.Is(res[i].Err, want) || (want == nil && res[i].Err != nil) {
			t.Errorf("op %d: %v, want %v", i, res[i].Err, want)
		}
	}
	if lookup(t, s, "h", "before") != "1" || lookup(t, s, "h", "after") != "2" {
		t.Fatalf("valid ops around the invalid ones were not applied")
	}
	for _, sk := range []string{"neg", "ptr"} {
		if got := lookup(t, s, "h", sk); got != "<absent>" {
			t.Errorf("invalid op wrote h/%s = %q", sk, got)
		}
	}
	recs, _, err := s.FullScan(nil, ReadOptions{})
	if err != nil || len(recs) != 2 {
		t.Fatalf("store holds %d records (%v), want 2", len(recs), err)
	}
	if s.LastAppliedDecree() != 1 {
		t.Fatalf("decree did not advance")
	}
}

// With the WAL off a crash loses what was not flushed. The store must come
// back at exactly its last flush: the decree it reports and the data agree.
func TestCrashRestoresLastFlush(t *testing.T) {
	fs := vfs.NewCrashableMem()
	s := openStore(t, fs, "/store", nil, Options{})
	for d := int64(1); d <= 3; d++ {
		mustApply(t, s, d, t0, put("h", fmt.Sprint(d), "v"))
	}
	durable, err := s.Flush()
	if err != nil || durable != 3 || s.DurableDecree() != 3 {
		t.Fatalf("Flush = %d, %v; DurableDecree %d; want 3", durable, err, s.DurableDecree())
	}
	for d := int64(4); d <= 6; d++ {
		mustApply(t, s, d, t0, put("h", fmt.Sprint(d), "v"), Remove{HashKey: []byte("h"), SortKey: []byte("1")})
	}

	crashed := openStore(t, fs.CrashClone(vfs.CrashCloneCfg{}), "/store", nil, Options{})
	if got := crashed.LastAppliedDecree(); got != 3 {
		t.Fatalf("after crash: last applied %d, want 3", got)
	}
	if got := crashed.DurableDecree(); got != 3 {
		t.Fatalf("after crash: durable %d, want 3", got)
	}
	for d := 1; d <= 6; d++ {
		want := "v"
		if d > 3 {
			want = "<absent>"
		}
		if got := lookup(t, crashed, "h", fmt.Sprint(d)); got != want {
			t.Errorf("after crash: h/%d = %q, want %q", d, got, want)
		}
	}
	// Replaying the log from the reported decree brings the store back.
	for d := int64(4); d <= 6; d++ {
		mustApply(t, crashed, d, t0, put("h", fmt.Sprint(d), "v"), Remove{HashKey: []byte("h"), SortKey: []byte("1")})
	}
	if lookup(t, crashed, "h", "1") != "<absent>" || lookup(t, crashed, "h", "6") != "v" {
		t.Fatalf("replay after crash did not converge")
	}
}

func TestCrashBeforeAnyFlush(t *testing.T) {
	fs := vfs.NewCrashableMem()
	s := openStore(t, fs, "/store", nil, Options{})
	mustApply(t, s, 1, t0, put("h", "s", "v"))
	crashed := openStore(t, fs.CrashClone(vfs.CrashCloneCfg{}), "/store", nil, Options{})
	if crashed.LastAppliedDecree() != 0 || lookup(t, crashed, "h", "s") != "<absent>" {
		t.Fatalf("after crash: decree %d, h/s %q; want an empty store", crashed.LastAppliedDecree(), lookup(t, crashed, "h", "s"))
	}
}

// Pebble also flushes full memtables on its own. Whatever a crash keeps must
// still be a prefix of the applied mutations that matches the decree stored
// with it, since every Apply writes its ops and its decree in one batch.
func TestCrashAfterBackgroundFlushesKeepsAPrefix(t *testing.T) {
	fs := vfs.NewCrashableMem()
	s := openStore(t, fs, "/store", nil, Options{MemTableSize: 256 << 10})
	const n = 1500
	value := make([]byte, 1024)
	for d := int64(1); d <= n; d++ {
		mustApply(t, s, d, t0, Put{HashKey: []byte("h"), SortKey: fmt.Appendf(nil, "%06d", d), Value: value},
			Incr{HashKey: []byte("h"), SortKey: []byte("count"), Delta: 1})
	}
	deadline := time.Now().Add(20 * time.Second)
	for s.db.Metrics().Flush.Count == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no background flush within 20s")
		}
		time.Sleep(10 * time.Millisecond)
	}

	crashed := openStore(t, fs.CrashClone(vfs.CrashCloneCfg{}), "/store", nil, Options{})
	last := crashed.LastAppliedDecree()
	t.Logf("crash kept decrees 1..%d of %d", last, n)
	if last == 0 || last >= n {
		t.Fatalf("after crash: last applied %d, want within (0, %d)", last, n)
	}
	if got := lookup(t, crashed, "h", "count"); got != fmt.Sprint(last) {
		t.Fatalf("after crash at decree %d: count = %s", last, got)
	}
	kvs, complete, err := crashed.MultiGet([]byte("h"), nil, ReadOptions{MaxCount: n + 1, MaxScanned: n + 1})
	if err != nil || !complete {
		t.Fatalf("MultiGet: complete %v, %v", complete, err)
	}
	if int64(len(kvs)) != last+1 { // the records up to last, and count
		t.Fatalf("after crash at decree %d: %d records", last, len(kvs))
	}
	for i, kv := range kvs[:last] {
		if want := fmt.Sprintf("%06d", i+1); string(kv.SortKey) != want {
			t.Fatalf("record %d is %s, want %s", i, kv.SortKey, want)
		}
	}
}

func TestCloseFlushes(t *testing.T) {
	fs := vfs.NewCrashableMem()
	s, err := Open("/store", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, s, 7, t0, put("h", "s", "v"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	reopened := openStore(t, fs.CrashClone(vfs.CrashCloneCfg{}), "/store", nil, Options{})
	if reopened.LastAppliedDecree() != 7 || lookup(t, reopened, "h", "s") != "v" {
		t.Fatalf("after Close and crash: decree %d", reopened.LastAppliedDecree())
	}
}

func TestClosedStoreRefusesEverything(t *testing.T) {
	s, err := Open("/store", Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, applyErr := s.Apply(1, t0, RequestID{}, nil)
	_, getErr := s.Get([]byte("h"), nil)
	_, scanErr := s.Scan([]byte("h"), AllSortKeys, ReadOptions{})
	_, _, fullScanErr := s.FullScan(nil, ReadOptions{})
	_, flushErr := s.Flush()
	_, cpErr := s.Checkpoint("/cp")
	_, sweepErr := s.DropExpired(10)
	for name, err := range map[string]error{
		"Apply": applyErr, "Get": getErr, "Scan": scanErr, "FullScan": fullScanErr,
		"Flush": flushErr, "Checkpoint": cpErr, "DropExpired": sweepErr, "Close": s.Close(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
}

func TestOpenRejectsCorruptAppliedState(t *testing.T) {
	fs := vfs.NewMem()
	s, err := Open("/store", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.db.Set(appliedStateKey, []byte{appliedStateV1, 1, 2}, pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Open("/store", Options{FS: fs}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open with a corrupt applied state: %v, want ErrCorrupt", err)
	}
}
