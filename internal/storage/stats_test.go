package storage

import (
	"errors"
	"fmt"
	"testing"
)

// Stats follow what the store does: writes fill the memtable, a flush makes
// an L0 file and disk usage, a manual compaction counts; closed, it fails.
func TestStats(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	before, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	var ops []WriteOp
	for i := range 200 {
		ops = append(ops, Put{HashKey: []byte(fmt.Sprintf("h%03d", i)), SortKey: []byte("s"), Value: make([]byte, 512)})
	}
	if _, err := s.Apply(1, 1, RequestID{}, ops); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	after, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if after.L0Files < 1 || after.DiskBytes <= before.DiskBytes || after.MemtableBytes == 0 {
		t.Fatalf("after a flush: %+v (before %+v)", after, before)
	}
	if err := s.db.Compact(t.Context(), []byte{0}, []byte{0xff}, true); err != nil {
		t.Fatal(err)
	}
	compacted, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if compacted.Compactions <= after.Compactions || compacted.L0Files != 0 {
		t.Fatalf("after a compaction: %+v (before %+v)", compacted, after)
	}
	s.Close()
	if _, err := s.Stats(); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed: %v", err)
	}
}
