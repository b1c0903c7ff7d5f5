package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Draining a node (migrate_node, downgrade_node) can be blocked by the
// rest of the cluster: the meta server refuses to hand a primary to no
// one, or to take a secondary out of a partition that would keep fewer
// than two members. That happens when another server failed on its own
// during the roll; the cluster repairs itself (the meta server re-adds
// the failed server's replicas once it is back, whatever the
// add_secondary_max cap) and the drain can then go on. Time spent so
// blocked is not the drain's fault: it is not charged to the step's
// timeout, but bounded by the repair allowance, the time a wait-healthy
// step of this node would get.

// drainBlock names the first partition the node's drain cannot proceed in
// until the cluster repairs it, and why, from the latest partition view;
// "" when none.
func (m *Machine) drainBlock(step Step) string {
	alive := func(n string) bool { return m.s.Nodes[n].Alive }
	for _, p := range m.s.Partitions {
		if !p.Holds(step.Node) {
			continue
		}
		var others []string // alive members other than the node
		if p.Primary != "" && p.Primary != step.Node && alive(p.Primary) {
			others = append(others, p.Primary)
		}
		for _, s := range p.Secondaries {
			if s != step.Node && alive(s) {
				others = append(others, s)
			}
		}
		need := min(2, p.MaxReplicas)
		// Short: a replica missing, or a member the meta server no longer
		// sees alive (it is about to be taken out). Only then can a
		// repair unblock the drain: a whole table of two replicas is
		// refused for good.
		short := p.Members() < p.MaxReplicas || len(others)+1 < p.Members()
		switch {
		case p.Primary == step.Node && len(others) == 0 && p.MaxReplicas > 1 && short:
			return fmt.Sprintf("partition %s has no alive secondary to take its primary", p.Gpid)
		case step.Kind == KindDowngrade && p.Primary != step.Node && (p.Primary == "" || !alive(p.Primary)):
			return fmt.Sprintf("partition %s has no alive primary", p.Gpid)
		case step.Kind == KindDowngrade && len(others) < need && short:
			members := append([]string{step.Node}, others...)
			slices.Sort(members)
			return fmt.Sprintf("partition %s has only %s alive of %d replicas", p.Gpid, strings.Join(members, ", "), p.MaxReplicas)
		}
	}
	return ""
}

// noteDrainBlock records whether the running drain step i is blocked by a
// repair elsewhere, and returns the observation to show: why it waits.
func (m *Machine) noteDrainBlock(i int, observed string) string {
	step, st := m.s.step(i), &m.s.Steps[i]
	why := m.drainBlock(step)
	switch {
	case why != "" && st.BlockedSince.IsZero():
		st.BlockedSince = m.now
	case why == "" && !st.BlockedSince.IsZero():
		st.BlockedFor += m.now.Sub(st.BlockedSince)
		st.BlockedSince = time.Time{}
	}
	st.Blocked = why
	if why == "" {
		return observed
	}
	return fmt.Sprintf("%s; waiting for the cluster to repair it (%s)", observed, why)
}

// blockedFor is how long the step's current attempt has waited for a
// repair elsewhere.
func (st *StepState) blockedFor(now time.Time) time.Duration {
	d := st.BlockedFor
	if !st.BlockedSince.IsZero() {
		d += now.Sub(st.BlockedSince)
	}
	return d
}

// overdue reports whether running step i has run out of time, and why.
// Time a drain waited for a repair elsewhere is not charged to it, up to
// the repair allowance.
func (m *Machine) overdue(now time.Time, i int) (string, bool) {
	step, st := m.s.step(i), &m.s.Steps[i]
	blocked := st.blockedFor(now)
	if blocked > 0 {
		allowance := m.s.Plan.Options.Timeouts[KindWaitHealthy].For(step.Partitions)
		if blocked >= allowance {
			return fmt.Sprintf("step %d (%s) waited %v for a repair the cluster did not make: %s",
				i+1, step.Command(), allowance, st.Blocked), true
		}
	}
	if now.Sub(st.AttemptStarted)-blocked >= step.Timeout {
		return m.timeoutReason(i), true
	}
	return "", false
}
