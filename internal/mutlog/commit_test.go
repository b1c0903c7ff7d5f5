package mutlog

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestGroupCommit: 32 concurrent writers; every acknowledged record replays
// exactly once, the log holds them in one order, and one fsync covers many
// appends.
func TestGroupCommit(t *testing.T) {
	const writers, perWriter = 32, 150
	fs := newFaultFS(vfs.NewMem())
	// A disk whose fsync takes a while, so appends queue up behind it.
	slowSync := func() { time.Sleep(200 * time.Microsecond) }
	fs.onSync.Store(&slowSync)
	l := mustOpen(t, fs, Options{SegmentSize: 64 << 10})
	syncsBefore := fs.dataSyncs.Load()

	var (
		mu   sync.Mutex
		next int64 = 1
		sent       = map[int64][]byte{}
		wg   sync.WaitGroup
	)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				// Decrees are assigned in append order, as a primary does.
				mu.Lock()
				r := sized(next, 1, 1+int(next%300))
				next++
				sent[r.Decree] = r.Data
				p := l.Append(r)
				mu.Unlock()
				if err := p.Err(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	const total = writers * perWriter
	syncs := fs.dataSyncs.Load() - syncsBefore
	stats := l.Stats()
	t.Logf("%d appends in %d group commits (%d fsyncs), %d segments", total, stats.Batches, syncs, stats.Segments)
	if stats.Appends != total || stats.Records != total {
		t.Fatalf("stats %+v, want %d appends", stats, total)
	}
	// One fsync per batch, plus one for each segment a batch filled.
	if rolls := uint64(stats.Segments - 1); stats.Batches+rolls != uint64(syncs) {
		t.Fatalf("%d batches and %d rolls but %d fsyncs of record data", stats.Batches, rolls, syncs)
	}
	if syncs*4 > total {
		t.Fatalf("%d fsyncs for %d appends: no group commit", syncs, total)
	}

	check := func(l *Log) {
		got := replayAll(t, l, 0)
		if len(got) != total {
			t.Fatalf("replayed %d records, want %d", len(got), total)
		}
		for i, r := range got {
			if r.Decree != int64(i+1) || !bytes.Equal(r.Data, sent[r.Decree]) {
				t.Fatalf("record %d: decree %d with %d bytes", i, r.Decree, len(r.Data))
			}
		}
	}
	check(l)
	mustClose(t, l)

	// The files hold each record once, in the order decrees were assigned.
	var last int64
	for _, p := range segmentPaths(t, fs) {
		for _, f := range scanFrames(t, readFile(t, fs, p)) {
			if f.rec.Decree != last+1 {
				t.Fatalf("%s: decree %d follows %d", p, f.rec.Decree, last)
			}
			last = f.rec.Decree
		}
	}
	if last != total {
		t.Fatalf("files end at decree %d, want %d", last, total)
	}
	l = mustOpen(t, fs, Options{})
	check(l)
	mustClose(t, l)
}

// TestSyncFailureIsFailStop: once an fsync fails nothing more is
// acknowledged, and recovery from what was synced yields exactly the
// acknowledged records.
func TestSyncFailureIsFailStop(t *testing.T) {
	mem := vfs.NewCrashableMem()
	fs := newFaultFS(mem)
	l := mustOpen(t, fs, Options{})
	var acked []Record
	for d := int64(1); d <= 10; d++ {
		r := rec(d, 1, "ok")
		mustAppend(t, l, r)
		acked = append(acked, r)
	}

	fs.failSync.Store(true)
	err := l.AppendSync(context.Background(), rec(11, 1, "lost"))
	if !errors.Is(err, ErrLogFailed) || !errors.Is(err, errInjected) {
		t.Fatalf("append during sync failure: got %v", err)
	}
	// The disk recovers; the log must not.
	fs.failSync.Store(false)
	if err := l.AppendSync(context.Background(), rec(12, 1, "after")); !errors.Is(err, ErrLogFailed) {
		t.Fatalf("append after sync failure: got %v", err)
	}
	done := make(chan error, 1)
	l.AppendAsync([]Record{rec(13, 1, "async")}, func(err error) { done <- err })
	if err := <-done; !errors.Is(err, ErrLogFailed) {
		t.Fatalf("async append after sync failure: got %v", err)
	}
	if got := l.LastDecree(); got != 10 {
		t.Fatalf("LastDecree %d, want 10", got)
	}
	if err := l.Close(); !errors.Is(err, ErrLogFailed) {
		t.Fatalf("Close: got %v", err)
	}

	crashed := mem.CrashClone(vfs.CrashCloneCfg{})
	l = mustOpen(t, crashed, Options{})
	assertRecords(t, replayAll(t, l, 0), acked)
	mustAppend(t, l, rec(11, 2, "retried"))
	mustClose(t, l)

	// Without a crash the unacknowledged write may still be there: what
	// survives is a prefix of what was written, holding every acked record.
	l = mustOpen(t, fs, Options{})
	got := replayAll(t, l, 0)
	if len(got) < len(acked) || !equalRecords(got[:len(acked)], acked) {
		t.Fatalf("reopen lost acknowledged records: %s", formatRecords(got))
	}
	mustClose(t, l)
}

// TestWriteFailureFailsQueued: a failed write fails the batch and every
// append queued behind it.
func TestWriteFailureFailsQueued(t *testing.T) {
	fs := newFaultFS(vfs.NewMem())
	l := mustOpen(t, fs, Options{})
	mustAppend(t, l, rec(1, 1, "ok"))

	// Hold the writer in a sync so that appends queue behind it, then fail
	// the write of the next batch.
	reached, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hold := func() {
		once.Do(func() {
			close(reached)
			<-release
		})
	}
	fs.onSync.Store(&hold)
	first := l.Append(rec(2, 1, "in flight"))
	select {
	case <-reached:
	case <-first.Done():
		t.Fatalf("append completed without an fsync: %v", first.Err())
	}
	var queued []*Pending
	for d := int64(3); d < 10; d++ {
		queued = append(queued, l.Append(rec(d, 1, "queued")))
	}
	fs.failWrite.Store(true)
	close(release)

	if err := first.Err(); err != nil {
		t.Fatalf("append synced before the failure: %v", err)
	}
	for _, p := range queued {
		if err := p.Err(); !errors.Is(err, ErrLogFailed) || !errors.Is(err, errInjected) {
			t.Fatalf("queued append: got %v", err)
		}
	}
	if err := l.Close(); !errors.Is(err, ErrLogFailed) {
		t.Fatalf("Close: got %v", err)
	}
}

func TestAppendValidation(t *testing.T) {
	l := mustOpen(t, vfs.NewMem(), Options{MaxRecordBytes: 100})
	ctx := context.Background()
	for _, tc := range []struct {
		recs []Record
		want error
	}{
		{[]Record{{Decree: 0, Ballot: 1}}, ErrInvalidRecord},
		{[]Record{{Decree: 1, Ballot: -1}}, ErrInvalidRecord},
		{[]Record{rec(1, 1, "fine"), {Decree: 2, Ballot: 1, Data: make([]byte, 101)}}, ErrRecordTooLarge},
	} {
		if err := l.AppendSync(ctx, tc.recs...); !errors.Is(err, tc.want) {
			t.Fatalf("got %v, want %v", err, tc.want)
		}
	}
	// Rejected appends write nothing, and the log stays usable.
	if err := l.AppendSync(ctx); err != nil {
		t.Fatalf("empty append: %v", err)
	}
	mustAppend(t, l, Record{Decree: 1, Ballot: 1, Data: make([]byte, 100)})
	if got := replayAll(t, l, 0); len(got) != 1 {
		t.Fatalf("replayed %d records", len(got))
	}
	mustClose(t, l)
}

// TestAppendCopiesRecords: the caller may reuse its buffers as soon as
// Append returns.
func TestAppendCopiesRecords(t *testing.T) {
	l := mustOpen(t, vfs.NewMem(), Options{})
	data := []byte("original")
	p := l.Append(Record{Decree: 1, Ballot: 1, Data: data})
	copy(data, "SCRIBBLE")
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	assertRecords(t, replayAll(t, l, 0), []Record{{Decree: 1, Ballot: 1, Data: []byte("original")}})
	mustClose(t, l)
}

// TestCloseDrainsQueue: appends queued before Close are committed, later
// ones are refused, and AppendAsync never calls back from inside itself.
func TestCloseDrainsQueue(t *testing.T) {
	fs := vfs.NewMem()
	l := mustOpen(t, fs, Options{})
	var completed atomic.Int64
	var wg sync.WaitGroup
	for d := int64(1); d <= 200; d++ {
		wg.Add(1)
		l.AppendAsync([]Record{rec(d, 1, "x")}, func(err error) {
			if err != nil {
				t.Error(err)
			}
			completed.Add(1)
			wg.Done()
		})
	}
	mustClose(t, l)
	wg.Wait()
	if completed.Load() != 200 {
		t.Fatalf("%d of 200 appends completed", completed.Load())
	}

	if err := l.AppendSync(context.Background(), rec(201, 1, "late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after Close: got %v", err)
	}
	// The callback waits for AppendAsync to return: called from inside
	// it, it would wait forever, so the wait is bounded. (A flag cleared
	// after the call returns cannot tell: the callback's goroutine may run
	// before the flag is cleared.)
	returned := make(chan struct{})
	done := make(chan error, 1)
	l.AppendAsync([]Record{rec(201, 1, "late")}, func(err error) {
		select {
		case <-returned:
		case <-time.After(10 * time.Second):
			t.Error("callback ran inside AppendAsync")
		}
		done <- err
	})
	close(returned)
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("async append after Close: got %v", err)
	}
	if err := l.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: got %v", err)
	}
	if err := l.Replay(0, func(Record) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("Replay after Close: got %v", err)
	}

	l = mustOpen(t, fs, Options{})
	if got := len(replayAll(t, l, 0)); got != 200 {
		t.Fatalf("%d records after reopen, want 200", got)
	}
	mustClose(t, l)
}

func TestOpenLocksDirectory(t *testing.T) {
	fs := vfs.NewMem()
	l := mustOpen(t, fs, Options{})
	if _, err := Open(fs, testDir, Options{}); err == nil {
		t.Fatal("second Open of the same directory succeeded")
	}
	mustClose(t, l)
	mustClose(t, mustOpen(t, fs, Options{}))
}

func TestOptionsValidation(t *testing.T) {
	for _, o := range []Options{
		{SegmentSize: 10},
		{SegmentSize: maxSegmentSize + 1},
		{MaxRecordBytes: maxPayloadLen + 1},
		{MaxBatchBytes: -1},
		{PreallocateBytes: NoPreallocate - 1},
		{PreallocateBytes: maxSegmentSize + 1},
	} {
		if _, err := Open(vfs.NewMem(), testDir, o); !errors.Is(err, ErrInvalidOptions) {
			t.Errorf("%+v: got %v", o, err)
		}
	}
}

// TestOnSync: the hook sees every successful fsync of record data with the
// time it took, none that failed, and none at all under NoSync.
func TestOnSync(t *testing.T) {
	const syncDelay = 2 * time.Millisecond
	fs := newFaultFS(vfs.NewMem())
	slowSync := func() { time.Sleep(syncDelay) }
	fs.onSync.Store(&slowSync)
	var (
		mu     sync.Mutex
		synced []time.Duration
	)
	l := mustOpen(t, fs, Options{SegmentSize: 4 << 10, OnSync: func(d time.Duration) {
		mu.Lock()
		synced = append(synced, d)
		mu.Unlock()
	}})
	before := fs.dataSyncs.Load()
	// Enough records to fill several segments: sealing one syncs too.
	for d := int64(1); d <= 20; d++ {
		mustAppend(t, l, sized(d, 1, 700))
	}
	mu.Lock()
	got, want := len(synced), int(fs.dataSyncs.Load()-before)
	for _, d := range synced {
		if d < syncDelay {
			t.Errorf("reported fsync of %v, shorter than the disk's %v", d, syncDelay)
		}
	}
	mu.Unlock()
	if got != want || got < 20 {
		t.Fatalf("OnSync called %d times for %d data syncs of 20 appends", got, want)
	}

	fs.failSync.Store(true)
	if err := l.AppendSync(context.Background(), sized(21, 1, 10)); err == nil {
		t.Fatal("append succeeded over a failing fsync")
	}
	mu.Lock()
	if len(synced) != got {
		t.Errorf("OnSync called for a failed fsync")
	}
	mu.Unlock()
	_ = l.Close()

	calls := 0
	nl, err := Open(vfs.NewMem(), testDir, Options{NoSync: true, OnSync: func(time.Duration) { calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, nl, sized(1, 1, 10))
	mustClose(t, nl)
	if calls != 0 {
		t.Errorf("OnSync called %d times under NoSync", calls)
	}
}
