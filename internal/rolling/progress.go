package rolling

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

// Progress is the roll's progress as posted to the collector's
// /api/rolling (whose field names it follows) and printed by
// `pegasus rolling-update status --json`.
type Progress struct {
	Cluster string      `json:"cluster"`
	Status  plan.Status `json:"status"`
	Reason  string      `json:"reason,omitempty"`
	// Node and Role name the server the current step acts on.
	Node string `json:"node,omitempty"`
	Role string `json:"role,omitempty"`
	// Step is the current step's command, or what it waits for; StepIndex
	// (from 1) and StepCount place it in the plan.
	Step      string `json:"step,omitempty"`
	StepIndex int    `json:"step_index,omitempty"`
	StepCount int    `json:"step_count"`
	Phase     string `json:"phase,omitempty"`
	// Observed is the latest observation that kept the current step's gate
	// closed.
	Observed    string    `json:"observed,omitempty"`
	Started     time.Time `json:"started,omitzero"`
	StepStarted time.Time `json:"step_started,omitzero"`
	ElapsedMS   int64     `json:"elapsed_ms"`
	Updated     time.Time `json:"updated"`
	Holder      *Holder   `json:"holder,omitempty"`
	// Estimate counts the servers done and, once one replica server
	// finished, the time the rest should take.
	Estimate plan.Estimate `json:"estimate"`
	Report   plan.Report   `json:"report"`
}

// ProgressOf summarises a machine for a progress report at now.
func ProgressOf(cluster string, m *plan.Machine, now time.Time) Progress {
	st := m.State()
	p := Progress{Cluster: cluster, Status: st.Status, Reason: m.Reason(),
		StepCount: len(st.Steps), Started: st.Started, Updated: now, Report: m.Report(), Estimate: m.Estimate(now)}
	if !st.Started.IsZero() {
		end := now
		if !st.Ended.IsZero() {
			end = st.Ended
		}
		p.ElapsedMS = end.Sub(st.Started).Milliseconds()
	}
	if n, step, ss, ok := m.Current(); ok && !st.Status.Terminal() {
		p.StepIndex, p.Phase, p.Node, p.Role = n, string(step.Phase), step.Node, string(step.Role)
		p.Observed, p.StepStarted = ss.Observed, ss.Started
		p.Step = stepLabel(step, len(st.Plan.Replicas))
	}
	return p
}

// estimateText is a progress bar over the servers and the time left,
// e.g. "[####------] 2/5 servers, about 1m20s left".
func estimateText(e plan.Estimate) string {
	if e.Total == 0 {
		return ""
	}
	const width = 10
	filled := e.Done * width / e.Total
	bar := "[" + strings.Repeat("#", filled) + strings.Repeat("-", width-filled) + "]"
	text := fmt.Sprintf("%s %d/%d servers", bar, e.Done, e.Total)
	if e.Known {
		text += ", about " + e.Left.Round(time.Second).String() + " left"
	}
	return text
}

// stepLabel is a step's command, or "wait until ..." for a pure wait.
func stepLabel(s plan.Step, replicaServers int) string {
	if c := s.Command(); c != "" {
		return c
	}
	return "wait until " + s.Waits(replicaServers)
}

// progressPrinter writes one line per finished step, one per change of the
// roll's status, a header per node, and a status line for waits: on a
// terminal it is rewritten in place every poll; elsewhere it is printed
// when what the wait observes changes, at most every waitEvery.
type progressPrinter struct {
	w    io.Writer
	live bool

	printed   []bool // steps whose end was printed
	header    string
	status    plan.Status
	reason    string
	liveShown bool
	// The wait printed last, without a terminal.
	lastWaitStep int
	lastWait     string
	lastWaitAt   time.Time
}

const (
	waitQuiet = 3 * time.Second
	waitEvery = 5 * time.Second
)

func newProgressPrinter(w io.Writer, live bool) *progressPrinter {
	if w == nil {
		w = io.Discard
	}
	return &progressPrinter{w: w, live: live}
}

// resumed prints where a restored roll stands and marks the steps that
// ended before as printed: the operator saw them, or can read them with
// `rolling-update status`.
func (p *progressPrinter) resumed(m *plan.Machine) {
	st := m.State()
	if st.Status == plan.StatusPending {
		return
	}
	done := 0
	for _, ss := range st.Steps {
		ended := ss.Status != plan.StepPending && ss.Status != plan.StepRunning
		p.printed = append(p.printed, ended)
		if ss.Status == plan.StepDone {
			done++
		}
	}
	p.status = st.Status
	where := "every step ran"
	if n, step, _, ok := m.Current(); ok {
		where = fmt.Sprintf("step %d (%s) is re-issued", n, stepLabel(step, len(st.Plan.Replicas)))
	}
	p.line("resuming a %s roll: %d of %d steps done; %s", st.Status, done, len(st.Steps), where)
}

// line prints a full line, first erasing the live status line.
func (p *progressPrinter) line(format string, args ...any) {
	if p.liveShown {
		fmt.Fprint(p.w, "\r\033[K")
		p.liveShown = false
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}

// update prints what changed in m since the previous call.
func (p *progressPrinter) update(m *plan.Machine, now time.Time) {
	st := m.State()
	total := len(st.Steps)
	est := estimateText(m.Estimate(now))
	for len(p.printed) < total {
		p.printed = append(p.printed, false)
	}
	elapsed := func(t time.Time) string {
		if st.Started.IsZero() || t.IsZero() {
			return fmt.Sprintf("[%8s]", "-")
		}
		return fmt.Sprintf("[%8s]", roundDuration(t.Sub(st.Started)))
	}
	steps := append(append([]plan.Step(nil), st.Plan.Steps...), st.Cleanup...)
	for i := 0; i < total; i++ {
		ss := st.Steps[i]
		if p.printed[i] {
			continue
		}
		switch ss.Status {
		case plan.StepDone, plan.StepFailed, plan.StepAborted:
		case plan.StepSkipped:
			// A run of skipped steps is one line.
			j := i
			for j+1 < total && st.Steps[j+1].Status == plan.StepSkipped && !p.printed[j+1] {
				j++
			}
			for k := i; k <= j; k++ {
				p.printed[k] = true
			}
			if i == j {
				p.line("%s %3d/%d skipped  %s", elapsed(now), i+1, total, stepLabel(steps[i], len(st.Plan.Replicas)))
			} else {
				p.line("%s %d-%d/%d skipped", elapsed(now), i+1, j+1, total)
			}
			i = j
			continue
		default:
			continue
		}
		p.printed[i] = true
		p.headerFor(st.Plan, steps[i], est)
		took := "-"
		if !ss.Started.IsZero() && !ss.Ended.IsZero() {
			took = roundDuration(ss.Ended.Sub(ss.Started))
		}
		text := fmt.Sprintf("%s %3d/%d %-7s %7s  %s", elapsed(ss.Ended), i+1, total, ss.Status, took,
			stepLabel(steps[i], len(st.Plan.Replicas)))
		if steps[i].Kind == plan.KindMigrate && ss.Status == plan.StepDone {
			text += fmt.Sprintf(" (%d primaries moved)", ss.Before-ss.Left)
		}
		if steps[i].Kind == plan.KindDowngrade && ss.Status == plan.StepDone {
			text += fmt.Sprintf(" (%d secondaries downgraded)", ss.Before-ss.Left)
		}
		if steps[i].Kind == plan.KindRestorePrimaries && ss.Status == plan.StepDone {
			text += fmt.Sprintf(" (%d handed back)", ss.Before-ss.Left)
		}
		if ss.Attempts > 1 {
			text += fmt.Sprintf(" [%d attempts]", ss.Attempts)
		}
		if ss.Note != "" {
			text += "; " + ss.Note
		}
		if ss.Reason != "" && ss.Status != plan.StepDone {
			text += ": " + ss.Reason
		}
		p.line("%s", text)
	}

	if reason := m.Reason(); st.Status != p.status || reason != p.reason {
		if st.Status != plan.StatusPending && !(p.status == "" && st.Status == plan.StatusRunning) {
			msg := fmt.Sprintf("%s roll %s", elapsed(now), st.Status)
			if reason != "" {
				msg += ": " + reason
			}
			p.line("%s", msg)
		}
		p.status, p.reason = st.Status, reason
	}

	n, step, ss, ok := m.Current()
	if !ok || st.Status.Terminal() || ss.Status != plan.StepRunning {
		return
	}
	p.headerFor(st.Plan, step, est)
	left := step.Timeout - now.Sub(ss.AttemptStarted)
	wait := "until " + step.Waits(len(st.Plan.Replicas))
	status := fmt.Sprintf("%s %3d/%d waiting %s", elapsed(now), n, total, wait)
	if c := step.Command(); c != "" {
		status = fmt.Sprintf("%s %3d/%d %s, waiting %s", elapsed(now), n, total, c, wait)
	}
	if ss.Observed != "" {
		status += "; now: " + ss.Observed
	}
	if ss.LastError != "" {
		status += "; last error: " + ss.LastError
	}
	status += fmt.Sprintf("; %s left", roundDuration(max(left, 0)))
	if est != "" {
		status += "; " + est
	}
	if p.live {
		fmt.Fprint(p.w, "\r\033[K"+status)
		p.liveShown = true
		return
	}
	// Without a terminal print a wait once it lasts (most steps end within
	// a poll or two), then when what it observes changes (at most every
	// waitEvery), and now and then as a reminder.
	if now.Sub(ss.AttemptStarted) < waitQuiet {
		return
	}
	key := fmt.Sprintf("%s|%s", ss.Observed, ss.LastError)
	since := now.Sub(p.lastWaitAt)
	if n != p.lastWaitStep || (key != p.lastWait && since >= waitEvery) || since >= 6*waitEvery {
		p.line("%s", status)
		p.lastWaitStep, p.lastWait, p.lastWaitAt = n, key, now
	}
}

// headerFor prints a heading when the roll moves to another node or
// phase, with est (the progress so far) when given.
func (p *progressPrinter) headerFor(pl plan.Plan, s plan.Step, est string) {
	h := string(s.Phase)
	switch s.Phase {
	case plan.PhaseReplica:
		h = "replica server " + s.Node
		if s.Batch > 0 {
			h = pl.BatchTitle(s.Batch)
		}
	case plan.PhaseMeta:
		h = "meta server " + s.Node
	case plan.PhaseCollector:
		h = "collector " + s.Node
	case plan.PhaseRestore:
		h = "primaries back where they were"
	case plan.PhaseRollback:
		if s.Node != "" {
			h = "rollback of " + string(s.Role) + " " + s.Node
		}
	}
	if h != p.header {
		p.header = h
		if est != "" && (s.Phase == plan.PhaseReplica || s.Phase == plan.PhaseMeta || s.Phase == plan.PhaseCollector) {
			p.line("%s  %s", h, est)
			return
		}
		p.line("%s", h)
	}
}

// finish ends the live line.
func (p *progressPrinter) finish() {
	if p.liveShown {
		fmt.Fprint(p.w, "\r\033[K")
		p.liveShown = false
	}
}

// roundDuration prints a duration to a tenth of a second.
func roundDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return d.Round(100 * time.Millisecond).String()
}
