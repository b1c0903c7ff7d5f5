package replica

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// rawStream is a bare ReplicaClient.Data stream: one request at a time,
// every response field visible.
type rawStream struct {
	t      testing.TB
	stream pb.ReplicaClient_DataClient
	nextID uint64
}

func openRawStream(t testing.TB, addr string) *rawStream {
	t.Helper()
	cc, err := dial.Options{}.NewClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); _ = cc.Close() })
	st, err := pb.NewReplicaClientClient(cc).Data(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &rawStream{t: t, stream: st}
}

func (r *rawStream) do(req *pb.ClientRequest) *pb.ClientResponse {
	r.t.Helper()
	r.nextID++
	req.Id = r.nextID
	if err := r.stream.Send(req); err != nil {
		r.t.Fatal(err)
	}
	resp, err := r.stream.Recv()
	if err != nil {
		r.t.Fatal(err)
	}
	if resp.GetId() != req.Id {
		r.t.Fatalf("response %d to request %d", resp.GetId(), req.Id)
	}
	return resp
}

// request addresses hashKey's partition of a table with n partitions.
func request(hashKey string, n int32, op any) *pb.ClientRequest {
	hash := client.PartitionHash([]byte(hashKey), nil)
	req := &pb.ClientRequest{Gpid: &pb.Gpid{AppId: testApp, PartitionIndex: int32(hash % uint64(n))}, PartitionHash: hash}
	switch op := op.(type) {
	case *pb.SetRequest:
		req.Op = &pb.ClientRequest_Set{Set: op}
	case *pb.GetRequest:
		req.Op = &pb.ClientRequest_Get{Get: op}
	case *pb.IncrRequest:
		req.Op = &pb.ClientRequest_Incr{Incr: op}
	case *pb.CheckAndSetRequest:
		req.Op = &pb.ClientRequest_CheckAndSet{CheckAndSet: op}
	}
	return req
}

func code(resp *pb.ClientResponse) pb.ErrorCode { return resp.GetError().GetCode() }

// TestDataPathRefusals checks the typed refusals of the data path and that
// a refused write leaves no trace in the log.
func TestDataPathRefusals(t *testing.T) {
	c := newTestCluster(t, 2, clusterOptions{})
	a, b := c.addr(0), c.addr(1)
	c.meta.createTable("test", testApp, [][]string{{a, b}, {a, b}})
	c.waitFor(10*time.Second, "healthy", func() bool { return c.healthy(testApp, 0) && c.healthy(testApp, 1) })
	primary, secondary := openRawStream(t, a), openRawStream(t, b)

	set := request("k", 2, &pb.SetRequest{HashKey: []byte("k"), SortKey: []byte("s"), Value: []byte("v")})
	if resp := primary.do(set); code(resp) != pb.ErrorCode_ERR_OK || resp.GetWrite().GetDecree() <= 0 {
		t.Fatalf("set on the primary: %v", resp)
	}
	pidx := set.GetGpid().GetPartitionIndex()

	t.Run("secondary redirects to the primary", func(t *testing.T) {
		resp := secondary.do(request("k", 2, &pb.GetRequest{HashKey: []byte("k"), SortKey: []byte("s")}))
		if code(resp) != pb.ErrorCode_ERR_INVALID_STATE || resp.GetError().GetPrimary() != a ||
			resp.GetError().GetBallot() != c.meta.config(int(pidx)).Ballot {
			t.Fatalf("read on a secondary: %v, want ERR_INVALID_STATE naming %s", resp, a)
		}
	})
	t.Run("partition not hosted", func(t *testing.T) {
		req := request("k", 2, &pb.GetRequest{HashKey: []byte("k")})
		req.Gpid.AppId = testApp + 7
		if resp := primary.do(req); code(resp) != pb.ErrorCode_ERR_OBJECT_NOT_FOUND {
			t.Fatalf("unknown partition: %v", resp)
		}
	})
	t.Run("hash routes elsewhere", func(t *testing.T) {
		req := request("k", 2, &pb.GetRequest{HashKey: []byte("k")})
		req.Gpid.PartitionIndex = 1 - req.Gpid.PartitionIndex
		if resp := primary.do(req); code(resp) != pb.ErrorCode_ERR_INVALID_PARAMETERS {
			t.Fatalf("misrouted request: %v", resp)
		}
	})
	t.Run("no operation", func(t *testing.T) {
		req := request("k", 2, nil)
		if resp := primary.do(req); code(resp) != pb.ErrorCode_ERR_INVALID_PARAMETERS {
			t.Fatalf("empty request: %v", resp)
		}
	})
	t.Run("oversized value logs nothing", func(t *testing.T) {
		p := c.replica(0, testApp, pidx)
		before := p.view.Load().prepared
		big := request("k", 2, &pb.SetRequest{HashKey: []byte("k"), SortKey: []byte("s"),
			Value: make([]byte, c.servers[0].srv.cfg.MaxValueBytes+1)})
		resp := primary.do(big)
		if code(resp) != pb.ErrorCode_ERR_INVALID_PARAMETERS || !strings.Contains(resp.GetError().GetMessage(), "value too large") {
			t.Fatalf("oversized value: %v", resp)
		}
		if after := p.view.Load().prepared; after != before {
			t.Fatalf("a refused write was logged: prepared decree %d -> %d", before, after)
		}
	})
	t.Run("retried incr gets the original result", func(t *testing.T) {
		incr := request("n", 2, &pb.IncrRequest{HashKey: []byte("n"), SortKey: []byte("s"), Increment: 5})
		incr.RequestId = &pb.RequestID{ClientId: 77, Seq: 1}
		first := primary.do(incr)
		again := primary.do(incr)
		if code(first) != pb.ErrorCode_ERR_OK || first.GetIncr().GetNewValue() != 5 ||
			code(again) != pb.ErrorCode_ERR_OK || again.GetIncr().GetNewValue() != 5 {
			t.Fatalf("incr then its retry: %v, %v; want 5 twice", first, again)
		}
		get := primary.do(request("n", 2, &pb.GetRequest{HashKey: []byte("n"), SortKey: []byte("s")}))
		if string(get.GetGet().GetValue()) != "5" {
			t.Fatalf("after a deduplicated retry the value is %q, want 5", get.GetGet().GetValue())
		}
	})
	t.Run("incr on a non-integer", func(t *testing.T) {
		resp := primary.do(request("k", 2, &pb.IncrRequest{HashKey: []byte("k"), SortKey: []byte("s"), Increment: 1}))
		if code(resp) != pb.ErrorCode_ERR_INVALID_PARAMETERS {
			t.Fatalf("incr of %q: %v", "v", resp)
		}
	})
	t.Run("meta server unreachable: served on the members' lease", func(t *testing.T) {
		// The primary holds its read lease from its secondary, not from
		// the meta server (3 s lease here): reads and writes go on.
		c.meta.refuse.Store(true)
		defer c.meta.refuse.Store(false)
		get := request("k", 2, &pb.GetRequest{HashKey: []byte("k"), SortKey: []byte("s")})
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
			if resp := primary.do(get); code(resp) != pb.ErrorCode_ERR_OK || string(resp.GetGet().GetValue()) != "v" {
				t.Fatalf("read without the meta server: %v", resp)
			}
			if resp := primary.do(set); code(resp) != pb.ErrorCode_ERR_OK {
				t.Fatalf("write without the meta server: %v", resp)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if c.servers[0].srv.leaseValid() {
			t.Fatal("the lease from the meta server is still valid after 5 s without beacons")
		}
	})
}
