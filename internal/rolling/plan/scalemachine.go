package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// The machine's part of scale-in and balance: choosing the next copies
// of a leaving node, the copy-out gate, and what a pause does to the
// balancer.

// leads reports whether node is the primary of a partition in the latest
// partition view.
func (m *Machine) leads(node string) bool {
	return slices.ContainsFunc(m.s.Partitions, func(p PartitionView) bool { return p.Primary == node })
}

// secondaryCopies are the copies to start now for the leaving node (see
// planCopies): the targets are the alive replica servers of the latest
// nodes -d, less every node the scale-in takes out.
func (m *Machine) secondaryCopies(node string) []SecondaryCopy {
	var targets []string
	for n, st := range m.s.Nodes {
		if st.Alive && !slices.Contains(m.s.Plan.Options.Nodes, n) && !slices.Contains(m.s.Removed, n) {
			targets = append(targets, n)
		}
	}
	return planCopies(m.s.Partitions, node, targets, m.s.Plan.Options.MaxCopies)
}

// refillInterval is the shortest time between two issues of a step that
// issueAgain re-issues early: the driver calls Next again at once after a
// command, which must not become a loop of commands.
const refillInterval = time.Second

// resendDue reports whether step i's command is due again after the
// resend interval. A balance's level, once set, stays: the driver renews
// it, so it is re-issued only until acknowledged.
func (m *Machine) resendDue(now time.Time, i int) bool {
	step, st := m.s.step(i), &m.s.Steps[i]
	if step.Kind == KindWaitBalanced && st.Acked {
		return false
	}
	return now.Sub(st.LastIssued) >= m.s.Plan.Options.ResendInterval
}

// issueAgain reports whether step i's command goes out again at this
// poll, before the resend interval: a copy-out refills its copies in
// flight as soon as one finishes (the bound, not the resend interval,
// sets the pace), and a forget is retried until the failure detector has
// declared the stopped node dead; both at most every refillInterval.
func (m *Machine) issueAgain(now time.Time, i int) bool {
	step, st := m.s.step(i), &m.s.Steps[i]
	if now.Sub(st.LastIssued) < refillInterval {
		return false
	}
	switch step.Kind {
	case KindCopyOut:
		return !m.leads(step.Node) && len(m.secondaryCopies(step.Node)) > 0
	case KindForget:
		return !st.Acked
	}
	return false
}

// copiedOut passes once no partition lists the leaving node of step i and
// the cluster is whole (every other replica server alive, every partition
// fully healthy).
func (m *Machine) copiedOut(i int, obs Observation) (bool, string) {
	step, st := m.s.step(i), &m.s.Steps[i]
	held, learning, copying := 0, 0, 0
	for _, p := range obs.Partitions {
		if p.Lists(step.Node) {
			held++
		}
		if slices.Contains(p.Learners, step.Node) {
			learning++
		}
		if p.copying() && p.Holds(step.Node) {
			copying++
		}
	}
	st.Before, st.Left = max(st.Before, held), held
	if held > 0 {
		msg := fmt.Sprintf("%s still holds %d of %d replicas (%d copies in flight)", step.Node, held, st.Before, copying)
		if learning > 0 {
			msg += fmt.Sprintf("; %d partitions are learning a new replica on it", learning)
		}
		return false, msg
	}
	return m.clusterWhole(obs.Cluster)
}

// holdActions are what entering a hold at step i does besides waiting:
// a balance in progress is stopped (set_meta_level steady), so that a
// pause moves nothing more; resuming re-issues the step, lively again.
func (m *Machine) holdActions(i int) []Action {
	s := &m.s
	step, st := s.step(i), &s.Steps[i]
	if step.Kind != KindWaitBalanced || st.Attempts == 0 {
		return nil
	}
	// Renewals keep steady while held; the step's restore still applies.
	s.Touched = touch(s.Touched, step.Knob, "steady", step.Restore, step.RestoreOwner)
	return []Action{{Kind: ActSetMetaLevel, Step: i + 1, Knob: step.Knob, Value: "steady",
		Owner: s.Plan.Options.Owner(), Lease: s.Plan.Options.KnobLease}}
}

// scaleInLabel names the leaving nodes for a header.
func scaleInLabel(nodes []string) string {
	return fmt.Sprintf("%s: %s", plural(len(nodes), "replica server"), strings.Join(nodes, ", "))
}
