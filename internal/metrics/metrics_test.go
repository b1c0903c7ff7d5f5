package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pegasus-go/pegasus/internal/version"
)

// scrape fetches a registry's /metrics and parses it as Prometheus text.
func scrape(t *testing.T, r *Registry) map[string]bool {
	t.Helper()
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text: %v", err)
	}
	names := map[string]bool{}
	for n := range families {
		names[n] = true
	}
	return names
}

func TestEveryRoleExportsItsSeries(t *testing.T) {
	rep := NewReplica()
	rep.Requests.WithLabelValues("1", "t", "get").Inc()
	rep.Errors.WithLabelValues("1", "t", "set", "ERR_TIMEOUT").Inc()
	rep.Latency.WithLabelValues("1", "t", "get").Observe(0.001)
	rep.Replicas.WithLabelValues("primary").Set(3)
	rep.TableLogBytes.WithLabelValues("1", "t").Set(1)
	rep.StorageDiskBytes.WithLabelValues("1", "t").Set(1)
	rep.StorageL0Files.WithLabelValues("1", "t").Set(1)
	rep.StorageMemtableBytes.WithLabelValues("1", "t").Set(1)
	rep.StorageCompactions.WithLabelValues("1", "t").Inc()
	meta := NewMeta()
	meta.Reconfigurations.WithLabelValues("CT_ADD_SECONDARY").Inc()
	meta.Nodes.WithLabelValues("alive").Set(3)
	meta.Partitions.WithLabelValues("fully_healthy").Set(8)
	meta.RollingStep.WithLabelValues("127.0.0.1:1", "migrate_node").Set(1)
	col := NewCollector()
	col.Probes.WithLabelValues("write", "ok").Inc()
	col.ProbeLatency.WithLabelValues("write").Observe(0.002)

	for _, tc := range []struct {
		reg  *Registry
		want []string
	}{
		{rep.Registry, []string{"pegasus_replica_requests_total", "pegasus_replica_request_errors_total", "pegasus_replica_request_duration_seconds", "pegasus_replica_replicas", "pegasus_replica_mutation_log_bytes", "pegasus_replica_mutation_log_fsync_seconds", "pegasus_replica_learn_bytes_total", "pegasus_replica_beacon_rtt_seconds", "pegasus_replica_write_retries_answered_total", "pegasus_replica_request_record_collections_total", "go_goroutines",
			"pegasus_replica_table_mutation_log_bytes", "pegasus_replica_storage_disk_bytes", "pegasus_replica_storage_l0_files",
			"pegasus_replica_storage_memtable_bytes", "pegasus_replica_storage_compactions_total", "pegasus_build_info"}},
		{meta.Registry, []string{"pegasus_meta_is_leader", "pegasus_meta_level", "pegasus_meta_reconfigurations_total", "pegasus_meta_beacon_gap_seconds", "pegasus_meta_nodes", "pegasus_meta_partitions", "pegasus_rolling_update_step", "pegasus_build_info"}},
		{col.Registry, []string{"pegasus_collector_probes_total", "pegasus_collector_probe_duration_seconds", "pegasus_collector_availability_ratio", "pegasus_build_info"}},
	} {
		names := scrape(t, tc.reg)
		for _, w := range tc.want {
			if !names[w] {
				var have []string
				for n := range names {
					if strings.HasPrefix(n, "pegasus_") {
						have = append(have, n)
					}
				}
				t.Errorf("series %s missing; have %v", w, have)
			}
		}
	}
}

// pegasus_build_info carries the build's version, commit, build time, Go
// version and protocol, on every role.
func TestBuildInfo(t *testing.T) {
	srv := httptest.NewServer(NewMeta().Handler())
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	f := families["pegasus_build_info"]
	if f == nil || len(f.GetMetric()) != 1 || f.GetMetric()[0].GetGauge().GetValue() != 1 {
		t.Fatalf("pegasus_build_info: %v", f)
	}
	labels := map[string]string{}
	for _, l := range f.GetMetric()[0].GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	v := version.Get()
	want := map[string]string{"version": v.Version, "commit": v.Commit, "build_time": v.BuildTime, "go_version": v.GoVersion, "protocol": v.Protocol}
	for k, w := range want {
		if labels[k] != w {
			t.Errorf("label %s = %q, want %q", k, labels[k], w)
		}
	}
}
