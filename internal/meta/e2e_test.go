package meta_test

// End to end over a real onebox: two meta servers, three replica servers
// and etcd, each its own process of a pegasus binary built from this
// module. The meta server's promises are checked from outside, through the
// admin RPCs an operator's shell uses: a meta leader crash changes nothing
// the replica servers see, a replica server crash is repaired within the
// failure detector's grace, a quick restart rejoins without a full copy,
// and migrate_node moves every primary away without failing a write.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/onebox/oneboxtest"
	"github.com/pegasus-go/pegasus/internal/onebox/testcluster"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

const (
	e2eTable      = "meta_e2e"
	e2ePartitions = 8
	// e2eGrace is fd_grace_seconds of the test's cluster. The failure
	// detector is oneboxtest's fast one; the assign delay keeps its 5
	// minute default: a restarted node rejoins within it.
	e2eGrace = oneboxtest.FastGrace
)

type metaE2E struct {
	t     *testing.T
	ob    *onebox.Cluster
	conns *dial.Conns
}

func startMetaE2E(t *testing.T) *metaE2E {
	t.Helper()
	ob := testcluster.Start(t, onebox.Options{
		Metas: 2, Replicas: 3,
		Tuning: onebox.Tuning{Meta: oneboxtest.FastMeta, Replica: oneboxtest.FastReplica},
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e := &metaE2E{t: t, ob: ob, conns: dial.New(ob.MetaAddrs(), dial.Options{Credentials: ob.Credentials()})}
	t.Cleanup(func() { _ = e.conns.Close() })
	resp, err := dial.CallMeta(ctx, e.conns, func(ctx context.Context, m pb.MetaClient) (*pb.CreateTableResponse, error) {
		return m.CreateTable(ctx, &pb.CreateTableRequest{Name: e2eTable, PartitionCount: e2ePartitions, ReplicaCount: 3})
	})
	if err != nil || resp.GetError().GetCode() != pb.ErrorCode_ERR_OK {
		t.Fatalf("create table: %v %v", resp.GetError(), err)
	}
	if err := ob.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *metaE2E) clusterInfo(ctx context.Context) (*pb.ClusterInfoResponse, error) {
	return dial.CallMeta(ctx, e.conns, func(ctx context.Context, m pb.MetaClient) (*pb.ClusterInfoResponse, error) {
		return m.ClusterInfo(ctx, &pb.ClusterInfoRequest{})
	})
}

// nodes returns the meta leader's view of every replica server by address.
func (e *metaE2E) nodes(ctx context.Context) (map[string]*pb.NodeInfo, error) {
	resp, err := dial.CallMeta(ctx, e.conns, func(ctx context.Context, m pb.MetaClient) (*pb.ListNodesResponse, error) {
		return m.ListNodes(ctx, &pb.ListNodesRequest{})
	})
	if err != nil {
		return nil, err
	}
	if c := resp.GetError().GetCode(); c != pb.ErrorCode_ERR_OK {
		return nil, fmt.Errorf("list nodes: %v", resp.GetError())
	}
	out := make(map[string]*pb.NodeInfo)
	for _, n := range resp.GetNodes() {
		out[n.GetAddress()] = n
	}
	return out, nil
}

// partitions returns the table's partition configurations by index.
func (e *metaE2E) partitions(ctx context.Context) ([]*pb.PartitionConfiguration, error) {
	resp, err := dial.CallMeta(ctx, e.conns, func(ctx context.Context, m pb.MetaClient) (*pb.QueryConfigResponse, error) {
		return m.QueryConfig(ctx, &pb.QueryConfigRequest{Table: e2eTable})
	})
	if err != nil {
		return nil, err
	}
	if c := resp.GetError().GetCode(); c != pb.ErrorCode_ERR_OK {
		return nil, fmt.Errorf("query config: %v", resp.GetError())
	}
	if n := len(resp.GetPartitions()); n != e2ePartitions {
		return nil, fmt.Errorf("query config: %d partitions, want %d", n, e2ePartitions)
	}
	return resp.GetPartitions(), nil
}

// replicaCommand runs a remote command on one replica server.
func (e *metaE2E) replicaCommand(ctx context.Context, addr, cmd string, args ...string) (string, error) {
	resp, err := dial.CallServer(ctx, e.conns, addr, (*dial.Conns).ReplicaAdmin,
		func(ctx context.Context, r pb.ReplicaAdminClient) (*pb.RemoteCommandResponse, error) {
			return r.RemoteCommand(ctx, &pb.RemoteCommandRequest{Command: cmd, Args: args})
		})
	if err != nil {
		return "", err
	}
	if c := resp.GetError().GetCode(); c != pb.ErrorCode_ERR_OK {
		return "", fmt.Errorf("%s on %s: %v", cmd, addr, resp.GetError())
	}
	return resp.GetOutput(), nil
}

// replicaProgress is one replica as replica.query-progress reports it.
type replicaProgress struct {
	Gpid          string `json:"gpid"`
	Status        string `json:"status"`
	Ballot        int64  `json:"ballot"`
	Applied       int64  `json:"last_applied_decree"`
	Durable       int64  `json:"last_durable_decree"`
	Replayed      int    `json:"replayed_on_open"`
	CkptInstalled int64  `json:"checkpoints_installed"`
}

func (e *metaE2E) progress(ctx context.Context, addr string) (map[string]replicaProgress, error) {
	out, err := e.replicaCommand(ctx, addr, "replica.query-progress")
	if err != nil {
		return nil, err
	}
	var list []replicaProgress
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, fmt.Errorf("replica.query-progress on %s: %w: %s", addr, err, out)
	}
	byGpid := make(map[string]replicaProgress, len(list))
	for _, p := range list {
		byGpid[p.Gpid] = p
	}
	return byGpid, nil
}

// poll calls cond every 200 ms until it holds or ctx ends; the failure
// names what was awaited and cond's last complaint.
func poll(ctx context.Context, what string, cond func() error) error {
	var last error
	for {
		if last = cond(); last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %v)", what, ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// writer writes fresh keys one after another until stopped, counting
// acknowledged and failed writes, and remembering the first failures.
type writer struct {
	tbl      *client.Table
	acked    atomic.Int64
	failed   atomic.Int64
	lastAck  atomic.Int64 // unix nanos of the last acknowledged write
	mu       sync.Mutex
	failures []string
}

func (w *writer) run(ctx context.Context) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ctx.Err() == nil; i++ {
			// Each write has its own deadline, so that stopping the writer
			// never fails a write already under way.
			opCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			key := fmt.Sprintf("w%07d", i)
			err := w.tbl.Set(opCtx, []byte(key), nil, []byte(key), 0)
			cancel()
			if err != nil {
				w.failed.Add(1)
				w.mu.Lock()
				if len(w.failures) < 5 {
					w.failures = append(w.failures, fmt.Sprintf("%s: %v", key, err))
				}
				w.mu.Unlock()
				continue
			}
			w.acked.Add(1)
			w.lastAck.Store(time.Now().UnixNano())
			time.Sleep(10 * time.Millisecond)
		}
	})
	return &wg
}

// resetFailures forgets the failures remembered so far, so that the next
// report shows only a new phase's.
func (w *writer) resetFailures() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failures = nil
}

func (w *writer) firstFailures() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.failures, "; ")
}

// TestE2EMetaFailover walks one cluster through a meta leader crash, a
// replica server crash and quick restart, and a migrate_node.
func TestE2EMetaFailover(t *testing.T) {
	e := startMetaE2E(t)
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	defer cancel()

	cl, err := client.New(ctx, client.Config{MetaServers: e.ob.MetaAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	tbl, err := cl.Open(ctx, e2eTable)
	if err != nil {
		t.Fatal(err)
	}
	w := &writer{tbl: tbl}
	writeCtx, stopWriter := context.WithCancel(ctx)
	wg := w.run(writeCtx)
	defer func() { stopWriter(); wg.Wait() }()

	// Each step starts from the state the previous one left: stop at the
	// first that fails.
	phase := func(name string, step func(t *testing.T)) bool {
		w.resetFailures()
		failed, acked := w.failed.Load(), w.acked.Load()
		ok := t.Run(name, step)
		t.Logf("writer during %s: %d writes acknowledged, %d failed (%s)",
			name, w.acked.Load()-acked, w.failed.Load()-failed, w.firstFailures())
		return ok
	}
	victim := e.ob.Replicas()[1]
	_ = phase("meta leader crash", func(t *testing.T) { e.metaLeaderCrash(ctx, t, w) }) &&
		phase("replica crash", func(t *testing.T) { e.replicaCrashAndRejoin(ctx, t, w, victim) }) &&
		phase("migrate node", func(t *testing.T) { e.migrateNode(ctx, t, w, e.ob.Replicas()[0].Address) })
}

// metaLeaderCrash: kill -9 the meta leader. The other meta server takes
// over from etcd; replica servers keep beaconing (to the new leader) and
// stay alive in its eyes, and since no replica server was lost no
// partition's configuration changes. The data plane needs no meta server
// while no configuration changes (primaries hold their read leases from
// their members): no write fails, and writes go on throughout.
func (e *metaE2E) metaLeaderCrash(ctx context.Context, t *testing.T, w *writer) {
	failedBefore, ackedBefore := w.failed.Load(), w.acked.Load()
	defer func() {
		failed, acked := w.failed.Load()-failedBefore, w.acked.Load()-ackedBefore
		if failed != 0 {
			t.Errorf("%d writes failed across the meta failover: %s", failed, w.firstFailures())
		}
		if acked == 0 {
			t.Errorf("no write acknowledged across the meta failover")
		}
	}()
	before, err := e.partitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	info, err := e.clusterInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	oldLeader := info.GetLeader()
	if oldLeader == "" {
		t.Fatalf("cluster_info names no leader: %v", info)
	}
	killed := time.Now()
	if err := e.ob.Kill(oldLeader); err != nil {
		t.Fatal(err)
	}
	var newLeader string
	if err := poll(ctx, "a new meta leader", func() error {
		info, err := e.clusterInfo(ctx)
		if err != nil {
			return err
		}
		if l := info.GetLeader(); l == "" || l == oldLeader {
			return fmt.Errorf("leader %q", l)
		}
		newLeader = info.GetLeader()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("meta leader %s killed; %s leads after %v", oldLeader, newLeader, time.Since(killed).Round(10*time.Millisecond))

	// The new leader must have heard from every replica server (a beacon
	// after its takeover) and kept each of them alive past one grace: a
	// leader that declared nodes dead would have reassigned primaries.
	replicas := e.ob.Replicas()
	if err := poll(ctx, "every replica server beaconing the new leader", func() error {
		nodes, err := e.nodes(ctx)
		if err != nil {
			return err
		}
		for _, r := range replicas {
			n := nodes[r.Address]
			if n == nil || !n.GetAlive() || time.Since(time.UnixMilli(n.GetLastBeaconMs())) > 2*time.Second {
				return fmt.Errorf("%s: %v", r.Address, n)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// One grace period later every replica server is still alive and
	// beaconing: a leader that declared one dead would have moved its
	// primaries.
	settled := time.Now().Add(e2eGrace + time.Second)
	if err := poll(ctx, "every replica server beaconing a grace period after the failover", func() error {
		nodes, err := e.nodes(ctx)
		if err != nil {
			return err
		}
		for _, r := range replicas {
			n := nodes[r.Address]
			if n == nil || !n.GetAlive() || time.UnixMilli(n.GetLastBeaconMs()).Before(settled) {
				return fmt.Errorf("%s: %v", r.Address, n)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	nodes, err := e.nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range replicas {
		if n := nodes[r.Address]; n == nil || !n.GetAlive() {
			t.Errorf("%s not alive after the meta failover: %v", r.Address, n)
		}
	}
	after, err := e.partitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range before {
		b, a := before[i], after[i]
		if a.GetBallot() != b.GetBallot() || a.GetPrimary() != b.GetPrimary() {
			t.Errorf("partition %d changed across the meta failover: ballot %d primary %s -> ballot %d primary %s",
				i, b.GetBallot(), b.GetPrimary(), a.GetBallot(), a.GetPrimary())
		}
	}
	// The killed meta server comes back as a follower.
	if err := e.ob.StartNode(ctx, oldLeader); err != nil {
		t.Fatal(err)
	}
}

// replicaCrashAndRejoin: kill -9 a replica server under a write load.
// Within the grace plus 2 s every partition has a live primary and a write
// is acknowledged. Restarted within the assign delay, the server gets its
// old partitions back as a secondary, reopening its own data and catching
// up from the primaries' logs rather than copying a checkpoint.
func (e *metaE2E) replicaCrashAndRejoin(ctx context.Context, t *testing.T, w *writer, victim onebox.Process) {
	// Flush the victim's stores first so that its durable decrees are past
	// zero: after the restart they show where its data came from.
	if _, err := e.replicaCommand(ctx, victim.Address, "replica.trigger-checkpoint"); err != nil {
		t.Fatal(err)
	}
	held, err := e.progress(ctx, victim.Address)
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != e2ePartitions {
		t.Fatalf("%s holds %d replicas, want %d (3 replicas on 3 nodes)", victim.Address, len(held), e2ePartitions)
	}
	for g, p := range held {
		if p.Durable <= 0 {
			t.Fatalf("%s: replica %s durable decree %d after trigger-checkpoint", victim.Address, g, p.Durable)
		}
	}

	killed := time.Now()
	if err := e.ob.Kill(victim.Name); err != nil {
		t.Fatal(err)
	}
	// The bound the failure detector promises: the meta declares the node
	// dead at most a grace after its last beacon, and promotes a secondary
	// right away (the dead primary's lease, shorter than the grace, has
	// already run out). The slack covers the check interval, the client's
	// routing refresh and a loaded test machine; it stays far below the
	// assign delay, so only the failure detector can meet it.
	bound := e2eGrace + 6*time.Second
	boundCtx, cancel := context.WithDeadline(ctx, killed.Add(bound))
	defer cancel()
	err = poll(boundCtx, "every partition with a live primary", func() error {
		parts, err := e.partitions(boundCtx)
		if err != nil {
			return err
		}
		for _, p := range parts {
			if p.GetPrimary() == "" || p.GetPrimary() == victim.Address {
				return fmt.Errorf("partition %d primary %q", p.GetGpid().GetPartitionIndex(), p.GetPrimary())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v after killing %s", err, victim.Address)
	}
	primaries := time.Since(killed)
	err = poll(boundCtx, "an acknowledged write", func() error {
		if time.Unix(0, w.lastAck.Load()).After(killed.Add(primaries)) {
			return nil
		}
		return fmt.Errorf("last acknowledged write %v after the kill", time.Unix(0, w.lastAck.Load()).Sub(killed))
	})
	if err != nil {
		t.Fatalf("%v; writer's failures: %s", err, w.firstFailures())
	}
	t.Logf("%s killed: every partition had a primary after %v, writes acknowledged again after %v (bound %v)",
		victim.Address, primaries.Round(10*time.Millisecond), time.Since(killed).Round(10*time.Millisecond), bound)

	// Restart well within the assign delay (5 minutes): no other node was
	// given its replicas, so its old partitions wait for it.
	if err := e.ob.StartNode(ctx, victim.Name); err != nil {
		t.Fatal(err)
	}
	if err := poll(ctx, victim.Address+" a secondary of its old partitions", func() error {
		parts, err := e.partitions(ctx)
		if err != nil {
			return err
		}
		for _, p := range parts {
			g := fmt.Sprintf("%d.%d", p.GetGpid().GetAppId(), p.GetGpid().GetPartitionIndex())
			if _, ok := held[g]; !ok {
				return fmt.Errorf("partition %s was not held before", g)
			}
			if !slices.Contains(p.GetSecondaries(), victim.Address) {
				return fmt.Errorf("partition %s: primary %s secondaries %v", g, p.GetPrimary(), p.GetSecondaries())
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// Evidence that nothing was copied from scratch: every replica reopened
	// its own store (a durable decree past zero right after the restart,
	// at least the one flushed before the kill) and installed no
	// checkpoint; the missed writes came from the primaries' logs.
	// The meta lists the node as a secondary once the primary's proposal
	// commits; the node itself learns its new role from the primary's
	// next message, a moment later.
	var after map[string]replicaProgress
	if err := poll(ctx, victim.Address+" reporting itself secondary", func() error {
		var err error
		if after, err = e.progress(ctx, victim.Address); err != nil {
			return err
		}
		for g := range held {
			if p, ok := after[g]; ok && p.Status != pb.PartitionStatus_PS_SECONDARY.String() {
				return fmt.Errorf("%s is %s", g, p.Status)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for g, before := range held {
		p, ok := after[g]
		switch {
		case !ok:
			t.Errorf("%s does not hold %s after the restart", victim.Address, g)
		case p.Status != pb.PartitionStatus_PS_SECONDARY.String():
			t.Errorf("%s: %s is %s, want secondary", victim.Address, g, p.Status)
		case p.CkptInstalled != 0:
			t.Errorf("%s: %s installed %d checkpoints: it learned from scratch", victim.Address, g, p.CkptInstalled)
		case p.Durable < before.Durable:
			t.Errorf("%s: %s durable decree %d after the restart, %d before: its own data was not reopened",
				victim.Address, g, p.Durable, before.Durable)
		}
	}
}

// migrateNode: migrate_node moves every primary off a node by handing each
// over to a caught-up secondary, which costs no client write.
func (e *metaE2E) migrateNode(ctx context.Context, t *testing.T, w *writer, node string) {
	if err := e.ob.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	failedBefore, ackedBefore := w.failed.Load(), w.acked.Load()
	resp, err := dial.CallMeta(ctx, e.conns, func(ctx context.Context, m pb.MetaClient) (*pb.DrainNodeResponse, error) {
		return m.MigrateNode(ctx, &pb.DrainNodeRequest{Node: node})
	})
	if err != nil || resp.GetError().GetCode() != pb.ErrorCode_ERR_OK {
		t.Fatalf("migrate_node %s: %v %v", node, resp.GetError(), err)
	}
	t.Logf("migrate_node %s: %s", node, strings.Join(resp.GetProposals(), "; "))
	if err := poll(ctx, node+" without primaries", func() error {
		nodes, err := e.nodes(ctx)
		if err != nil {
			return err
		}
		if n := nodes[node]; n == nil || n.GetPrimaryCount() != 0 {
			return fmt.Errorf("%v", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Writes go on on the new primaries.
	ackedMoved := w.acked.Load()
	if err := poll(ctx, "writes on the new primaries", func() error {
		if n := w.acked.Load() - ackedMoved; n < 50 {
			return fmt.Errorf("%d acknowledged", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	failed, acked := w.failed.Load()-failedBefore, w.acked.Load()-ackedBefore
	t.Logf("during migrate_node: %d writes acknowledged, %d failed", acked, failed)
	if failed != 0 {
		t.Errorf("%d writes failed during migrate_node: %s", failed, w.firstFailures())
	}
	if acked == 0 {
		t.Errorf("no write acknowledged during migrate_node")
	}
}
