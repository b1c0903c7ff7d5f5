package mutlog

import (
	"context"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

const benchPayload = 1024

func openBenchLog(b *testing.B) *Log {
	b.Helper()
	l, err := Open(vfs.Default, b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := l.Close(); err != nil {
			b.Error(err)
		}
	})
	return l
}

func reportBatching(b *testing.B, l *Log) {
	s := l.Stats()
	if s.Batches > 0 {
		b.ReportMetric(float64(s.Records)/float64(s.Batches), "records/fsync")
	}
}

// measureSysCPU returns a function that reports the process's system CPU
// time since the call, per append and per group commit of l: where the
// fsyncs' cost shows up.
func measureSysCPU(b *testing.B, l *Log) func() {
	start, ok := sysCPU()
	before := l.Stats().Batches
	return func() {
		end, ok2 := sysCPU()
		if !ok || !ok2 {
			return
		}
		us := float64((end - start).Microseconds())
		b.ReportMetric(us/float64(b.N), "sys-us/op")
		if batches := l.Stats().Batches - before; batches > 0 {
			b.ReportMetric(us/float64(batches), "sys-us/fsync")
		}
	}
}

// BenchmarkAppendGroupCommit: 64 goroutines append 1 KiB records with
// fsync on, on the real file system; decrees are assigned in append order as
// a primary does.
func BenchmarkAppendGroupCommit(b *testing.B) {
	l := openBenchLog(b)
	data := make([]byte, benchPayload)
	var (
		mu   sync.Mutex
		next int64 = 1
	)
	b.SetBytes(benchPayload)
	b.SetParallelism((64 + 1) / 2) // RunParallel starts parallelism x GOMAXPROCS goroutines
	b.ResetTimer()
	report := measureSysCPU(b, l)
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			mu.Lock()
			p := l.Append(Record{Decree: next, Ballot: 1, Data: data})
			next++
			mu.Unlock()
			if err := p.Wait(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	report()
	reportBatching(b, l)
}

// BenchmarkAppendSyncEach appends 1 KiB records one at a time, each waiting
// for its own fsync: the cost group commit amortises.
func BenchmarkAppendSyncEach(b *testing.B) {
	l := openBenchLog(b)
	data := make([]byte, benchPayload)
	ctx := context.Background()
	b.SetBytes(benchPayload)
	b.ResetTimer()
	report := measureSysCPU(b, l)
	for i := 0; i < b.N; i++ {
		if err := l.AppendSync(ctx, Record{Decree: int64(i + 1), Ballot: 1, Data: data}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	report()
	reportBatching(b, l)
}

// BenchmarkReplay reads back a log of 1 KiB records.
func BenchmarkReplay(b *testing.B) {
	l := openBenchLog(b)
	data := make([]byte, benchPayload)
	const n = 20000
	recs := make([]Record, 0, 1000)
	for d := int64(1); d <= n; d++ {
		recs = append(recs, Record{Decree: d, Ballot: 1, Data: data})
		if len(recs) == cap(recs) {
			if err := l.AppendSync(context.Background(), recs...); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	b.SetBytes(n * benchPayload)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		count := 0
		if err := l.Replay(0, func(Record) error { count++; return nil }); err != nil || count != n {
			b.Fatalf("replayed %d records: %v", count, err)
		}
	}
}
