package plan

import (
	"fmt"
	"slices"
	"strings"
)

// Gates: the conditions that end a waiting step. Each is evaluated only
// against observations gathered after the step's current attempt was
// emitted, so a view taken before the command ran can never pass it.
// Where Pegasus' scripts grep text and sleep, a gate reads structured
// state and says, when it stays closed, what it last saw.

// satisfied reports whether the running step i is done.
func (m *Machine) satisfied(i int, obs Observation) bool {
	step, st := m.s.step(i), &m.s.Steps[i]
	if step.Kind.ackOnly() {
		// Results are matched by step and attempt, so they are never stale.
		return st.Acked
	}
	if !st.Emitted {
		return false
	}
	ok, observed := m.gate(i, obs)
	if !ok && observed != "" {
		st.Observed = observed
	}
	return ok
}

// gate evaluates step i's condition. observed is empty when obs did not
// carry the view the gate needs.
func (m *Machine) gate(i int, obs Observation) (ok bool, observed string) {
	step, st := m.s.step(i), &m.s.Steps[i]
	switch step.Kind {
	case KindCheckHealthy:
		if obs.Cluster == nil {
			return false, ""
		}
		return m.clusterWhole(obs.Cluster)

	case KindMigrate, KindDowngrade, KindWaitAlive, KindWaitHealthy:
		if obs.Cluster == nil {
			return false, ""
		}
		n, found := obs.Cluster.node(step.Node)
		if !found {
			return false, step.Node + " absent from nodes -d"
		}
		switch step.Kind {
		case KindMigrate:
			st.Before, st.Left = max(st.Before, n.Primaries), n.Primaries
			if n.Primaries != 0 {
				return false, m.noteDrainBlock(i, fmt.Sprintf("primary_count on %s is %d", n.Node, n.Primaries))
			}
			// The meta server's view is not enough: until the server
			// itself entered the new ballots (its acknowledgement voids its
			// lease), each new primary waits out that lease before it
			// commits, and downgrade_node and the stop right after would
			// make clients wait that long.
			switch r, ok := obs.replica(step.Node); {
			case !ok:
				return false, step.Node + " has not reported its own status"
			case r.Primaries != 0:
				return false, fmt.Sprintf("%s still leads %d partitions by its own status", r.Node, r.Primaries)
			}
			return true, ""
		case KindDowngrade:
			st.Before, st.Left = max(st.Before, n.Secondaries), n.Secondaries
			if n.Primaries == 0 && n.Secondaries == 0 {
				return true, ""
			}
			return false, m.noteDrainBlock(i, fmt.Sprintf("%s still serves %d primaries and %d secondaries",
				n.Node, n.Primaries, n.Secondaries))
		case KindWaitAlive:
			if n.Alive {
				return true, ""
			}
			return false, n.Node + " not ALIVE"
		default: // KindWaitHealthy
			if !n.Alive {
				return false, n.Node + " not ALIVE"
			}
			return m.clusterWhole(obs.Cluster)
		}

	case KindCloseReplicas:
		r, ok := obs.replica(step.Node)
		if !ok {
			return false, ""
		}
		if r.Total+r.Opening+r.Closing == 0 {
			return true, ""
		}
		return false, fmt.Sprintf("%s reports %d replicas open, %d opening, %d closing",
			r.Node, r.Total, r.Opening, r.Closing)

	case KindCheckMetaRole:
		return m.metaRole(i, obs.Metas)

	case KindWaitMetaReady:
		// Answering RPCs proves little: a meta server that cannot reach
		// etcd answers, and so does one whose new configuration names
		// another cluster (it leads that one). Before the next meta server
		// goes, the restarted one must be registered with the one leader
		// of this cluster, as a standby that can take over, and the leader
		// must hear every replica server. Replica servers beacon the
		// leader only (as in Pegasus), so a restarted follower may never
		// count any; when the restart moved leadership, the beacons are
		// the new leader re-establishing them.
		if obs.Metas == nil {
			return false, ""
		}
		leader, why := m.oneLeader(obs.Metas)
		var target MetaStatus
		found := false
		for _, ms := range obs.Metas {
			if ms.Node == step.Node {
				target, found = ms, true
			}
		}
		want := len(m.s.Plan.Replicas)
		switch {
		case !found || !target.Alive:
			return false, step.Node + " not up"
		case m.s.Plan.Cluster != "" && target.Cluster != "" && target.Cluster != m.s.Plan.Cluster:
			return false, fmt.Sprintf("%s serves cluster %s, not %s (check its cluster_name and etcd endpoints)",
				step.Node, target.Cluster, m.s.Plan.Cluster)
		case why != "":
			return false, why
		case !target.Registered:
			return false, fmt.Sprintf("%s is not registered with the leader %s (can it reach etcd?)", step.Node, leader.Node)
		case len(m.s.Plan.Metas) > 1 && m.standby(obs.Metas, leader.Node) == "":
			return false, "no standby meta server is registered to take over from " + leader.Node
		case leader.BeaconsFrom < want:
			return false, fmt.Sprintf("leader %s has beacons from %d of %d replica servers",
				leader.Node, leader.BeaconsFrom, want)
		}
		return true, ""

	case KindRestorePrimaries:
		if obs.Partitions == nil {
			return false, ""
		}
		return m.primariesBack(i, obs.Partitions)

	case KindCheckBatch:
		if obs.Partitions == nil {
			return false, ""
		}
		if g, a, b := sharedPartition(obs.Partitions, step.Together); g != "" {
			return false, fmt.Sprintf("%s and %s both hold %s: restarting them together would take two of its replicas down", a, b, g)
		}
		return true, ""

	case KindBaseline:
		g := m.s.Plan.Options.SLO
		if waited := m.now.Sub(st.AttemptStarted); waited < g.BaselineWindow || len(m.s.BaselineSamples) == 0 {
			return false, fmt.Sprintf("measuring: %d collector reports in %s of %s",
				len(m.s.BaselineSamples), formatDuration(max(waited, 0)), formatDuration(g.BaselineWindow))
		}
		m.s.Baseline = m.takeBaseline(m.now)
		st.Note = m.s.Baseline.String()
		return true, ""

	case KindBake:
		bake := m.s.Plan.Options.CanaryBake
		waited := m.now.Sub(st.AttemptStarted)
		switch {
		case m.s.SLOBreach != nil:
			return false, "watching a breach: " + m.s.SLOBreach.Reason
		case waited < bake:
			return false, fmt.Sprintf("baking: %s of %s, no breach", formatDuration(max(waited, 0)), formatDuration(bake))
		}
		return true, ""

	case KindWaitCollector:
		if obs.Collector == nil || !obs.Collector.Alive {
			return false, "collector " + step.Node + " not reporting"
		}
		return true, ""

	case KindCopyOut:
		if obs.Partitions == nil || obs.Cluster == nil {
			return false, ""
		}
		return m.copiedOut(i, obs)

	case KindWaitBalanced:
		if obs.Balance == nil || obs.Cluster == nil {
			return false, ""
		}
		if !obs.Balance.Balanced {
			return false, balanceObserved(obs.Balance, obs.Cluster)
		}
		if ok, why := m.clusterWhole(obs.Cluster); !ok {
			return false, why
		}
		st.Note = fmt.Sprintf("balanced: primary stddev %.2f, total stddev %.2f",
			obs.Balance.PrimaryStddev, obs.Balance.TotalStddev)
		return true, ""
	}
	return false, ""
}

// clusterWhole: every replica server of the cluster ALIVE and every
// partition fully healthy, i.e. safe to take the next node out.
func (m *Machine) clusterWhole(v *ClusterView) (bool, string) {
	var problems []string
	for _, addr := range m.s.Plan.Replicas {
		if slices.Contains(m.s.Removed, addr) {
			continue // scaled in: gone for good
		}
		n, found := v.node(addr)
		switch {
		case !found:
			problems = append(problems, addr+" absent from nodes -d")
		case !n.Alive:
			problems = append(problems, addr+" not ALIVE")
		}
	}
	if bad := v.unhealthyPartitions(); bad > 0 {
		var tables []string
		for _, t := range v.Tables {
			if u := max(t.Unhealthy, t.PartitionCount-t.FullyHealthy); u > 0 {
				tables = append(tables, fmt.Sprintf("%s %d/%d", t.Name, t.FullyHealthy, t.PartitionCount))
			}
		}
		problems = append(problems, fmt.Sprintf("%d partitions not fully healthy (%s)", bad, strings.Join(tables, ", ")))
		if p, ok := m.firstShort(); ok {
			problems = append(problems, "blocking: "+p)
		}
	}
	if len(problems) > 0 {
		return false, strings.Join(problems, "; ")
	}
	return true, ""
}

// firstShort names the first partition of the latest partition view that
// is not whole, and what it lacks, so an operator sees what a gate waits
// for.
func (m *Machine) firstShort() (string, bool) {
	for _, p := range m.s.Partitions {
		switch {
		case p.Primary == "":
			return fmt.Sprintf("partition %s (%s) has no primary", p.Gpid, p.Table), true
		case p.Members() < p.MaxReplicas:
			sec := "no secondary"
			if len(p.Secondaries) > 0 {
				sec = "secondaries " + strings.Join(p.Secondaries, ",")
			}
			return fmt.Sprintf("partition %s (%s) has %d of %d replicas (primary %s, %s)",
				p.Gpid, p.Table, p.Members(), p.MaxReplicas, p.Primary, sec), true
		}
	}
	return "", false
}

// oneLeader returns the one alive meta server that leads, or why there is
// not exactly one: none, or several (one of them leading another
// namespace, or a split the election has not settled).
func (m *Machine) oneLeader(metas []MetaStatus) (MetaStatus, string) {
	var leaders []MetaStatus
	for _, ms := range metas {
		if ms.Alive && ms.Leader {
			leaders = append(leaders, ms)
		}
	}
	switch len(leaders) {
	case 1:
		return leaders[0], ""
	case 0:
		return MetaStatus{}, "no meta leader"
	}
	var names []string
	for _, l := range leaders {
		names = append(names, l.Node)
	}
	return MetaStatus{}, fmt.Sprintf("%d meta servers claim to lead (%s)", len(leaders), strings.Join(names, ", "))
}

// standby returns a registered, alive follower of this cluster that can
// take over from leader, or "".
func (m *Machine) standby(metas []MetaStatus, leader string) string {
	for _, ms := range metas {
		if ms.Node != leader && ms.Alive && !ms.Leader && ms.Registered &&
			(m.s.Plan.Cluster == "" || ms.Cluster == "" || ms.Cluster == m.s.Plan.Cluster) {
			return ms.Node
		}
	}
	return ""
}

// metaRole passes once a leader exists. If the meta server about to
// restart has become the leader since planning (a failover during the
// roll) and a follower is still to be restarted, the two swap turns:
// restarting the leader while followers remain would move leadership once
// per remaining meta server instead of once.
func (m *Machine) metaRole(i int, metas []MetaStatus) (bool, string) {
	if metas == nil {
		return false, ""
	}
	s := &m.s
	step := s.step(i)
	l, why := m.oneLeader(metas)
	if why != "" {
		return false, why
	}
	leader := l.Node
	if leader != step.Node || i >= len(s.Plan.Steps) {
		return true, ""
	}
	// The leader goes only with a standby ready to take over.
	if len(s.Plan.Metas) > 1 && m.standby(metas, leader) == "" {
		return false, "no standby meta server is registered to take over from " + leader
	}
	for j := i + 1; j < len(s.Plan.Steps); j++ {
		later := s.Plan.Steps[j]
		if later.Kind != KindCheckMetaRole || later.Node == leader {
			continue
		}
		follower := later.Node
		for k := i; k < len(s.Plan.Steps); k++ {
			switch ps := &s.Plan.Steps[k]; {
			case ps.Phase != PhaseMeta:
			case ps.Node == leader:
				ps.Node = follower
			case ps.Node == follower:
				ps.Node = leader
			}
		}
		s.Steps[i].Note = fmt.Sprintf("%s is the leader; %s restarts now and %s last", leader, follower, leader)
		return true, ""
	}
	return true, ""
}

// primariesBack passes once the step's node leads again every partition
// it led before the roll and is still a member of. A partition it left
// (its replica was copied elsewhere) is noted and left where it is.
func (m *Machine) primariesBack(i int, parts []PartitionView) (bool, string) {
	step, st := m.s.step(i), &m.s.Steps[i]
	byGpid := make(map[string]PartitionView, len(parts))
	for _, pv := range parts {
		byGpid[pv.Gpid] = pv
	}
	var left, gone []string
	for _, g := range m.s.Plan.Primaries[step.Node] {
		pv, ok := byGpid[g]
		switch {
		case !ok || !pv.Holds(step.Node):
			gone = append(gone, g)
		case pv.Primary != step.Node:
			left = append(left, g)
		}
	}
	st.Before = len(m.s.Plan.Primaries[step.Node]) - len(gone)
	st.Left = len(left)
	if len(gone) > 0 {
		st.Note = fmt.Sprintf("%s no longer holds %s; left where they are", step.Node, strings.Join(gone, ", "))
	}
	if len(left) == 0 {
		return true, ""
	}
	return false, fmt.Sprintf("%d of %d primaries back on %s (waiting for %s)", st.Before-st.Left, st.Before,
		step.Node, strings.Join(left, ", "))
}
