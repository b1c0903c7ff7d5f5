package pegasusserve

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/meta/metatest"
	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// The entry points the servers call: bind, serve, stop on cancel.
func TestStartListeners(t *testing.T) {
	clock := newFakeClock()
	_, replicaGRPC := newFakeReplica(t, clock)
	meta, metaGRPC := metatest.Start(t)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	replica, err := StartReplicaListener(ctx, "127.0.0.1:0", replicaGRPC, StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	replicaAddr := replica.(*Server).Addr().String()
	meta.Update(func(f *metatest.Data) { f.Nodes = []*pb.NodeInfo{{Address: replicaGRPC, PegasusAddress: replicaAddr}} })
	meta.AddTable("t", 1, 2, []string{replicaGRPC})
	metaSrv, err := StartMetaListener(ctx, "127.0.0.1:0", metaGRPC, StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer metaSrv.Close()

	// Route the way a client does: ask the meta listener, dial the primary.
	mc := dialTestClient(t, metaSrv.(*Server).Addr().String())
	cfg := mc.mustCall(pegasusrpc.Gpid{}, 0, pegasusrpc.RPCQueryConfig, &pegasusrpc.QueryCfgRequest{AppName: "t"}).(*pegasusrpc.QueryCfgResponse)
	hash := pegasusrpc.HashKeyHash([]byte("h"))
	p := cfg.Partitions[pegasusrpc.PartitionIndex(hash, cfg.PartitionCount)]
	ap, ok := p.Primary.AddrPort()
	if !ok || ap.String() != replicaAddr {
		t.Fatalf("primary %v, want the replica listener %s", p.Primary, replicaAddr)
	}
	rc := dialTestClient(t, ap.String())
	rc.mustCall(p.Pid, hash, pegasusrpc.RPCPut, &pegasusrpc.UpdateRequest{Key: fullKey(t, "h", "s"), Value: []byte("v")})
	key := pegasusrpc.Blob(fullKey(t, "h", "s"))
	got := rc.mustCall(p.Pid, hash, pegasusrpc.RPCGet, &key).(*pegasusrpc.ReadResponse)
	if string(got.Value) != "v" || got.Server != replicaAddr {
		t.Fatalf("get through the started listener: %+v", got)
	}

	// Canceling the context stops the listener and its connections.
	cancel()
	if err := rc.waitClosed(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		c, err := net.Dial("tcp", replicaAddr)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the replica listener still accepts after its context ended")
		}
	}
	if err := replica.Close(); err != nil {
		t.Fatalf("Close after cancel: %v", err)
	}

	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if _, err := StartReplicaListener(context.Background(), busy.Addr().String(), replicaGRPC, StartOptions{}); err == nil {
		t.Fatal("StartReplicaListener on a port in use succeeded")
	}
	if _, err := StartMetaListener(context.Background(), busy.Addr().String(), metaGRPC, StartOptions{}); err == nil {
		t.Fatal("StartMetaListener on a port in use succeeded")
	}
}
