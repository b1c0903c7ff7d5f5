package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Machine executes a Plan one step at a time. It does no I/O and reads no
// clock: the driver calls Next with the time and what it observed, runs
// the returned actions, and calls Next again (typically every second).
// Operator commands arrive through Pause, Resume and Abort. After every
// call the driver may persist State; Restore continues from it.
//
// A step runs in attempts. An attempt issues the step's command (if any)
// and its queries; later calls evaluate the step's gate against fresh
// observations, re-issue the command every ResendInterval while the gate
// stays closed, and fail the step when the attempt outlives the step's
// timeout. A failure or an abort switches the machine to cleanup: it
// starts any server it left stopped, then restores exactly the knobs it
// changed, newest first, and ends failed or aborted.
type Machine struct {
	s State
	// now is the time of the current Next, for gates that wait a time.
	now time.Time
}

// NewMachine returns a machine at the start of p.
func NewMachine(p Plan) *Machine {
	st := State{Format: stateFormat, Plan: p, Status: StatusPending}
	st.Plan.Steps = slices.Clone(p.Steps)
	st.Steps = make([]StepState, len(p.Steps))
	for i := range st.Steps {
		st.Steps[i].Status = StepPending
	}
	return &Machine{s: st}
}

// State returns a copy of the machine's state, to persist.
func (m *Machine) State() State { return m.s.clone() }

// Status returns the roll's status.
func (m *Machine) Status() Status { return m.s.Status }

// Reason explains a failure, an abort or a pause.
func (m *Machine) Reason() string {
	switch {
	case m.s.Status == StatusPaused || m.s.Status == StatusPausing:
		var reasons []string
		if r := m.s.RollbackRequested; r != "" {
			reasons = append(reasons, "rollback asked for: "+r)
		}
		if h := m.s.Halt; h != nil {
			reasons = append(reasons, "halted: "+h.Reason)
		}
		if h := m.s.OperatorHold; h != nil {
			reasons = append(reasons, "operator: "+h.Reason)
		}
		if h := m.s.BreachHold; h != nil {
			reasons = append(reasons, h.Reason)
		}
		return strings.Join(reasons, "; ")
	default:
		return m.s.Reason
	}
}

// Current returns the current step's number (1-based), the step and its
// state; ok is false once every step has run.
func (m *Machine) Current() (number int, step Step, state StepState, ok bool) {
	if m.s.Current >= len(m.s.Steps) {
		return 0, Step{}, StepState{}, false
	}
	return m.s.Current + 1, m.s.step(m.s.Current), m.s.Steps[m.s.Current], true
}

// Next advances the roll to now given obs, and returns the actions to run
// before the next call. obs must answer the previous call's actions and
// be gathered after running all of them. Next returns nil once the roll
// has ended; while paused it returns only the background queries.
func (m *Machine) Next(now time.Time, obs Observation) []Action {
	s := &m.s
	if s.Status.Terminal() {
		return nil
	}
	m.now = now
	if s.Status == StatusPending {
		s.Status, s.Started = StatusRunning, now
	}
	m.absorbResults(obs.Results)
	if obs.Partitions != nil {
		s.Partitions = obs.Partitions
	}
	if obs.Cluster != nil {
		s.Nodes = make(map[string]NodeStatus, len(obs.Cluster.Nodes))
		for _, n := range obs.Cluster.Nodes {
			s.Nodes[n.Node] = n
		}
	}
	m.absorbCollector(now, obs.Collector)

	for !s.Status.Terminal() && s.Current < len(s.Steps) {
		i := s.Current
		step, st := s.step(i), &s.Steps[i]
		if st.Status == StepRunning && m.satisfied(i, obs) {
			m.complete(now, i)
			continue
		}
		if m.wantsRollback() && m.upgradedAndRunning(i) {
			// The node in progress already runs the new version: it is the
			// one to take back, whether or not it becomes healthy (a bad
			// build may never).
			m.startRollback(now)
			continue
		}
		if m.held(step, st) {
			// A node boundary: where a rollback starts, asked for or, with
			// AutoRollback, because the SLO gate halted the roll.
			if m.wantsRollback() {
				m.startRollback(now)
				continue
			}
			if s.Status != StatusPaused {
				s.Status = StatusPaused
				// Resuming re-issues the step with a fresh timeout.
				st.Emitted = false
			}
			return m.background()
		}
		if st.Status == StepPending {
			m.begin(now, i)
		}
		if !st.Emitted {
			return m.emit(now, i)
		}
		if reason, over := m.overdue(now, i); over {
			m.fail(now, i, reason)
			continue
		}
		return m.poll(now, i)
	}
	if !s.Status.Terminal() {
		m.finish(now)
	}
	return nil
}

// Pause holds the roll at the next holdable step until Resume.
func (m *Machine) Pause(now time.Time, reason string) error {
	if err := m.acceptsHolds(); err != nil {
		return err
	}
	if m.s.OperatorHold == nil {
		m.s.OperatorHold = &Hold{Reason: reason, Since: now}
	}
	if m.s.Status == StatusRunning {
		m.s.Status = StatusPausing // Next decides whether it holds at once
	}
	return nil
}

// Resume lifts an operator's pause. A pause caused by low availability
// lifts only when availability recovers: an operator who wants to go on
// regardless aborts and starts a new roll with a lower threshold.
func (m *Machine) Resume(now time.Time) error {
	if err := m.acceptsHolds(); err != nil {
		return err
	}
	m.s.OperatorHold = nil
	// The operator's word also lifts an SLO halt: the breach is watched
	// afresh from here on.
	m.s.Halt, m.s.SLOBreach = nil, nil
	if m.s.BreachHold == nil && m.s.RollbackRequested == "" && (m.s.Status == StatusPaused || m.s.Status == StatusPausing) {
		m.s.Status = StatusRunning
	}
	return nil
}

func (m *Machine) acceptsHolds() error {
	switch {
	case m.s.Status.Terminal():
		return ErrFinished
	case m.s.Status == StatusCleanup:
		return ErrCleaningUp
	case m.s.Status == StatusRollingBack:
		return ErrRollingBack
	}
	return nil
}

// Abort stops the roll: the current step is abandoned and cleanup runs at
// the next Next. Aborting during cleanup changes nothing.
func (m *Machine) Abort(now time.Time, reason string) error {
	s := &m.s
	switch {
	case s.Status.Terminal():
		return ErrFinished
	case s.Status == StatusCleanup:
		return nil
	}
	if s.Status == StatusPending {
		s.Started = now
	}
	if s.Current < len(s.Steps) {
		st := &s.Steps[s.Current]
		if st.Status == StepRunning {
			st.Status, st.Ended, st.Reason = StepAborted, now, "aborted: "+reason
			st.ErrorsAtEnd = s.ClientErrors
		}
	}
	m.startCleanup(now, StatusAborted, "aborted: "+reason)
	return nil
}

func (m *Machine) absorbResults(results []ActionResult) {
	s := &m.s
	for _, r := range results {
		// Only the current step listens: a late answer to a finished step
		// changes nothing. Any attempt counts, the commands being idempotent.
		if r.Step-1 != s.Current || s.Current >= len(s.Steps) {
			continue
		}
		st := &s.Steps[s.Current]
		if st.Status != StepRunning || r.Attempt < 1 || r.Attempt > st.Attempts {
			continue
		}
		if r.Err == "" {
			st.Acked, st.LastError = true, ""
		} else if !st.Acked {
			st.LastError = r.Err
		}
	}
}

// absorbCollector accumulates client errors and decides breach holds.
func (m *Machine) absorbCollector(now time.Time, c *CollectorStatus) {
	s := &m.s
	if c == nil || !c.Alive {
		// No report means no news: a breach hold stays until a report says
		// availability recovered.
		return
	}
	if last := s.LastCollectorErrors; last != nil {
		if c.ClientErrors >= *last {
			s.ClientErrors += c.ClientErrors - *last
		} else {
			s.ClientErrors += c.ClientErrors // the collector restarted from zero
		}
	}
	v := c.ClientErrors
	s.LastCollectorErrors = &v

	if s.Plan.sloActive() && s.Status != StatusCleanup && s.Status != StatusRollingBack {
		if s.Baseline == nil {
			if s.Current < len(s.Steps) && s.step(s.Current).Kind == KindBaseline && s.Steps[s.Current].Status == StepRunning {
				m.sampleBaseline(c)
			}
		} else {
			m.judge(now, c)
		}
	}
	if !c.TrafficAt.IsZero() {
		s.LastTrafficAt = c.TrafficAt
	}

	threshold := s.Plan.Options.MinAvailability
	if threshold <= 0 || s.Status == StatusCleanup {
		return
	}
	if c.Availability < threshold {
		reason := fmt.Sprintf("availability %s below %s", percent(c.Availability), percent(threshold))
		if s.BreachHold == nil {
			s.BreachHold = &Hold{Reason: reason, Since: now}
		}
		s.BreachHold.Reason, s.BreachHold.RecoveringSince = reason, time.Time{}
		return
	}
	if h := s.BreachHold; h != nil {
		if h.RecoveringSince.IsZero() {
			h.RecoveringSince = now
		}
		if now.Sub(h.RecoveringSince) >= s.Plan.Options.BreachRecovery {
			s.BreachHold = nil
		}
	}
}

// held reports whether the roll must hold before or during step, and
// keeps the status in line with the holds. A holdable step whose command
// went out already runs to its end: the command may have taken effect
// (add_secondary_max 0), and holding then would keep it.
func (m *Machine) held(step Step, st *StepState) bool {
	s := &m.s
	if s.Status == StatusCleanup || s.Status == StatusRollingBack {
		return false
	}
	if s.OperatorHold == nil && s.BreachHold == nil && s.Halt == nil && s.RollbackRequested == "" {
		s.Status = StatusRunning
		return false
	}
	_, hasCommand := step.command()
	if !step.Holdable || (hasCommand && st.Attempts > 0) {
		s.Status = StatusPausing
		return false
	}
	return true
}

func (m *Machine) begin(now time.Time, i int) {
	s := &m.s
	step, st := s.step(i), &s.Steps[i]
	st.Status, st.Started, st.ErrorsAtStart = StepRunning, now, s.ClientErrors
	if n, ok := s.Nodes[step.Node]; ok {
		switch step.Kind {
		case KindMigrate:
			st.Before = n.Primaries
		case KindDowngrade:
			st.Before = n.Secondaries
		}
	}
}

// emit starts an attempt: the command, the step's queries and the
// background queries.
func (m *Machine) emit(now time.Time, i int) []Action {
	st := &m.s.Steps[i]
	st.Emitted, st.AttemptStarted = true, now
	st.Blocked, st.BlockedSince, st.BlockedFor = "", time.Time{}, 0
	var out []Action
	if a, ok := m.issue(now, i); ok {
		out = append(out, a)
	}
	return append(append(out, m.s.step(i).queries()...), m.background()...)
}

// poll keeps a running attempt going: the queries, and the command again
// once ResendInterval has passed without the step completing.
func (m *Machine) poll(now time.Time, i int) []Action {
	st := &m.s.Steps[i]
	var out []Action
	if now.Sub(st.LastIssued) >= m.s.Plan.Options.ResendInterval {
		if a, ok := m.issue(now, i); ok {
			out = append(out, a)
		}
	}
	return append(append(out, m.s.step(i).queries()...), m.background()...)
}

// issue hands out the step's command and records what it may change
// before any acknowledgement: a knob set or a server stopped.
func (m *Machine) issue(now time.Time, i int) (Action, bool) {
	s := &m.s
	step, st := s.step(i), &s.Steps[i]
	a, ok := step.command()
	if !ok {
		return Action{}, false
	}
	st.Attempts++
	st.LastIssued = now
	a.Step, a.Attempt = i+1, st.Attempts
	switch step.Kind {
	case KindSetKnob, KindSetMetaLevel:
		if step.Value != step.Restore {
			s.Touched = touch(s.Touched, step.Knob, step.Value, step.Restore, step.RestoreOwner)
			a.Owner, a.Lease = s.Plan.Options.Owner(), s.Plan.Options.KnobLease
		}
	case KindStop:
		if !slices.ContainsFunc(s.Stopped, func(n StoppedNode) bool { return n.Node == step.Node }) {
			s.Stopped = append(s.Stopped, StoppedNode{Node: step.Node, Role: step.Role})
		}
	case KindRestorePrimaries:
		a.Moves = m.primaryMoves(step.Node)
	case KindDowngrade:
		if s.Nodes[step.Node].Primaries > 0 {
			// A failover elsewhere made the drained node a primary again:
			// downgrade_node refuses a primary, so hand it over first.
			a.Kind = ActMigrateNode
		}
	}
	return a, true
}

// primaryMoves are the handovers that give node back the primaries it led
// before the roll, from the latest partition view: one per partition it
// led, that another node leads now and where node is a secondary. A
// partition node is no member of any more is left where it is.
func (m *Machine) primaryMoves(node string) []PrimaryMove {
	var moves []PrimaryMove
	for _, g := range m.s.Plan.Primaries[node] {
		for _, pv := range m.s.Partitions {
			if pv.Gpid == g && pv.Primary != "" && pv.Primary != node && slices.Contains(pv.Secondaries, node) {
				moves = append(moves, PrimaryMove{Gpid: g, From: pv.Primary, To: node})
			}
		}
	}
	return moves
}

// background is what the roll watches whatever the step: the collector,
// for availability and client errors, unless the roll stopped it.
func (m *Machine) background() []Action {
	s := &m.s
	if s.Plan.Collector == "" ||
		slices.ContainsFunc(s.Stopped, func(n StoppedNode) bool { return n.Node == s.Plan.Collector }) {
		return nil
	}
	return []Action{{Kind: ActQueryCollector, Role: RoleCollector, Node: s.Plan.Collector}}
}

func (m *Machine) complete(now time.Time, i int) {
	s := &m.s
	step, st := s.step(i), &s.Steps[i]
	st.Status, st.Ended, st.ErrorsAtEnd = StepDone, now, s.ClientErrors
	st.Observed, st.LastError = "", ""
	switch step.Kind {
	case KindSetKnob, KindSetMetaLevel:
		if step.Value == step.Restore {
			s.Touched = untouch(s.Touched, step.Knob)
		}
	case KindStart:
		s.Stopped = slices.DeleteFunc(s.Stopped, func(n StoppedNode) bool { return n.Node == step.Node })
	}
	s.Current++
}

func (m *Machine) timeoutReason(i int) string {
	step, st := m.s.step(i), m.s.Steps[i]
	label := step.Command()
	if label == "" {
		label = "wait until " + step.Waits(len(m.s.Plan.Replicas))
	}
	reason := fmt.Sprintf("step %d (%s) timed out after %v", i+1, label, step.Timeout)
	if st.Observed != "" {
		reason += ": " + st.Observed
	}
	if st.LastError != "" {
		reason += "; last error: " + st.LastError
	}
	return reason
}

func (m *Machine) fail(now time.Time, i int, reason string) {
	s := &m.s
	st := &s.Steps[i]
	st.Status, st.Ended, st.Reason = StepFailed, now, reason
	st.ErrorsAtEnd = s.ClientErrors
	if s.Status == StatusCleanup {
		// A cleanup step that fails is recorded and the next one tried:
		// every remaining restore is still worth doing.
		s.Current++
		return
	}
	if s.Status == StatusRollingBack {
		reason = "rollback failed: " + reason
	} else if o := s.Plan.Options; o.AutoRollback && s.Plan.RollbackBlocked == "" && len(s.upgraded()) > 0 {
		// An upgraded node that does not start, or does not become
		// healthy, is what a rollback is for.
		s.RollbackRequested = reason
		m.startRollback(now)
		return
	}
	m.startCleanup(now, StatusFailed, reason)
}

// startCleanup abandons the remaining plan and appends the steps that undo
// what the roll did: start every server it left stopped (a roll must not
// end with fewer servers than it began with), then restore the touched
// knobs newest first, and, if a replica server was touched, wait until
// every partition is fully healthy again: a halt must not leave a node
// drained, and the restored knobs are what lets its replicas come back.
func (m *Machine) startCleanup(now time.Time, outcome Status, reason string) {
	s := &m.s
	touchedReplica := false
	for j := 0; j < len(s.Plan.Steps) && j < len(s.Steps); j++ {
		if s.Plan.Steps[j].Phase == PhaseReplica && s.Steps[j].Status != StepPending && s.Steps[j].Status != StepSkipped {
			touchedReplica = true
		}
	}
	for j := s.Current; j < len(s.Steps); j++ {
		if s.Steps[j].Status == StepPending || s.Steps[j].Status == StepRunning {
			s.Steps[j].Status = StepSkipped
		}
	}
	s.Status, s.Outcome, s.Reason = StatusCleanup, outcome, reason
	s.OperatorHold, s.BreachHold, s.Halt, s.SLOBreach, s.RollbackRequested = nil, nil, nil, nil, ""
	timeouts := s.Plan.Options.Timeouts
	var steps []Step
	for _, n := range s.Stopped {
		steps = append(steps, Step{Kind: KindStart, Phase: PhaseCleanup, Role: n.Role, Node: n.Node,
			Timeout: timeouts[KindStart].For(0)})
	}
	for j := len(s.Touched) - 1; j >= 0; j-- {
		k := s.Touched[j]
		kind := KindSetKnob
		if k.Knob == KnobMetaLevel {
			kind = KindSetMetaLevel
		}
		steps = append(steps, Step{Kind: kind, Phase: PhaseCleanup, Knob: k.Knob, Value: k.Restore,
			Restore: k.Restore, RestoreOwner: k.RestoreOwner, Timeout: timeouts[kind].For(0)})
	}
	if touchedReplica && !slices.ContainsFunc(s.Cleanup, func(c Step) bool { return c.Kind == KindCheckHealthy }) {
		steps = append(steps, Step{Kind: KindCheckHealthy, Phase: PhaseCleanup,
			Timeout: timeouts[KindWaitHealthy].For(m.maxNodePartitions())})
	}
	s.Cleanup = append(s.Cleanup, steps...)
	for range steps {
		s.Steps = append(s.Steps, StepState{Status: StepPending})
	}
	s.Current = len(s.Steps) - len(steps)
	if len(steps) == 0 {
		m.finish(now)
	}
}

// maxNodePartitions is the most partition replicas one replica server of
// the plan hosts, what cleanup's health wait scales with.
func (m *Machine) maxNodePartitions() int {
	most := 0
	for _, st := range m.s.Plan.Steps {
		most = max(most, st.Partitions)
	}
	return most
}

func (m *Machine) finish(now time.Time) {
	s := &m.s
	s.Ended = now
	switch s.Status {
	case StatusRollingBack:
		s.Status = StatusRolledBack
		return
	case StatusCleanup:
	default:
		s.Status = StatusSucceeded
		return
	}
	s.Status = s.Outcome
	var left []string
	for _, n := range s.Stopped {
		left = append(left, fmt.Sprintf("%s %s may still be stopped", n.Role, n.Node))
	}
	for _, k := range s.Touched {
		left = append(left, fmt.Sprintf("%s may still differ from %s", k.Knob, k.Restore))
	}
	for i, c := range s.Cleanup {
		if st := s.Steps[len(s.Plan.Steps)+i]; c.Kind == KindCheckHealthy && st.Status == StepFailed {
			left = append(left, "the cluster is not whole again: "+st.Observed)
		}
	}
	if len(left) > 0 {
		s.Reason += "; cleanup incomplete: " + strings.Join(left, ", ")
	}
}
