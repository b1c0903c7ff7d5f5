package plan

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// NodeReport is what restarting one server cost.
type NodeReport struct {
	Node string `json:"node"`
	Role Role   `json:"role"`
	// Result is done, failed, aborted, running, pending, skipped or
	// incomplete (begun, then the roll ended elsewhere).
	Result  string    `json:"result"`
	Started time.Time `json:"started,omitzero"`
	Ended   time.Time `json:"ended,omitzero"`
	// Down is from the stop command until the server serves again (ALIVE
	// for a replica server, beacons flowing for a meta server, reporting
	// for the collector).
	Down time.Duration `json:"-"`
	// ToHealthy is from the start command until the cluster is whole again
	// (every partition fully healthy; for a meta server or the collector,
	// the same moment as the end of Down).
	ToHealthy             time.Duration `json:"-"`
	PrimariesMoved        int           `json:"primaries_moved"`
	SecondariesDowngraded int           `json:"secondaries_downgraded"`
	// PrimariesRestored is how many primaries were handed back to the
	// node after the last replica server.
	PrimariesRestored int `json:"primaries_restored"`
	// ClientErrors is the number of failed client requests the collector
	// counted during the node's window, from its first step to its last.
	ClientErrors uint64 `json:"client_errors"`
}

// MarshalJSON writes the durations as milliseconds.
func (n NodeReport) MarshalJSON() ([]byte, error) {
	type plain NodeReport
	return json.Marshal(struct {
		plain
		DownMS      int64 `json:"down_ms"`
		ToHealthyMS int64 `json:"to_healthy_ms"`
	}{plain(n), n.Down.Milliseconds(), n.ToHealthy.Milliseconds()})
}

// Report summarises a roll, finished or not.
type Report struct {
	Status  Status    `json:"status"`
	Reason  string    `json:"reason,omitempty"`
	Started time.Time `json:"started,omitzero"`
	Ended   time.Time `json:"ended,omitzero"`
	// ClientErrors is the total the collector counted during the roll.
	ClientErrors uint64       `json:"client_errors"`
	Nodes        []NodeReport `json:"nodes"`
	// KnobsChanged lists knobs still changed (empty after a clean end).
	KnobsChanged []KnobChange `json:"knobs_changed,omitempty"`
}

// Report derives the per-node report from the step states.
func (m *Machine) Report() Report {
	s := &m.s
	r := Report{
		Status: s.Status, Reason: m.Reason(), Started: s.Started, Ended: s.Ended,
		ClientErrors: s.ClientErrors,
	}
	r.KnobsChanged = append(r.KnobsChanged, s.Touched...)
	index := make(map[string]int)
	var groups [][]int // step indexes per node, in plan order
	restored := make(map[string]int)
	for i, step := range s.Plan.Steps {
		if step.Kind == KindRestorePrimaries {
			// Not part of the node's own turn: its window (and the client
			// errors counted in it) ends with the node healthy again.
			restored[step.Node] = s.Steps[i].Before - s.Steps[i].Left
			continue
		}
		if step.Node == "" {
			continue
		}
		g, ok := index[step.Node]
		if !ok {
			g = len(groups)
			index[step.Node] = g
			groups = append(groups, nil)
			r.Nodes = append(r.Nodes, NodeReport{Node: step.Node, Role: step.Role})
		}
		groups[g] = append(groups[g], i)
	}
	// Nodes a rollback took back to the previous version.
	rolledBack := make(map[string]bool)
	for i, step := range s.Cleanup {
		if step.Kind == KindInstall && step.Rollback && s.Steps[len(s.Plan.Steps)+i].Status == StepDone {
			rolledBack[step.Node] = true
		}
	}
	for g, idx := range groups {
		m.fillNodeReport(&r.Nodes[g], idx)
		r.Nodes[g].PrimariesRestored = restored[r.Nodes[g].Node]
		if rolledBack[r.Nodes[g].Node] {
			r.Nodes[g].Result = "rolled back"
		}
	}
	return r
}

func (m *Machine) fillNodeReport(n *NodeReport, idx []int) {
	s := &m.s
	var stop, start, back, healthy, last *StepState
	counts := map[StepStatus]int{}
	for _, i := range idx {
		step, st := s.Plan.Steps[i], &s.Steps[i]
		counts[st.Status]++
		if !st.Started.IsZero() && n.Started.IsZero() {
			n.Started = st.Started
		}
		if !st.Ended.IsZero() {
			n.Ended, last = st.Ended, st
		}
		switch step.Kind {
		case KindMigrate:
			n.PrimariesMoved = st.Before - st.Left
		case KindDowngrade:
			n.SecondariesDowngraded = st.Before - st.Left
		case KindStop:
			stop = st
		case KindStart:
			start = st
		case KindWaitAlive:
			back = st
		case KindWaitHealthy:
			healthy = st
		case KindWaitMetaReady, KindWaitCollector:
			back, healthy = st, st
		}
	}
	active := !s.Status.Terminal() && s.Status != StatusCleanup
	// The node's window runs from its first step's start to its last
	// step's end; while the roll is inside it, errors count up to now.
	inWindow := active && idx[0] <= s.Current && s.Current <= idx[len(idx)-1]
	if first := s.Steps[idx[0]]; !first.Started.IsZero() {
		end := s.ClientErrors
		if !inWindow && last != nil {
			end = last.ErrorsAtEnd
		}
		n.ClientErrors = end - first.ErrorsAtStart
	}
	span := func(from, to *StepState) time.Duration {
		if from == nil || to == nil || from.Started.IsZero() || to.Status != StepDone {
			return 0
		}
		return to.Ended.Sub(from.Started)
	}
	n.Down, n.ToHealthy = span(stop, back), span(start, healthy)

	switch {
	case counts[StepFailed] > 0:
		n.Result = "failed"
	case counts[StepAborted] > 0:
		n.Result = "aborted"
	case counts[StepDone] == len(idx):
		n.Result = "done"
	case inWindow && !s.Steps[idx[0]].Started.IsZero():
		n.Result = "running"
	case counts[StepDone] == 0 && active:
		n.Result = "pending"
	case counts[StepDone] == 0:
		n.Result = "skipped"
	default:
		n.Result = "incomplete"
	}
}

// Text renders the report as a table.
func (r Report) Text() string {
	var b strings.Builder
	r.WriteText(&b)
	return b.String()
}

// WriteText writes the report as a table.
func (r Report) WriteText(w io.Writer) {
	head := "roll " + string(r.Status)
	if !r.Started.IsZero() && !r.Ended.IsZero() {
		head += " in " + formatDuration(r.Ended.Sub(r.Started))
	}
	fmt.Fprintf(w, "%s; %d client errors\n", head, r.ClientErrors)
	if r.Reason != "" {
		fmt.Fprintf(w, "reason: %s\n", r.Reason)
	}
	for _, k := range r.KnobsChanged {
		fmt.Fprintf(w, "still changed: %s (restore %s)\n", k.Knob, k.Restore)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tRESULT\tDOWN\tTO HEALTHY\tPRIMARIES MOVED\tSECONDARIES DOWNGRADED\tPRIMARIES BACK\tCLIENT ERRORS")
	for _, n := range r.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\n", n.Node, n.Role, n.Result,
			formatDuration(n.Down), formatDuration(n.ToHealthy), n.PrimariesMoved,
			n.SecondariesDowngraded, n.PrimariesRestored, n.ClientErrors)
	}
	tw.Flush()
}
