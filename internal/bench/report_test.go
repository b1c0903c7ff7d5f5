package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBuildReportFigures(t *testing.T) {
	// Second 0: 100 successful gets with latencies 1..100 ms, measured from
	// when they were due. Second 1: nothing. Second 2: a set that failed
	// and one with an unknown outcome, then a set that succeeded in 7 ms.
	var ops []Op
	for i := range 100 {
		due := time.Duration(i) * 5 * time.Millisecond
		ops = append(ops, Op{Kind: OpGet, Due: due, Start: due + time.Millisecond,
			End: due + time.Duration(i+1)*time.Millisecond, Value: v(1)})
	}
	at := 2 * time.Second
	ops = append(ops,
		Op{Kind: OpSet, Result: ResultFailed, Due: at, Start: at, End: at + time.Millisecond},
		Op{Kind: OpSet, Result: ResultUnknown, Due: at, Start: at, End: at + time.Second},
		Op{Kind: OpSet, Due: at, Start: at, End: at + 7*time.Millisecond},
		Op{Kind: OpGet, Due: at, Start: at, End: at + time.Millisecond, Value: CorruptValue})
	rep := buildReport(reportInput{
		cfg:     Config{Workers: 2, Workload: Workload{}.withDefaults()},
		ops:     ops,
		elapsed: 2500 * time.Millisecond,
	})

	if rep.Ops != 104 || rep.FailedOps != 2 || rep.UnknownOps != 1 || rep.CorruptReads != 1 {
		t.Errorf("ops %d failed %d unknown %d corrupt %d; want 104 2 1 1",
			rep.Ops, rep.FailedOps, rep.UnknownOps, rep.CorruptReads)
	}
	if want := 102 / 2.5; rep.QPS != want {
		t.Errorf("qps %v, want %v", rep.QPS, want)
	}
	get := rep.ByOp["get"]
	// HDR histograms with 3 significant digits: values within 0.1%.
	if get.Ops != 101 || !near(get.Latency.P50, 50_000) || !near(get.Latency.Max, 100_000) {
		t.Errorf("get %+v: want 101 ops, p50 50 ms, max 100 ms", get)
	}
	set := rep.ByOp["set"]
	if set.Ops != 3 || set.FailedOps != 2 || set.UnknownOps != 1 || !near(set.Latency.P99, 7000) || set.QPS != 1/2.5 {
		t.Errorf("set %+v: want 3 ops, 2 failed (1 unknown), p99 7 ms, 0.4 qps", set)
	}
	if _, ok := rep.ByOp["del"]; ok {
		t.Error("by_op lists del, which never ran")
	}

	if len(rep.Timeline) != 3 {
		t.Fatalf("timeline has %d seconds, want 3", len(rep.Timeline))
	}
	s0, s1, s2 := rep.Timeline[0], rep.Timeline[1], rep.Timeline[2]
	if s0.Ops != 100 || s0.OK != 100 || s0.QPS != 100 || !near(s0.P99US, 99_000) || !near(s0.MaxUS, 100_000) {
		t.Errorf("second 0: %+v", s0)
	}
	if s1.Ops != 0 || s1.QPS != 0 || s1.P99US != 0 {
		t.Errorf("second 1: %+v, want empty", s1)
	}
	// Second 2 lasted half a second: 2 successes scale to 4/s.
	if s2.Ops != 4 || s2.OK != 2 || s2.Failed != 2 || s2.QPS != 4 {
		t.Errorf("second 2: %+v", s2)
	}
	if rep.ErrorSeconds != 1 {
		t.Errorf("error seconds %d, want 1", rep.ErrorSeconds)
	}
}

// near reports whether an HDR figure is within 0.1% of want.
func near(got, want int64) bool {
	d := got - want
	return d*1000 <= want && -d*1000 <= want
}

func TestReportFilesFromRun(t *testing.T) {
	dir := t.TempDir()
	r := newTestRunner(t, NewMemTarget(), Config{
		Workload: Workload{KeyCount: 20, ReadRatio: 0.5, ValueSize: 32},
		Workers:  2,
		MaxOps:   500,
		OutDir:   dir,
	})
	r.Annotate("restart node 1")()
	rep := run(t, r, context.Background())

	raw, err := os.ReadFile(filepath.Join(dir, ReportJSONFile))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"ops", "failed_ops", "lost_writes", "qps", "error_seconds"} {
		if _, ok := doc[field].(float64); !ok {
			t.Errorf("report.json: %s is %T, want a number", field, doc[field])
		}
	}
	if doc["ops"] != 500.0 {
		t.Errorf("report.json: ops %v, want 500", doc["ops"])
	}
	if lin := doc["linearizability"]; lin != "ok" {
		t.Errorf("report.json: linearizability %v, want ok", lin)
	}
	wantObject(t, doc, "latency_us", "avg", "p50", "p99", "p999", "max")
	byOp, _ := doc["by_op"].(map[string]any)
	for _, kind := range []string{"get", "set"} {
		op, _ := byOp[kind].(map[string]any)
		if _, ok := op["qps"].(float64); !ok {
			t.Errorf("report.json: by_op.%s lacks qps: %v", kind, op)
		}
		wantObject(t, op, "latency_us", "avg", "p99")
	}
	timeline, _ := doc["timeline"].([]any)
	if len(timeline) == 0 {
		t.Fatal("report.json: empty timeline")
	}
	for _, s := range timeline {
		second, _ := s.(map[string]any)
		for _, field := range []string{"second", "ops", "ok", "failed", "qps", "p50_us", "p99_us", "max_us"} {
			if _, ok := second[field].(float64); !ok {
				t.Errorf("report.json: timeline entry lacks %s: %v", field, second)
			}
		}
	}
	events, _ := doc["events"].([]any)
	if len(events) != 1 {
		t.Fatalf("report.json: events %v, want one", doc["events"])
	}
	if e := events[0].(map[string]any); e["label"] != "restart node 1" || e["start_s"] == nil || e["end_s"] == nil {
		t.Errorf("report.json: event %v", e)
	}

	text, err := os.ReadFile(filepath.Join(dir, ReportTextFile))
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := rep.WriteText(&want); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(text, want.Bytes()) {
		t.Error("report.txt differs from WriteText")
	}
	for _, line := range []string{"QPS", "AVG(us)", "P99(us)", "\nget ", "\nset ", "\nall ", "lost writes: 0", "linearizability: ok"} {
		if !strings.Contains(string(text), line) {
			t.Errorf("report.txt lacks %q:\n%s", line, text)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, TimelineFile)); err != nil {
		t.Error(err)
	}
}

// wantObject checks that doc[name] is an object with numeric fields.
func wantObject(t *testing.T, doc map[string]any, name string, fields ...string) {
	t.Helper()
	obj, ok := doc[name].(map[string]any)
	if !ok {
		t.Errorf("%s is %T, want an object", name, doc[name])
		return
	}
	for _, f := range fields {
		if _, ok := obj[f].(float64); !ok {
			t.Errorf("%s.%s is %T, want a number", name, f, obj[f])
		}
	}
}

func TestReportTextShowsViolation(t *testing.T) {
	rep := buildReport(reportInput{
		cfg: Config{Workers: 1, Workload: Workload{}.withDefaults()},
		lin: LinearizabilityResult{Verdict: VerdictViolation, Keys: 1, KeysViolated: 1, Violation: &Violation{
			Key: "bench-00001", Minimal: true,
			Ops: []ViolationOp{{Client: 2, Call: "get()", Output: "w0.1", StartUS: 10, EndUS: 20}},
		}},
		errors: map[string]int64{"rpc timeout": 3, "not primary": 5},
	})
	var b bytes.Buffer
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"linearizability: violation",
		"violation on key bench-00001 (minimal: true)",
		"client 2  [10 us, 20 us]  get() -> w0.1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	// Most frequent error first.
	if strings.Index(out, "not primary") > strings.Index(out, "rpc timeout") {
		t.Errorf("errors not sorted by count:\n%s", out)
	}
}
