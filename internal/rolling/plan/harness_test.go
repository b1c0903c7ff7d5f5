package plan

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// epoch is the fake clock's zero; output prints offsets from it.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// harness plays the driver: it executes the machine's actions against a
// fakeCluster, answers its queries, and calls Next on a fake clock.
type harness struct {
	c       *fakeCluster
	m       *Machine
	now     time.Duration
	pending []Action // returned by the last Next, not executed yet
}

// next executes the pending actions, lets the cluster tick, and calls
// Next d later with what the actions produced.
func (h *harness) next(d time.Duration) []Action {
	h.now += d
	var results []ActionResult
	for _, a := range h.pending {
		if !a.IsQuery() {
			results = append(results, ActionResult{Step: a.Step, Attempt: a.Attempt, Err: h.c.execute(a)})
		}
	}
	h.c.tick()
	obs := h.c.observe(h.pending)
	obs.Results = results
	h.pending = h.m.Next(epoch.Add(h.now), obs)
	return h.pending
}

// run calls next every second until stop says so, the roll ends, or max
// seconds pass, and returns one line per step that finished and per
// change of the roll's status.
func (h *harness) run(max int, stop func() bool) []string {
	var lines []string
	for i := 0; i < max && !h.m.Status().Terminal() && !stop(); i++ {
		before := h.m.State()
		h.next(time.Second)
		lines = append(lines, h.transitions(before)...)
	}
	return lines
}

func (h *harness) transitions(before State) []string {
	after := h.m.State()
	var lines []string
	skipped := -1 // first of a run of newly skipped steps, printed as one line
	flush := func(end int) {
		if skipped >= 0 {
			lines = append(lines, fmt.Sprintf("t=%-5s steps %d-%d skipped", h.clock(), skipped+1, end))
			skipped = -1
		}
	}
	for i, st := range after.Steps {
		was := StepPending
		if i < len(before.Steps) {
			was = before.Steps[i].Status
		}
		if st.Status == was || st.Status == StepRunning {
			flush(i)
			continue
		}
		if st.Status == StepSkipped {
			if skipped < 0 {
				skipped = i
			}
			continue
		}
		flush(i)
		line := fmt.Sprintf("t=%-5s step %2d %-7s %s", h.clock(), i+1, st.Status, stepLabel(after.step(i)))
		if st.Note != "" {
			line += " [" + st.Note + "]"
		}
		if st.Reason != "" && st.Status != StepSkipped {
			line += "\n      reason: " + st.Reason
		}
		lines = append(lines, line)
	}
	flush(len(after.Steps))
	if after.Status != before.Status {
		line := fmt.Sprintf("t=%-5s status %s", h.clock(), after.Status)
		if r := h.m.Reason(); r != "" {
			line += ": " + r
		}
		lines = append(lines, line)
	}
	return lines
}

func (h *harness) clock() string { return h.now.String() }

// crash simulates the orchestrator dying after its last Next: the state
// goes through JSON, as through etcd, into a new machine. When executed is
// true the driver ran the last actions before dying, but their results
// are lost with it.
func (h *harness) crash(executed bool) (*Machine, error) {
	if executed {
		for _, a := range h.pending {
			if !a.IsQuery() {
				h.c.execute(a)
			}
		}
	}
	h.pending = nil
	data, err := json.Marshal(h.m.State())
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, err
	}
	m, err := Restore(st)
	if err != nil {
		return nil, err
	}
	h.m = m
	return m, nil
}

// stepLabel names a step in one short line.
func stepLabel(s Step) string {
	if c := s.Command(); c != "" {
		return c
	}
	if s.Node == "" {
		return string(s.Kind)
	}
	return string(s.Kind) + " " + s.Node
}

func formatActions(actions []Action) string {
	if len(actions) == 0 {
		return "  (none)\n"
	}
	var b strings.Builder
	for _, a := range actions {
		if a.IsQuery() {
			fmt.Fprintf(&b, "  query      %s\n", strings.TrimPrefix(a.String(), "query "))
		} else {
			fmt.Fprintf(&b, "  %-10s %s\n", fmt.Sprintf("%d.%d", a.Step, a.Attempt), a.String())
		}
	}
	return b.String()
}

func (h *harness) describeMachine() string {
	var b strings.Builder
	st := h.m.State()
	fmt.Fprintf(&b, "status %s", st.Status)
	if r := h.m.Reason(); r != "" {
		fmt.Fprintf(&b, ": %s", r)
	}
	b.WriteString("\n")
	if n, step, ss, ok := h.m.Current(); ok {
		fmt.Fprintf(&b, "current step %d/%d %s: %s", n, len(st.Steps), ss.Status, stepLabel(step))
		if ss.Attempts > 0 {
			fmt.Fprintf(&b, " (attempt %d)", ss.Attempts)
		}
		b.WriteString("\n")
	} else {
		fmt.Fprintf(&b, "all %d steps ran\n", len(st.Steps))
	}
	var touched []string
	for _, k := range st.Touched {
		touched = append(touched, k.Knob+"->"+k.Restore)
	}
	fmt.Fprintf(&b, "touched knobs: [%s]\n", strings.Join(touched, " "))
	var stopped []string
	for _, n := range st.Stopped {
		stopped = append(stopped, n.Node)
	}
	fmt.Fprintf(&b, "stopped by the roll: [%s]\n", strings.Join(stopped, " "))
	if len(st.Removed) > 0 {
		fmt.Fprintf(&b, "removed for good: [%s]\n", strings.Join(st.Removed, " "))
	}
	return b.String()
}
