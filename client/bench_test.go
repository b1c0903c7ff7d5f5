package client

import (
	"context"
	"fmt"
	"testing"

	"github.com/pegasus-go/pegasus/internal/benchcpu"
)

// BenchmarkGetParallel measures a Get through the whole client (routing,
// encoding, the shared stream, reply matching) against the in-process fake
// cluster over loopback gRPC, with many callers in parallel. The fake's own
// work is a map lookup, so the figure is the client's and gRPC's overhead.
func BenchmarkGetParallel(b *testing.B) {
	fc := newFakeCluster(b, 1, 1)
	fc.createTable("t", 8)
	tbl := fc.open(fc.newClient(nil), "t")
	ctx := context.Background()
	hashKeys := make([][]byte, 64)
	for i := range hashKeys {
		hashKeys[i] = []byte(fmt.Sprintf("h%d", i))
		if err := tbl.Set(ctx, hashKeys[i], []byte("s"), make([]byte, 100), 0); err != nil {
			b.Fatal(err)
		}
	}
	b.SetParallelism(16) // 16 callers per core
	b.ReportAllocs()
	cpu := benchcpu.Start(b)
	defer cpu.Report(b)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			_, found, err := tbl.Get(ctx, hashKeys[i%len(hashKeys)], []byte("s"))
			if err != nil || !found {
				b.Error(err, found)
				return
			}
		}
	})
}
