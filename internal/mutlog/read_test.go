package mutlog

import (
	"errors"
	"fmt"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestReplaySupersede appends logs shaped by reconfigurations and checks
// Replay(from) against the expected effective sequence, before and after a
// reopen (which rebuilds the index from the files).
func TestReplaySupersede(t *testing.T) {
	type step struct {
		d, b int64
		tag  string
	}
	for _, tc := range []struct {
		name string
		log  []step
		from int64
		want []step
	}{
		{
			name: "plain",
			log:  []step{{1, 1, "a"}, {2, 1, "b"}, {3, 1, "c"}},
			from: 0,
			want: []step{{1, 1, "a"}, {2, 1, "b"}, {3, 1, "c"}},
		},
		{
			name: "from skips lower decrees",
			log:  []step{{1, 1, "a"}, {2, 1, "b"}, {3, 1, "c"}},
			from: 2,
			want: []step{{2, 1, "b"}, {3, 1, "c"}},
		},
		{
			name: "from past the end",
			log:  []step{{1, 1, "a"}},
			from: 5,
			want: nil,
		},
		{
			// Ballot 2 re-prepared 3 and 4; the old 5 was never committed.
			name: "new primary truncates the uncommitted tail",
			log:  []step{{1, 1, "a"}, {2, 1, "b"}, {3, 1, "c"}, {4, 1, "d"}, {5, 1, "e"}, {3, 2, "C"}, {4, 2, "D"}},
			from: 0,
			want: []step{{1, 1, "a"}, {2, 1, "b"}, {3, 2, "C"}, {4, 2, "D"}},
		},
		{
			name: "replay from inside the superseded range",
			log:  []step{{1, 1, "a"}, {2, 1, "b"}, {3, 1, "c"}, {4, 1, "d"}, {2, 3, "B"}, {3, 3, "C"}},
			from: 3,
			want: []step{{3, 3, "C"}},
		},
		{
			name: "two reconfigurations",
			log: []step{
				{1, 1, "a"}, {2, 1, "b"}, {3, 1, "c"},
				{3, 2, "c2"}, {4, 2, "d2"}, {5, 2, "e2"},
				{4, 3, "d3"}, {5, 3, "e3"}, {6, 3, "f3"},
			},
			from: 1,
			want: []step{{1, 1, "a"}, {2, 1, "b"}, {3, 2, "c2"}, {4, 3, "d3"}, {5, 3, "e3"}, {6, 3, "f3"}},
		},
		{
			name: "retried prepare",
			log:  []step{{1, 1, "a"}, {2, 1, "first"}, {2, 1, "retry"}, {3, 1, "c"}},
			from: 0,
			want: []step{{1, 1, "a"}, {2, 1, "retry"}, {3, 1, "c"}},
		},
		{
			name: "out of order within a ballot",
			log:  []step{{1, 1, "a"}, {3, 1, "c"}, {2, 1, "b"}},
			from: 0,
			want: []step{{1, 1, "a"}, {2, 1, "b"}, {3, 1, "c"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			toRecs := func(steps []step) []Record {
				var out []Record
				for _, s := range steps {
					out = append(out, rec(s.d, s.b, s.tag))
				}
				return out
			}
			fs := vfs.NewMem()
			// Small segments, so that supersede crosses segment boundaries.
			opts := Options{SegmentSize: 100}
			l := mustOpen(t, fs, opts)
			for _, r := range toRecs(tc.log) {
				mustAppend(t, l, r)
			}
			assertRecords(t, replayAll(t, l, tc.from), toRecs(tc.want))
			mustClose(t, l)
			l = mustOpen(t, fs, opts)
			assertRecords(t, replayAll(t, l, tc.from), toRecs(tc.want))
			mustClose(t, l)
		})
	}
}

func TestReplayStopsOnError(t *testing.T) {
	l := mustOpen(t, vfs.NewMem(), Options{})
	mustAppend(t, l, rec(1, 1, "a"), rec(2, 1, "b"), rec(3, 1, "c"))
	stop := errors.New("stop")
	var seen []int64
	err := l.Replay(0, func(r Record) error {
		seen = append(seen, r.Decree)
		if r.Decree == 2 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || fmt.Sprint(seen) != "[1 2]" {
		t.Fatalf("Replay returned %v after %v", err, seen)
	}
	mustClose(t, l)
}

func TestRead(t *testing.T) {
	fs := vfs.NewMem()
	l := mustOpen(t, fs, Options{SegmentSize: 300})
	var all []Record
	for d := int64(1); d <= 20; d++ {
		r := sized(d, 1, 10)
		all = append(all, r)
		mustAppend(t, l, r)
	}
	for _, tc := range []struct {
		from, to int64
		maxBytes int
		want     []Record
	}{
		{1, 20, 0, all},
		{5, 8, 0, all[4:8]},
		{5, 8, 25, all[4:6]},   // stops before exceeding maxBytes
		{5, 8, 1, all[4:5]},    // but always makes progress
		{19, 100, 0, all[18:]}, // to beyond the end
		{21, 30, 0, nil},
	} {
		got, err := l.Read(tc.from, tc.to, tc.maxBytes)
		if err != nil {
			t.Fatalf("Read(%d, %d, %d): %v", tc.from, tc.to, tc.maxBytes, err)
		}
		assertRecords(t, got, tc.want)
	}
	// Read returns copies that outlive the call.
	got, _ := l.Read(1, 1, 0)
	mustAppend(t, l, sized(21, 1, 10))
	assertRecords(t, got, all[:1])

	if n, err := l.GC(10); err != nil || n == 0 {
		t.Fatalf("GC(10) = %d, %v", n, err)
	}
	first := l.FirstDecree()
	if _, err := l.Read(first-1, 20, 0); !errors.Is(err, ErrCompacted) {
		t.Fatalf("Read below FirstDecree %d: got %v", first, err)
	}
	if got, err := l.Read(first, first, 0); err != nil || len(got) != 1 {
		t.Fatalf("Read at FirstDecree: %d records, %v", len(got), err)
	}
	mustClose(t, l)
}
