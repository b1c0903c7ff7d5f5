package scenario

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pegasus-go/pegasus/internal/bench"
)

// Report is the outcome of a scenario run. Its JSON form is report.json;
// the load's full report is embedded under "load".
type Report struct {
	Scenario string `json:"scenario"`
	Summary  string `json:"summary"`
	System   System `json:"system"`
	Cluster  string `json:"cluster"`
	// DowntimeS is how long a crashed or frozen node stayed down.
	DowntimeS float64 `json:"downtime_s,omitempty"`
	// Notes say which node the event hit and how the fault was produced.
	Notes []string `json:"notes,omitempty"`

	// Baseline covers the load before the event (the whole load for the
	// baseline scenario); Event the event, up to full health. Event is nil
	// when there was none.
	Baseline bench.WindowStats `json:"baseline"`
	Event    *EventSummary     `json:"event,omitempty"`

	// FailedOps and UnknownOps count the whole load.
	FailedOps  int64 `json:"failed_ops"`
	UnknownOps int64 `json:"unknown_ops"`
	// LongestStallMS is the longest any operation waited for its answer,
	// failed operations included, measured from when it was due.
	LongestStallMS  float64       `json:"longest_stall_ms"`
	Linearizability bench.Verdict `json:"linearizability"`
	LostWrites      int           `json:"lost_writes"`
	// NoFailures repeats the scenario's promise that no operation fails.
	NoFailures bool `json:"no_failures_promised,omitempty"`
	// Problems lists every broken expectation: lost writes, a
	// linearizability violation, failures in a NoFailures scenario, an
	// event that failed, a cluster that did not recover. Empty is a pass.
	Problems []string `json:"problems"`
	// Counters is the exactly-once check of counter-restarts.
	Counters []CounterResult `json:"counters,omitempty"`

	Load *bench.Report `json:"load"`
}

// EventSummary is the event's window on the load's clock.
type EventSummary struct {
	// StartS is when the event's first action began, RepairedS when its
	// last action returned (the node restarted, the roll finished), EndS
	// when the cluster was fully healthy again (or the wait gave up).
	StartS    float64 `json:"start_s"`
	RepairedS float64 `json:"repaired_s"`
	EndS      float64 `json:"end_s"`
	Healthy   bool    `json:"healthy"`
	// TimeToHealthyS is EndS - RepairedS: how long the cluster took to be
	// fully healthy once the event was over.
	TimeToHealthyS float64 `json:"time_to_healthy_s"`
	// Window summarises the operations due in [StartS, EndS).
	Window bench.WindowStats `json:"window"`
	Error  string            `json:"error,omitempty"`
}

// Passed reports whether the run broke no expectation.
func (r *Report) Passed() bool { return len(r.Problems) == 0 }

// buildReport assembles the report from the load's report and history.
func buildReport(s Scenario, c Cluster, env *Env, opts Options, tl timeline, eventErr error, ops []bench.Op, load *bench.Report) *Report {
	r := &Report{
		Scenario:        s.Name,
		Summary:         s.Summary,
		System:          s.System,
		Cluster:         c.Describe(),
		Notes:           env.takeNotes(),
		Counters:        env.takeCounters(),
		FailedOps:       load.FailedOps,
		UnknownOps:      load.UnknownOps,
		Linearizability: load.Linearizability,
		LostWrites:      load.LostWrites,
		NoFailures:      s.NoFailures,
		Problems:        []string{},
		Load:            load,
	}
	end := time.Duration(load.DurationS * float64(time.Second))
	r.LongestStallMS = roundMS(bench.Window(ops, 0, math.MaxInt64).MaxAnyUS)
	if s.event != nil && tl.event {
		r.DowntimeS = opts.Downtime.Seconds()
		r.Baseline = bench.Window(ops, 0, tl.start)
		r.Event = &EventSummary{
			StartS:    tl.start.Seconds(),
			RepairedS: tl.repaired.Seconds(),
			EndS:      tl.healthy.Seconds(),
			Healthy:   tl.isHealthy,
			Window:    bench.Window(ops, tl.start, tl.healthy),
		}
		if tl.isHealthy {
			r.Event.TimeToHealthyS = (tl.healthy - tl.repaired).Seconds()
		}
		if eventErr != nil {
			r.Event.Error = eventErr.Error()
		}
	} else {
		r.Baseline = bench.Window(ops, 0, max(end, time.Nanosecond))
	}

	if r.LostWrites > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d acknowledged writes lost", r.LostWrites))
	}
	if r.Linearizability == bench.VerdictViolation {
		r.Problems = append(r.Problems, "linearizability violated")
	}
	if s.NoFailures && r.FailedOps > 0 {
		r.Problems = append(r.Problems, fmt.Sprintf("%d operations failed where none may", r.FailedOps))
	}
	if eventErr != nil {
		r.Problems = append(r.Problems, "the event failed")
	}
	if r.Event != nil && !r.Event.Healthy {
		r.Problems = append(r.Problems, "the cluster did not become fully healthy after the event")
	}
	if load.Interrupted {
		r.Problems = append(r.Problems, "the run was interrupted")
	}
	for _, c := range r.Counters {
		if c.Problem != "" {
			r.Problems = append(r.Problems, fmt.Sprintf("counter %s (%s): %s", c.Key, c.Kind, c.Problem))
		}
	}
	return r
}

// roundMS converts microseconds to milliseconds with 0.1 ms resolution.
func roundMS(us int64) float64 { return math.Round(float64(us)/100) / 10 }

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the scenario summary, baseline against event, followed
// by the load's own report.
func (r *Report) WriteText(out io.Writer) error {
	w := new(bytes.Buffer)
	fmt.Fprintf(w, "scenario %s: %s\n", r.Scenario, r.Summary)
	fmt.Fprintf(w, "cluster: %s\n", r.Cluster)
	if e := r.Event; e != nil {
		fmt.Fprintf(w, "event: %.1f s to %.1f s; last action returned at %.1f s; ", e.StartS, e.EndS, e.RepairedS)
		if e.Healthy {
			fmt.Fprintf(w, "fully healthy %.1f s later\n", e.TimeToHealthyS)
		} else {
			fmt.Fprintf(w, "NOT fully healthy when the wait gave up\n")
		}
		if r.DowntimeS > 0 {
			fmt.Fprintf(w, "downtime of the node hit: %.1f s\n", r.DowntimeS)
		}
		if e.Error != "" {
			fmt.Fprintf(w, "event error: %s\n", e.Error)
		}
	}
	fmt.Fprintln(w)

	const row = "%-14s %14s %14s\n"
	window := func(ws bench.WindowStats) string { return fmt.Sprintf("%.1f-%.1f", ws.StartS, ws.EndS) }
	ms := func(us int64) string { return fmt.Sprintf("%.1f", roundMS(us)) }
	count := func(n int64) string { return fmt.Sprintf("%d", n) }
	b := r.Baseline
	ev := bench.WindowStats{}
	evCol := "event"
	if r.Event != nil {
		ev = r.Event.Window
	} else {
		evCol = "-"
	}
	cell := func(s string) string {
		if r.Event == nil {
			return "-"
		}
		return s
	}
	fmt.Fprintf(w, row, "", "baseline", evCol)
	fmt.Fprintf(w, row, "window (s)", window(b), cell(window(ev)))
	fmt.Fprintf(w, row, "ops", count(b.Ops), cell(count(ev.Ops)))
	fmt.Fprintf(w, row, "failed", count(b.Failed), cell(count(ev.Failed)))
	fmt.Fprintf(w, row, "p50 (ms)", ms(b.Latency.P50), cell(ms(ev.Latency.P50)))
	fmt.Fprintf(w, row, "p99 (ms)", ms(b.Latency.P99), cell(ms(ev.Latency.P99)))
	fmt.Fprintf(w, row, "p99.9 (ms)", ms(b.Latency.P999), cell(ms(ev.Latency.P999)))
	fmt.Fprintf(w, row, "max (ms)", ms(b.MaxAnyUS), cell(ms(ev.MaxAnyUS)))
	fmt.Fprintln(w)

	fmt.Fprintf(w, "failed ops: %d (unknown outcome: %d)%s\n", r.FailedOps, r.UnknownOps, promise(r))
	fmt.Fprintf(w, "longest stall: %.1f ms\n", r.LongestStallMS)
	fmt.Fprintf(w, "linearizability: %s\n", r.Linearizability)
	if r.Load != nil && r.Load.LostWriteCheck.Skipped {
		fmt.Fprintf(w, "acknowledged writes lost: not checked\n")
	} else {
		fmt.Fprintf(w, "acknowledged writes lost: %d\n", r.LostWrites)
	}
	if r.Passed() {
		fmt.Fprintf(w, "problems: none\n")
	} else {
		fmt.Fprintf(w, "problems: %s\n", strings.Join(r.Problems, "; "))
	}
	if len(r.Counters) > 0 {
		fmt.Fprintf(w, "counters (acked <= final <= acked + unknown, no value twice):\n")
		for _, c := range r.Counters {
			verdict := "ok"
			if c.Problem != "" {
				verdict = c.Problem
			}
			fmt.Fprintf(w, "  %-40s %-13s ops %6d acked %6d failed %4d unknown %4d final %6d  %s\n",
				c.Key, c.Kind, c.Ops, c.Acked, c.Failed, c.Unknown, c.Final, verdict)
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(w, "notes:\n")
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  - %s\n", n)
		}
	}
	if r.Load != nil {
		fmt.Fprintf(w, "\nload:\n")
		if err := r.Load.WriteText(w); err != nil {
			return err
		}
	}
	_, err := out.Write(w.Bytes())
	return err
}

func promise(r *Report) string {
	if !r.NoFailures {
		return ""
	}
	if r.FailedOps == 0 {
		return "; promise of no failed request kept"
	}
	return "; promise of no failed request BROKEN"
}

// WriteFiles writes report.json and report.txt (the scenario's) and
// timeline.svg (the load's, with the event's steps shaded) into dir.
func (r *Report) WriteFiles(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("scenario: write report: %w", err)
	}
	files := []struct {
		name  string
		write func(io.Writer) error
	}{
		{bench.ReportJSONFile, r.WriteJSON},
		{bench.ReportTextFile, r.WriteText},
	}
	if r.Load != nil {
		files = append(files, struct {
			name  string
			write func(io.Writer) error
		}{bench.TimelineFile, r.Load.WriteSVG})
	}
	for _, f := range files {
		if err := writeFile(filepath.Join(dir, f.name), f.write); err != nil {
			return fmt.Errorf("scenario: write report: %w", err)
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
