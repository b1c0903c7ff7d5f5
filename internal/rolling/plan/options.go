package plan

import (
	"fmt"
	"maps"
	"time"
)

// Mode selects between the Pegasus guide's two procedures.
type Mode string

const (
	// ModeHA is the high-availability procedure: primaries are moved and
	// secondaries downgraded before a replica server stops, so clients see
	// a sub-second reconfiguration instead of a failure-detector timeout.
	ModeHA Mode = "ha"
	// ModeSimple is the guide's simplified procedure: stop, start, wait for
	// health. Clients of the stopped node's primaries fail over only after
	// the meta server's grace period.
	ModeSimple Mode = "simple"
)

// Timeout bounds one step: Base plus PerPartition for every partition
// replica the step's node hosts, because moving, flushing and re-learning
// all grow with the number of replicas.
type Timeout struct {
	Base         time.Duration `json:"base"`
	PerPartition time.Duration `json:"per_partition"`
}

// For returns the timeout of a step on a node hosting partitions replicas.
func (t Timeout) For(partitions int) time.Duration {
	return t.Base + time.Duration(partitions)*t.PerPartition
}

// DefaultTimeouts returns the timeout of every step kind. They replace
// the Pegasus scripts' fixed sleeps and their "carry on after ~30 s"
// loops: here a step that overruns fails the roll.
func DefaultTimeouts() map[StepKind]Timeout {
	return map[StepKind]Timeout{
		KindCheckHealthy:  {Base: time.Minute},
		KindSetMetaLevel:  {Base: 30 * time.Second},
		KindSetKnob:       {Base: 30 * time.Second},
		KindMigrate:       {Base: 30 * time.Second, PerPartition: 200 * time.Millisecond},
		KindDowngrade:     {Base: 30 * time.Second, PerPartition: 200 * time.Millisecond},
		KindCloseReplicas: {Base: time.Minute, PerPartition: 200 * time.Millisecond},
		KindStop:          {Base: time.Minute},
		KindInstall:       {Base: 2 * time.Minute},
		KindStart:         {Base: time.Minute},
		// A restarted replica server replays its log before its first
		// beacon; the flush before the stop keeps that short.
		KindWaitAlive: {Base: time.Minute, PerPartition: 100 * time.Millisecond},
		// Every replica the node hosted re-learns what it missed.
		KindWaitHealthy:   {Base: 2 * time.Minute, PerPartition: time.Second},
		KindCheckMetaRole: {Base: 30 * time.Second},
		// Replica servers beacon every 3 s; a minute is twenty chances.
		KindWaitMetaReady: {Base: time.Minute},
		KindWaitCollector: {Base: time.Minute},
		// Handovers, as migrate_node's.
		KindRestorePrimaries: {Base: 30 * time.Second, PerPartition: 200 * time.Millisecond},
		// Past the baseline window or the bake time by this much, the
		// collector is not reporting.
		KindBaseline: {Base: time.Minute},
		// The layout changes only with a failure: a batch that does not
		// fit fails the roll with nothing of it touched.
		KindCheckBatch: {Base: 30 * time.Second},
		KindBake:       {Base: time.Minute},
	}
}

// Options shape a plan.
type Options struct {
	// Mode is ModeHA (default) or ModeSimple.
	Mode Mode `json:"mode"`
	// Nodes restricts the roll to these servers (any role); empty means
	// every server. Order does not matter: replica servers go in snapshot
	// order, meta servers followers first, then the collector.
	Nodes []string `json:"nodes,omitempty"`
	// Upgrade adds an install step (new binary and configuration) between
	// each stop and start, and requires Snapshot.NewVersion.
	Upgrade bool `json:"upgrade"`
	// Timeouts overrides DefaultTimeouts per step kind.
	Timeouts map[StepKind]Timeout `json:"timeouts,omitempty"`
	// ResendInterval is how long a step waits before re-issuing its command
	// when the command failed or its effect has not shown yet (the guide's
	// "if it doesn't change to 0 for a long time, execute again"). Default 10 s.
	ResendInterval time.Duration `json:"resend_interval"`
	// MaintenanceWindow is set as meta.lb.assign_delay_ms in HA mode: how
	// long the meta server leaves a partition one replica short before it
	// copies the replica to another node. Default one hour, as in the guide.
	MaintenanceWindow time.Duration `json:"maintenance_window"`
	// AddSecondaryMaxCount is set as
	// meta.lb.add_secondary_max_count_for_one_node once a restarted replica
	// server is alive again, so its replicas are re-added quickly. Default
	// 100, as in the guide.
	AddSecondaryMaxCount int `json:"add_secondary_max_count"`
	// MinAvailability pauses the roll while the collector's availability is
	// below it. Zero disables pausing.
	MinAvailability float64 `json:"min_availability"`
	// BreachRecovery is how long availability must stay at or above
	// MinAvailability before a paused roll continues by itself, so one good
	// probe does not end a pause. Default 30 s.
	BreachRecovery time.Duration `json:"breach_recovery"`
	// SLO gates what clients see against a baseline measured before the
	// roll (see SLO); on by default whenever a collector is given.
	SLO SLO `json:"slo"`
	// CanaryBake is how long the roll watches the SLO after the first
	// replica server, the canary, before it goes on. Default 60 s when the
	// SLO gate is on and more than one replica server restarts; negative
	// for none.
	CanaryBake time.Duration `json:"canary_bake"`
	// AutoRollback takes the nodes already upgraded back to the previous
	// binary and configuration when the SLO gate halts the roll, instead
	// of holding it for an operator.
	AutoRollback bool `json:"auto_rollback,omitempty"`
	// Parallel restarts up to this many replica servers at once, all in
	// one zone and no two holding a replica of the same partition (see
	// batches). Default 1.
	Parallel int `json:"parallel,omitempty"`
	// AllowSingleMeta lets the roll restart a cluster's only meta server,
	// accepting that requests fail while it is down.
	AllowSingleMeta bool `json:"allow_single_meta,omitempty"`
	// RollID names the roll in the owner of the knob overrides it sets
	// ("rolling-update <RollID>"); the driver picks it.
	RollID string `json:"roll_id,omitempty"`
	// KnobLease is how long the roll's knob overrides last unless renewed:
	// the orchestrator renews them while it runs, so an orchestrator that
	// died (and is not resumed) leaves them for at most this long. Default
	// 2 minutes.
	KnobLease time.Duration `json:"knob_lease"`
}

// Owner is the owner the roll's knob overrides carry.
func (o Options) Owner() string {
	if o.RollID == "" {
		return OwnerPrefix
	}
	return OwnerPrefix + " " + o.RollID
}

// withDefaults fills zero fields and merges Timeouts over DefaultTimeouts,
// so the stored plan states every value it runs with.
func (o Options) withDefaults() Options {
	if o.Mode == "" {
		o.Mode = ModeHA
	}
	if o.ResendInterval == 0 {
		o.ResendInterval = 10 * time.Second
	}
	if o.MaintenanceWindow == 0 {
		o.MaintenanceWindow = time.Hour
	}
	if o.AddSecondaryMaxCount == 0 {
		o.AddSecondaryMaxCount = 100
	}
	if o.BreachRecovery == 0 {
		o.BreachRecovery = 30 * time.Second
	}
	if o.KnobLease == 0 {
		o.KnobLease = 2 * time.Minute
	}
	o.SLO = o.SLO.withDefaults()
	if o.CanaryBake == 0 {
		o.CanaryBake = time.Minute
	}
	timeouts := DefaultTimeouts()
	maps.Copy(timeouts, o.Timeouts)
	o.Timeouts = timeouts
	o.Nodes = append([]string(nil), o.Nodes...)
	return o
}

func (o Options) validate() error {
	switch o.Mode {
	case ModeHA, ModeSimple:
	default:
		return fmt.Errorf("%w: mode %q (want %q or %q)", ErrInvalidOptions, o.Mode, ModeHA, ModeSimple)
	}
	if o.ResendInterval < 0 || o.MaintenanceWindow < 0 || o.BreachRecovery < 0 || o.KnobLease < 0 {
		return fmt.Errorf("%w: negative duration", ErrInvalidOptions)
	}
	if o.MaintenanceWindow%time.Millisecond != 0 {
		return fmt.Errorf("%w: maintenance window %v is not whole milliseconds", ErrInvalidOptions, o.MaintenanceWindow)
	}
	if o.Parallel < 0 {
		return fmt.Errorf("%w: parallel %d", ErrInvalidOptions, o.Parallel)
	}
	if o.AddSecondaryMaxCount < 0 {
		// Zero is replaced by the default; a negative count is a typo.
		return fmt.Errorf("%w: add_secondary_max_count %d", ErrInvalidOptions, o.AddSecondaryMaxCount)
	}
	if o.MinAvailability < 0 || o.MinAvailability > 1 {
		return fmt.Errorf("%w: min availability %v outside [0,1]", ErrInvalidOptions, o.MinAvailability)
	}
	if err := o.SLO.validate(); err != nil {
		return err
	}
	for kind, t := range o.Timeouts {
		if t.Base <= 0 || t.PerPartition < 0 {
			return fmt.Errorf("%w: timeout of %s must have a positive base", ErrInvalidOptions, kind)
		}
	}
	return nil
}
