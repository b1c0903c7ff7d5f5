package replica

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Issue 16, finding 1: an UpdateConfig sent straight to every replica
// server with ballot 2^40 and a fake primary made the partition follow the
// fake primary for good (the meta could never issue a higher ballot). A
// pushed ballot far above what the meta said it issued is now refused, and
// the partition keeps its real primary and keeps serving.
func TestForgedPushFarAboveTheMetasBallotsRefused(t *testing.T) {
	c := newTestCluster(t, 3, clusterOptions{})
	a, b, d := c.addr(0), c.addr(1), c.addr(2)
	c.meta.createTable("test", testApp, [][]string{{a, b, d}})
	c.waitFor(10*time.Second, "healthy", func() bool { return c.healthy(testApp, 0) })
	primary := openRawStream(t, a)
	set := func(v string) pb.ErrorCode {
		return code(primary.do(request("k", 1, &pb.SetRequest{HashKey: []byte("k"), SortKey: []byte("s"), Value: []byte(v)})))
	}
	if got := set("before"); got != pb.ErrorCode_ERR_OK {
		t.Fatalf("write before the forged push: %v", got)
	}

	forged := c.meta.config(0)
	forged.Ballot, forged.Primary, forged.Secondaries = 1<<40, "10.6.6.6:34801", []string{a, b, d}
	for i := range 3 {
		resp := pushTo(t, c.addr(i), forged)
		if resp.GetError().GetCode() != pb.ErrorCode_ERR_INVALID_PARAMETERS {
			t.Fatalf("forged push to %s answered %v", c.addr(i), resp)
		}
	}
	// Nothing changed: same ballot, same primary, writes go on.
	for i := range 3 {
		v := c.replica(i, testApp, 0).view.Load()
		if int64(v.ballot) != c.meta.config(0).GetBallot() || string(v.primary) != a {
			t.Fatalf("%s after the forged push: ballot %d, primary %s", c.addr(i), v.ballot, v.primary)
		}
	}
	if got := set("after"); got != pb.ErrorCode_ERR_OK {
		t.Fatalf("write after the forged push: %v", got)
	}

	// A push within reach of the meta's record is taken as before: the
	// meta's own next ballot.
	c.meta.change(0, "force ballot", func(*pb.PartitionConfiguration) {})
	want := c.meta.config(0).GetBallot()
	c.waitFor(10*time.Second, "the meta's next ballot", func() bool {
		return int64(c.replica(0, testApp, 0).view.Load().ballot) == want
	})
}

// Finding 5: FetchCheckpoint handed any caller a partition's whole store.
// A checkpoint now goes only to a node the partition's configuration
// names.
func TestCheckpointOnlyForMembers(t *testing.T) {
	c := newTestCluster(t, 2, clusterOptions{})
	a, b := c.addr(0), c.addr(1)
	c.meta.createTable("test", testApp, [][]string{{a, b}})
	c.waitFor(10*time.Second, "healthy", func() bool { return c.healthy(testApp, 0) })

	fetch := func(learner string) *pb.CheckpointChunk {
		cc, err := dial.Options{}.NewClient(a)
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		st, err := pb.NewReplicaPeerClient(cc).FetchCheckpoint(ctx, &pb.CheckpointRequest{
			Gpid: &pb.Gpid{AppId: testApp}, Learner: learner, Ballot: c.meta.config(0).GetBallot(),
		})
		if err != nil {
			t.Fatal(err)
		}
		first, err := st.Recv()
		if err != nil && err != io.EOF {
			t.Fatal(err)
		}
		return first
	}
	if chunk := fetch("10.6.6.6:34801"); chunk.GetError().GetCode() != pb.ErrorCode_ERR_REJECT {
		t.Fatalf("checkpoint for a stranger: %v", chunk)
	}
	if chunk := fetch(b); chunk.GetError() != nil {
		t.Fatalf("checkpoint for a member: %v", chunk.GetError())
	}
}

func pushTo(t *testing.T, addr string, cfgs ...*pb.PartitionConfiguration) *pb.ConfigUpdateResponse {
	t.Helper()
	cc, err := dial.Options{}.NewClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := pb.NewReplicaAdminClient(cc).UpdateConfig(ctx, &pb.ConfigUpdateRequest{Configs: cfgs})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
