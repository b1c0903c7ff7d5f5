package decide

import (
	"fmt"
	"slices"
	"strings"
)

// PartitionRefusal is one partition a drain operation left alone, and why.
type PartitionRefusal struct {
	Gpid Gpid
	Err  error
}

// DrainError reports the partitions migrate_node or downgrade_node refused.
// It matches ErrDrainRefused and each refusal's cause under errors.Is, so
// callers can ask, for instance, errors.Is(err, ErrTooFewMembers).
type DrainError struct {
	Op      string
	Node    string
	Refused []PartitionRefusal
}

func (e *DrainError) Error() string {
	parts := make([]string, len(e.Refused))
	for i, r := range e.Refused {
		parts[i] = fmt.Sprintf("%s: %v", r.Gpid, r.Err)
	}
	return fmt.Sprintf("%v: %s %s: %d partitions refused: %s", ErrDrainRefused, e.Op, e.Node, len(e.Refused), strings.Join(parts, "; "))
}

func (e *DrainError) Unwrap() []error {
	out := make([]error, 0, 1+len(e.Refused))
	out = append(out, ErrDrainRefused)
	for _, r := range e.Refused {
		out = append(out, r.Err)
	}
	return out
}

// MigrateNode proposes a graceful handover of every primary role node holds
// (Pegasus migrate_node): each partition gets one new configuration in which
// the best alive secondary on another node is primary and node is a
// secondary, ballot+1. The old primary stops accepting writes when it sees
// the new ballot and points clients at the new primary; nothing is lost,
// since every secondary has every committed write, and there is no data
// copy. Among secondaries the one reporting the highest committed, then
// prepared, decree wins (least to reconcile), then the one with fewest
// primaries, counting the handovers proposed so far.
//
// A partition without an alive secondary elsewhere is refused (it would
// lose its primary); the proposals for the other partitions are still
// returned, along with a *DrainError listing the refusals. node itself must
// be alive: a dead primary is the guardian's business.
func MigrateNode(l *Layout, nodes NodeView, node string) ([]Proposal, error) {
	if !nodes.Alive(node) {
		return nil, fmt.Errorf("%w: migrate_node %s", ErrNodeNotAlive, node)
	}
	var (
		out     []Proposal
		refused []PartitionRefusal
		gained  = make(map[string]int)
	)
	for _, i := range l.PartitionsOf(node) {
		c := l.At(i)
		if c.Primary != node {
			continue
		}
		var cand []string
		for _, s := range c.Secondaries {
			if s != node && nodes.Alive(s) {
				cand = append(cand, s)
			}
		}
		if len(cand) == 0 {
			refused = append(refused, PartitionRefusal{Gpid: c.Gpid, Err: ErrNoHandoverTarget})
			continue
		}
		to := pickBest(cand, func(a, b string) int {
			if d := compareProgress(nodes, c.Gpid, a, b); d != 0 {
				return d
			}
			return (l.Load(b).Primary + gained[b]) - (l.Load(a).Primary + gained[a])
		})
		gained[to]++
		out = append(out, Proposal{
			Gpid:   c.Gpid,
			Ballot: c.Ballot,
			Actions: []Action{
				{Type: DowngradeToSecondary, Target: node, Node: node},
				{Type: UpgradeToPrimary, Target: to, Node: to},
			},
			Reason: "migrate_node: hand primary over",
		})
	}
	return finishDrain("migrate_node", node, out, refused)
}

// DowngradeNode proposes taking node out of every partition where it is a
// secondary (Pegasus downgrade_node): DowngradeToInactive, which removes it
// and appends it to last_drops, so that once the node is back the restart
// window re-adds it and it catches up from its own data. Learners on node
// are removed too, so that the node ends up holding nothing.
//
// Refused, with the reason in the returned *DrainError: partitions where
// node is primary (migrate first: removing a primary leaves the partition
// without one), partitions without an alive primary, and partitions that
// would keep fewer than two alive members (or max_replica_count, if that is
// one), since writes would then rest on a single copy.
func DowngradeNode(l *Layout, nodes NodeView, node string) ([]Proposal, error) {
	var (
		out     []Proposal
		refused []PartitionRefusal
	)
	for _, i := range l.PartitionsOf(node) {
		c := l.At(i)
		switch c.RoleOf(node) {
		case RolePrimary:
			refused = append(refused, PartitionRefusal{Gpid: c.Gpid, Err: ErrIsPrimary})
		case RoleLearner:
			out = append(out, Proposal{Gpid: c.Gpid, Ballot: c.Ballot,
				Actions: []Action{{Type: Remove, Target: c.Primary, Node: node}},
				Reason:  "downgrade_node: drop learner"})
		case RoleSecondary:
			if c.Primary == "" || !nodes.Alive(c.Primary) {
				refused = append(refused, PartitionRefusal{Gpid: c.Gpid, Err: ErrNoPrimary})
				continue
			}
			left := 0
			for _, s := range c.Secondaries {
				if s != node && nodes.Alive(s) {
					left++
				}
			}
			if 1+left < min(2, int(c.MaxReplicaCount)) {
				refused = append(refused, PartitionRefusal{Gpid: c.Gpid,
					Err: fmt.Errorf("%w: %d alive members would remain", ErrTooFewMembers, 1+left)})
				continue
			}
			out = append(out, Proposal{Gpid: c.Gpid, Ballot: c.Ballot,
				Actions: []Action{{Type: DowngradeToInactive, Target: c.Primary, Node: node}},
				Reason:  "downgrade_node"})
		}
	}
	return finishDrain("downgrade_node", node, out, refused)
}

func finishDrain(op, node string, out []Proposal, refused []PartitionRefusal) ([]Proposal, error) {
	slices.SortFunc(out, func(a, b Proposal) int { return a.Gpid.Compare(b.Gpid) })
	if len(refused) == 0 {
		return out, nil
	}
	slices.SortFunc(refused, func(a, b PartitionRefusal) int { return a.Gpid.Compare(b.Gpid) })
	return out, &DrainError{Op: op, Node: node, Refused: refused}
}

// MovePrimary proposes handing the primary role of partition g from
// `from` to `to`, a caught-up alive secondary, in one configuration change
// (Pegasus' `balance -p move_pri`): the same graceful handover MigrateNode
// makes, for one partition and a chosen target. A rolling restart uses it
// to put primaries back where they were before it drained each node.
//
// It returns no proposal (and no error) when to is the primary already.
// Refused: an unknown partition, a primary other than from, a target that
// is not an alive secondary.
func MovePrimary(l *Layout, nodes NodeView, g Gpid, from, to string) (*Proposal, error) {
	c, ok := l.Config(g)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownPartition, g)
	}
	switch {
	case c.Primary == to:
		return nil, nil
	case c.Primary != from:
		return nil, fmt.Errorf("%w: %s: primary is %q, not %s", ErrTargetMismatch, g, c.Primary, from)
	case c.RoleOf(to) != RoleSecondary:
		return nil, fmt.Errorf("%w: %s: %s", ErrNotSecondary, g, to)
	case !nodes.Alive(to) || !nodes.Alive(from):
		return nil, fmt.Errorf("%w: %s: move_pri %s -> %s", ErrNodeNotAlive, g, from, to)
	}
	return &Proposal{
		Gpid:   g,
		Ballot: c.Ballot,
		Actions: []Action{
			{Type: DowngradeToSecondary, Target: from, Node: from},
			{Type: UpgradeToPrimary, Target: to, Node: to},
		},
		Reason: "balance move_pri",
	}, nil
}
