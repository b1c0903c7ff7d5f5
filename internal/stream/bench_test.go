package stream

import (
	"context"
	"testing"

	"github.com/pegasus-go/pegasus/internal/benchcpu"
)

// BenchmarkRoundTrip measures a request through the stream alone (encode,
// queue, send, reply matching) against the in-process fake over loopback
// gRPC, whose own work is an echo: the figure is the stream's and gRPC's
// overhead. BenchmarkOnebox (client) and BenchmarkReplicaGetOnebox
// (pegasusserve) measure it against a real replica server.
func BenchmarkRoundTrip(b *testing.B) {
	_, addr := newFakeServer(b)
	c := newConn(b, addr)
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		cpu := benchcpu.Start(b)
		defer cpu.Report(b)
		for range b.N {
			if _, err := c.RoundTrip(ctx, get("h")); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(16) // 16 callers per core
		b.ReportAllocs()
		cpu := benchcpu.Start(b)
		defer cpu.Report(b)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := c.RoundTrip(ctx, get("h")); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
