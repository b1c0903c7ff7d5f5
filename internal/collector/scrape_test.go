package collector

import (
	"errors"
	"math"
	"strings"
	"testing"
)

const replicaText = `# HELP pegasus_replica_requests_total Client requests received, by table (app_id) and operation.
# TYPE pegasus_replica_requests_total counter
pegasus_replica_requests_total{op="get",app_id="1"} 100
pegasus_replica_requests_total{op="set",app_id="1"} 40
pegasus_replica_requests_total{op="get",app_id="2"} 7
# TYPE pegasus_replica_request_errors_total counter
pegasus_replica_request_errors_total{code="ERR_TIMEOUT",op="set",app_id="1"} 2
pegasus_replica_request_errors_total{code="ERR_BUSY",op="set",app_id="1"} 1
# TYPE pegasus_replica_request_duration_seconds histogram
pegasus_replica_request_duration_seconds_bucket{op="get",app_id="1",le="0.001"} 90
pegasus_replica_request_duration_seconds_bucket{op="get",app_id="1",le="0.01"} 99
pegasus_replica_request_duration_seconds_bucket{op="get",app_id="1",le="+Inf"} 100
pegasus_replica_request_duration_seconds_sum{op="get",app_id="1"} 0.2
pegasus_replica_request_duration_seconds_count{op="get",app_id="1"} 100
# TYPE pegasus_replica_lease_valid gauge
pegasus_replica_lease_valid 1
`

func TestParseReplicaMetrics(t *testing.T) {
	rc, err := parseReplicaMetrics(strings.NewReader(replicaText))
	if err != nil {
		t.Fatal(err)
	}
	get := rc[opKey{appID: "1", table: allTables, op: "get"}]
	set := rc[opKey{appID: "1", table: allTables, op: "set"}]
	if get == nil || set == nil || rc[opKey{appID: "2", table: allTables, op: "get"}] == nil || len(rc) != 3 {
		t.Fatalf("parsed %v", rc)
	}
	if get.requests != 100 || set.requests != 40 || set.errors != 3 {
		t.Fatalf("get %+v, set %+v", get, set)
	}
	if get.buckets[0.001] != 90 || get.buckets[math.Inf(1)] != 100 {
		t.Fatalf("get buckets %v", get.buckets)
	}

	// Unlabelled series are the whole cluster.
	rc, err = parseReplicaMetrics(strings.NewReader("# TYPE pegasus_replica_requests_total counter\npegasus_replica_requests_total{op=\"get\"} 5\n"))
	if err != nil || rc[opKey{table: allTables, op: "get"}].requests != 5 {
		t.Fatalf("unlabelled: %v %v", rc, err)
	}

	for _, bad := range []string{
		"pegasus_replica_requests_total{op=\"get\" 5\n",
		"# TYPE pegasus_replica_requests_total gauge\npegasus_replica_requests_total{op=\"get\"} 5\n",
	} {
		if _, err := parseReplicaMetrics(strings.NewReader(bad)); !errors.Is(err, ErrScrape) {
			t.Errorf("%q: %v, want ErrScrape", bad, err)
		}
	}
}

func TestDeltasSurviveARestartedServer(t *testing.T) {
	prev := replicaCounters{opKey{appID: "1", op: "get"}: {requests: 1000, errors: 10, buckets: map[float64]float64{0.001: 900, math.Inf(1): 1000}}}
	cur := replicaCounters{opKey{appID: "1", op: "get"}: {requests: 1100, errors: 12, buckets: map[float64]float64{0.001: 950, math.Inf(1): 1100}}}
	d := deltas(prev, cur)[opKey{appID: "1", op: "get"}]
	if d.requests != 100 || d.errors != 2 || d.buckets[0.001] != 50 || d.buckets[math.Inf(1)] != 100 {
		t.Fatalf("delta %+v", d)
	}
	// The server restarted: its counters began again from zero.
	restarted := replicaCounters{opKey{appID: "1", op: "get"}: {requests: 30, errors: 1, buckets: map[float64]float64{0.001: 29, math.Inf(1): 30}}}
	d = deltas(cur, restarted)[opKey{appID: "1", op: "get"}]
	if d.requests != 30 || d.errors != 1 || d.buckets[0.001] != 29 || d.buckets[math.Inf(1)] != 30 {
		t.Fatalf("delta across a restart %+v", d)
	}
}

func TestBucketQuantile(t *testing.T) {
	b := map[float64]float64{0.001: 50, 0.002: 90, 0.004: 100, math.Inf(1): 100}
	for q, want := range map[float64]float64{0.5: 1000, 0.25: 500, 0.7: 1500, 0.95: 3000} {
		if got := bucketQuantile(q, b); math.Abs(got-want) > 1e-6 {
			t.Errorf("q%v = %v µs, want %v", q, got, want)
		}
	}
	if got := bucketQuantile(0.99, map[float64]float64{0.001: 1, math.Inf(1): 10}); got != 1000 {
		t.Errorf("rank in +Inf: %v, want the largest finite bound", got)
	}
	if bucketQuantile(0.99, map[float64]float64{math.Inf(1): 0}) != 0 || bucketQuantile(0.5, nil) != 0 {
		t.Error("no observations, non-zero quantile")
	}
}
