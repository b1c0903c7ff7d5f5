package client_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/bench/pegasustarget"
	"github.com/pegasus-go/pegasus/internal/benchcpu"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/onebox/testcluster"
)

// BenchmarkOnebox measures a Get through the whole client (routing,
// encoding, the shared Data stream, reply matching) against a real replica
// server: a onebox of one meta and one replica server process on loopback,
// serving a table of one partition with one replica over Pebble. Reads
// only, from the memtable, so the figure is the client's, gRPC's and the
// replica's read path rather than the disk's. allocs/op and cpu-ns/op count
// this process only, that is the client. The sub-benchmarks share one cluster.
func BenchmarkOnebox(b *testing.B) {
	ob := testcluster.Start(b, onebox.Options{Metas: 1, Replicas: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conns := dial.New(ob.MetaAddrs(), dial.Options{Credentials: ob.Credentials()})
	defer conns.Close()
	const table = "client_bench"
	spec := pegasustarget.TableSpec{Name: table, PartitionCount: 1, ReplicaCount: 1}
	if _, _, err := pegasustarget.EnsureTable(ctx, conns, spec); err != nil {
		b.Fatal(err)
	}
	c, err := client.New(ctx, client.Config{MetaServers: ob.MetaAddrs(), TLS: ob.Credentials().TLS})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	tbl, err := c.Open(ctx, table)
	if err != nil {
		b.Fatal(err)
	}
	hashKeys := make([][]byte, 64)
	for i := range hashKeys {
		hashKeys[i] = fmt.Appendf(nil, "h%d", i)
		if err := tbl.Set(ctx, hashKeys[i], []byte("s"), make([]byte, 100), 0); err != nil {
			b.Fatal(err)
		}
	}
	get := func(b *testing.B, i int) bool {
		_, found, err := tbl.Get(context.Background(), hashKeys[i%len(hashKeys)], []byte("s"))
		if err != nil || !found {
			b.Error(err, found)
			return false
		}
		return true
	}

	b.Run("get/serial", func(b *testing.B) {
		b.ReportAllocs()
		cpu := benchcpu.Start(b)
		defer cpu.Report(b)
		for i := 0; i < b.N; i++ {
			if !get(b, i) {
				return
			}
		}
	})
	b.Run("get/parallel", func(b *testing.B) {
		b.SetParallelism(16) // 16 callers per core
		b.ReportAllocs()
		cpu := benchcpu.Start(b)
		defer cpu.Report(b)
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				if !get(b, i) {
					return
				}
			}
		})
	})
}
