package replica

import (
	"fmt"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/pegasus-go/pegasus/internal/metrics/metricstest"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// TestMetricsAfterTraffic drives a primary, a secondary and a learner and
// checks that each server's /metrics parses and counts what happened to it.
func TestMetricsAfterTraffic(t *testing.T) {
	c := newTestCluster(t, 3, clusterOptions{})
	a, b, learner := c.addr(0), c.addr(1), c.addr(2)
	c.meta.createTable("test", testApp, [][]string{{a, b}})
	c.waitFor(10*time.Second, "healthy", func() bool { return c.healthy(testApp, 0) })

	primary, secondary := openRawStream(t, a), openRawStream(t, b)
	const sets, gets = 20, 10
	for i := range sets {
		k := fmt.Sprintf("k%d", i)
		resp := primary.do(request(k, 1, &pb.SetRequest{HashKey: []byte(k), Value: []byte("value")}))
		if code(resp) != pb.ErrorCode_ERR_OK {
			t.Fatalf("set: %v", resp)
		}
	}
	for i := range gets {
		k := fmt.Sprintf("k%d", i)
		if resp := primary.do(request(k, 1, &pb.GetRequest{HashKey: []byte(k)})); code(resp) != pb.ErrorCode_ERR_OK {
			t.Fatalf("get: %v", resp)
		}
	}
	if resp := secondary.do(request("k0", 1, &pb.GetRequest{HashKey: []byte("k0")})); code(resp) != pb.ErrorCode_ERR_INVALID_STATE {
		t.Fatalf("get on the secondary: %v", resp)
	}

	// The third server learns the partition from the primary.
	c.meta.change(0, "add learner "+learner, func(pc *pb.PartitionConfiguration) {
		pc.Learners = append(pc.Learners, learner)
		pc.MaxReplicaCount = 3
	})
	c.waitFor(20*time.Second, "the learner upgraded to secondary", func() bool { return c.healthy(testApp, 0) })

	// The gauges are refreshed every dataDirCheckInterval.
	var pm, sm, lm map[string]*dto.MetricFamily
	c.waitFor(10*time.Second, "gauges refreshed", func() bool {
		pm, sm, lm = metricstest.Scrape(t, "http://"+c.servers[0].srv.HTTPAddr()+"/metrics"), metricstest.Scrape(t, "http://"+c.servers[1].srv.HTTPAddr()+"/metrics"), metricstest.Scrape(t, "http://"+c.servers[2].srv.HTTPAddr()+"/metrics")
		return metricstest.Sample(pm, "pegasus_replica_replicas", "status", "primary") == 1 &&
			metricstest.Sample(sm, "pegasus_replica_replicas", "status", "secondary") == 1 &&
			metricstest.Sample(lm, "pegasus_replica_replicas", "status", "secondary") == 1
	})

	app := fmt.Sprint(testApp)
	for _, tc := range []struct {
		what   string
		got    float64
		ok     func(float64) bool
		expect string
	}{
		{"primary set requests", metricstest.Sample(pm, "pegasus_replica_requests_total", "app_id", app, "op", "set", "table", "test"), eq(sets), fmt.Sprint(sets)},
		{"primary get requests", metricstest.Sample(pm, "pegasus_replica_requests_total", "app_id", app, "op", "get", "table", "test"), eq(gets), fmt.Sprint(gets)},
		{"primary set latencies", metricstest.Sample(pm, "pegasus_replica_request_duration_seconds", "app_id", app, "op", "set", "table", "test"), eq(sets), fmt.Sprint(sets)},
		{"primary errors", metricstest.Sample(pm, "pegasus_replica_request_errors_total", "app_id", app, "code", "ERR_INVALID_STATE", "op", "get", "table", "test"), eq(-1), "absent"},
		{"secondary refused get", metricstest.Sample(sm, "pegasus_replica_request_errors_total", "app_id", app, "code", "ERR_INVALID_STATE", "op", "get", "table", "test"), eq(1), "1"},
		{"secondary get requests", metricstest.Sample(sm, "pegasus_replica_requests_total", "app_id", app, "op", "get", "table", "test"), eq(1), "1"},
		{"primary inactive replicas", metricstest.Sample(pm, "pegasus_replica_replicas", "status", "inactive"), eq(0), "0"},
		{"primary log bytes", metricstest.Sample(pm, "pegasus_replica_mutation_log_bytes"), gt(0), "> 0"},
		// Every acknowledged set was fsynced on both members first.
		{"primary log fsyncs", metricstest.Sample(pm, "pegasus_replica_mutation_log_fsync_seconds"), gt(0), "> 0"},
		{"secondary log fsyncs", metricstest.Sample(sm, "pegasus_replica_mutation_log_fsync_seconds"), gt(0), "> 0"},
		{"primary beacons", metricstest.Sample(pm, "pegasus_replica_beacon_rtt_seconds"), gt(0), "> 0"},
		{"primary lease", metricstest.Sample(pm, "pegasus_replica_lease_valid"), eq(1), "1"},
		{"primary learned bytes", metricstest.Sample(pm, "pegasus_replica_learn_bytes_total"), eq(0), "0"},
		// The sets carry at least their values' 5 bytes each.
		{"learner learned bytes", metricstest.Sample(lm, "pegasus_replica_learn_bytes_total"), gt(5 * sets), fmt.Sprintf("> %d", 5*sets)},
		{"Go runtime", metricstest.Sample(pm, "go_goroutines"), gt(0), "> 0"},
		// Per table: the log and the Pebble store of the one replica here.
		{"primary table log bytes", metricstest.Sample(pm, "pegasus_replica_table_mutation_log_bytes", "app_id", app, "table", "test"), gt(0), "> 0"},
		{"primary table disk bytes", metricstest.Sample(pm, "pegasus_replica_storage_disk_bytes", "app_id", app, "table", "test"), gt(0), "> 0"},
		{"primary table memtable bytes", metricstest.Sample(pm, "pegasus_replica_storage_memtable_bytes", "app_id", app, "table", "test"), gt(0), "> 0"},
		{"primary table L0 files", metricstest.Sample(pm, "pegasus_replica_storage_l0_files", "app_id", app, "table", "test"), gt(-1), ">= 0"},
		{"primary table compactions", metricstest.Sample(pm, "pegasus_replica_storage_compactions_total", "app_id", app, "table", "test"), gt(-1), ">= 0"},
		{"learner table disk bytes", metricstest.Sample(lm, "pegasus_replica_storage_disk_bytes", "app_id", app, "table", "test"), gt(0), "> 0"},
	} {
		if !tc.ok(tc.got) {
			t.Errorf("%s: %v, want %s", tc.what, tc.got, tc.expect)
		}
	}

	// A flush writes the memtable out as a level-0 file.
	if _, err := c.servers[0].srv.runCommand(t.Context(), "replica.trigger-checkpoint", nil); err != nil {
		t.Fatal(err)
	}
	c.waitFor(10*time.Second, "an L0 file after a flush", func() bool {
		pm = metricstest.Scrape(t, "http://"+c.servers[0].srv.HTTPAddr()+"/metrics")
		return metricstest.Sample(pm, "pegasus_replica_storage_l0_files", "app_id", app, "table", "test") >= 1
	})
}

func eq(want float64) func(float64) bool { return func(v float64) bool { return v == want } }
func gt(min float64) func(float64) bool  { return func(v float64) bool { return v > min } }
