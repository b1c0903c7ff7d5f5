package storage

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

const benchValueSize = 1024

// benchKey spreads records over hash keys the way a partition holds them.
func benchKey(i int) (hashKey, sortKey []byte) {
	return fmt.Appendf(nil, "user%08d", i/10), fmt.Appendf(nil, "field%d", i%10)
}

func BenchmarkGet(b *testing.B) {
	s := openStore(b, vfs.Default, b.TempDir(), nil, Options{})
	const records = 20000
	value := make([]byte, benchValueSize)
	decree := int64(0)
	for i := 0; i < records; i += 100 {
		ops := make([]WriteOp, 0, 100)
		for j := i; j < i+100; j++ {
			h, sk := benchKey(j)
			ops = append(ops, Put{HashKey: h, SortKey: sk, Value: value})
		}
		decree++
		mustApply(b, s, decree, t0, ops...)
	}
	if _, err := s.Flush(); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	b.SetBytes(benchValueSize)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		h, sk := benchKey(rng.IntN(records))
		if _, err := s.Get(h, sk); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkApplySet(b *testing.B) {
	s := openStore(b, vfs.Default, b.TempDir(), nil, Options{})
	value := make([]byte, benchValueSize)
	ops := make([]WriteOp, 1)
	b.SetBytes(benchValueSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		h, sk := benchKey(i % 100000)
		ops[0] = Put{HashKey: h, SortKey: sk, Value: value}
		if _, err := s.Apply(int64(i+1), t0, RequestID{}, ops); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplySetWithRequest is BenchmarkApplySet for writes that carry a
// client's RequestID, as every client write does: Apply also writes the
// request's record in the batch.
func BenchmarkApplySetWithRequest(b *testing.B) {
	s := openStore(b, vfs.Default, b.TempDir(), nil, Options{})
	value := make([]byte, benchValueSize)
	ops := make([]WriteOp, 1)
	b.SetBytes(benchValueSize)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		h, sk := benchKey(i % 100000)
		ops[0] = Put{HashKey: h, SortKey: sk, Value: value}
		if _, err := s.Apply(int64(i+1), t0, RequestID{ClientID: 7, Seq: uint64(i + 1)}, ops); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppliedRequestMiss is the lookup a primary makes before
// proposing each client write: a request id the store has not applied,
// among 200,000 records of applied ones (flushed, with more in the
// memtable), which is the common case.
func BenchmarkAppliedRequestMiss(b *testing.B) {
	s := openStore(b, vfs.Default, b.TempDir(), nil, Options{})
	value := make([]byte, 100)
	for i := range 200000 {
		h, sk := benchKey(i)
		if _, err := s.Apply(int64(i+1), t0, RequestID{ClientID: 7, Seq: uint64(i + 1)},
			[]WriteOp{Put{HashKey: h, SortKey: sk, Value: value}}); err != nil {
			b.Fatal(err)
		}
		if i == 150000 {
			if _, err := s.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, ok, err := s.AppliedRequest(RequestID{ClientID: 8, Seq: uint64(i + 1)}); ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
