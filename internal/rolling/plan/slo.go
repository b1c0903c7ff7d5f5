package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// SLO is the gate on what clients see. Before the first node is touched
// the roll measures a baseline from the collector: per table, the p99
// latency and the error rate of client requests (from the replica
// servers' request metrics), and the p99 of the collector's own probes.
// From then on, whenever a report breaches the baseline for Sustain
// without a good report in between, the roll halts: it holds at the next
// node boundary (the node in progress is brought back first, as for a
// pause) until an operator resumes, rolls back or aborts, or, with
// Options.AutoRollback, it rolls back by itself.
//
// A p99 breaches when it exceeds both MaxP99Ratio times its baseline and
// the baseline plus P99Slack: the slack keeps a sub-millisecond baseline
// from turning scheduling noise into a halt. An error rate breaches when
// it exceeds its baseline by MaxErrorRate. Tables with less than MinQPS
// are not judged: a handful of requests has no p99.
type SLO struct {
	// Off disables the gate (and the canary bake).
	Off            bool          `json:"off,omitempty"`
	MaxP99Ratio    float64       `json:"max_p99_ratio"`
	P99Slack       time.Duration `json:"p99_slack"`
	MaxErrorRate   float64       `json:"max_error_rate"`
	MinQPS         float64       `json:"min_qps"`
	Sustain        time.Duration `json:"sustain"`
	BaselineWindow time.Duration `json:"baseline_window"`
}

func (g SLO) withDefaults() SLO {
	if g.MaxP99Ratio == 0 {
		g.MaxP99Ratio = 2
	}
	if g.P99Slack == 0 {
		g.P99Slack = 20 * time.Millisecond
	}
	if g.MaxErrorRate == 0 {
		g.MaxErrorRate = 0.001
	}
	if g.MinQPS == 0 {
		g.MinQPS = 5
	}
	if g.Sustain == 0 {
		g.Sustain = 10 * time.Second
	}
	if g.BaselineWindow == 0 {
		g.BaselineWindow = 30 * time.Second
	}
	return g
}

func (g SLO) validate() error {
	switch {
	case g.MaxP99Ratio < 1:
		return fmt.Errorf("%w: max p99 ratio %v below 1", ErrInvalidOptions, g.MaxP99Ratio)
	case g.MaxErrorRate < 0 || g.MaxErrorRate > 1:
		return fmt.Errorf("%w: max error rate %v outside [0,1]", ErrInvalidOptions, g.MaxErrorRate)
	case g.P99Slack < 0 || g.Sustain < 0 || g.BaselineWindow < 0 || g.MinQPS < 0:
		return fmt.Errorf("%w: negative SLO setting", ErrInvalidOptions)
	}
	return nil
}

// Baseline is what clients saw before the roll.
type Baseline struct {
	Taken    time.Time           `json:"taken"`
	ProbeP99 time.Duration       `json:"probe_p99,omitempty"`
	Tables   map[string]TableSLO `json:"tables,omitempty"`
}

// sloSample is one collector report kept while the baseline is measured.
type sloSample struct {
	ProbeP99 time.Duration `json:"probe_p99,omitempty"`
	Tables   []TableSLO    `json:"tables,omitempty"`
}

// sloActive reports whether the plan gates on the SLO.
func (p Plan) sloActive() bool { return p.Collector != "" && !p.Options.SLO.Off }

// sampleBaseline keeps c for the baseline; table rows only when they are
// a new scrape.
func (m *Machine) sampleBaseline(c *CollectorStatus) {
	s := &m.s
	sample := sloSample{ProbeP99: c.ProbeP99}
	if !c.TrafficAt.IsZero() && c.TrafficAt != s.LastTrafficAt {
		sample.Tables = c.Tables
	}
	s.BaselineSamples = append(s.BaselineSamples, sample)
}

// takeBaseline computes the baseline from the samples: medians, so one
// slow scrape does not set the bar.
func (m *Machine) takeBaseline(now time.Time) *Baseline {
	s := &m.s
	b := &Baseline{Taken: now, Tables: make(map[string]TableSLO)}
	var probes []time.Duration
	p99s := map[string][]time.Duration{}
	errs := map[string][]float64{}
	qps := map[string][]float64{}
	for _, smp := range s.BaselineSamples {
		if smp.ProbeP99 > 0 {
			probes = append(probes, smp.ProbeP99)
		}
		for _, t := range smp.Tables {
			p99s[t.Table] = append(p99s[t.Table], t.P99)
			errs[t.Table] = append(errs[t.Table], t.ErrorRate)
			qps[t.Table] = append(qps[t.Table], t.QPS)
		}
	}
	b.ProbeP99 = median(probes)
	for name := range p99s {
		b.Tables[name] = TableSLO{Table: name, P99: median(p99s[name]), ErrorRate: median(errs[name]), QPS: median(qps[name])}
	}
	s.BaselineSamples = nil
	return b
}

func median[T int64 | float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	ys := slices.Clone(xs)
	slices.Sort(ys)
	return ys[len(ys)/2]
}

// judge evaluates a collector report against the baseline and halts the
// roll once a breach has lasted Sustain. Table rows are judged when they
// are a new scrape, the probe p99 with every report.
func (m *Machine) judge(now time.Time, c *CollectorStatus) {
	s := &m.s
	base, g := s.Baseline, s.Plan.Options.SLO
	if base == nil || s.Halt != nil {
		return
	}
	var breaches []string
	p99Breach := func(got, base time.Duration) bool {
		return got > time.Duration(float64(base)*g.MaxP99Ratio) && got > base+g.P99Slack
	}
	judged := false
	if c.ProbeP99 > 0 && base.ProbeP99 > 0 {
		judged = true
		if p99Breach(c.ProbeP99, base.ProbeP99) {
			breaches = append(breaches, fmt.Sprintf("probe p99 %s > %.1f x baseline %s",
				formatDuration(c.ProbeP99), g.MaxP99Ratio, formatDuration(base.ProbeP99)))
		}
	}
	if !c.TrafficAt.IsZero() && c.TrafficAt != s.LastTrafficAt {
		for _, t := range c.Tables {
			if t.QPS < g.MinQPS {
				continue
			}
			judged = true
			b := base.Tables[t.Table]
			if b.P99 > 0 && p99Breach(t.P99, b.P99) {
				breaches = append(breaches, fmt.Sprintf("%s p99 %s > %.1f x baseline %s", t.Table,
					formatDuration(t.P99), g.MaxP99Ratio, formatDuration(b.P99)))
			}
			if t.ErrorRate > b.ErrorRate+g.MaxErrorRate {
				breaches = append(breaches, fmt.Sprintf("%s error rate %s > baseline %s + %s", t.Table,
					percent(t.ErrorRate), percent(b.ErrorRate), percent(g.MaxErrorRate)))
			}
		}
	}
	if !judged {
		return // no evidence either way
	}
	if len(breaches) == 0 {
		s.SLOBreach = nil
		return
	}
	reason := "SLO breached: " + strings.Join(breaches, "; ")
	if s.SLOBreach == nil {
		s.SLOBreach = &Hold{Since: now}
	}
	s.SLOBreach.Reason = reason
	if now.Sub(s.SLOBreach.Since) >= g.Sustain {
		s.Halt = &Hold{Reason: fmt.Sprintf("%s for %s", reason, formatDuration(now.Sub(s.SLOBreach.Since))), Since: now}
	}
}

// String summarises the baseline in one line.
func (b *Baseline) String() string {
	var parts []string
	if b.ProbeP99 > 0 {
		parts = append(parts, "probe p99 "+formatDuration(b.ProbeP99))
	}
	names := make([]string, 0, len(b.Tables))
	for n := range b.Tables {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		t := b.Tables[n]
		parts = append(parts, fmt.Sprintf("%s p99 %s, errors %s at %.0f ops/s", n, formatDuration(t.P99), percent(t.ErrorRate), t.QPS))
	}
	if len(parts) == 0 {
		return "baseline: no traffic seen"
	}
	return "baseline: " + strings.Join(parts, "; ")
}
