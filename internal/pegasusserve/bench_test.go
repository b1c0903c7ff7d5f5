package pegasusserve

import (
	"testing"

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

func benchGets(b *testing.B, c *testClient, gpid pegasusrpc.Gpid, key string) {
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
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
