package decide

import "fmt"

// Pegasus calls a partition whose every member is gone "DDD" (dead, dead,
// dead). The guardian recovers one only from a node that provably holds
// every committed write (RecoveryCandidate); when that node does not come
// back, the partition stays unavailable until an operator decides, with
// ddd_diagnose, which copy to go on from and what to give up. Nothing here
// runs on its own.

// DDDNode is one dropped node of a DDD partition, as ddd_diagnose shows it.
type DDDNode struct {
	Node string
	// Alive: the failure detector holds the node alive.
	Alive bool
	// Collected: the node reports a usable copy of the partition (Pegasus
	// "collected" replica info).
	Collected bool
	// Detail is what the meta server recorded when it dropped the node.
	Detail DropDetail
	// Report is the node's latest report about the partition (when
	// Collected).
	Report ReplicaReport
}

// DDDPartition is a partition in the DDD state.
type DDDPartition struct {
	Config  PartitionConfig
	Dropped []DDDNode
	// Reason says why the guardian waits.
	Reason string
	// Recommended is the node the guardian would recover from right now,
	// "" while it waits. Pegasus' ddd_diagnose -d proposes it.
	Recommended string
}

// DDDDiagnose lists the partitions in the DDD state (no primary, no
// secondary, and someone to wait for), those of table app only when app is
// positive, and of partition index only when index is non-negative.
func DDDDiagnose(l *Layout, nodes NodeView, app, index int32) []DDDPartition {
	var out []DDDPartition
	for i := 0; i < l.Len(); i++ {
		c := l.At(i)
		if c.Primary != "" || len(c.Secondaries) > 0 || len(c.LastDrops) == 0 {
			continue
		}
		if (app > 0 && c.Gpid.AppID != app) || (index >= 0 && c.Gpid.Index != index) {
			continue
		}
		p := DDDPartition{Config: c.Clone()}
		for j, n := range c.LastDrops {
			dn := DDDNode{Node: n, Alive: nodes.Alive(n), Detail: c.dropDetail(j)}
			if rep, ok := nodes.Report(n, c.Gpid); ok && copyOf(nodes, n, c.Gpid, 0) {
				dn.Collected, dn.Report = true, rep
			}
			p.Dropped = append(p.Dropped, dn)
		}
		best, w := RecoveryCandidate(c, nodes)
		p.Recommended = best
		if best == "" {
			p.Reason = w.String()
		} else {
			p.Reason = "the last member is back: recovery is due at the next round"
		}
		out = append(out, p)
	}
	return out
}

// ForcePrimary is the operator's override for a DDD partition (Pegasus'
// `ddd_diagnose -d`): make node the primary although the guardian would
// wait. It is refused unless the partition is in the DDD state and node is
// alive and reports a usable copy; with allowEmpty, a node without one is
// accepted too (every copy is lost and the operator restarts the partition
// empty). Whatever the last member holds beyond node's copy is given up:
// the caller must log the decision as an audit event.
func ForcePrimary(c PartitionConfig, node string, nodes NodeView, allowEmpty bool) (Proposal, error) {
	if c.Primary != "" || len(c.Secondaries) > 0 || len(c.LastDrops) == 0 {
		return Proposal{}, fmt.Errorf("%w: %s is not in the DDD state (%s)", ErrInvalidAction, c.Gpid, c)
	}
	if !nodes.Alive(node) {
		return Proposal{}, fmt.Errorf("%w: %s", ErrNodeNotAlive, node)
	}
	rep, ok := nodes.Report(node, c.Gpid)
	if !allowEmpty && (!ok || !copyOf(nodes, node, c.Gpid, 0)) {
		return Proposal{}, fmt.Errorf("%w: %s on %s", ErrNoSafePrimary, c.Gpid, node)
	}
	p := Proposal{Gpid: c.Gpid, Ballot: c.Ballot, Reason: "ddd_diagnose: operator override",
		Actions: []Action{{Type: AssignPrimary, Target: node, Node: node, Incarnation: rep.Incarnation}}}
	if _, err := ApplyProposal(c, p); err != nil {
		return Proposal{}, err
	}
	return p, nil
}
