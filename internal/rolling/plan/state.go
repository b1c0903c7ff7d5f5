package plan

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// stateFormat versions the stored State. Bump it when a field changes
// meaning; Restore refuses formats it does not know.
const stateFormat = 1

// Status is where the roll as a whole stands.
type Status string

const (
	StatusPending Status = "pending" // built, Next not called yet
	StatusRunning Status = "running" // executing steps
	StatusPausing Status = "pausing" // a hold is requested; finishing steps that bring a node back
	StatusPaused  Status = "paused"  // held at a holdable step
	StatusCleanup Status = "cleaning-up"
	// StatusRollingBack: taking the nodes already upgraded back to the
	// previous binary and configuration, newest first.
	StatusRollingBack Status = "rolling-back"
	StatusSucceeded   Status = "succeeded"
	StatusFailed      Status = "failed"
	StatusAborted     Status = "aborted"
	// StatusRolledBack: every upgraded node runs the previous version
	// again.
	StatusRolledBack Status = "rolled-back"
)

// Terminal reports whether the roll has ended.
func (s Status) Terminal() bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusAborted || s == StatusRolledBack
}

// StepStatus is where one step stands: pending -> running -> done | failed,
// or skipped/aborted when the roll ends before or during it.
type StepStatus string

const (
	StepPending StepStatus = "pending"
	StepRunning StepStatus = "running"
	StepDone    StepStatus = "done"
	StepFailed  StepStatus = "failed"
	StepAborted StepStatus = "aborted"
	StepSkipped StepStatus = "skipped"
)

// StepState is one step's progress.
type StepState struct {
	Status  StepStatus `json:"status"`
	Started time.Time  `json:"started,omitzero"`
	Ended   time.Time  `json:"ended,omitzero"`
	// AttemptStarted is where the step's timeout counts from. It restarts
	// when the step is re-issued after a pause or a resume, so time spent
	// held or with no orchestrator alive is not charged to the step.
	AttemptStarted time.Time `json:"attempt_started,omitzero"`
	// LastIssued is when the command was last handed to the driver.
	LastIssued time.Time `json:"last_issued,omitzero"`
	// Attempts counts issues of the step's command.
	Attempts int `json:"attempts,omitempty"`
	// Emitted is true once the step's actions of the current attempt went
	// to the driver; only observations after that may satisfy its gate.
	// Restore clears it, so a resumed orchestrator re-issues the step.
	Emitted bool `json:"emitted,omitempty"`
	// Acked is true once any attempt of the command succeeded.
	Acked     bool   `json:"acked,omitempty"`
	LastError string `json:"last_error,omitempty"`
	// Observed is the latest observation that kept the gate closed, quoted
	// when the step times out.
	Observed string `json:"observed,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// Note records a decision the step took, e.g. a change of meta order.
	Note string `json:"note,omitempty"`
	// Before is the node's primary count (migrate) or secondary count
	// (downgrade) when the step began, Left the count at the latest
	// observation: the step moved Before-Left.
	Before int `json:"before,omitempty"`
	Left   int `json:"left,omitempty"`
	// Blocked says why a drain cannot go on until the cluster repairs a
	// partition elsewhere; BlockedSince is when it was last seen so
	// (zero when not), BlockedFor the time blocked before that in this
	// attempt. Blocked time is not charged to the step's timeout (see
	// drain.go).
	Blocked      string        `json:"blocked,omitempty"`
	BlockedSince time.Time     `json:"blocked_since,omitzero"`
	BlockedFor   time.Duration `json:"blocked_for,omitempty"`
	// ErrorsAtStart and ErrorsAtEnd sample the roll's client error counter.
	ErrorsAtStart uint64 `json:"errors_at_start,omitempty"`
	ErrorsAtEnd   uint64 `json:"errors_at_end,omitempty"`
}

// Hold is a reason to pause.
type Hold struct {
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
	// RecoveringSince is when availability was last seen back at or above
	// the threshold, for a breach hold; zero while it is below.
	RecoveringSince time.Time `json:"recovering_since,omitzero"`
}

// StoppedNode is a server the roll stopped and has not started again.
type StoppedNode struct {
	Node string `json:"node"`
	Role Role   `json:"role"`
}

// State is everything a Machine knows. It marshals to JSON as is; a driver
// stores it after every Next and hands it to Restore after a crash.
type State struct {
	Format int  `json:"format"`
	Plan   Plan `json:"plan"`
	// Cleanup holds the steps added when the roll failed or was aborted.
	// Steps numbers Plan.Steps then Cleanup.
	Cleanup []Step      `json:"cleanup,omitempty"`
	Steps   []StepState `json:"steps"`
	Current int         `json:"current"` // index into Steps; len(Steps) once all ran
	Status  Status      `json:"status"`
	// Outcome is the terminal status cleanup leads to (failed or aborted).
	Outcome Status    `json:"outcome,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Started time.Time `json:"started,omitzero"`
	Ended   time.Time `json:"ended,omitzero"`

	Touched []KnobChange  `json:"touched,omitempty"`
	Stopped []StoppedNode `json:"stopped,omitempty"`

	OperatorHold *Hold `json:"operator_hold,omitempty"`
	BreachHold   *Hold `json:"breach_hold,omitempty"`
	// Halt is the SLO gate's hold: it lifts only on an operator's resume
	// (or becomes a rollback, with AutoRollback). SLOBreach is a breach
	// being watched, not yet sustained long enough to halt.
	Halt      *Hold `json:"halt,omitempty"`
	SLOBreach *Hold `json:"slo_breach,omitempty"`
	// Baseline is what clients saw before the roll; BaselineSamples are
	// the reports it is computed from while it is measured; LastTrafficAt
	// is the scrape the last table rows came from.
	Baseline        *Baseline   `json:"baseline,omitempty"`
	BaselineSamples []sloSample `json:"baseline_samples,omitempty"`
	LastTrafficAt   time.Time   `json:"last_traffic_at,omitzero"`
	// RollbackRequested is why a rollback was asked for; it starts at
	// the next node boundary.
	RollbackRequested string `json:"rollback_requested,omitempty"`

	// ClientErrors accumulates the collector's error counter across
	// collector restarts; LastCollectorErrors is its latest raw reading.
	ClientErrors        uint64  `json:"client_errors"`
	LastCollectorErrors *uint64 `json:"last_collector_errors,omitempty"`

	// Nodes is the latest `nodes -d` seen, for the counts a step starts from.
	Nodes map[string]NodeStatus `json:"nodes,omitempty"`
	// Partitions is the latest partition view seen: the handovers that put
	// primaries back are computed from it.
	Partitions []PartitionView `json:"partitions,omitempty"`
}

// clone returns a deep copy, so a caller holding a State cannot change the
// machine and the machine cannot change a stored State.
func (s State) clone() State {
	c := s
	c.Plan.Options.Nodes = slices.Clone(s.Plan.Options.Nodes)
	c.Plan.Options.Timeouts = maps.Clone(s.Plan.Options.Timeouts)
	c.Plan.Replicas = slices.Clone(s.Plan.Replicas)
	c.Plan.Metas = slices.Clone(s.Plan.Metas)
	c.Plan.Steps = slices.Clone(s.Plan.Steps)
	c.Cleanup = slices.Clone(s.Cleanup)
	c.Steps = slices.Clone(s.Steps)
	c.Touched = slices.Clone(s.Touched)
	c.Stopped = slices.Clone(s.Stopped)
	if s.OperatorHold != nil {
		h := *s.OperatorHold
		c.OperatorHold = &h
	}
	if s.BreachHold != nil {
		h := *s.BreachHold
		c.BreachHold = &h
	}
	for _, h := range []**Hold{&c.Halt, &c.SLOBreach} {
		if *h != nil {
			v := **h
			*h = &v
		}
	}
	if s.Baseline != nil {
		b := *s.Baseline
		b.Tables = maps.Clone(s.Baseline.Tables)
		c.Baseline = &b
	}
	c.BaselineSamples = slices.Clone(s.BaselineSamples)
	if s.LastCollectorErrors != nil {
		v := *s.LastCollectorErrors
		c.LastCollectorErrors = &v
	}
	c.Nodes = maps.Clone(s.Nodes)
	c.Partitions = slices.Clone(s.Partitions)
	c.Plan.Primaries = maps.Clone(s.Plan.Primaries)
	return c
}

// step returns the i-th step of the plan followed by cleanup.
func (s *State) step(i int) Step {
	if i < len(s.Plan.Steps) {
		return s.Plan.Steps[i]
	}
	return s.Cleanup[i-len(s.Plan.Steps)]
}

// Restore rebuilds a machine from a stored State, typically in a new
// orchestrator after the previous one died. The current step is re-issued
// at the next call to Next, with a fresh timeout: its command may or may
// not have run, and every command is safe to repeat (see ActionKind).
func Restore(s State) (*Machine, error) {
	if s.Format != stateFormat {
		return nil, fmt.Errorf("%w: format %d, want %d", ErrInvalidState, s.Format, stateFormat)
	}
	if len(s.Steps) != len(s.Plan.Steps)+len(s.Cleanup) {
		return nil, fmt.Errorf("%w: %d step states for %d steps", ErrInvalidState,
			len(s.Steps), len(s.Plan.Steps)+len(s.Cleanup))
	}
	if s.Current < 0 || s.Current > len(s.Steps) {
		return nil, fmt.Errorf("%w: current step %d of %d", ErrInvalidState, s.Current, len(s.Steps))
	}
	switch s.Status {
	case StatusPending, StatusRunning, StatusPausing, StatusPaused, StatusCleanup, StatusRollingBack,
		StatusSucceeded, StatusFailed, StatusAborted, StatusRolledBack:
	default:
		return nil, fmt.Errorf("%w: status %q", ErrInvalidState, s.Status)
	}
	m := &Machine{s: s.clone()}
	if m.s.Current < len(m.s.Steps) {
		m.s.Steps[m.s.Current].Emitted = false
	}
	return m, nil
}
