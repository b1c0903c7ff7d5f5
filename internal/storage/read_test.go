package storage

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// sortKeysOf lists the sort keys of kvs, "" shown as "<>".
func sortKeysOf(kvs []KV) string {
	var parts []string
	for _, kv := range kvs {
		if len(kv.SortKey) == 0 {
			parts = append(parts, "<>")
			continue
		}
		parts = append(parts, string(kv.SortKey))
	}
	return strings.Join(parts, " ")
}

// scanFixture holds hash key "h" with sort keys "", a, b, c, d, of which c
// has expired, next to hash keys that share a prefix with it.
func scanFixture(t *testing.T) (*Store, *testClock) {
	clock := newTestClock(t0 + 100)
	s := newMemStore(t, clock)
	mustApply(t, s, 1, t0,
		put("h", "", "empty"), put("h", "a", "1"), put("h", "b", "2"),
		Put{HashKey: []byte("h"), SortKey: []byte("c"), Value: []byte("3"), TTLSeconds: 10},
		put("h", "d", "4"),
		put("", "h", "other"), put("h\x00", "a", "other"), put("hh", "a", "other"), put("g", "z", "other"),
	)
	return s, clock
}

func TestScanRanges(t *testing.T) {
	s, _ := scanFixture(t)
	for _, tc := range []struct {
		r    SortKeyRange
		want string
	}{
		{AllSortKeys, "<> a b d"},
		{SortKeyRange{}, "a b d"}, // an exclusive empty start skips the empty sort key
		{SortKeyRange{Start: []byte("a"), StartInclusive: true, Stop: []byte("d")}, "a b"},
		{SortKeyRange{Start: []byte("a"), Stop: []byte("d"), StopInclusive: true}, "b d"},
		{SortKeyRange{Start: []byte("b"), StartInclusive: true, Stop: []byte("b"), StopInclusive: true}, "b"},
		{SortKeyRange{Start: []byte("b"), StartInclusive: true, Stop: []byte("b")}, ""},
		{SortKeyRange{Start: []byte("d"), StartInclusive: true, Stop: []byte("a")}, ""},
		{SortKeyRange{Start: []byte("a\x00"), StartInclusive: true}, "b d"},
		{SortKeyRange{Start: []byte("zz"), StartInclusive: true}, ""},
	} {
		page, err := s.Scan([]byte("h"), tc.r, ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := sortKeysOf(page.KVs); got != tc.want || page.More {
			t.Errorf("Scan(%+v) = %q more=%v, want %q", tc.r, got, page.More, tc.want)
		}
	}
	page, _ := s.Scan([]byte("h"), AllSortKeys, ReadOptions{NoValue: true})
	for _, kv := range page.KVs {
		if kv.Value != nil {
			t.Fatalf("NoValue scan returned value %q", kv.Value)
		}
	}
}

func TestScanPages(t *testing.T) {
	s := newMemStore(t, nil)
	var all []string
	for i := range 25 {
		all = append(all, fmt.Sprintf("k%02d", i))
		mustApply(t, s, int64(i+1), t0, put("h", all[i], strings.Repeat("v", i)))
	}
	for _, o := range []ReadOptions{
		{MaxCount: 1}, {MaxCount: 7}, {MaxBytes: 40}, {MaxScanned: 4}, {MaxCount: 25}, {},
	} {
		var got []string
		r := AllSortKeys
		for pages := 0; ; pages++ {
			if pages > 30 {
				t.Fatalf("%+v: pager does not progress", o)
			}
			page, err := s.Scan([]byte("h"), r, o)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.KVs) == 0 && page.More {
				t.Fatalf("%+v: empty page claims more", o)
			}
			if o.MaxCount > 0 && len(page.KVs) > o.MaxCount {
				t.Fatalf("%+v: page of %d records", o, len(page.KVs))
			}
			for _, kv := range page.KVs {
				got = append(got, string(kv.SortKey))
			}
			if !page.More {
				break
			}
			r = page.Next
		}
		if !slices.Equal(got, all) {
			t.Errorf("%+v: pages hold %v", o, got)
		}
	}
}

// MaxScanned counts expired records too, and the next page resumes after
// them.
func TestScanBoundsExpiredRecords(t *testing.T) {
	s := newMemStore(t, newTestClock(t0+100))
	for i := range 10 {
		mustApply(t, s, int64(i+1), t0, Put{HashKey: []byte("h"), SortKey: fmt.Appendf(nil, "%d", i), Value: []byte("x"), TTLSeconds: 1})
	}
	mustApply(t, s, 11, t0, put("h", "z", "live"))
	page, err := s.Scan([]byte("h"), AllSortKeys, ReadOptions{MaxScanned: 4})
	if err != nil || len(page.KVs) != 0 || !page.More {
		t.Fatalf("first page: %d records, more=%v, %v", len(page.KVs), page.More, err)
	}
	var live []string
	r := page.Next
	for page.More {
		if page, err = s.Scan([]byte("h"), r, ReadOptions{MaxScanned: 4}); err != nil {
			t.Fatal(err)
		}
		live = append(live, sortKeysOf(page.KVs))
		r = page.Next
	}
	if got := strings.Join(live, ""); got != "z" {
		t.Fatalf("pages after the expired records hold %q", got)
	}
}

func TestMultiGet(t *testing.T) {
	s, _ := scanFixture(t)
	keys := func(ks ...string) [][]byte {
		var out [][]byte
		for _, k := range ks {
			out = append(out, []byte(k))
		}
		return out
	}
	for _, tc := range []struct {
		sortKeys [][]byte
		o        ReadOptions
		want     string
		complete bool
	}{
		{keys("d", "a", "missing", "c", ""), ReadOptions{}, "d a <>", true},
		{nil, ReadOptions{}, "<> a b d", true},
		{keys("d", "a", "b"), ReadOptions{MaxCount: 2}, "d a", false},
		{nil, ReadOptions{MaxCount: 2}, "<> a", false},
		{keys("a", "b", "d"), ReadOptions{MaxBytes: 2}, "a", false},
	} {
		kvs, complete, err := s.MultiGet([]byte("h"), tc.sortKeys, tc.o)
		if err != nil {
			t.Fatal(err)
		}
		if got := sortKeysOf(kvs); got != tc.want || complete != tc.complete {
			t.Errorf("MultiGet(%q, %+v) = %q complete=%v, want %q complete=%v", tc.sortKeys, tc.o, got, complete, tc.want, tc.complete)
		}
	}
	kvs, _, _ := s.MultiGet([]byte("h"), keys("a", "d"), ReadOptions{})
	if string(kvs[0].Value) != "1" || string(kvs[1].Value) != "4" {
		t.Fatalf("values %q %q", kvs[0].Value, kvs[1].Value)
	}
}

func TestSortKeyCount(t *testing.T) {
	s, clock := scanFixture(t)
	for hash, want := range map[string]int64{"h": 4, "hh": 1, "": 1, "nothing": 0} {
		if n, err := s.SortKeyCount([]byte(hash)); n != want || err != nil {
			t.Errorf("SortKeyCount(%q) = %d, %v; want %d", hash, n, err, want)
		}
	}
	clock.set(t0) // c is live again at the wall clock of its write
	if n, _ := s.SortKeyCount([]byte("h")); n != 5 {
		t.Errorf("SortKeyCount(h) before c expires = %d, want 5", n)
	}
}

func TestFullScan(t *testing.T) {
	s, _ := scanFixture(t)
	var want []string
	for _, r := range [][2]string{{"", "h"}, {"g", "z"}, {"h", ""}, {"h", "a"}, {"h", "b"}, {"h", "d"}, {"h\x00", "a"}, {"hh", "a"}} {
		want = append(want, r[0]+"/"+r[1])
	}
	for _, pageSize := range []int{1, 3, 100} {
		var got []string
		var cursor []byte
		for pages := 0; ; pages++ {
			if pages > 20 {
				t.Fatal("full scan does not progress")
			}
			recs, next, err := s.FullScan(cursor, ReadOptions{MaxCount: pageSize})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				got = append(got, string(r.HashKey)+"/"+string(r.SortKey))
			}
			if next == nil {
				break
			}
			cursor = next
		}
		if !slices.Equal(got, want) {
			t.Errorf("page size %d: full scan = %q, want %q", pageSize, got, want)
		}
	}
	if _, _, err := s.FullScan([]byte{0xFF, 0xFF}, ReadOptions{}); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("FullScan from a metadata cursor: %v, want ErrInvalidKey", err)
	}
	// The last possible cursor ends the scan.
	last, _ := EncodeKey(bytes.Repeat([]byte{0xFF}, MaxHashKeySize), bytes.Repeat([]byte{0xFF}, 8))
	if recs, next, err := s.FullScan(last, ReadOptions{}); len(recs) != 0 || next != nil || err != nil {
		t.Fatalf("FullScan after the last key = %d records, %x, %v", len(recs), next, err)
	}
}

func TestReadsRefuseOversizedHashKey(t *testing.T) {
	s := newMemStore(t, nil)
	huge := make([]byte, MaxHashKeySize+1)
	_, getErr := s.Get(huge, nil)
	_, scanErr := s.Scan(huge, AllSortKeys, ReadOptions{})
	_, countErr := s.SortKeyCount(huge)
	for _, err := range []error{getErr, scanErr, countErr} {
		if !errors.Is(err, ErrHashKeyTooLarge) {
			t.Errorf("read with an oversized hash key: %v", err)
		}
	}
}
