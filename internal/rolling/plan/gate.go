package plan

import (
	"fmt"
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
			if n.Primaries == 0 {
				return true, ""
			}
			return false, fmt.Sprintf("primary_count on %s is %d", n.Node, n.Primaries)
		case KindDowngrade:
			st.Before, st.Left = max(st.Before, n.Secondaries), n.Secondaries
			if n.Primaries == 0 && n.Secondaries == 0 {
				return true, ""
			}
			return false, fmt.Sprintf("%s still serves %d primaries and %d secondaries",
				n.Node, n.Primaries, n.Secondaries)
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
		for _, r := range obs.Replicas {
			if r.Node != step.Node {
				continue
			}
			if r.Total+r.Opening+r.Closing == 0 {
				return true, ""
			}
			return false, fmt.Sprintf("%s reports %d replicas open, %d opening, %d closing",
				r.Node, r.Total, r.Opening, r.Closing)
		}
		return false, ""

	case KindCheckMetaRole:
		return m.metaRole(i, obs.Metas)

	case KindWaitMetaReady:
		// Replica servers beacon the leader only (as in Pegasus), so a
		// restarted follower may never count any; what must hold is that
		// the restarted server is up and a leader hears every replica
		// server. When the restart moved leadership, that is the new
		// leader re-establishing the beacons.
		if obs.Metas == nil {
			return false, ""
		}
		var leader, target MetaStatus
		found := false
		for _, ms := range obs.Metas {
			if ms.Alive && ms.Leader {
				leader = ms
			}
			if ms.Node == step.Node {
				target, found = ms, true
			}
		}
		want := len(m.s.Plan.Replicas)
		switch {
		case !found || !target.Alive:
			return false, step.Node + " not up"
		case leader.Node == "":
			return false, "no meta leader"
		case leader.BeaconsFrom < want:
			return false, fmt.Sprintf("leader %s has beacons from %d of %d replica servers",
				leader.Node, leader.BeaconsFrom, want)
		}
		return true, ""

	case KindWaitCollector:
		if obs.Collector == nil || !obs.Collector.Alive {
			return false, "collector " + step.Node + " not reporting"
		}
		return true, ""
	}
	return false, ""
}

// clusterWhole: every replica server of the cluster ALIVE and every
// partition fully healthy, i.e. safe to take the next node out.
func (m *Machine) clusterWhole(v *ClusterView) (bool, string) {
	var problems []string
	for _, addr := range m.s.Plan.Replicas {
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
	}
	if len(problems) > 0 {
		return false, strings.Join(problems, "; ")
	}
	return true, ""
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
	leader := ""
	for _, ms := range metas {
		if ms.Alive && ms.Leader {
			leader = ms.Node
		}
	}
	if leader == "" {
		return false, "no meta leader"
	}
	if leader != step.Node || i >= len(s.Plan.Steps) {
		return true, ""
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
