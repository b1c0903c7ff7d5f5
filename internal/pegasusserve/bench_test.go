package pegasusserve

import (
	"context"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/bench/pegasustarget"
	"github.com/pegasus-go/pegasus/internal/benchcpu"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/onebox/testcluster"
	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
)

// Requests pipelined by concurrent callers over one connection, as an
// official client sends them.

// BenchmarkListenerEcho measures the listener alone: frames in, a handler
// that answers at once, frames out.
func BenchmarkListenerEcho(b *testing.B) {
	c := dialTestClient(b, serveListener(b, HandlerFunc(echoHandler), Config{}))
	benchGets(b, c, pegasusrpc.Gpid{AppID: 1}, "k")
}

// BenchmarkReplicaGet measures a get through the whole translation: the
// listener, the replica handler, the Data stream to a replica server on
// loopback gRPC (a fake over an in-memory store) and back.
func BenchmarkReplicaGet(b *testing.B) {
	clock := newFakeClock()
	_, grpcAddr := newFakeReplica(b, clock)
	h, err := NewReplicaHandler(grpcAddr, ReplicaOptions{Now: clock.Now})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	c := dialTestClient(b, serveListener(b, h, Config{}))
	gpid := pegasusrpc.Gpid{AppID: 1}
	key := fullKey(b, "h", "s")
	if resp := c.mustCall(gpid, 0, pegasusrpc.RPCPut, &pegasusrpc.UpdateRequest{Key: key, Value: make([]byte, 100)}).(*pegasusrpc.UpdateResponse); resp.Error != pegasusrpc.StatusOK {
		b.Fatalf("put: %+v", resp)
	}
	benchGets(b, c, gpid, string(key))
}

// BenchmarkReplicaGetOnebox measures a get through the whole translation
// in front of a real replica server: a onebox of one meta and one replica
// server process on loopback, serving a table of one partition with one
// replica over Pebble. allocs/op and cpu-ns/op count this process only: the listener,
// the replica handler and its Data stream client. The sub-benchmarks share
// one cluster.
func BenchmarkReplicaGetOnebox(b *testing.B) {
	ob := testcluster.Start(b, onebox.Options{Metas: 1, Replicas: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conns := dial.New(ob.MetaAddrs(), dial.Options{Credentials: ob.Credentials()})
	defer conns.Close()
	spec := pegasustarget.TableSpec{Name: "pegasusserve_bench", PartitionCount: 1, ReplicaCount: 1}
	info, _, err := pegasustarget.EnsureTable(ctx, conns, spec)
	if err != nil {
		b.Fatal(err)
	}
	h, err := NewReplicaHandler(ob.Replicas()[0].Address, ReplicaOptions{Credentials: ob.Credentials()})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	c := dialTestClient(b, serveListener(b, h, Config{}))
	gpid := pegasusrpc.Gpid{AppID: info.GetAppId()}
	key := fullKey(b, "h", "s")
	// The meta server may report the table healthy a moment before the
	// replica server opened the partition: retry until it is served.
	for {
		resp, err := c.call(gpid, 0, pegasusrpc.RPCPut, &pegasusrpc.UpdateRequest{Key: key, Value: make([]byte, 100)})
		if err == nil && resp.Err.IsOK() && resp.Result.(*pegasusrpc.UpdateResponse).Error == pegasusrpc.StatusOK {
			break
		}
		if ctx.Err() != nil {
			b.Fatalf("put: %v %v", resp.Err, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	b.Run("get/serial", func(b *testing.B) {
		b.ReportAllocs()
		blob := pegasusrpc.Blob(key)
		cpu := benchcpu.Start(b)
		defer cpu.Report(b)
		for range b.N {
			resp, err := c.wait(c.send(c.request(gpid, 0, pegasusrpc.RPCGet, &blob)))
			if err != nil || !resp.Err.IsOK() {
				b.Fatalf("get: %v %v", resp.Err, err)
			}
		}
	})
	b.Run("get/parallel", func(b *testing.B) { benchGets(b, c, gpid, string(key)) })
}

func benchGets(b *testing.B, c *testClient, gpid pegasusrpc.Gpid, key string) {
	b.SetParallelism(16)
	b.ReportAllocs()
	cpu := benchcpu.Start(b)
	defer cpu.Report(b)
	b.RunParallel(func(pb *testing.PB) {
		blob := pegasusrpc.Blob(key)
		for pb.Next() {
			resp, err := c.wait(c.send(c.request(gpid, 0, pegasusrpc.RPCGet, &blob)))
			if err != nil || !resp.Err.IsOK() {
				b.Errorf("get: %v %v", resp.Err, err)
				return
			}
		}
	})
}
