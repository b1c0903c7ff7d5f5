package plan

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// String renders the plan for a dry run; see Print.
func (p Plan) String() string {
	var b strings.Builder
	p.Print(&b)
	return b.String()
}

// Print writes the plan as an operator reads it before saying yes:
// numbered steps, each with the command it runs, what it waits for, and
// how long before it fails the roll.
func (p Plan) Print(w io.Writer) {
	o := p.Options
	what := "restart"
	if o.Upgrade {
		what = "upgrade to protocol " + p.NewVersion
	}
	fmt.Fprintf(w, "rolling %s, %s mode: %s\n", what, o.Mode, p.scopeLine())
	fmt.Fprintf(w, "cluster: %s (leader %s), %s, %s in %s, meta level %s\n",
		plural(len(p.Metas), "meta server"), p.Leader, plural(len(p.Replicas), "replica server"),
		plural(p.Partitions, "partition"), plural(p.Tables, "table"), p.MetaLevel)
	if o.Mode == ModeHA {
		fmt.Fprintf(w, "maintenance window %v: a dropped replica waits that long for its node before being copied elsewhere\n",
			o.MaintenanceWindow)
	}
	if p.sloActive() {
		g := o.SLO
		fmt.Fprintf(w, "SLO gate: halts when, for %v, a table's p99 exceeds %.1fx its baseline (and the baseline + %v) or its error rate the baseline + %s\n",
			g.Sustain, g.MaxP99Ratio, g.P99Slack, percent(g.MaxErrorRate))
		switch {
		case o.AutoRollback:
			fmt.Fprintf(w, "on a halt the nodes already upgraded are rolled back to protocol %s\n", p.OldVersion)
		case o.Upgrade && p.RollbackBlocked == "":
			fmt.Fprintf(w, "on a halt the roll holds: resume, `pegasus rolling-update rollback` or abort\n")
		}
	}
	if p.RollbackBlocked != "" {
		fmt.Fprintf(w, "no rollback possible once a node is upgraded: %s\n", p.RollbackBlocked)
	}
	if o.MinAvailability > 0 {
		fmt.Fprintf(w, "pauses while availability < %s; resumes after %v at or above it\n",
			percent(o.MinAvailability), o.BreachRecovery)
	}
	if o.Parallel > 1 {
		var bs []string
		for _, b := range p.Batches {
			bs = append(bs, "["+strings.Join(b, " ")+"]")
		}
		fmt.Fprintf(w, "up to %d replica servers at once, within one zone and sharing no partition: %s\n",
			o.Parallel, strings.Join(bs, " "))
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintf(w, "commands are re-issued every %v until their step is done; a step past its timeout fails the roll,\n", o.ResendInterval)
	fmt.Fprintf(w, "which then starts any server it stopped and restores every knob it changed\n")

	var group string
	for i, s := range p.Steps {
		if g := p.groupTitle(s); g != group {
			group = g
			fmt.Fprintf(w, "\n%s\n", g)
		}
		line := s.Command()
		if line == "" {
			line = "wait until " + s.Waits(len(p.Replicas))
		}
		fmt.Fprintf(w, "%4d  %s\n", i+1, line)
		var notes []string
		if s.Command() != "" && !s.Kind.ackOnly() {
			notes = append(notes, "until "+s.Waits(len(p.Replicas)))
		}
		if s.Restore != "" && s.Value != s.Restore {
			notes = append(notes, "restored to "+restoreLabel(s)+" at the end or on failure")
		}
		timeout := "timeout " + formatDuration(s.Timeout)
		if s.Partitions > 0 && s.Timeout != o.Timeouts[s.Kind].Base {
			timeout += fmt.Sprintf(" (%d partitions)", s.Partitions)
		}
		notes = append(notes, timeout)
		if !s.Holdable {
			notes = append(notes, "runs through a pause")
		}
		fmt.Fprintf(w, "      %s\n", strings.Join(notes, "; "))
		if extra := p.expectation(s); extra != "" {
			fmt.Fprintf(w, "      %s\n", extra)
		}
	}
}

// expectation is what a dry run predicts for step s: where a drain hands
// the primaries, what clients see when a server stops.
func (p Plan) expectation(s Step) string {
	if s.Phase != PhaseReplica {
		return ""
	}
	switch {
	case s.Kind == KindMigrate:
		moves := p.Moves[s.Node]
		if len(moves) == 0 {
			return "expected: leads no partition by then, nothing to hand over"
		}
		var to []string
		for _, m := range moves {
			to = append(to, m.Gpid+" -> "+m.To)
		}
		return fmt.Sprintf("expected: %s; each handover stalls that partition's requests for milliseconds",
			strings.Join(to, ", "))
	case s.Kind == KindStop && p.Options.Mode == ModeHA:
		return "expected client downtime: none (the server leads and serves no partition by then)"
	case s.Kind == KindStop:
		n := len(p.Primaries[s.Node])
		return fmt.Sprintf("expected client downtime: requests to its %d primaries fail until the meta server's failure detector fails them over", n)
	}
	return ""
}

func (p Plan) scopeLine() string {
	var replicas, metas int
	collector := false
	for _, s := range p.Steps {
		if s.Kind != KindStart {
			continue
		}
		switch s.Role {
		case RoleReplica:
			replicas++
		case RoleMeta:
			metas++
		case RoleCollector:
			collector = true
		}
	}
	parts := []string{
		fmt.Sprintf("%d of %d replica servers", replicas, len(p.Replicas)),
		fmt.Sprintf("%d of %d meta servers", metas, len(p.Metas)),
	}
	if collector {
		parts = append(parts, "the collector")
	}
	return strings.Join(parts, ", ")
}

// BatchTitle names a batch of replica servers restarted together.
func (p Plan) BatchTitle(batch int) string {
	if batch < 1 || batch > len(p.Batches) {
		return ""
	}
	return "replica servers " + strings.Join(p.Batches[batch-1], ", ") + " together"
}

func (p Plan) groupTitle(s Step) string {
	switch s.Phase {
	case PhaseReplica:
		if s.Batch > 0 {
			return p.BatchTitle(s.Batch)
		}
		return "replica server " + s.Node
	case PhaseMeta:
		if s.Node == p.Leader {
			return "meta server " + s.Node + " (leader)"
		}
		return "meta server " + s.Node + " (follower)"
	case PhaseCollector:
		return "collector " + s.Node
	case PhaseRestore:
		return "primaries back where they were"
	case PhaseRollback:
		if s.Node != "" {
			return "rollback of " + string(s.Role) + " " + s.Node
		}
		return "rollback"
	case PhaseReset:
		return "reset"
	case PhaseCleanup:
		return "cleanup"
	}
	return string(s.Phase)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// formatDuration prints whole seconds when possible: "1m30s", not "1m30.000s".
func formatDuration(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	if d >= time.Second {
		d = d.Round(100 * time.Millisecond)
	} else {
		d = d.Round(time.Millisecond) // a report shows 626ms, not 625.820215ms
	}
	return d.String()
}

// restoreLabel says what a knob goes back to.
func restoreLabel(s Step) string {
	switch {
	case s.Restore == KnobDefault:
		return "the configuration's value (DEFAULT)"
	case s.RestoreOwner != "":
		return s.Restore + " (set by " + s.RestoreOwner + ")"
	}
	return s.Restore
}
