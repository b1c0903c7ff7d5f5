package collector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// MaxProgressBytes bounds one POST to /api/rolling: a progress carries a
// row per server of the cluster.
const MaxProgressBytes = 1 << 20

// RollingProgress is what the rolling-update orchestrator POSTs to
// /api/rolling after every step change. Only Status is required. Fields
// the collector does not know are kept and shown raw, so the orchestrator
// may send more than this.
type RollingProgress struct {
	// Cluster names the cluster being rolled.
	Cluster string `json:"cluster,omitempty"`
	// Status is the roll's status (running, paused, succeeded, ...).
	Status string `json:"status"`
	// Phase is the part of the plan the roll is in (prepare, replica,
	// meta, collector, finish, ...).
	Phase string `json:"phase,omitempty"`
	// Node and Role name the server the current step acts on; empty for
	// cluster-wide steps.
	Node string `json:"node,omitempty"`
	Role string `json:"role,omitempty"`
	// Step describes the current step ("migrate primaries off 10.0.0.3:34801").
	Step string `json:"step,omitempty"`
	// StepIndex (from 1) and StepCount place the step in the plan.
	StepIndex int `json:"step_index,omitempty"`
	StepCount int `json:"step_count,omitempty"`
	// Started is when the roll began, StepStarted when the step did.
	Started     time.Time `json:"started,omitzero"`
	StepStarted time.Time `json:"step_started,omitzero"`
	// Observed is what keeps the current step waiting ("3 primaries
	// left"), as its gate last saw it.
	Observed string `json:"observed,omitempty"`
	// Reason explains a pause or a failure.
	Reason string `json:"reason,omitempty"`
	// Report accounts for every server of the roll so far.
	Report *RollingReport `json:"report,omitempty"`
}

// RollingReport is the per-server account of a roll.
type RollingReport struct {
	ClientErrors uint64           `json:"client_errors"`
	Nodes        []RollingNodeRow `json:"nodes"`
}

// RollingNodeRow is what restarting one server cost: Result is done,
// running, pending, failed, ...; DownMS is how long it did not serve and
// ToHealthyMS how long until every partition was whole again.
type RollingNodeRow struct {
	Node                  string `json:"node"`
	Role                  string `json:"role"`
	Result                string `json:"result"`
	DownMS                int64  `json:"down_ms"`
	ToHealthyMS           int64  `json:"to_healthy_ms"`
	PrimariesMoved        int    `json:"primaries_moved"`
	SecondariesDowngraded int    `json:"secondaries_downgraded"`
	ClientErrors          uint64 `json:"client_errors"`
}

// RollingView answers GET /api/rolling: the latest progress received, or
// a null progress when none was.
type RollingView struct {
	Progress   *RollingProgress `json:"progress"`
	Raw        json.RawMessage  `json:"raw,omitempty"`
	ReceivedAt time.Time        `json:"received_at,omitzero"`
	// AgeSeconds is how long ago the progress was received: an orchestrator
	// that died mid-roll leaves a progress that only ages.
	AgeSeconds float64 `json:"age_seconds"`
	// ElapsedSeconds and StepElapsedSeconds count from Started and
	// StepStarted to now; 0 when those are not set.
	ElapsedSeconds     float64 `json:"elapsed_seconds"`
	StepElapsedSeconds float64 `json:"step_elapsed_seconds"`
	// StepCounter places the roll in its plan for the page: "4/43" while
	// step 4 runs, "43/43" once the roll succeeded, "0/43" before it
	// started, "" when the roll stopped (failed, aborted) or the report
	// has no plan.
	StepCounter string `json:"step_counter"`
}

// stepCounter is RollingView.StepCounter of p.
func stepCounter(p RollingProgress) string {
	switch {
	case p.StepCount == 0:
		return ""
	case p.StepIndex > 0:
		return fmt.Sprintf("%d/%d", p.StepIndex, p.StepCount)
	case p.Status == "succeeded":
		return fmt.Sprintf("%d/%d", p.StepCount, p.StepCount)
	case p.Status == "pending":
		return fmt.Sprintf("0/%d", p.StepCount)
	}
	// Failed or aborted after its last step, or between steps: the
	// report does not say where, and "0/N" would say it never started.
	return ""
}

// shellRole names a role as the shell and the orchestrator's report do.
func shellRole(role string) string {
	switch role {
	case "replica":
		return "replica-server"
	case "meta":
		return "meta-server"
	}
	return role
}

// rollingBoard keeps the latest rolling-update progress.
type rollingBoard struct {
	mu         sync.Mutex
	progress   *RollingProgress
	raw        json.RawMessage
	receivedAt time.Time
}

// post validates and stores a progress report received at now.
func (b *rollingBoard) post(body []byte, now time.Time) error {
	if len(body) > MaxProgressBytes {
		return fmt.Errorf("%w: %d bytes, at most %d", ErrBadProgress, len(body), MaxProgressBytes)
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return fmt.Errorf("%w: not a JSON object", ErrBadProgress)
	}
	var p RollingProgress
	if err := json.Unmarshal(trimmed, &p); err != nil {
		return fmt.Errorf("%w: %w", ErrBadProgress, err)
	}
	if p.Status == "" {
		return fmt.Errorf("%w: status is missing", ErrBadProgress)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, trimmed); err != nil {
		return fmt.Errorf("%w: %w", ErrBadProgress, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.progress, b.raw, b.receivedAt = &p, compact.Bytes(), now
	return nil
}

func (b *rollingBoard) view(now time.Time) RollingView {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.progress == nil {
		return RollingView{}
	}
	p := *b.progress
	p.Role = shellRole(p.Role)
	if p.Report != nil {
		r := *p.Report
		r.Nodes = append([]RollingNodeRow(nil), r.Nodes...)
		for i := range r.Nodes {
			r.Nodes[i].Role = shellRole(r.Nodes[i].Role)
		}
		p.Report = &r
	}
	v := RollingView{Progress: &p, Raw: b.raw, ReceivedAt: b.receivedAt, AgeSeconds: now.Sub(b.receivedAt).Seconds(),
		StepCounter: stepCounter(p)}
	if !p.Started.IsZero() {
		v.ElapsedSeconds = max(0, now.Sub(p.Started).Seconds())
	}
	if !p.StepStarted.IsZero() {
		v.StepElapsedSeconds = max(0, now.Sub(p.StepStarted).Seconds())
	}
	return v
}
