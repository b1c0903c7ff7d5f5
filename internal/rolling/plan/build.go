package plan

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Plan is the ordered list of steps of one roll and the facts they were
// built from. It is stored inside State, so a resumed roll runs the plan
// it started with even if the cluster changed meanwhile.
type Plan struct {
	Options Options `json:"options"`
	// Cluster is the cluster's name; every restarted meta server must
	// serve it.
	Cluster string `json:"cluster,omitempty"`
	// Replicas lists every replica server of the cluster, selected or not:
	// health and beacon gates count all of them.
	Replicas  []string `json:"replicas"`
	Metas     []string `json:"metas"`
	Leader    string   `json:"leader"`
	Collector string   `json:"collector,omitempty"`
	// MetaLevel is the meta function level before the roll, restored at
	// its end.
	MetaLevel string `json:"meta_level"`
	// Notes are what the planner found worth telling before the roll
	// starts (an override left by an earlier roll, reset at the end).
	Notes      []string `json:"notes,omitempty"`
	NewVersion string   `json:"new_version,omitempty"`
	// OldVersion is the protocol the cluster spoke before an upgrade,
	// what a rollback installs back.
	OldVersion string `json:"old_version,omitempty"`
	// RollbackBlocked says why the upgrade cannot be rolled back (the
	// previous binary cannot read the new on-disk formats); empty when it
	// can.
	RollbackBlocked string `json:"rollback_blocked,omitempty"`
	Tables          int    `json:"tables"`
	Partitions      int    `json:"partitions"`
	// Batches are the replica servers restarted together, in order (one
	// each unless Options.Parallel).
	Batches [][]string `json:"batches,omitempty"`
	// Moves predicts, per replica server, where its drain hands its
	// primaries (ha mode; see expectedMoves). Shown by a dry run; the
	// roll itself follows the meta server's choices.
	Moves map[string][]PrimaryMove `json:"moves,omitempty"`
	// Primaries lists, per replica server, the partitions it led before
	// the roll: after the last replica server they are handed back, so the
	// roll ends with primaries where they were (migrate_node alone would
	// leave them on the servers restarted last).
	Primaries map[string][]string `json:"primaries,omitempty"`
	Steps     []Step              `json:"steps"`
}

// Build checks the snapshot and options and returns the plan. It refuses
// (with an error wrapping one of the package's sentinels) a snapshot with
// a server down or no single meta leader, an unknown node in the subset,
// an upgrade whose protocol is incompatible with any running server, an
// availability already below the pause threshold, and a maintenance
// window shorter than a replica server's downtime budget.
//
// The high-availability plan is:
//
//	prepare:  check-healthy; set_meta_level steady; assign_delay_ms = window
//	each replica server, in snapshot order:
//	          add_secondary_max 0; migrate_node; downgrade_node;
//	          replica.kill_partition; stop; [install]; start; wait ALIVE;
//	          add_secondary_max N; wait fully healthy
//	each meta server, followers first, leader last:
//	          check role; stop; [install]; start; wait until up and the
//	          leader has beacons from all replicas
//	collector: stop; [install]; start; wait reporting
//	reset:    add_secondary_max and assign_delay_ms back; meta level back
//
// The simple plan keeps set_meta_level steady and, per replica server,
// stop; [install]; start; wait ALIVE; wait fully healthy.
func Build(s Snapshot, o Options) (Plan, error) {
	if err := s.validate(); err != nil {
		return Plan{}, err
	}
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return Plan{}, err
	}
	if down := s.downNodes(); len(down) > 0 {
		return Plan{}, fmt.Errorf("%w: %s", ErrNodeDown, strings.Join(down, ", "))
	}
	scope, err := selectNodes(s, o.Nodes)
	if err != nil {
		return Plan{}, err
	}
	if o.Upgrade {
		if err := checkCompatibility(s); err != nil {
			return Plan{}, err
		}
	}
	if err := checkMetaRestarts(s, o, scope); err != nil {
		return Plan{}, err
	}
	if err := checkTwoReplicaTables(s, o, scope); err != nil {
		return Plan{}, err
	}
	if o.MinAvailability > 0 && s.Collector == nil {
		// Silently never pausing would be worse than refusing.
		return Plan{}, fmt.Errorf("%w: min availability %s needs a collector to measure it",
			ErrInvalidOptions, percent(o.MinAvailability))
	}
	if o.MinAvailability > 0 && s.Availability != nil && *s.Availability < o.MinAvailability {
		return Plan{}, fmt.Errorf("%w: %s < %s", ErrAvailabilityLow,
			percent(*s.Availability), percent(o.MinAvailability))
	}
	level, _ := normalizeMetaLevel(s.MetaLevel) // validated above
	if level == "" {
		level = "steady"
	}

	p := Plan{Options: o, Cluster: s.Cluster, MetaLevel: level, Tables: len(s.Tables)}
	if o.Upgrade {
		p.NewVersion = s.NewVersion
		for _, m := range s.Metas {
			if m.Leader {
				p.OldVersion = m.Version
			}
		}
		p.RollbackBlocked = s.RollbackBlocked
	}
	if s.Collector != nil {
		p.Collector = s.Collector.Node
	}
	if err := checkAutoRollback(p); err != nil {
		return Plan{}, err
	}
	for _, t := range s.Tables {
		p.Partitions += t.PartitionCount
	}
	for _, r := range s.Replicas {
		p.Replicas = append(p.Replicas, r.Node)
	}
	for _, m := range s.Metas {
		p.Metas = append(p.Metas, m.Node)
		if m.Leader {
			p.Leader = m.Node
		}
	}

	b := builder{plan: &p, opts: o, snapshot: s}
	for _, k := range []string{KnobMetaLevel, KnobAssignDelay, KnobAddSecondaryMax} {
		if ks := s.Knobs[k]; ks.LeftByRoll() {
			p.Notes = append(p.Notes, fmt.Sprintf("%s = %s was left by %s, a roll that did not finish; "+
				"the configuration's value is restored at the end", k, ks.Value, ks.Owner))
		}
	}
	var replicas []ReplicaServer
	for _, r := range s.Replicas {
		if scope[r.Node] {
			replicas = append(replicas, r)
		}
	}

	// The cluster must be whole before anything is taken out of it.
	b.add(Step{Kind: KindCheckHealthy, Phase: PhasePrepare, Holdable: true})
	if p.sloActive() {
		b.add(Step{Kind: KindBaseline, Phase: PhasePrepare, Holdable: true})
	}
	if len(replicas) > 0 {
		// Steady: no balancer moves while nodes come and go.
		b.add(b.set(KindSetMetaLevel, KnobMetaLevel, "steady", Step{Phase: PhasePrepare, Holdable: true}))
		if o.Mode == ModeHA {
			// One node's maintenance window: the meta server leaves its
			// partitions one replica short this long before copying them
			// elsewhere, so a restart costs no cross-node data copy.
			b.add(b.set(KindSetKnob, KnobAssignDelay, strconv.FormatInt(o.MaintenanceWindow.Milliseconds(), 10),
				Step{Phase: PhasePrepare, Holdable: true}))
		}
	}
	bake := len(replicas) > 1 && p.sloActive() && o.CanaryBake > 0
	p.Batches = batches(replicas, s.Partitions, o.Parallel, bake)
	if o.Mode == ModeHA {
		p.Moves = expectedMoves(s.Partitions, p.Batches)
	}
	for i, batch := range p.Batches {
		var rs []ReplicaServer
		for _, n := range batch {
			for _, r := range replicas {
				if r.Node == n {
					rs = append(rs, r)
				}
			}
		}
		number := 0
		if len(rs) > 1 {
			number = i + 1
		}
		if o.Mode == ModeHA {
			b.batchHA(rs, number)
		} else {
			b.batchSimple(rs, number)
		}
		if i == 0 && bake {
			// The first node is the canary: the clients' view is watched
			// before any other node goes.
			b.add(Step{Kind: KindBake, Phase: PhaseReplica, Role: RoleReplica, Node: rs[0].Node, Holdable: true})
		}
	}
	if len(replicas) > 0 {
		b.restorePrimaries()
	}
	// Followers first, the leader last: leadership then moves once.
	for _, m := range s.Metas {
		if scope[m.Node] && !m.Leader {
			b.meta(m.Node)
		}
	}
	if scope[p.Leader] {
		b.meta(p.Leader)
	}
	if s.Collector != nil && scope[s.Collector.Node] {
		b.collector(s.Collector.Node)
	}
	if len(replicas) > 0 {
		// Undo in the reverse order of the changes.
		if o.Mode == ModeHA {
			b.add(b.reset(KindSetKnob, KnobAddSecondaryMax))
			b.add(b.reset(KindSetKnob, KnobAssignDelay))
		}
		b.add(b.reset(KindSetMetaLevel, KnobMetaLevel))
	}

	if o.Mode == ModeHA && len(replicas) > 0 {
		if budget, node := b.downtimeBudget(replicas); budget > o.MaintenanceWindow {
			return Plan{}, fmt.Errorf("%w: %v < %v for %s (raise the window or lower the step timeouts)",
				ErrWindowTooShort, o.MaintenanceWindow, budget, node)
		}
	}
	return p, nil
}

// checkAutoRollback refuses an automatic rollback that could never
// happen or could not work: without an upgrade there is nothing to roll
// back, without the SLO gate nothing triggers it, and a previous binary
// that cannot read the new on-disk formats cannot take a node back.
func checkAutoRollback(p Plan) error {
	o := p.Options
	switch {
	case !o.AutoRollback:
		return nil
	case !o.Upgrade:
		return fmt.Errorf("%w: --auto-rollback needs an upgrade (--binary or --config-dir) to roll back", ErrInvalidOptions)
	case !p.sloActive():
		return fmt.Errorf("%w: --auto-rollback needs the SLO gate (a collector, SLO not off)", ErrInvalidOptions)
	case p.RollbackBlocked != "":
		return fmt.Errorf("%w: %s", ErrRollbackBlocked, p.RollbackBlocked)
	}
	return nil
}

// checkMetaRestarts refuses meta server restarts that take the cluster
// down: the only meta server (unless allowed), and one running the
// cluster's etcd inside its own process.
func checkMetaRestarts(s Snapshot, o Options, scope map[string]bool) error {
	for _, m := range s.Metas {
		if !scope[m.Node] {
			continue
		}
		if m.EmbeddedEtcd {
			return fmt.Errorf("%w: meta server %s runs the cluster's etcd inside its own process, so its restart "+
				"takes the metadata store and the roll's own state down; run etcd on its own (--etcd-endpoints) "+
				"or leave %s out with --nodes", ErrEmbeddedEtcd, m.Node, m.Node)
		}
		if len(s.Metas) == 1 && !o.AllowSingleMeta {
			return fmt.Errorf("%w: %s has no standby; while it restarts replica leases run out and requests "+
				"fail; add a meta server, leave it out with --nodes, or accept that with --allow-single-meta",
				ErrSingleMeta, m.Node)
		}
	}
	return nil
}

// selectNodes resolves the subset; empty means every server.
// checkTwoReplicaTables refuses an HA roll of a replica server holding a
// partition of a table with two replicas: downgrade_node would leave its
// writes on one copy, which the meta server refuses, so the roll would
// fail at that node's drain after moving its primaries. Said up front,
// with what the operator can do instead.
func checkTwoReplicaTables(s Snapshot, o Options, scope map[string]bool) error {
	if o.Mode != ModeHA {
		return nil
	}
	byTable := make(map[string][]string)
	var tables []string
	for _, p := range s.Partitions {
		if p.MaxReplicas != 2 {
			continue
		}
		for _, r := range s.Replicas {
			if scope[r.Node] && p.Holds(r.Node) {
				t := cmp.Or(p.Table, p.Gpid)
				if byTable[t] == nil {
					tables = append(tables, t)
				}
				byTable[t] = append(byTable[t], p.Gpid)
				break
			}
		}
	}
	if len(tables) == 0 {
		return nil
	}
	var parts []string
	for _, t := range tables {
		parts = append(parts, fmt.Sprintf("%s (partitions %s)", t, strings.Join(byTable[t], ", ")))
	}
	return fmt.Errorf("%w: %s; downgrade_node would leave their writes on one copy, which the meta server refuses. "+
		"Raise their replica count first, or restart with --mode simple (their requests wait for each node's restart)",
		ErrTwoReplicaTable, strings.Join(parts, "; "))
}

func selectNodes(s Snapshot, subset []string) (map[string]bool, error) {
	all := make(map[string]bool)
	for _, m := range s.Metas {
		all[m.Node] = true
	}
	for _, r := range s.Replicas {
		all[r.Node] = true
	}
	if s.Collector != nil {
		all[s.Collector.Node] = true
	}
	if len(subset) == 0 {
		return all, nil
	}
	scope := make(map[string]bool)
	var unknown []string
	for _, n := range subset {
		if !all[n] {
			unknown = append(unknown, n)
			continue
		}
		scope[n] = true
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrUnknownNode, strings.Join(unknown, ", "))
	}
	if len(scope) == 0 {
		return nil, ErrEmptyScope
	}
	return scope, nil
}

type builder struct {
	plan     *Plan
	opts     Options
	snapshot Snapshot
	// restoreOf, when set, gives each knob's restore value (a rollback
	// built by the machine, which has no snapshot).
	restoreOf map[string]KnobChange
	// rollback: install steps put the previous version back.
	rollback bool
}

func (b *builder) add(s Step) {
	s.Timeout = b.opts.Timeouts[s.Kind].For(s.Partitions)
	switch s.Kind {
	case KindBaseline:
		s.Timeout += b.opts.SLO.BaselineWindow
	case KindBake:
		s.Timeout += b.opts.CanaryBake
	}
	b.plan.Steps = append(b.plan.Steps, s)
}

// restore is what undoes the roll's change of knob: the override it found,
// with its owner, when an operator (or another tool) had set one; else
// DEFAULT, which deletes the roll's override so the configuration file
// rules again. An override left by an earlier roll, or a knob whose state
// is unknown, is reset to DEFAULT too. For the meta level with unknown
// state the level before the roll is put back, as older meta servers do
// not report overrides and accept no DEFAULT level.
func (b *builder) restore(knob string) (value, owner string) {
	if b.restoreOf != nil {
		if k, ok := b.restoreOf[knob]; ok {
			return k.Restore, k.RestoreOwner
		}
	}
	ks, known := b.snapshot.Knobs[knob]
	switch {
	case known && ks.Overridden && !ks.LeftByRoll():
		return ks.Value, ks.Owner
	case !known && knob == KnobMetaLevel:
		return b.plan.MetaLevel, ""
	}
	return KnobDefault, ""
}

// set is a step of kind setting knob to value, restorable.
func (b *builder) set(kind StepKind, knob, value string, s Step) Step {
	s.Kind, s.Knob, s.Value = kind, knob, value
	s.Restore, s.RestoreOwner = b.restore(knob)
	return s
}

// reset is the reset-phase step putting knob back.
func (b *builder) reset(kind StepKind, knob string) Step {
	v, owner := b.restore(knob)
	return Step{Kind: kind, Phase: PhaseReset, Knob: knob, Value: v, Restore: v, RestoreOwner: owner}
}

func (b *builder) replicaHA(r ReplicaServer) { b.batchHA([]ReplicaServer{r}, 0) }

// batchHA restarts the replica servers of one batch together (see
// batches), interleaving their steps kind by kind: all are drained, all
// stop, all start. A batch of one is the guide's per-node procedure.
// batch numbers the batch from 1, 0 for a batch of one.
func (b *builder) batchHA(rs []ReplicaServer, batch int) {
	each := func(kind StepKind) {
		for _, r := range rs {
			b.add(Step{Kind: kind, Phase: PhaseReplica, Role: RoleReplica, Node: r.Node,
				Partitions: r.Partitions(), Batch: batch})
		}
	}
	first := rs[0].Node
	if len(rs) > 1 {
		// The layout may have moved since planning: the batch goes only if
		// its servers still share no partition.
		b.add(Step{Kind: KindCheckBatch, Phase: PhaseReplica, Role: RoleReplica, Node: first, Batch: batch,
			Holdable: true, Together: nodesOf(rs)})
	}
	// No re-replication while the nodes are emptied: their dropped
	// replicas must wait for them, not be copied elsewhere. This is the
	// batch's last holdable step: once the drain begins, its nodes go
	// through to fully healthy before a pause holds, so a pause never
	// keeps a node drained or stopped and the cap at 0.
	b.add(b.set(KindSetKnob, KnobAddSecondaryMax, "0",
		Step{Phase: PhaseReplica, Role: RoleReplica, Node: first, Holdable: len(rs) == 1, Batch: batch}))
	// Primaries first: a move to a caught-up secondary stalls clients for
	// milliseconds, where a killed primary stalls them for the failure
	// detector's grace period.
	each(KindMigrate)
	// Then secondaries, so no write waits on a member about to vanish.
	each(KindDowngrade)
	// Close (and so flush) every replica: less log to replay on start.
	each(KindCloseReplicas)
	each(KindStop)
	if b.opts.Upgrade {
		for _, r := range rs {
			b.add(Step{Kind: KindInstall, Phase: PhaseReplica, Role: RoleReplica, Node: r.Node,
				Version: b.plan.NewVersion, Rollback: b.rollback, Batch: batch})
		}
	}
	for _, r := range rs {
		b.add(Step{Kind: KindStart, Phase: PhaseReplica, Role: RoleReplica, Node: r.Node, Batch: batch})
	}
	each(KindWaitAlive)
	// Only once the nodes are back may their replicas be re-added, and
	// then quickly; the meta server re-adds them to these nodes because
	// each was its partitions' last drop and the window has not expired.
	b.add(b.set(KindSetKnob, KnobAddSecondaryMax, strconv.Itoa(b.opts.AddSecondaryMaxCount),
		Step{Phase: PhaseReplica, Role: RoleReplica, Node: first, Batch: batch}))
	each(KindWaitHealthy)
}

func nodesOf(rs []ReplicaServer) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Node
	}
	return out
}

// replicaBack brings a stopped replica server back: install, start, wait
// ALIVE, re-enable re-adding, wait fully healthy.
func (b *builder) replicaBack(r ReplicaServer) {
	n, parts := r.Node, r.Partitions()
	b.restartTail(RoleReplica, n, parts, PhaseReplica)
	b.add(Step{Kind: KindWaitAlive, Phase: PhaseReplica, Role: RoleReplica, Node: n, Partitions: parts})
	if b.opts.Mode == ModeHA {
		b.add(b.set(KindSetKnob, KnobAddSecondaryMax, strconv.Itoa(b.opts.AddSecondaryMaxCount),
			Step{Phase: PhaseReplica, Role: RoleReplica, Node: n}))
	}
	b.add(Step{Kind: KindWaitHealthy, Phase: PhaseReplica, Role: RoleReplica, Node: n, Partitions: parts})
}

func (b *builder) replicaSimple(r ReplicaServer) { b.batchSimple([]ReplicaServer{r}, 0) }

// batchSimple is the simple procedure for a batch: stop all, start all,
// wait.
func (b *builder) batchSimple(rs []ReplicaServer, batch int) {
	if len(rs) > 1 {
		b.add(Step{Kind: KindCheckBatch, Phase: PhaseReplica, Role: RoleReplica, Node: rs[0].Node, Batch: batch,
			Holdable: true, Together: nodesOf(rs)})
	}
	for i, r := range rs {
		b.add(Step{Kind: KindStop, Phase: PhaseReplica, Role: RoleReplica, Node: r.Node, Partitions: r.Partitions(),
			Holdable: i == 0 && len(rs) == 1, Batch: batch})
	}
	for _, r := range rs {
		if b.opts.Upgrade {
			b.add(Step{Kind: KindInstall, Phase: PhaseReplica, Role: RoleReplica, Node: r.Node,
				Version: b.plan.NewVersion, Rollback: b.rollback, Batch: batch})
		}
	}
	for _, r := range rs {
		b.add(Step{Kind: KindStart, Phase: PhaseReplica, Role: RoleReplica, Node: r.Node, Batch: batch})
	}
	for _, r := range rs {
		b.add(Step{Kind: KindWaitAlive, Phase: PhaseReplica, Role: RoleReplica, Node: r.Node, Partitions: r.Partitions(), Batch: batch})
	}
	for _, r := range rs {
		b.add(Step{Kind: KindWaitHealthy, Phase: PhaseReplica, Role: RoleReplica, Node: r.Node, Partitions: r.Partitions(), Batch: batch})
	}
}

// restartTail adds install (when upgrading) and start.
func (b *builder) restartTail(role Role, n string, parts int, phase Phase) {
	if b.opts.Upgrade {
		b.add(Step{Kind: KindInstall, Phase: phase, Role: role, Node: n, Version: b.plan.NewVersion, Rollback: b.rollback})
	}
	b.add(Step{Kind: KindStart, Phase: phase, Role: role, Node: n})
}

func (b *builder) meta(n string) {
	b.add(Step{Kind: KindCheckMetaRole, Phase: PhaseMeta, Role: RoleMeta, Node: n, Holdable: true})
	b.add(Step{Kind: KindStop, Phase: PhaseMeta, Role: RoleMeta, Node: n})
	b.restartTail(RoleMeta, n, 0, PhaseMeta)
	// Not a fixed 30 s sleep: done as soon as beacons flow, failed if they
	// do not.
	b.add(Step{Kind: KindWaitMetaReady, Phase: PhaseMeta, Role: RoleMeta, Node: n})
}

func (b *builder) collector(n string) {
	b.add(Step{Kind: KindStop, Phase: PhaseCollector, Role: RoleCollector, Node: n, Holdable: true})
	b.restartTail(RoleCollector, n, 0, PhaseCollector)
	b.add(Step{Kind: KindWaitCollector, Phase: PhaseCollector, Role: RoleCollector, Node: n})
}

// restorePrimaries records where every primary was and adds one step per
// replica server that led any: its primaries are handed back to it, one
// graceful handover each, as migrate_node made them. Every server that
// led a partition gets its step, restarted or not, since the drains of
// the others may have moved its primaries too.
func (b *builder) restorePrimaries() {
	p := b.plan
	for _, pv := range b.snapshot.Partitions {
		if pv.Primary == "" {
			continue
		}
		if p.Primaries == nil {
			p.Primaries = make(map[string][]string)
		}
		p.Primaries[pv.Primary] = append(p.Primaries[pv.Primary], pv.Gpid)
	}
	for _, node := range p.Replicas {
		if n := len(p.Primaries[node]); n > 0 {
			b.add(Step{Kind: KindRestorePrimaries, Phase: PhaseRestore, Role: RoleReplica, Node: node,
				Partitions: n, Holdable: true})
		}
	}
}

// downtimeBudget is the longest a replica server's replicas may stay
// dropped under this plan: from the downgrade that drops them until the
// node is alive and re-adding is switched back on. The meta server's
// window must cover it.
func (b *builder) downtimeBudget(replicas []ReplicaServer) (time.Duration, string) {
	var worst time.Duration
	var worstNode string
	for _, r := range replicas {
		var d time.Duration
		for _, k := range []StepKind{KindDowngrade, KindCloseReplicas, KindStop, KindInstall, KindStart, KindWaitAlive, KindSetKnob} {
			if k == KindInstall && !b.opts.Upgrade {
				continue
			}
			parts := r.Partitions()
			if k == KindSetKnob {
				parts = 0
			}
			d += b.opts.Timeouts[k].For(parts)
		}
		if d > worst {
			worst, worstNode = d, r.Node
		}
	}
	return worst, worstNode
}

// percent formats an availability like 0.999 as "99.90%".
func percent(f float64) string { return strconv.FormatFloat(f*100, 'f', 2, 64) + "%" }
