package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Rollback takes the nodes the roll has already upgraded back to the
// previous binary and configuration, newest first, each with the same
// procedure that upgraded it (for a replica server: drain, stop, install
// the previous version, start, wait until healthy), then puts primaries
// and knobs back. It starts at the next node boundary: a node in progress
// is brought back to healthy first. The roll ends rolled-back.
//
// A roll that upgraded nothing (a restart), or whose previous binary
// cannot read what the new one writes, is refused; so is a roll that has
// ended (build a RollbackPlan from its state instead) or is cleaning up.
func (m *Machine) Rollback(now time.Time, reason string) error {
	s := &m.s
	switch {
	case s.Status.Terminal():
		return ErrFinished
	case s.Status == StatusCleanup:
		return ErrCleaningUp
	case s.Status == StatusRollingBack:
		return nil
	case !s.Plan.Options.Upgrade:
		return fmt.Errorf("%w: the roll restarts, it upgrades nothing", ErrNoRollback)
	case s.Plan.RollbackBlocked != "":
		return fmt.Errorf("%w: %s", ErrRollbackBlocked, s.Plan.RollbackBlocked)
	}
	if s.Status == StatusPending {
		s.Started = now
	}
	s.RollbackRequested = reason
	if s.Status == StatusRunning {
		s.Status = StatusPausing // Next starts it at the next node boundary
	}
	return nil
}

// wantsRollback reports whether a rollback is due: asked for, or the SLO
// gate halted a roll that rolls back by itself. It records the reason.
func (m *Machine) wantsRollback() bool {
	s := &m.s
	if s.Status == StatusCleanup || s.Status == StatusRollingBack {
		return false
	}
	if s.RollbackRequested == "" && s.Halt != nil && s.Plan.Options.AutoRollback && s.Plan.RollbackBlocked == "" {
		s.RollbackRequested = s.Halt.Reason
	}
	return s.RollbackRequested != ""
}

// upgradedAndRunning reports whether step i is one of a node's steps
// after its install and its start both went through: the node runs the
// new version now.
func (m *Machine) upgradedAndRunning(i int) bool {
	s := &m.s
	if i >= len(s.Plan.Steps) {
		return false
	}
	node := s.Plan.Steps[i].Node
	installed, started := false, false
	for j := 0; j < i; j++ {
		st := s.Plan.Steps[j]
		if st.Node != node {
			continue
		}
		switch st.Kind {
		case KindInstall:
			installed = s.Steps[j].Attempts > 0
		case KindStart:
			started = s.Steps[j].Status == StepDone
		}
	}
	return node != "" && installed && started
}

// upgraded lists the nodes whose install step was issued, in the order
// they were upgraded.
func (s *State) upgraded() []Step {
	var out []Step
	for i, st := range s.Plan.Steps {
		if st.Kind == KindInstall && !st.Rollback && s.Steps[i].Attempts > 0 {
			out = append(out, st)
		}
	}
	return out
}

// startRollback abandons the rest of the plan and appends the rollback:
// every upgraded node in reverse order, then primaries and knobs back, and
// a health check.
func (m *Machine) startRollback(now time.Time) {
	s := &m.s
	for j := s.Current; j < len(s.Steps); j++ {
		if s.Steps[j].Status == StepPending || s.Steps[j].Status == StepRunning {
			s.Steps[j].Status = StepSkipped
		}
	}
	reason := s.RollbackRequested
	s.Status, s.Reason = StatusRollingBack, "rolled back: "+reason
	s.OperatorHold, s.BreachHold, s.Halt, s.SLOBreach, s.RollbackRequested = nil, nil, nil, nil, ""
	down := make(map[string]bool)
	for _, n := range s.Stopped {
		down[n.Node] = true
	}
	steps := rollbackSteps(s.Plan, s.upgraded(), s.Touched, down)
	s.Cleanup = append(s.Cleanup, steps...)
	for range steps {
		s.Steps = append(s.Steps, StepState{Status: StepPending})
	}
	s.Current = len(s.Steps) - len(steps)
	if len(steps) == 0 {
		m.finish(now)
	}
}

// rollbackSteps builds the rollback of the upgraded nodes (in upgrade
// order; they go back in reverse) with the plan's options, then the
// handovers that put primaries back, the knob resets and a health check.
// touched gives the restore value of every knob the roll had changed.
func rollbackSteps(p Plan, upgraded []Step, touched []KnobChange, down map[string]bool) []Step {
	tmp := Plan{Options: p.Options, Replicas: p.Replicas, Metas: p.Metas, Leader: p.Leader,
		Collector: p.Collector, MetaLevel: p.MetaLevel, NewVersion: p.OldVersion, Primaries: p.Primaries}
	b := builder{plan: &tmp, opts: p.Options, rollback: true, restoreOf: make(map[string]KnobChange)}
	// The knobs go back to what they were before the roll, whatever the
	// roll set them to since; the plan's own steps know it too.
	for _, st := range p.Steps {
		if st.Knob != "" && st.Value != st.Restore {
			b.restoreOf[st.Knob] = KnobChange{Knob: st.Knob, Restore: st.Restore, RestoreOwner: st.RestoreOwner}
		}
	}
	for _, k := range touched {
		b.restoreOf[k.Knob] = k
	}
	parts := func(node string) int {
		most := 0
		for _, st := range p.Steps {
			if st.Node == node {
				most = max(most, st.Partitions)
			}
		}
		return most
	}
	replicas := 0
	for _, st := range slices.Backward(upgraded) {
		switch st.Role {
		case RoleReplica:
			replicas++
			r := ReplicaServer{Node: st.Node, Secondaries: parts(st.Node)}
			switch {
			case down[st.Node]:
				// It never came back: nothing to drain, only the old
				// version to start.
				b.replicaBack(r)
			case p.Options.Mode == ModeHA:
				b.replicaHA(r)
			default:
				b.replicaSimple(r)
			}
		case RoleMeta:
			if down[st.Node] {
				b.restartTail(RoleMeta, st.Node, 0, PhaseMeta)
				b.add(Step{Kind: KindWaitMetaReady, Phase: PhaseMeta, Role: RoleMeta, Node: st.Node})
			} else {
				b.meta(st.Node)
			}
		case RoleCollector:
			if down[st.Node] {
				b.restartTail(RoleCollector, st.Node, 0, PhaseCollector)
				b.add(Step{Kind: KindWaitCollector, Phase: PhaseCollector, Role: RoleCollector, Node: st.Node})
			} else {
				b.collector(st.Node)
			}
		}
	}
	if replicas > 0 {
		for _, node := range p.Replicas {
			if n := len(p.Primaries[node]); n > 0 {
				b.add(Step{Kind: KindRestorePrimaries, Phase: PhaseRestore, Role: RoleReplica, Node: node, Partitions: n})
			}
		}
	}
	for _, k := range []string{KnobAddSecondaryMax, KnobAssignDelay, KnobMetaLevel} {
		if _, changed := b.restoreOf[k]; !changed {
			continue
		}
		kind := KindSetKnob
		if k == KnobMetaLevel {
			kind = KindSetMetaLevel
		}
		b.add(b.reset(kind, k))
	}
	if replicas > 0 {
		b.add(Step{Kind: KindCheckHealthy, Phase: PhaseRollback})
	}
	for i := range tmp.Steps {
		if tmp.Steps[i].Phase != PhaseRestore {
			tmp.Steps[i].Phase = PhaseRollback
		}
		tmp.Steps[i].Holdable = false
	}
	return tmp.Steps
}

// RollbackPlan plans the rollback of a roll that has ended (succeeded,
// failed or aborted after upgrading some nodes): a new roll that takes
// every node prev upgraded back to the previous version, newest first,
// with the usual prepare and reset around it, from the cluster as s sees
// it now. rollID names the new roll. It refuses what Build refuses (a
// server down, no single leader), a roll that upgraded nothing, and a
// rollback the previous binary cannot carry out (s.RollbackBlocked).
func RollbackPlan(prev State, s Snapshot, rollID string) (Plan, error) {
	if !prev.Plan.Options.Upgrade {
		return Plan{}, fmt.Errorf("%w: the roll restarted, it upgraded nothing", ErrNoRollback)
	}
	upgraded := prev.upgraded()
	if len(upgraded) == 0 {
		return Plan{}, fmt.Errorf("%w: the roll upgraded no node", ErrNoRollback)
	}
	if s.RollbackBlocked != "" {
		return Plan{}, fmt.Errorf("%w: %s", ErrRollbackBlocked, s.RollbackBlocked)
	}
	if err := s.validate(); err != nil {
		return Plan{}, err
	}
	if down := s.downNodes(); len(down) > 0 {
		return Plan{}, fmt.Errorf("%w: %s", ErrNodeDown, strings.Join(down, ", "))
	}
	o := prev.Plan.Options
	o.AutoRollback, o.Nodes, o.RollID, o.CanaryBake = false, nil, rollID, -1
	o.SLO.Off = true // the rollback is the remedy; nothing to gate it on
	level, _ := normalizeMetaLevel(s.MetaLevel)
	if level == "" {
		level = "steady"
	}
	p := Plan{Options: o, Cluster: s.Cluster, MetaLevel: level, Tables: len(s.Tables),
		NewVersion: prev.Plan.OldVersion, OldVersion: prev.Plan.NewVersion}
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
	if s.Collector != nil {
		p.Collector = s.Collector.Node
	}
	b := builder{plan: &p, opts: o, snapshot: s}
	b.add(Step{Kind: KindCheckHealthy, Phase: PhasePrepare, Holdable: true})
	b.add(b.set(KindSetMetaLevel, KnobMetaLevel, "steady", Step{Phase: PhasePrepare, Holdable: true}))
	if o.Mode == ModeHA {
		b.add(b.set(KindSetKnob, KnobAssignDelay, fmt.Sprint(o.MaintenanceWindow.Milliseconds()),
			Step{Phase: PhasePrepare, Holdable: true}))
	}
	// The install steps put the previous version back.
	b.rollback = true
	replicas := 0
	for _, st := range slices.Backward(upgraded) {
		switch st.Role {
		case RoleReplica:
			for _, r := range s.Replicas {
				if r.Node == st.Node {
					replicas++
					if o.Mode == ModeHA {
						b.replicaHA(r)
					} else {
						b.replicaSimple(r)
					}
				}
			}
		case RoleMeta:
			b.meta(st.Node)
		case RoleCollector:
			if p.Collector == st.Node {
				b.collector(st.Node)
			}
		}
	}
	if replicas > 0 {
		b.restorePrimaries()
		if o.Mode == ModeHA {
			b.add(b.reset(KindSetKnob, KnobAddSecondaryMax))
			b.add(b.reset(KindSetKnob, KnobAssignDelay))
		}
	}
	b.add(b.reset(KindSetMetaLevel, KnobMetaLevel))
	return p, nil
}
