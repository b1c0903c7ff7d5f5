package meta

import (
	"context"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/metrics"
	"github.com/pegasus-go/pegasus/internal/metrics/metricstest"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// TestMetricsOfLeaderAndFollower runs two meta servers over four fake
// replica servers, creates a table, kills one replica server and checks each
// meta server's /metrics: the leader counts the nodes, the partitions by
// health and the reconfigurations that removed the dead node; the follower
// says it does not lead.
func TestMetricsOfLeaderAndFollower(t *testing.T) {
	endpoints, cluster := testEtcd(t), clusterName(t)
	f := newFleet(t, nil, fastFD().BeaconInterval)
	start := func() *Server {
		cfg := config.DefaultMeta()
		cfg.Listen, cfg.HTTPListen, cfg.PegasusListen = "127.0.0.1:0", "127.0.0.1:0", ""
		cfg.DataDir, cfg.ClusterName, cfg.EtcdEndpoints = t.TempDir(), cluster, endpoints
		cfg.ElectionTTLSeconds = electionTTL
		fd := fastFD()
		m := metrics.NewMeta()
		s, err := NewServer(Options{Config: cfg, Logger: testLogger(t), FD: &fd, LBInterval: 100 * time.Millisecond, Admin: f, Metrics: m})
		if err != nil {
			t.Fatal(err)
		}
		s.Handle("GET /metrics", m.Handler())
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
	m1, m2 := start(), start()
	f.metas = []string{m1.Addr(), m2.Addr()}
	leader, follower := leaderAmong(t, m1, m2)
	f.start(4)
	ctx := context.Background()
	lc := f.client(leader.Addr())
	waitFor(t, 10*time.Second, "4 alive replica servers", func() bool {
		return metricstest.Sample(metricstest.Scrape(t, "http://"+leader.HTTPAddr()+"/metrics"), "pegasus_meta_nodes", "state", "alive") == 4
	})
	created, err := lc.CreateTable(ctx, &pb.CreateTableRequest{Name: "t", PartitionCount: 8, ReplicaCount: 3})
	if err != nil || created.GetError() != nil {
		t.Fatalf("create: %v %v", created, err)
	}
	q, err := lc.QueryConfig(ctx, &pb.QueryConfigRequest{Table: "t"})
	if err != nil || q.GetError() != nil {
		t.Fatalf("query: %v %v", q, err)
	}
	waitFor(t, 5*time.Second, "replica servers to hold the configurations", func() bool { return f.holds(q.GetPartitions()) })
	waitFor(t, 5*time.Second, "8 fully healthy partitions", func() bool {
		return metricstest.Sample(metricstest.Scrape(t, "http://"+leader.HTTPAddr()+"/metrics"), "pegasus_meta_partitions", "health", "fully_healthy") == 8
	})

	// The victim's partitions lose it; with the default assign delay no
	// replacement is added yet, so they stay one replica short.
	const victim = "r1:1"
	hit := 0
	for _, p := range q.GetPartitions() {
		if configFromPB(p).RoleOf(victim) != decide.RoleNone {
			hit++
		}
	}
	f.kill(victim)
	var lm map[string]*dto.MetricFamily
	waitFor(t, 15*time.Second, "the victim dead and removed", func() bool {
		lm = metricstest.Scrape(t, "http://"+leader.HTTPAddr()+"/metrics")
		return metricstest.Sample(lm, "pegasus_meta_nodes", "state", "dead") == 1 &&
			metricstest.Sample(lm, "pegasus_meta_partitions", "health", "unhealthy") == float64(hit)
	})
	var reconfigs float64
	for _, m := range lm["pegasus_meta_reconfigurations_total"].GetMetric() {
		if typ := m.GetLabel()[0].GetValue(); !strings.HasPrefix(typ, "CT_") || strings.Contains(typ, "ConfigType(") {
			t.Errorf("reconfiguration type %q is not a Pegasus config type name", typ)
		}
		reconfigs += m.GetCounter().GetValue()
	}
	beaconGaps := lm["pegasus_meta_beacon_gap_seconds"].GetMetric()
	fm := metricstest.Scrape(t, "http://"+follower.HTTPAddr()+"/metrics")
	for _, tc := range []struct {
		what      string
		got, want float64
	}{
		{"leader is_leader", metricstest.Sample(lm, "pegasus_meta_is_leader"), 1},
		{"follower is_leader", metricstest.Sample(fm, "pegasus_meta_is_leader"), 0},
		{"leader level (steady)", metricstest.Sample(lm, "pegasus_meta_level"), float64(decide.LevelSteady)},
		{"alive nodes", metricstest.Sample(lm, "pegasus_meta_nodes", "state", "alive"), 3},
		{"fully healthy partitions", metricstest.Sample(lm, "pegasus_meta_partitions", "health", "fully_healthy"), float64(8 - hit)},
		// Two of three replicas left: writes and reads still succeed.
		{"write unhealthy partitions", metricstest.Sample(lm, "pegasus_meta_partitions", "health", "write_unhealthy"), 0},
		{"read unhealthy partitions", metricstest.Sample(lm, "pegasus_meta_partitions", "health", "read_unhealthy"), 0},
		{"follower reconfigurations", float64(len(fm["pegasus_meta_reconfigurations_total"].GetMetric())), 0},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %v, want %v", tc.what, tc.got, tc.want)
		}
	}
	if hit == 0 || reconfigs < float64(hit) {
		t.Errorf("%v reconfigurations written for %d partitions that lost %s", reconfigs, hit, victim)
	}
	// Fake replica servers beacon every 100 ms: the median gap is well
	// below the 0.5 s of the first bucket, and there were many.
	if len(beaconGaps) != 1 || beaconGaps[0].GetHistogram().GetSampleCount() < 20 {
		t.Fatalf("beacon gap histogram: %v", beaconGaps)
	}
	if h := beaconGaps[0].GetHistogram(); h.GetBucket()[0].GetCumulativeCount() < h.GetSampleCount()/2 {
		t.Errorf("most beacon gaps above %v s: %v", h.GetBucket()[0].GetUpperBound(), h)
	}
}
