package collector

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pegasus-go/pegasus/internal/version"
)

// scrapeCollector parses the collector's /metrics as Prometheus text.
func scrapeCollector(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: status %d", rec.Code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text: %v", err)
	}
	return families
}

// value returns the value of the series of family name whose labels
// include every label given, as "k=v" pairs.
func value(t *testing.T, families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f := families[name]
	if f == nil {
		t.Fatalf("/metrics has no %s", name)
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for _, kv := range labels {
			k, v, _ := strings.Cut(kv, "=")
			if have[k] != v {
				continue next
			}
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	t.Fatalf("/metrics has no %s%v", name, labels)
	return 0
}

func TestMetricsParseWithTheProbeSeries(t *testing.T) {
	fc := newFakeCluster(t, 3)
	c := fc.newCollector(nil)
	ready(t, c)
	round(c, sec(0))
	fc.setPrimary("detect", 1, "")
	round(c, sec(1))
	fc.setPrimary("detect", 1, fc.replicas[0].addr)
	round(c, sec(2)) // sets the gauge from seconds 0 and 1

	f := scrapeCollector(t, c.Handler())
	for _, tc := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"kind=write", "result=ok"}, 11},
		{[]string{"kind=write", "result=error"}, 1},
		{[]string{"kind=read", "result=ok"}, 11},
		{[]string{"kind=read", "result=error"}, 1},
	} {
		if got := value(t, f, "pegasus_collector_probes_total", tc.labels...); got != tc.want {
			t.Errorf("pegasus_collector_probes_total%v = %v, want %v", tc.labels, got, tc.want)
		}
	}
	if got := value(t, f, "pegasus_collector_probe_duration_seconds", "kind=write"); got != 12 {
		t.Errorf("write latency histogram counted %v probes, want 12", got)
	}
	if got := value(t, f, "pegasus_collector_availability_ratio"); got != 14.0/16 {
		t.Errorf("availability gauge %v, want %v", got, 14.0/16)
	}
	if f["go_goroutines"] == nil {
		t.Error("/metrics lacks the Go runtime series")
	}
}

func TestAvailabilityWindowParameter(t *testing.T) {
	fc := newFakeCluster(t, 1)
	c := fc.newCollector(nil)
	for _, tc := range []struct {
		window string
		status int
		secs   int64
	}{
		{"", http.StatusOK, 60},
		{"10s", http.StatusOK, 10},
		{"10", http.StatusOK, 10},
		{"5m", http.StatusOK, 300},
		{"1500ms", http.StatusOK, 2},
		{"24h", http.StatusOK, 86400},
		{"25h", http.StatusBadRequest, 0},
		{"0s", http.StatusBadRequest, 0},
		{"-5", http.StatusBadRequest, 0},
		{"soon", http.StatusBadRequest, 0},
	} {
		var got struct {
			AvailabilityReport
			Error string `json:"error"`
		}
		getJSON(t, c.Handler(), "/api/availability?window="+tc.window, tc.status, &got)
		if tc.status != http.StatusOK {
			if !strings.Contains(got.Error, ErrBadWindow.Error()) {
				t.Errorf("window %q: error %q", tc.window, got.Error)
			}
			continue
		}
		if got.WindowSeconds != tc.secs || got.Availability != nil {
			t.Errorf("window %q: %d s, availability %v; want %d s and null before any probe", tc.window, got.WindowSeconds, got.Availability, tc.secs)
		}
		if want := min(tc.secs, secondsKept); int64(len(got.PerSecond)) != want {
			t.Errorf("window %q: %d per-second entries, want %d", tc.window, len(got.PerSecond), want)
		}
	}
}

func TestRollingProgressRoundTrip(t *testing.T) {
	fc := newFakeCluster(t, 1)
	c := fc.newCollector(nil)
	c.now = func() time.Time { return t0 }
	var v RollingView
	getJSON(t, c.Handler(), "/api/rolling", http.StatusOK, &v)
	if v.Progress != nil {
		t.Fatalf("progress before any report: %+v", v.Progress)
	}
	post := func(body string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		c.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/api/rolling", strings.NewReader(body)))
		return rec
	}
	for _, bad := range []string{"", "[]", `{"node":"x"}`, `{"status":`, strings.Repeat(" ", MaxProgressBytes+1)} {
		if rec := post(bad); rec.Code != http.StatusBadRequest && rec.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("POST %.20q: status %d, want a refusal", bad, rec.Code)
		}
	}
	started := t0.Add(-90 * time.Second).Format(time.RFC3339)
	stepStarted := t0.Add(-4 * time.Second).Format(time.RFC3339)
	body := fmt.Sprintf(`{"status":"running","node":"10.0.0.3:34801","role":"replica","step":"migrate primaries",
		"step_index":7,"step_count":31,"started":%q,"step_started":%q,"moved":3}`, started, stepStarted)
	if rec := post(body); rec.Code != http.StatusOK {
		t.Fatalf("POST: status %d: %s", rec.Code, rec.Body)
	}
	c.now = func() time.Time { return t0.Add(time.Second) }
	getJSON(t, c.Handler(), "/api/rolling", http.StatusOK, &v)
	p := v.Progress
	if p == nil || p.Node != "10.0.0.3:34801" || p.StepIndex != 7 || p.Step != "migrate primaries" {
		t.Fatalf("progress %+v", p)
	}
	if v.ElapsedSeconds != 91 || v.StepElapsedSeconds != 5 || v.AgeSeconds != 1 {
		t.Fatalf("elapsed %v, in step %v, age %v; want 91, 5, 1", v.ElapsedSeconds, v.StepElapsedSeconds, v.AgeSeconds)
	}
	if !strings.Contains(string(v.Raw), `"moved":3`) {
		t.Fatalf("raw progress %s lost an unknown field", v.Raw)
	}
}

// The collector as it runs in production, on a real listener with its own
// ticker: the availability an orchestrator reads over HTTP falls below 100%
// while a partition has no primary and climbs back to 100% after.
func TestCollectorServesAvailabilityWhileAPartitionFails(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the collector for a few seconds")
	}
	fc := newFakeCluster(t, 3)
	c := fc.newCollector(func(o *Options) {
		o.DetectInterval = 100 * time.Millisecond
		o.DetectTimeout = 150 * time.Millisecond
		o.ScrapeInterval = 200 * time.Millisecond
	})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- c.Serve(ctx, lis) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	base := "http://" + lis.Addr().String()

	get := func(path string, v any) int {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if v != nil {
			if err := json.Unmarshal(body, v); err != nil {
				t.Fatalf("GET %s: %v", path, err)
			}
		}
		return resp.StatusCode
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("never: %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	availability := func(window string) (AvailabilityReport, float64) {
		var r AvailabilityReport
		get("/api/availability?window="+window, &r)
		if r.Availability == nil {
			return r, -1
		}
		return r, *r.Availability
	}

	eventually("healthz answers 200", func() bool { return get("/healthz", nil) == http.StatusOK })
	eventually("availability is 100%", func() bool { _, a := availability("1s"); return a == 1 })

	fc.setPrimary("detect", 0, "")
	eventually("availability drops below 100%", func() bool { _, a := availability("2s"); return a >= 0 && a < 1 })

	fc.setPrimary("detect", 0, fc.replicas[2].addr)
	healed := time.Now().Unix()
	// Only a second that began after the heal proves recovery: the one in
	// progress may still hold failures of probes issued before it.
	eventually("availability returns to 100%", func() bool {
		r, a := availability("1s")
		return a == 1 && r.Now > healed
	})
	var parts PartitionsReport
	get("/api/availability/partitions", &parts)
	if p := parts.Partitions[0]; p.Failures == 0 || p.ConsecutiveFailures != 0 {
		t.Fatalf("partition 0 after the outage: %+v", p)
	}

	// The aggregation sees the probes' own traffic on the replica servers,
	// named after the detection table.
	eventually("write rates from the replica servers", func() bool {
		var tr TrafficReport
		get("/api/tables/qps", &tr)
		return len(tr.Tables) == 1 && tr.Tables[0].Table == "detect" && tr.Tables[0].WriteQPS > 0 && tr.Tables[0].ReadQPS > 0 &&
			len(tr.Nodes) == 3 && tr.Nodes[0].Up
	})
}

func TestHealthzBeforeAnyProbe(t *testing.T) {
	fc := newFakeCluster(t, 1)
	c := fc.newCollector(nil)
	var h healthReport
	getJSON(t, c.Handler(), "/healthz", http.StatusServiceUnavailable, &h)
	if h.Status != "not_reporting" || h.Problem == "" {
		t.Fatalf("healthz %+v", h)
	}
	ready(t, c)
	round(c, sec(0))
	getJSON(t, c.Handler(), "/healthz", http.StatusOK, &h)
	if h.Status != "ok" || h.LastProbe.IsZero() {
		t.Fatalf("healthz after a round %+v", h)
	}
}

func TestVersionEndpoint(t *testing.T) {
	fc := newFakeCluster(t, 1)
	c := fc.newCollector(nil)
	var v versionReport
	getJSON(t, c.Handler(), "/api/version", http.StatusOK, &v)
	if v.Protocol != version.Current().String() || v.Release == "" {
		t.Fatalf("version %+v", v)
	}
}
