package bench

import (
	"fmt"
	"testing"
	"unsafe"
)

func TestOpIsCompact(t *testing.T) {
	// The history keeps every operation of a run in memory.
	if size := unsafe.Sizeof(Op{}); size != 48 {
		t.Errorf("Op is %d bytes, want 48", size)
	}
}

func TestOpLogGrowsByChunks(t *testing.T) {
	l := newOpLog()
	const n = 2*opChunkSize + 5
	for i := range n {
		l.add(Op{Key: uint64(i)})
	}
	if len(l.chunks) != 3 || l.len() != n {
		t.Fatalf("%d chunks holding %d ops, want 3 holding %d", len(l.chunks), l.len(), n)
	}
	for _, c := range l.chunks {
		if cap(c) != opChunkSize {
			t.Errorf("a chunk grew to capacity %d; chunks must never be reallocated", cap(c))
		}
	}
	h := &history{logs: []*opLog{l, newOpLog()}}
	h.logs[1].add(Op{Key: 999_999})
	ops := h.ops()
	if len(ops) != n+1 {
		t.Fatalf("%d ops, want %d", len(ops), n+1)
	}
	for i := range n {
		if ops[i].Key != uint64(i) {
			t.Fatalf("op %d has key %d: order lost", i, ops[i].Key)
		}
	}
	if ops[n].Key != 999_999 {
		t.Errorf("second worker's op missing")
	}
}

func TestErrorCountsAreBounded(t *testing.T) {
	a, b := newOpLog(), newOpLog()
	for i := range 2 * maxDistinctErrors {
		a.countError(fmt.Sprintf("timeout talking to 10.0.0.%d", i))
	}
	b.countError("timeout talking to 10.0.0.0")
	counts := (&history{logs: []*opLog{a, b}}).errorCounts()
	if len(counts) != maxDistinctErrors+1 {
		t.Errorf("%d distinct messages, want %d plus %q", len(counts), maxDistinctErrors, otherErrors)
	}
	if counts[otherErrors] != maxDistinctErrors || counts["timeout talking to 10.0.0.0"] != 2 {
		t.Errorf("counts %v", counts)
	}
}

func BenchmarkOpLogAdd(b *testing.B) {
	l := newOpLog()
	op := Op{Kind: OpSet, Key: 1}
	for b.Loop() {
		l.add(op)
	}
}
