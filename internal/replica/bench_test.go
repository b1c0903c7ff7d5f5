package replica

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// BenchmarkReplicatedWrite measures acknowledged 1 KiB writes through the
// public client against three in-process replica servers on loopback, each
// write fsynced in every replica's log before it is acknowledged, and reports
// throughput and the client-observed latency percentiles. Partitions spread
// their primaries over the servers. Every partition has a log of its own, so
// the partition count sets how many logs share the disk's fsyncs, and how
// many writes one fsync covers.
func BenchmarkReplicatedWrite(b *testing.B) {
	for _, partitions := range []int{1, 3, 8} {
		b.Run(fmt.Sprintf("partitions=%d", partitions), func(b *testing.B) {
			benchmarkReplicatedWrite(b, partitions)
		})
	}
}

func benchmarkReplicatedWrite(b *testing.B, partitions int) {
	c := newTestCluster(b, 3, clusterOptions{})
	layout := make([][]string, partitions)
	for i := range layout {
		layout[i] = []string{c.addr(i % 3), c.addr((i + 1) % 3), c.addr((i + 2) % 3)}
	}
	c.meta.createTable("test", testApp, layout)
	c.waitFor(10*time.Second, "healthy", func() bool {
		for i := range partitions {
			if !c.healthy(testApp, i) {
				return false
			}
		}
		return true
	})
	table := openTable(b, c.meta.addr)
	value := make([]byte, 1024)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	var keySeq atomic.Int64
	for _, writers := range []int{16, 64, 256} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			var (
				next   atomic.Int64
				failed atomic.Int64
				wg     sync.WaitGroup
				mu     sync.Mutex
			)
			hist := hdrhistogram.New(1, int64(10*time.Second/time.Microsecond), 3)
			b.SetBytes(int64(len(value)))
			b.ResetTimer()
			began := time.Now()
			for range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					local := hdrhistogram.New(1, int64(10*time.Second/time.Microsecond), 3)
					for next.Add(1) <= int64(b.N) {
						key := []byte(fmt.Sprintf("bench-%010d", keySeq.Add(1)))
						start := time.Now()
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						err := table.Set(ctx, key, []byte("s"), value, 0)
						cancel()
						if err != nil {
							failed.Add(1)
							continue
						}
						_ = local.RecordValue(time.Since(start).Microseconds())
					}
					mu.Lock()
					hist.Merge(local)
					mu.Unlock()
				}()
			}
			wg.Wait()
			elapsed := time.Since(began)
			b.StopTimer()
			if n := failed.Load(); n > 0 {
				b.Fatalf("%d of %d writes failed", n, b.N)
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
			b.ReportMetric(float64(hist.ValueAtQuantile(50))/1000, "p50-ms")
			b.ReportMetric(float64(hist.ValueAtQuantile(99))/1000, "p99-ms")
		})
	}
}
