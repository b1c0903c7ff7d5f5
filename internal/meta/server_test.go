package meta

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/security"
	"github.com/pegasus-go/pegasus/internal/version"
)

// Integration tests: real meta servers in-process on loopback, a real
// embedded etcd, fake replica servers (fleet_test.go).

// fastFD: beacons every 100 ms, lease 300 ms, grace 500 ms.
func fastFD() decide.FDConfig {
	return decide.FDConfig{
		BeaconInterval: 100 * time.Millisecond, Lease: 300 * time.Millisecond, Grace: 500 * time.Millisecond,
		Protocol: version.Current(), StableRunning: time.Minute, MaxUnstableRestarts: 5,
	}
}

// electionTTL is the session TTL the tests ask for; etcd raises it to its
// minimum (about 2 s with the embedded member's default timings).
const electionTTL = 1

func startMeta(t *testing.T, endpoints []string, cluster string, admin ReplicaAdmin) *Server {
	t.Helper()
	return startMetaWith(t, endpoints, cluster, admin, nil, nil)
}

// startMetaWith is startMeta with the configuration adjusted by mutate
// and the security setup sec (both may be nil). It returns once the server
// read the cluster id from etcd.
func startMetaWith(t *testing.T, endpoints []string, cluster string, admin ReplicaAdmin, mutate func(*config.Meta), sec *security.Server) *Server {
	t.Helper()
	s := startMetaServer(t, endpoints, cluster, admin, mutate, sec)
	waitFor(t, 30*time.Second, "the cluster id read from etcd", func() bool { return s.clusterID() != "" })
	return s
}

// startMetaServer starts a meta server without waiting for its etcd.
func startMetaServer(t *testing.T, endpoints []string, cluster string, admin ReplicaAdmin, mutate func(*config.Meta), sec *security.Server) *Server {
	t.Helper()
	cfg := config.DefaultMeta()
	cfg.Listen, cfg.HTTPListen, cfg.PegasusListen = "127.0.0.1:0", "127.0.0.1:0", ""
	cfg.DataDir = t.TempDir()
	cfg.ClusterName = cluster
	cfg.EtcdEndpoints = endpoints
	cfg.ElectionTTLSeconds = electionTTL
	if mutate != nil {
		mutate(&cfg)
	}
	fd := fastFD()
	s, err := NewServer(Options{Config: cfg, Logger: testLogger(t), FD: &fd, LBInterval: 100 * time.Millisecond, Admin: admin, Security: sec})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	return s
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// leaderAmong waits for exactly one leader and returns it and a follower
// (nil if there is one server).
func leaderAmong(t *testing.T, servers ...*Server) (leader, follower *Server) {
	t.Helper()
	waitFor(t, 15*time.Second, "one leader", func() bool {
		leader, follower = nil, nil
		n := 0
		for _, s := range servers {
			if s.IsLeader() {
				leader = s
				n++
			} else {
				follower = s
			}
		}
		return n == 1
	})
	return leader, follower
}

func TestServersElectOneLeaderFollowersForward(t *testing.T) {
	endpoints, cluster := testEtcd(t), clusterName(t)
	f := newFleet(t, nil, fastFD().BeaconInterval)
	m1 := startMeta(t, endpoints, cluster, f)
	m2 := startMeta(t, endpoints, cluster, f)
	leader, follower := leaderAmong(t, m1, m2)
	waitFor(t, 5*time.Second, "the follower to learn the leader", func() bool { return follower.Leader() == leader.Addr() })
	ctx := context.Background()
	cl := f.client(follower.Addr())

	forwarded := func(name string, e *pb.Error, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if e.GetCode() != pb.ErrorCode_ERR_FORWARD_TO_OTHERS || e.GetPrimary() != leader.Addr() {
			t.Errorf("%s on the follower: %v, want ERR_FORWARD_TO_OTHERS naming %s", name, e, leader.Addr())
		}
	}
	r1, err := cl.QueryConfig(ctx, &pb.QueryConfigRequest{Table: "t"})
	forwarded("QueryConfig", r1.GetError(), err)
	r2, err := cl.CreateTable(ctx, &pb.CreateTableRequest{Name: "t", PartitionCount: 4, ReplicaCount: 1})
	forwarded("CreateTable", r2.GetError(), err)
	r3, err := cl.ListNodes(ctx, &pb.ListNodesRequest{})
	forwarded("ListNodes", r3.GetError(), err)
	r4, err := cl.MetaLevel(ctx, &pb.MetaLevelRequest{Level: "lively"})
	forwarded("MetaLevel", r4.GetError(), err)
	r5, err := cl.RemoteCommand(ctx, &pb.RemoteCommandRequest{Command: decide.KnobLivePercentage})
	forwarded("RemoteCommand", r5.GetError(), err)
	// Commands about the process itself are answered by the follower.
	for cmd, want := range map[string]string{
		"server-info": `"node":"` + follower.Addr() + `"`,
		"server-stat": `"is_leader":false`,
		"help":        decide.KnobLivePercentage,
		"flush-log":   "Flush done.",
	} {
		r, err := cl.RemoteCommand(ctx, &pb.RemoteCommandRequest{Command: cmd})
		if err != nil || r.GetError() != nil || !strings.Contains(r.GetOutput(), want) {
			t.Errorf("%s on the follower: %v %v %q, want it to contain %s", cmd, err, r.GetError(), r.GetOutput(), want)
		}
	}
	r6, err := cl.ProposeConfig(ctx, &pb.ProposeConfigRequest{Node: "r1:1"})
	forwarded("ProposeConfig", r6.GetError(), err)
	r7, err := cl.MigrateNode(ctx, &pb.DrainNodeRequest{Node: "r1:1"})
	forwarded("MigrateNode", r7.GetError(), err)

	// Beacons: acked, not refused, pointed at the leader, no lease.
	b, err := cl.Beacon(ctx, &pb.BeaconRequest{Node: "r1:1", ProtocolVersion: version.Current().String(), StartTimeMs: time.Now().UnixMilli()})
	forwarded("Beacon", b.GetError(), err)
	if !b.GetAllowed() || b.GetLeader() != leader.Addr() || b.GetLeaseMs() != 0 {
		t.Fatalf("follower's beacon answer %v", b)
	}
	b, err = f.client(leader.Addr()).Beacon(ctx, &pb.BeaconRequest{Node: "r1:1", ProtocolVersion: version.Current().String(), StartTimeMs: time.Now().UnixMilli()})
	if err != nil || !b.GetAllowed() || b.GetLeaseMs() != fastFD().Lease.Milliseconds() || b.GetError() != nil {
		t.Fatalf("leader's beacon answer %v, %v", b, err)
	}
	b, _ = f.client(leader.Addr()).Beacon(ctx, &pb.BeaconRequest{Node: "r2:1", ProtocolVersion: "9.0"})
	if b.GetAllowed() || b.GetError().GetCode() != pb.ErrorCode_ERR_VERSION_OUTDATED {
		t.Fatalf("incompatible replica server: %v", b)
	}

	// cluster_info: every meta server, the leader marked, from either one.
	for _, s := range []*Server{leader, follower} {
		ci, err := f.client(s.Addr()).ClusterInfo(ctx, &pb.ClusterInfoRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if ci.GetLeader() != leader.Addr() || len(ci.GetMetas()) != 2 || ci.GetClusterName() != cluster {
			t.Fatalf("cluster_info from %s: %v", s.Addr(), ci)
		}
		for _, m := range ci.GetMetas() {
			if m.GetLeader() != (m.GetAddress() == leader.Addr()) {
				t.Fatalf("cluster_info from %s: %v", s.Addr(), ci)
			}
		}
	}

	// HTTP: the follower redirects /api to the leader.
	resp, err := http.Get("http://" + follower.HTTPAddr() + "/api/cluster")
	if err != nil {
		t.Fatal(err)
	}
	var cj clusterJSON
	err = json.NewDecoder(resp.Body).Decode(&cj)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || cj.Leader != leader.Addr() || cj.MetaFunctionLevel != "steady" {
		t.Fatalf("/api/cluster via the follower: %d %+v %v", resp.StatusCode, cj, err)
	}
	resp, err = http.Get("http://" + follower.HTTPAddr() + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz on the follower: %v %v", resp, err)
	}
	resp.Body.Close()
}

// The leader dies abruptly: the follower takes over once the session TTL
// has run out, the takeover changes no configuration, and the new leader
// then repairs a failure as usual (dead replica server replaced through
// the learner flow).
func TestServersFailoverKeepsConfigs(t *testing.T) {
	endpoints, cluster := testEtcd(t), clusterName(t)
	f := newFleet(t, nil, fastFD().BeaconInterval)
	m1 := startMeta(t, endpoints, cluster, f)
	m2 := startMeta(t, endpoints, cluster, f)
	f.metas = []string{m1.Addr(), m2.Addr()}
	leader, follower := leaderAmong(t, m1, m2)
	f.start(4)
	ctx := context.Background()
	waitFor(t, 10*time.Second, "4 alive replica servers", func() bool {
		r, err := f.client(leader.Addr()).ListNodes(ctx, &pb.ListNodesRequest{})
		alive := 0
		for _, n := range r.GetNodes() {
			if n.GetAlive() {
				alive++
			}
		}
		return err == nil && alive == 4
	})

	lc := f.client(leader.Addr())
	bad, err := lc.CreateTable(ctx, &pb.CreateTableRequest{Name: "t", PartitionCount: 3, ReplicaCount: 3})
	if err != nil || bad.GetError().GetCode() != pb.ErrorCode_ERR_INVALID_PARAMETERS {
		t.Fatalf("3 partitions: %v %v, want ERR_INVALID_PARAMETERS", bad, err)
	}
	created, err := lc.CreateTable(ctx, &pb.CreateTableRequest{Name: "t", PartitionCount: 8, ReplicaCount: 3})
	if err != nil || created.GetError() != nil || created.GetTable().GetAppId() == 0 {
		t.Fatalf("create: %v %v", created, err)
	}
	before, err := lc.QueryConfig(ctx, &pb.QueryConfigRequest{Table: "t"})
	if err != nil || before.GetError() != nil || len(before.GetPartitions()) != 8 {
		t.Fatalf("query: %v %v", before, err)
	}
	for _, p := range before.GetPartitions() {
		if p.GetPrimary() == "" || len(p.GetSecondaries()) != 2 {
			t.Fatalf("partition without full group after create: %v", p)
		}
	}
	waitFor(t, 5*time.Second, "replica servers to hold the configurations", func() bool { return f.holds(before.GetPartitions()) })
	waitFor(t, 5*time.Second, "every replica server to hold a lease", f.allLeased)

	start := time.Now()
	leader.abort()
	waitFor(t, 15*time.Second, "the follower to take over", follower.IsLeader)
	took := time.Since(start)
	t.Logf("takeover %v after the leader crashed (session TTL %d s requested)", took, electionTTL)
	// etcd's minimum TTL on the embedded member is 2 s; allow campaign and
	// scheduling slack on a busy machine.
	if took > 10*time.Second {
		t.Fatalf("takeover took %v", took)
	}

	waitFor(t, 5*time.Second, "the new leader to grant leases", f.allLeased)
	nc := f.client(follower.Addr())
	// The new leader settles: every replica server stays alive and keeps
	// beaconing past one grace period after the takeover (a leader that
	// declared one dead would have reassigned its primaries).
	settled := time.Now().Add(fastFD().Grace)
	waitFor(t, 15*time.Second, "every replica server beaconing past one grace after the takeover", func() bool {
		r, err := nc.ListNodes(ctx, &pb.ListNodesRequest{})
		if err != nil || r.GetError() != nil || len(r.GetNodes()) == 0 {
			return false
		}
		for _, n := range r.GetNodes() {
			if !n.GetAlive() {
				t.Fatalf("%s declared dead after the takeover", n.GetAddress())
			}
			if time.UnixMilli(n.GetLastBeaconMs()).Before(settled) {
				return false
			}
		}
		return true
	})
	after, err := nc.QueryConfig(ctx, &pb.QueryConfigRequest{Table: "t"})
	if err != nil || after.GetError() != nil {
		t.Fatalf("query on the new leader: %v %v", after, err)
	}
	for i, p := range after.GetPartitions() {
		if configFromPB(p).String() != configFromPB(before.GetPartitions()[i]).String() {
			t.Fatalf("takeover changed a configuration: %v -> %v", before.GetPartitions()[i], p)
		}
	}

	// A replica server dies; with the restart window at zero it is
	// replaced on the spare node through a learner.
	if r, err := nc.RemoteCommand(ctx, &pb.RemoteCommandRequest{Command: decide.KnobAssignDelayMs, Args: []string{"0"}}); err != nil || r.GetError() != nil {
		t.Fatalf("set assign delay: %v %v", r, err)
	}
	f.kill("r1:1")
	waitFor(t, 15*time.Second, "r1:1 replaced everywhere", func() bool {
		q, err := nc.QueryConfig(ctx, &pb.QueryConfigRequest{Table: "t"})
		if err != nil || q.GetError() != nil {
			return false
		}
		for _, p := range q.GetPartitions() {
			c := configFromPB(p)
			if c.RoleOf("r1:1") != decide.RoleNone || c.ReplicaCount() != 3 || len(c.Learners) != 0 || c.Primary == "" {
				return false
			}
		}
		return true
	})
}

// Many proposals race for one partition through the leader: each ballot is
// handed out once, ballots only increase, and the losers learn the
// winner's configuration.
func TestServersConcurrentProposalsBallotsIncrease(t *testing.T) {
	endpoints, cluster := testEtcd(t), clusterName(t)
	f := newFleet(t, nil, fastFD().BeaconInterval)
	m := startMeta(t, endpoints, cluster, f)
	f.metas = []string{m.Addr()}
	leaderAmong(t, m)
	f.start(3)
	ctx := context.Background()
	cl := f.client(m.Addr())
	waitFor(t, 10*time.Second, "create", func() bool {
		r, err := cl.CreateTable(ctx, &pb.CreateTableRequest{Name: "t", PartitionCount: 1, ReplicaCount: 3})
		return err == nil && r.GetError() == nil
	})
	q, _ := cl.QueryConfig(ctx, &pb.QueryConfigRequest{Table: "t"})
	first := q.GetPartitions()[0]

	const workers, attempts = 6, 15
	var (
		mu   sync.Mutex
		wins = map[int64]int{}
	)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range attempts {
				q, err := cl.QueryConfig(ctx, &pb.QueryConfigRequest{Table: "t"})
				if err != nil || q.GetError() != nil {
					t.Errorf("query: %v %v", q, err)
					return
				}
				cur := q.GetPartitions()[0]
				r, err := cl.ProposeConfig(ctx, &pb.ProposeConfigRequest{Node: cur.GetPrimary(), Proposals: []*pb.ConfigProposal{{
					Gpid: cur.GetGpid(), Type: pb.ConfigType_CT_PRIMARY_FORCE_UPDATE_BALLOT, Node: cur.GetPrimary(), Ballot: cur.GetBallot(),
				}}})
				if err != nil {
					t.Errorf("propose: %v", err)
					return
				}
				got := r.GetConfigs()[0]
				switch r.GetError().GetCode() {
				case pb.ErrorCode_ERR_OK:
					if got.GetBallot() != cur.GetBallot()+1 {
						t.Errorf("applied at %d, got ballot %d", cur.GetBallot(), got.GetBallot())
					}
					mu.Lock()
					wins[got.GetBallot()]++
					mu.Unlock()
				case pb.ErrorCode_ERR_STALE_BALLOT:
					if got.GetBallot() <= cur.GetBallot() {
						t.Errorf("stale answer at ballot %d for a proposal at %d", got.GetBallot(), cur.GetBallot())
					}
				default:
					t.Errorf("propose: %v", r.GetError())
				}
			}
		})
	}
	wg.Wait()
	q, _ = cl.QueryConfig(ctx, &pb.QueryConfigRequest{Table: "t"})
	last := q.GetPartitions()[0].GetBallot()
	if int(last-first.GetBallot()) != len(wins) {
		t.Fatalf("ballot went %d -> %d with %d successful proposals", first.GetBallot(), last, len(wins))
	}
	for b, n := range wins {
		if n != 1 || b <= first.GetBallot() || b > last {
			t.Fatalf("ballot %d granted %d times (range %d..%d)", b, n, first.GetBallot(), last)
		}
	}
	t.Logf("%d proposals, %d applied, ballot %d -> %d", workers*attempts, len(wins), first.GetBallot(), last)
}

// A graceful stop resigns: the follower takes over without waiting for the
// session TTL.
func TestServerGracefulStopHandsOver(t *testing.T) {
	endpoints, cluster := testEtcd(t), clusterName(t)
	m1 := startMeta(t, endpoints, cluster, nil)
	m2 := startMeta(t, endpoints, cluster, nil)
	leader, follower := leaderAmong(t, m1, m2)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := leader.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the follower to take over", follower.IsLeader)
	t.Logf("handover %v after a graceful stop", time.Since(start))
}

// Without etcd endpoints the server runs an embedded etcd in its data dir.
func TestServerEmbeddedEtcd(t *testing.T) {
	cfg := config.DefaultMeta()
	cfg.Listen, cfg.HTTPListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.ClusterName = "solo"
	cfg.EtcdClientURL, cfg.EtcdPeerURL = "http://"+freeAddr(t), "http://"+freeAddr(t)
	s, err := NewServer(Options{Config: cfg, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())
	waitFor(t, 15*time.Second, "leadership", s.IsLeader)
	resp, err := http.Get("http://" + s.HTTPAddr() + "/api/cluster")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var cj clusterJSON
	if err := json.NewDecoder(resp.Body).Decode(&cj); err != nil {
		t.Fatal(err)
	}
	if len(cj.EtcdEndpoints) != 1 || cj.EtcdEndpoints[0] != cfg.EtcdClientURL || cj.ClusterName != "solo" || len(cj.MetaServers) != 1 {
		t.Fatalf("/api/cluster: %+v", cj)
	}
	for _, path := range []string{"/api/nodes", "/api/tables"} {
		r, err := http.Get("http://" + s.HTTPAddr() + path)
		if err != nil || r.StatusCode != http.StatusOK {
			t.Fatalf("%s: %v %v", path, r, err)
		}
		r.Body.Close()
	}
	r, err := http.Get("http://" + s.HTTPAddr() + "/api/tables/nope")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown table: %d", r.StatusCode)
	}
}

// A leader whose session ends (here: its lease revoked behind its back, as
// etcd expires it when keepalives stop getting through) stops leading at
// once, and the other meta server takes over.
func TestServerLosingSessionStopsLeading(t *testing.T) {
	endpoints, cluster := testEtcd(t), clusterName(t)
	m1 := startMeta(t, endpoints, cluster, nil)
	m2 := startMeta(t, endpoints, cluster, nil)
	leader, follower := leaderAmong(t, m1, m2)
	cli := testClient(t)
	ctx := context.Background()
	resp, err := cli.Get(ctx, newKeys(cluster).election()+"/", clientv3.WithPrefix(), clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend))
	if err != nil || len(resp.Kvs) == 0 || string(resp.Kvs[0].Value) != leader.Addr() {
		t.Fatalf("election keys: %v %v", resp, err)
	}
	if _, err := cli.Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the old leader to step down", func() bool { return !leader.IsLeader() })
	waitFor(t, 10*time.Second, "a new leader", func() bool { return follower.IsLeader() || leader.IsLeader() })
}

// TestMaxSuccessiveUnstableRestartConfigured: the restart-loop guard takes
// max_succssive_unstable_restart from the configuration (0 turns it off);
// a negative value is refused.
func TestMaxSuccessiveUnstableRestartConfigured(t *testing.T) {
	cfg := config.DefaultMeta()
	cfg.Listen, cfg.HTTPListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	for _, n := range []int{0, 3} {
		cfg.MaxSuccessiveUnstableRestart = n
		s, err := NewServer(Options{Config: cfg, Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		if s.fd.MaxUnstableRestarts != n {
			t.Errorf("max_succssive_unstable_restart %d: the failure detector allows %d", n, s.fd.MaxUnstableRestarts)
		}
	}
	cfg.MaxSuccessiveUnstableRestart = -1
	if _, err := NewServer(Options{Config: cfg, Logger: testLogger(t)}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("max_succssive_unstable_restart -1: err %v, want ErrInvalidOptions", err)
	}
}

// TestServerCutOffFromEtcdAnswersClusterInfoPromptly: a meta server whose
// etcd does not answer (a wrong endpoint after a config upgrade) still
// answers ClusterInfo well within a one-second deadline, saying it does
// not lead. Callers that check "is it up" with a short deadline (onebox
// start, a rolling update's gate) otherwise see it as down instead of
// learning why it cannot take over; its etcd lookup once used the whole
// second itself.
func TestServerCutOffFromEtcdAnswersClusterInfoPromptly(t *testing.T) {
	f := newFleet(t, nil, fastFD().BeaconInterval)
	m := startMetaServer(t, []string{"127.0.0.1:1"}, clusterName(t), f, nil, nil)
	cl := f.client(m.Addr())
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := cl.ClusterInfo(ctx, &pb.ClusterInfoRequest{})
		cancel()
		if err != nil {
			t.Fatalf("attempt %d: ClusterInfo: %v", i, err)
		}
		if code := resp.GetError().GetCode(); code != pb.ErrorCode_ERR_FORWARD_TO_OTHERS {
			t.Fatalf("attempt %d: %v, want ERR_FORWARD_TO_OTHERS", i, resp.GetError())
		}
		if len(resp.GetMetas()) != 1 || resp.GetMetas()[0].GetAddress() != m.Addr() {
			t.Fatalf("attempt %d: metas %v, want only itself", i, resp.GetMetas())
		}
	}
}
