package storage

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/pebble/v2"
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
	cpu := startCPU(b)
	for i := range b.N {
		h, sk := benchKey(i % 100000)
		ops[0] = Put{HashKey: h, SortKey: sk, Value: value}
		if _, err := s.Apply(int64(i+1), t0, RequestID{}, ops); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b, s)
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
	cpu := startCPU(b)
	for i := range b.N {
		h, sk := benchKey(i % 100000)
		ops[0] = Put{HashKey: h, SortKey: sk, Value: value}
		if _, err := s.Apply(int64(i+1), t0, RequestID{ClientID: 7, Seq: uint64(i + 1)}, ops); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b, s)
}

// BenchmarkApplySetWithRequestCollected is BenchmarkApplySetWithRequest in
// a steady state that includes collecting the records: the apply clock
// advances a second every 1,000 writes, and once a second, as the replica
// server's sweeper does, the records past a 10 s retention are collected
// (1 s buckets). Run it with -benchtime=200000x or more, so that most
// records written are also collected.
func BenchmarkApplySetWithRequestCollected(b *testing.B) {
	const perSecond, retention = 1000, 10
	s := openStore(b, vfs.Default, b.TempDir(), nil, Options{RequestBucketSeconds: 1, RequestRetentionSeconds: retention})
	value := make([]byte, benchValueSize)
	ops := make([]WriteOp, 1)
	collections := 0
	b.SetBytes(benchValueSize)
	b.ReportAllocs()
	cpu := startCPU(b)
	for i := range b.N {
		h, sk := benchKey(i % 100000)
		ops[0] = Put{HashKey: h, SortKey: sk, Value: value}
		if _, err := s.Apply(int64(i+1), uint32(t0+i/perSecond), RequestID{ClientID: 7, Seq: uint64(i + 1)}, ops); err != nil {
			b.Fatal(err)
		}
		if (i+1)%perSecond == 0 {
			dropped, err := s.DropExpiredRequests()
			if err != nil {
				b.Fatal(err)
			}
			if dropped {
				collections++
			}
		}
	}
	cpu.report(b, s)
	if want := b.N/perSecond - retention - 1; want > 0 && collections < want {
		b.Fatalf("%d collections over %d s of apply clock", collections, b.N/perSecond)
	}
}

// BenchmarkAppliedRequestMiss is the lookup a primary makes for a retried
// write whose original it never applied: the id is read in every bucket of
// the default retention, here 6 buckets (5 minutes of records) of 200,000
// records in all, flushed and in the memtable; the id sorts among theirs.
func BenchmarkAppliedRequestMiss(b *testing.B) {
	// The block cache a replica server shares between its stores
	// (block_cache_mb's default).
	cache := pebble.NewCache(256 << 20)
	defer cache.Unref()
	s := openStore(b, vfs.Default, b.TempDir(), nil, Options{Cache: cache})
	value := make([]byte, 100)
	for i := range 200000 {
		h, sk := benchKey(i)
		at := uint32(t0 + i*300/200000)
		if _, err := s.Apply(int64(i+1), at, RequestID{ClientID: uint64(i % 64), Seq: uint64(i + 1)},
			[]WriteOp{Put{HashKey: h, SortKey: sk, Value: value}}); err != nil {
			b.Fatal(err)
		}
		if i == 150000 {
			if _, err := s.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	settle(b, s)
	b.ReportAllocs()
	cpu := startCPU(b)
	for i := range b.N {
		if _, ok, err := s.AppliedRequest(RequestID{ClientID: 31, Seq: 1<<40 + uint64(i)}); ok || err != nil {
			b.Fatal(ok, err)
		}
	}
	cpu.report(b, s)
}
