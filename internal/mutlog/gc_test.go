package mutlog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// segmentRanges describes each segment file as "first-last" decree, or "-"
// for a segment without records. The last one may be an open log's active
// segment, which ends in preallocated zeros.
func segmentRanges(t *testing.T, fs vfs.FS) []string {
	t.Helper()
	var out []string
	paths := segmentPaths(t, fs)
	for i, p := range paths {
		image := readFile(t, fs, p)
		if i == len(paths)-1 {
			image = trimZeroTail(image)
		}
		frames := scanFrames(t, image)
		if len(frames) == 0 {
			out = append(out, "-")
			continue
		}
		out = append(out, fmt.Sprintf("%d-%d", frames[0].rec.Decree, frames[len(frames)-1].rec.Decree))
	}
	return out
}

func TestSegmentRoll(t *testing.T) {
	fs := vfs.NewMem()
	const segSize = 512
	l := mustOpen(t, fs, Options{SegmentSize: segSize})
	var all []Record
	for d := int64(1); d <= 40; d++ {
		r := sized(d, 1, 40)
		all = append(all, r)
		mustAppend(t, l, r)
	}
	// A batch larger than a segment spreads over several.
	var batch []Record
	for d := int64(41); d <= 60; d++ {
		batch = append(batch, sized(d, 1, 40))
	}
	mustAppend(t, l, batch...)
	all = append(all, batch...)
	mustClose(t, l)

	paths := segmentPaths(t, fs)
	if len(paths) < 6 {
		t.Fatalf("%d segments for %d bytes of records", len(paths), 60*frameLen(40))
	}
	for _, p := range paths {
		if size := len(readFile(t, fs, p)); size > segSize {
			t.Fatalf("%s is %d bytes, segment size %d", p, size, segSize)
		}
	}
	l = mustOpen(t, fs, Options{SegmentSize: segSize})
	assertRecords(t, replayAll(t, l, 0), all)
	mustClose(t, l)
}

func TestGC(t *testing.T) {
	fs := vfs.NewMem()
	opts := Options{SegmentSize: 250}
	l := mustOpen(t, fs, opts)
	for d := int64(1); d <= 12; d++ {
		mustAppend(t, l, sized(d, 1, 60)) // two records a segment
	}
	ranges := fmt.Sprint(segmentRanges(t, fs))
	if ranges != "[1-2 3-4 5-6 7-8 9-10 11-12]" {
		t.Fatalf("unexpected layout %s", ranges)
	}
	for _, tc := range []struct {
		durable int64
		removed int
		left    string
		first   int64
	}{
		{0, 0, "[1-2 3-4 5-6 7-8 9-10 11-12]", 1},
		{1, 0, "[1-2 3-4 5-6 7-8 9-10 11-12]", 1}, // 2 not yet durable
		{5, 2, "[5-6 7-8 9-10 11-12]", 5},
		{5, 0, "[5-6 7-8 9-10 11-12]", 5},
		{100, 3, "[11-12]", 11}, // never the active segment
	} {
		n, err := l.GC(tc.durable)
		if err != nil {
			t.Fatalf("GC(%d): %v", tc.durable, err)
		}
		if got := fmt.Sprint(segmentRanges(t, fs)); n != tc.removed || got != tc.left {
			t.Fatalf("GC(%d) removed %d leaving %s; want %d leaving %s", tc.durable, n, got, tc.removed, tc.left)
		}
		if got := l.FirstDecree(); got != tc.first {
			t.Fatalf("GC(%d): FirstDecree %d, want %d", tc.durable, got, tc.first)
		}
	}
	if l.LastDecree() != 12 {
		t.Fatalf("LastDecree %d", l.LastDecree())
	}
	mustClose(t, l)

	l = mustOpen(t, fs, opts)
	if l.FirstDecree() != 11 || l.LastDecree() != 12 {
		t.Fatalf("after reopen: decrees %d..%d", l.FirstDecree(), l.LastDecree())
	}
	// The active segment of the last Open is sealed now, and the new
	// active one is empty.
	if n, err := l.GC(100); err != nil || n != 1 {
		t.Fatalf("GC after reopen = %d, %v", n, err)
	}
	if l.FirstDecree() != 0 || l.LastDecree() != 0 {
		t.Fatalf("after collecting everything: decrees %d..%d", l.FirstDecree(), l.LastDecree())
	}
	mustClose(t, l)
}

// TestGCKeepsPrefixOrder: a later segment whose records are all durable is
// kept while an earlier one is not collectable; removing it alone would
// bring the records it supersedes back on the next Open.
func TestGCKeepsPrefixOrder(t *testing.T) {
	fs := vfs.NewMem()
	opts := Options{SegmentSize: 250}
	l := mustOpen(t, fs, opts)
	for _, r := range []Record{
		sized(1, 1, 60), sized(2, 1, 60), // segment 1
		sized(3, 1, 60), sized(9, 1, 60), // segment 2: 9 is an old primary's
		sized(3, 2, 60), sized(4, 2, 60), // segment 3: supersedes 9
		sized(5, 2, 60),
	} {
		mustAppend(t, l, r)
	}
	want := []Record{sized(3, 2, 60), sized(4, 2, 60), sized(5, 2, 60)}
	if n, err := l.GC(4); err != nil || n != 1 {
		t.Fatalf("GC(4) = %d, %v; want only the first segment", n, err)
	}
	assertRecords(t, replayAll(t, l, 3), want)
	mustClose(t, l)
	l = mustOpen(t, fs, opts)
	assertRecords(t, replayAll(t, l, 3), want)
	mustClose(t, l)
}

// TestGCDuringReplay: a segment removed while a Replay reads it stays
// readable until the Replay is done.
func TestGCDuringReplay(t *testing.T) {
	fs := vfs.NewMem()
	l := mustOpen(t, fs, Options{SegmentSize: 250})
	var all []Record
	for d := int64(1); d <= 10; d++ {
		r := sized(d, 1, 60)
		all = append(all, r)
		mustAppend(t, l, r)
	}
	var got []Record
	err := l.Replay(0, func(r Record) error {
		if r.Decree == 1 {
			if n, err := l.GC(8); err != nil || n != 4 {
				t.Fatalf("GC(8) = %d, %v", n, err)
			}
		}
		got = append(got, Record{Decree: r.Decree, Ballot: r.Ballot, Data: append([]byte(nil), r.Data...)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	assertRecords(t, got, all)
	assertRecords(t, replayAll(t, l, 0), all[8:])
	mustClose(t, l)
}

// TestGCWithConcurrentAppends runs GC, Replay and Read against appenders
// that keep rolling segments.
func TestGCWithConcurrentAppends(t *testing.T) {
	fs := vfs.NewMem()
	opts := Options{SegmentSize: 1024}
	l := mustOpen(t, fs, opts)
	const total = 2000
	var (
		mu   sync.Mutex
		next int64 = 1
		wg   sync.WaitGroup
	)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if next > total {
					mu.Unlock()
					return
				}
				p := l.Append(sized(next, 1, 50))
				next++
				mu.Unlock()
				if err := p.Wait(context.Background()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			last := l.LastDecree()
			if _, err := l.GC(last - 100); err != nil {
				t.Error(err)
				return
			}
			// Whatever the log holds reads back in order without holes.
			prev := int64(0)
			if err := l.Replay(0, func(r Record) error {
				if prev != 0 && r.Decree != prev+1 {
					return fmt.Errorf("decree %d after %d", r.Decree, prev)
				}
				prev = r.Decree
				return nil
			}); err != nil {
				t.Error(err)
				return
			}
			if last >= total {
				return
			}
		}
	}()
	wg.Wait()
	<-done
	if first := l.FirstDecree(); first <= 1 || first > total-100 {
		t.Fatalf("FirstDecree %d after GC", first)
	}
	want := replayAll(t, l, 0)
	mustClose(t, l)
	l = mustOpen(t, fs, opts)
	assertRecords(t, replayAll(t, l, 0), want)
	mustClose(t, l)
}

// TestGCRemoveFailure: when a removal fails, the files left behind must still
// form a prefix of the log, or the next Open would see a missing segment.
func TestGCRemoveFailure(t *testing.T) {
	fs := newFaultFS(vfs.NewMem())
	opts := Options{SegmentSize: 250}
	l := mustOpen(t, fs, opts)
	for d := int64(1); d <= 10; d++ {
		mustAppend(t, l, sized(d, 1, 60))
	}
	paths := segmentPaths(t, fs)
	fs.failRemove.Store(&paths[1])
	if n, err := l.GC(8); !errors.Is(err, errInjected) || n != 4 {
		t.Fatalf("GC(8) = %d, %v", n, err)
	}
	if got := fmt.Sprint(segmentRanges(t, fs)); got != "[3-4 5-6 7-8 9-10]" {
		t.Fatalf("left %s", got)
	}
	assertRecords(t, replayAll(t, l, 0), []Record{sized(9, 1, 60), sized(10, 1, 60)})
	mustClose(t, l)

	fs.failRemove.Store(nil)
	l = mustOpen(t, fs, opts)
	if l.FirstDecree() != 3 {
		t.Fatalf("FirstDecree %d after reopen", l.FirstDecree())
	}
	if n, err := l.GC(8); err != nil || n != 3 {
		t.Fatalf("second GC(8) = %d, %v", n, err)
	}
	mustClose(t, l)
}
