package bench

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Names of the files WriteFiles produces.
const (
	ReportJSONFile = "report.json"
	ReportTextFile = "report.txt"
	TimelineFile   = "timeline.svg"
)

// Report is the outcome of a run. Its JSON form is report.json.
type Report struct {
	// Mode is "closed" (Workers loop back to back) or "open" (operations
	// due at Rate per second, at most Workers in flight).
	Mode     string   `json:"mode"`
	Workers  int      `json:"workers"`
	Rate     float64  `json:"rate,omitempty"`
	Workload Workload `json:"workload"`
	// DurationS is the length of the load phase in seconds.
	DurationS float64 `json:"duration_s"`
	// Interrupted is set when the run's context was cancelled before the
	// load reached its bounds; everything else still covers what ran.
	Interrupted bool `json:"interrupted"`

	// Ops counts issued operations; FailedOps those that returned an error
	// (UnknownOps of them are writes with an unknown outcome).
	Ops        int64 `json:"ops"`
	FailedOps  int64 `json:"failed_ops"`
	UnknownOps int64 `json:"unknown_ops"`
	// CorruptReads counts successful reads whose bytes were not a value
	// this workload wrote.
	CorruptReads int64 `json:"corrupt_reads"`
	// QPS is successful operations per second of load.
	QPS float64 `json:"qps"`
	// Latency covers successful operations, measured from when each was
	// due (see Op.Due).
	Latency LatencySummary        `json:"latency_us"`
	ByOp    map[string]*OpSummary `json:"by_op"`
	// Timeline has one entry per second of load; operations count in the
	// second they were due.
	Timeline []TimelineSecond `json:"timeline"`
	// ErrorSeconds is the number of timeline seconds with a failed
	// operation: the availability figure of a fault scenario.
	ErrorSeconds int              `json:"error_seconds"`
	Errors       map[string]int64 `json:"errors,omitempty"`

	LostWrites           int                   `json:"lost_writes"`
	LostWriteCheck       LostWriteResult       `json:"lost_write_check"`
	Linearizability      Verdict               `json:"linearizability"`
	LinearizabilityCheck LinearizabilityResult `json:"linearizability_check"`

	Events []Annotation `json:"events,omitempty"`
}

// LatencySummary is a latency distribution in microseconds.
type LatencySummary struct {
	Avg  float64 `json:"avg"`
	P50  int64   `json:"p50"`
	P99  int64   `json:"p99"`
	P999 int64   `json:"p999"`
	Max  int64   `json:"max"`
}

// OpSummary holds the figures of one operation kind.
type OpSummary struct {
	Ops        int64          `json:"ops"`
	FailedOps  int64          `json:"failed_ops"`
	UnknownOps int64          `json:"unknown_ops"`
	QPS        float64        `json:"qps"`
	Latency    LatencySummary `json:"latency_us"`
}

// TimelineSecond holds the figures of one second of load.
type TimelineSecond struct {
	Second int `json:"second"`
	// Ops were due in this second; OK of them succeeded and Failed did not.
	Ops    int64 `json:"ops"`
	OK     int64 `json:"ok"`
	Failed int64 `json:"failed"`
	// QPS is OK per second, scaled up for a final partial second.
	QPS   float64 `json:"qps"`
	P50US int64   `json:"p50_us"`
	P99US int64   `json:"p99_us"`
	MaxUS int64   `json:"max_us"`
}

// maxTrackableLatency bounds the histograms; longer latencies are recorded
// as this value. Operations carry a timeout far below it.
const maxTrackableLatency = time.Hour

func newLatencyHistogram() *hdrhistogram.Histogram {
	// Three significant digits: 0.1% resolution at any magnitude.
	return hdrhistogram.New(1, maxTrackableLatency.Microseconds(), 3)
}

func recordLatency(h *hdrhistogram.Histogram, d time.Duration) {
	us := min(max(d.Microseconds(), 0), maxTrackableLatency.Microseconds())
	// Cannot fail: us lies within the histogram's range.
	_ = h.RecordValue(us)
}

func summarize(h *hdrhistogram.Histogram) LatencySummary {
	if h.TotalCount() == 0 {
		return LatencySummary{}
	}
	return LatencySummary{
		Avg:  math.Round(h.Mean()*10) / 10,
		P50:  h.ValueAtQuantile(50),
		P99:  h.ValueAtQuantile(99),
		P999: h.ValueAtQuantile(99.9),
		Max:  h.Max(),
	}
}

// reportInput gathers what a report is built from.
type reportInput struct {
	cfg         Config
	ops         []Op // the load phase only
	elapsed     time.Duration
	interrupted bool
	errors      map[string]int64
	events      []Annotation
	lost        LostWriteResult
	lin         LinearizabilityResult
}

func buildReport(in reportInput) *Report {
	r := &Report{
		Mode:                 "closed",
		Workers:              in.cfg.Workers,
		Rate:                 in.cfg.Rate,
		Workload:             in.cfg.Workload,
		DurationS:            in.elapsed.Seconds(),
		Interrupted:          in.interrupted,
		Ops:                  int64(len(in.ops)),
		ByOp:                 make(map[string]*OpSummary),
		Errors:               in.errors,
		LostWrites:           in.lost.LostWrites,
		LostWriteCheck:       in.lost,
		Linearizability:      in.lin.Verdict,
		LinearizabilityCheck: in.lin,
		Events:               in.events,
	}
	if in.cfg.Rate > 0 {
		r.Mode = "open"
	}
	seconds := max(in.elapsed.Seconds(), 1e-9)

	overall := newLatencyHistogram()
	var byKind [numOpKinds]*hdrhistogram.Histogram
	var kindStats [numOpKinds]OpSummary
	for _, op := range in.ops {
		ks := &kindStats[op.Kind]
		ks.Ops++
		switch op.Result {
		case ResultOK:
			if byKind[op.Kind] == nil {
				byKind[op.Kind] = newLatencyHistogram()
			}
			recordLatency(overall, op.Latency())
			recordLatency(byKind[op.Kind], op.Latency())
			if op.Kind == OpGet && op.Value == CorruptValue {
				r.CorruptReads++
			}
		case ResultFailed:
			ks.FailedOps++
		case ResultUnknown:
			ks.FailedOps++
			ks.UnknownOps++
		}
	}
	for kind := range numOpKinds {
		ks := kindStats[kind]
		if ks.Ops == 0 {
			continue
		}
		r.FailedOps += ks.FailedOps
		r.UnknownOps += ks.UnknownOps
		if h := byKind[kind]; h != nil {
			ks.Latency = summarize(h)
			ks.QPS = float64(h.TotalCount()) / seconds
		}
		r.ByOp[kind.String()] = &ks
	}
	r.QPS = float64(overall.TotalCount()) / seconds
	r.Latency = summarize(overall)
	r.Timeline = buildTimeline(in.ops, in.elapsed)
	for _, s := range r.Timeline {
		if s.Failed > 0 {
			r.ErrorSeconds++
		}
	}
	return r
}

// buildTimeline buckets operations by the second they were due. A counting
// sort by second lets one histogram serve every second in turn, so memory
// does not grow with the run's length.
//
// The timeline covers every second in which an operation was due, and every
// whole second of the load besides (a stall at the end, when nothing could
// be issued, shows as empty seconds); a trailing partial second in which
// nothing was due is left out rather than drawn as a drop to zero.
func buildTimeline(ops []Op, elapsed time.Duration) []TimelineSecond {
	n := int(elapsed / time.Second)
	for _, op := range ops {
		n = max(n, int(op.Due/time.Second)+1)
	}
	if n == 0 {
		return nil
	}
	start := make([]int, n+1)
	for _, op := range ops {
		start[int(op.Due/time.Second)+1]++
	}
	for s := 1; s <= n; s++ {
		start[s] += start[s-1]
	}
	order := make([]int32, len(ops))
	fill := slices.Clone(start[:n])
	for i, op := range ops {
		s := int(op.Due / time.Second)
		order[fill[s]] = int32(i)
		fill[s]++
	}

	timeline := make([]TimelineSecond, n)
	h := newLatencyHistogram()
	for s := range n {
		h.Reset()
		ts := TimelineSecond{Second: s}
		for _, i := range order[start[s]:start[s+1]] {
			op := ops[i]
			ts.Ops++
			if op.Result == ResultOK {
				ts.OK++
				recordLatency(h, op.Latency())
			} else {
				ts.Failed++
			}
		}
		// The last second may be partial: scale its rate to a full second.
		width := min(time.Second, elapsed-time.Duration(s)*time.Second)
		if width < 100*time.Millisecond {
			width = time.Second // too short to extrapolate from
		}
		ts.QPS = math.Round(float64(ts.OK)/width.Seconds()*10) / 10
		if ts.OK > 0 {
			ts.P50US = h.ValueAtQuantile(50)
			ts.P99US = h.ValueAtQuantile(99)
			ts.MaxUS = h.Max()
		}
		timeline[s] = ts
	}
	return timeline
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report in the layout of Pegasus' bench results:
// one row per operation kind with QPS, average and P99 in microseconds,
// followed by the verdicts.
func (r *Report) WriteText(out io.Writer) error {
	// Compose in memory: one write to out, one error to check.
	w := new(bytes.Buffer)
	wl := r.Workload
	mode := fmt.Sprintf("closed loop, %d workers", r.Workers)
	if r.Mode == "open" {
		mode = fmt.Sprintf("open loop, %.0f ops/s, at most %d in flight", r.Rate, r.Workers)
	}
	dist := string(wl.Distribution)
	if wl.Distribution == Zipfian {
		dist = fmt.Sprintf("zipfian(%.2f)", wl.ZipfianTheta)
	}
	fmt.Fprintf(w, "mode: %s; keys: %d %s; read %.0f%%, del %.0f%%; value %d bytes\n",
		mode, wl.KeyCount, dist, wl.ReadRatio*100, wl.DeleteRatio*100, wl.ValueSize)
	interrupted := ""
	if r.Interrupted {
		interrupted = " (interrupted)"
	}
	fmt.Fprintf(w, "duration: %.2f s%s; ops: %d; failed: %d (unknown outcome: %d); error seconds: %d\n\n",
		r.DurationS, interrupted, r.Ops, r.FailedOps, r.UnknownOps, r.ErrorSeconds)
	const header = "%-4s %10s %9s %9s %9s %9s %9s %11s %9s\n"
	fmt.Fprintf(w, header, "op", "QPS", "AVG(us)", "P50(us)", "P99(us)", "P999(us)", "MAX(us)", "ops", "failed")
	row := func(name string, s OpSummary) {
		fmt.Fprintf(w, "%-4s %10.0f %9.0f %9d %9d %9d %9d %11d %9d\n", name, s.QPS, s.Latency.Avg,
			s.Latency.P50, s.Latency.P99, s.Latency.P999, s.Latency.Max, s.Ops, s.FailedOps)
	}
	for kind := range numOpKinds {
		if s, ok := r.ByOp[kind.String()]; ok {
			row(kind.String(), *s)
		}
	}
	row("all", OpSummary{Ops: r.Ops, FailedOps: r.FailedOps, QPS: r.QPS, Latency: r.Latency})

	lw := r.LostWriteCheck
	if lw.Skipped {
		fmt.Fprintf(w, "\nlost writes: not checked\n")
	} else {
		fmt.Fprintf(w, "\nlost writes: %d (%d keys read back, %d unverified)\n",
			r.LostWrites, lw.Verified, lw.Unverified)
	}
	lin := r.LinearizabilityCheck
	fmt.Fprintf(w, "linearizability: %s", r.Linearizability)
	switch {
	case lin.Skipped:
		fmt.Fprintf(w, " (not checked)\n")
	default:
		fmt.Fprintf(w, " (%d keys, %d ops; %d violated, %d undecided)\n",
			lin.Keys, lin.Ops, lin.KeysViolated, lin.KeysUnknown)
	}
	if v := lin.Violation; v != nil {
		fmt.Fprintf(w, "violation on key %s (minimal: %v):\n", v.Key, v.Minimal)
		for _, op := range v.Ops {
			fmt.Fprintf(w, "  client %d  [%d us, %d us]  %s -> %s\n", op.Client, op.StartUS, op.EndUS, op.Call, op.Output)
		}
		if v.Visualization != "" {
			fmt.Fprintf(w, "  visualisation: %s\n", v.Visualization)
		}
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, "errors:\n")
		msgs := make([]string, 0, len(r.Errors))
		for msg := range r.Errors {
			msgs = append(msgs, msg)
		}
		// Most frequent first.
		slices.SortFunc(msgs, func(a, b string) int {
			if c := cmp.Compare(r.Errors[b], r.Errors[a]); c != 0 {
				return c
			}
			return strings.Compare(a, b)
		})
		for _, msg := range msgs {
			fmt.Fprintf(w, "  %8d  %s\n", r.Errors[msg], msg)
		}
	}
	_, err := out.Write(w.Bytes())
	return err
}

// WriteFiles writes report.json, report.txt and timeline.svg into dir,
// creating it if needed.
func (r *Report) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("bench: write report: %w", err)
	}
	for _, f := range []struct {
		name  string
		write func(io.Writer) error
	}{
		{ReportJSONFile, r.WriteJSON},
		{ReportTextFile, r.WriteText},
		{TimelineFile, r.WriteSVG},
	} {
		if err := writeFile(filepath.Join(dir, f.name), f.write); err != nil {
			return fmt.Errorf("bench: write report: %w", err)
		}
	}
	return nil
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
