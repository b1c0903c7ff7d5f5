package storage

import (
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// rawRecordCount counts the records Pebble holds, expired ones included.
func rawRecordCount(t *testing.T, s *Store) int {
	t.Helper()
	it, err := s.db.NewIter(&pebble.IterOptions{UpperBound: recordKeysEnd})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for valid := it.First(); valid; valid = it.Next() {
		n++
	}
	return n
}

// visible returns every live record, as reads see them.
func visible(t *testing.T, s *Store) []Record {
	t.Helper()
	recs, next, err := s.FullScan(nil, ReadOptions{MaxCount: 1 << 20, MaxScanned: 1 << 20})
	if err != nil || next != nil {
		t.Fatalf("FullScan: next %x, %v", next, err)
	}
	return recs
}

func TestDropExpiredSweepsTheKeyspace(t *testing.T) {
	s := newMemStore(t, newTestClock(t0+20))
	for i := range 100 {
		op := Put{HashKey: fmt.Appendf(nil, "h%d", i%7), SortKey: fmt.Appendf(nil, "%03d", i), Value: []byte("v")}
		if i%2 == 0 {
			op.TTLSeconds = 10
		}
		mustApply(t, s, int64(i+1), t0, op)
	}
	mustApply(t, s, 101, t0+20) // moves the apply clock past the TTLs
	before := visible(t, s)
	if len(before) != 50 || rawRecordCount(t, s) != 100 {
		t.Fatalf("before the sweep: %d visible, %d stored", len(before), rawRecordCount(t, s))
	}

	var total SweepStats
	for steps := 1; ; steps++ {
		st, err := s.DropExpired(30)
		if err != nil {
			t.Fatal(err)
		}
		if st.Scanned > 30 {
			t.Fatalf("step %d visited %d records, bound 30", steps, st.Scanned)
		}
		total.Scanned += st.Scanned
		total.Dropped += st.Dropped
		if st.Wrapped {
			break
		}
		if steps > 10 {
			t.Fatal("sweep does not wrap")
		}
	}
	if total.Scanned != 100 || total.Dropped != 50 {
		t.Fatalf("one pass scanned %d and dropped %d, want 100 and 50", total.Scanned, total.Dropped)
	}
	if got := rawRecordCount(t, s); got != 50 {
		t.Fatalf("after the sweep Pebble holds %d records, want 50", got)
	}
	if after := visible(t, s); !reflect.DeepEqual(after, before) {
		t.Fatal("the sweep changed what reads see")
	}
	// The next pass starts over and finds nothing more to drop.
	if st, err := s.DropExpired(1000); err != nil || st.Dropped != 0 || st.Scanned != 50 || !st.Wrapped {
		t.Fatalf("second pass: %+v, %v", st, err)
	}
}

// Wall clocks may run ahead of the primary's. A sweep that trusted the wall
// clock could delete a record that a later mutation, applied at the primary's
// earlier time, still sees; this replica would then compute a different
// result than its peers. The sweep's horizon is the apply clock instead.
func TestDropExpiredKeepsReplicasIdentical(t *testing.T) {
	ahead := newTestClock(t0 + 1000)
	swept, unswept := newMemStore(t, ahead), newMemStore(t, ahead)
	both := func(decree int64, now uint32, ops ...WriteOp) []OpResult {
		a, b := mustApply(t, swept, decree, now, ops...), mustApply(t, unswept, decree, now, ops...)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("decree %d: replicas disagree: %+v vs %+v", decree, a, b)
		}
		return a
	}
	both(1, t0, Put{HashKey: []byte("h"), SortKey: []byte("n"), Value: []byte("41"), TTLSeconds: 10})
	both(2, t0+5)

	// By the wall clock the record has expired; by the apply clock it has not.
	if st, err := swept.DropExpired(100); err != nil || st.Dropped != 0 {
		t.Fatalf("sweep before the apply clock reached the expiry: %+v, %v", st, err)
	}
	if res := both(3, t0+8, Incr{HashKey: []byte("h"), SortKey: []byte("n"), Delta: 1}); res[0].NewValue != 42 {
		t.Fatalf("incr at t0+8 = %d, want 42", res[0].NewValue)
	}

	both(4, t0+30)
	if st, err := swept.DropExpired(100); err != nil || st.Dropped != 1 {
		t.Fatalf("sweep after the expiry: %+v, %v", st, err)
	}
	if rawRecordCount(t, swept) != 0 || rawRecordCount(t, unswept) != 1 {
		t.Fatal("sweep did not delete the expired record")
	}
	if res := both(5, t0+30, Incr{HashKey: []byte("h"), SortKey: []byte("n"), Delta: 1}); res[0].NewValue != 1 {
		t.Fatalf("incr after expiry = %d, want 1", res[0].NewValue)
	}
	if !reflect.DeepEqual(visible(t, swept), visible(t, unswept)) {
		t.Fatal("replicas differ in visible state")
	}
}

// Sweeps run concurrently with Apply without ever deleting a record that a
// mutation rewrote in between.
func TestDropExpiredConcurrentWithApply(t *testing.T) {
	clock := newTestClock(t0)
	swept, reference := newMemStore(t, clock), newMemStore(t, clock)
	const n = 300
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := swept.DropExpired(7); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for d := int64(1); d <= n; d++ {
		// Each key is written with a short TTL, then rewritten later without
		// one; time advances one second per decree.
		op := Put{HashKey: []byte("h"), SortKey: fmt.Appendf(nil, "%d", d%17), Value: fmt.Appendf(nil, "%d", d)}
		if d%3 != 0 {
			op.TTLSeconds = 2
		}
		mustApply(t, swept, d, uint32(t0+d), op)
		mustApply(t, reference, d, uint32(t0+d), op)
	}
	close(stop)
	wg.Wait()
	clock.set(t0 + n)
	if !reflect.DeepEqual(visible(t, swept), visible(t, reference)) {
		t.Fatal("concurrent sweeps changed the visible state")
	}
}
