package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/security"
)

// Issue 16, finding 1: an UpdateConfig sent straight to every replica
// server with ballot 2^40 and a fake primary made the partition follow the
// fake primary for good (the meta could never issue a higher ballot). A
// pushed ballot far above what the meta said it issued is now refused, and
// the partition keeps its real primary and keeps serving.
func TestForgedPushFarAboveTheMetasBallotsRefused(t *testing.T) {
	c, set := forgeryTarget(t)
	a, b, d := c.addr(0), c.addr(1), c.addr(2)

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

// Finding 5: replica.kill_partition (and every other remote command)
// needed nothing. With admin tokens configured, an anonymous call is
// refused before the command runs: the partition stays open and keeps
// serving. With the token it runs. Go's profiles are not on the HTTP
// listener.
func TestRemoteCommandNeedsAnAdminCredential(t *testing.T) {
	const token = "9c2e4b7a1d0f3e6c8b5a2d4f"
	tokens := filepath.Join(t.TempDir(), "admin_tokens")
	if err := os.WriteFile(tokens, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tok, err := security.LoadTokens(tokens, nil)
	if err != nil {
		t.Fatal(err)
	}
	var audit bytes.Buffer
	c := newTestCluster(t, 3, clusterOptions{security: &security.Server{Tokens: tok, Audit: security.NewAudit(&audit)}})
	a, b, d := c.addr(0), c.addr(1), c.addr(2)
	c.meta.createTable("test", testApp, [][]string{{a, b, d}})
	c.waitFor(10*time.Second, "healthy", func() bool { return c.healthy(testApp, 0) })
	opened := c.replica(1, testApp, 0)

	cc, err := dial.Options{}.NewClient(b)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ra := pb.NewReplicaAdminClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kill := &pb.RemoteCommandRequest{Command: "replica.kill_partition", Args: []string{fmt.Sprint(testApp), "0"}}
	if _, err := ra.RemoteCommand(ctx, kill); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("anonymous replica.kill_partition: %v", err)
	}
	if c.replica(1, testApp, 0) != opened || !c.healthy(testApp, 0) {
		t.Fatal("a refused kill_partition closed the replica")
	}
	primary := openRawStream(t, a)
	if got := code(primary.do(request("k", 1, &pb.SetRequest{HashKey: []byte("k"), SortKey: []byte("s"), Value: []byte("v")}))); got != pb.ErrorCode_ERR_OK {
		t.Fatalf("write after a refused kill: %v", got)
	}
	if !strings.Contains(audit.String(), `"who":"anonymous"`) {
		t.Errorf("audit log lacks the refused call:\n%s", audit.String())
	}

	admin := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	if r, err := ra.RemoteCommand(admin, kill); err != nil || r.GetError() != nil {
		t.Fatalf("replica.kill_partition with the token: %v %v", r, err)
	}
	c.waitFor(10*time.Second, "the killed replica closed", func() bool { return c.replica(1, testApp, 0) != opened })

	resp, err := http.Get("http://" + c.servers[1].srv.HTTPAddr() + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("pprof on the replica server's HTTP listener: %d", resp.StatusCode)
	}
}

// The same attack over the replication stream: without mutual TLS anyone
// may open ReplicaPeer.Replicate and name any sender. A prepare from a
// stranger at ballot 2^40 made a secondary enter that ballot and follow
// the stranger, and a stale-ballot notice at 2^40 made every member refuse
// the meta's configurations for good. Peer messages far above the meta's
// ballots are now dropped like such pushes, and the partition keeps its
// primary and keeps serving.
func TestForgedReplicateFarAboveTheMetasBallotsRefused(t *testing.T) {
	c, set := forgeryTarget(t)
	a := c.addr(0)

	g := gpid{app: testApp, index: 0}
	const stranger = "10.6.6.6:34801"
	for i := range 3 {
		to := pacifica.NodeID(c.addr(i))
		forged := []pacifica.Message{
			{Type: pacifica.MsgPrepare, From: stranger, To: to, Ballot: 1 << 40},
			{Type: pacifica.MsgStaleBallot, From: stranger, To: to, Ballot: 1 << 40},
		}
		replicateTo(t, c.addr(i), g, forged...)
	}
	// Each server took the forged messages off the stream before it
	// ended, and its partition handles its queue in order: the write's
	// prepares reach every member after them.
	if got := set("after"); got != pb.ErrorCode_ERR_OK {
		t.Fatalf("write after the forged messages: %v", got)
	}
	for i := range 3 {
		v := c.replica(i, testApp, 0).view.Load()
		if int64(v.ballot) != c.meta.config(0).GetBallot() || string(v.primary) != a {
			t.Fatalf("%s after the forged messages: ballot %d, primary %s", c.addr(i), v.ballot, v.primary)
		}
	}
}

// forgeryTarget is a healthy one-partition table on three replica servers
// (the first one primary) and a write to it, done once before it returns.
func forgeryTarget(t *testing.T) (*testCluster, func(v string) pb.ErrorCode) {
	t.Helper()
	c := newTestCluster(t, 3, clusterOptions{})
	c.meta.createTable("test", testApp, [][]string{{c.addr(0), c.addr(1), c.addr(2)}})
	c.waitFor(10*time.Second, "healthy", func() bool { return c.healthy(testApp, 0) })
	primary := openRawStream(t, c.addr(0))
	set := func(v string) pb.ErrorCode {
		return code(primary.do(request("k", 1, &pb.SetRequest{HashKey: []byte("k"), SortKey: []byte("s"), Value: []byte(v)})))
	}
	if got := set("before"); got != pb.ErrorCode_ERR_OK {
		t.Fatalf("write before the forgery: %v", got)
	}
	return c, set
}

// replicateTo sends peer messages of partition g to addr over a new
// ReplicaPeer.Replicate stream, as any process on the network can.
func replicateTo(t *testing.T, addr string, g gpid, msgs ...pacifica.Message) {
	t.Helper()
	cc, err := dial.Options{}.NewClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := pb.NewReplicaPeerClient(cc).Replicate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	batch := &pb.PeerBatch{}
	for _, m := range msgs {
		batch.Messages = append(batch.Messages, peerMessageToPB(g, m))
	}
	if err := st.Send(batch); err != nil {
		t.Fatal(err)
	}
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	// The server ends the stream once it has read (and delivered or
	// dropped) everything sent on it.
	for {
		if _, err := st.Recv(); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			return
		}
	}
}
