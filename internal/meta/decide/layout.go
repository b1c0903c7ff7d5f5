package decide

import (
	"fmt"
	"slices"
)

// NodeLoad counts a node's roles over every partition of a layout.
type NodeLoad struct {
	Primary   int
	Secondary int
	Learner   int
}

// Replicas is the number of complete copies the node holds (primary and
// secondary roles), the replica_count of `nodes -d`.
func (l NodeLoad) Replicas() int { return l.Primary + l.Secondary }

// Roles counts every role, learners included.
func (l NodeLoad) Roles() int { return l.Primary + l.Secondary + l.Learner }

// Layout is the set of partition configurations the decisions are made on,
// indexed by node so that per-node questions (what does node X hold, how
// loaded is it) cost O(roles of X) rather than a scan of every partition.
// Apply and Set keep the index current, which lets a planner simulate a
// sequence of changes (a rolling restart) on one layout.
type Layout struct {
	configs []PartitionConfig
	pos     map[Gpid]int
	nodes   map[string]*nodeIndex
}

type nodeIndex struct {
	load NodeLoad
	// parts holds the positions (in configs) of every partition where the
	// node has a role.
	parts map[int]struct{}
}

// NewLayout indexes configs. The layout takes ownership of the slice and of
// the configs in it; callers must not modify them afterwards.
func NewLayout(configs []PartitionConfig) (*Layout, error) {
	l := &Layout{
		configs: configs,
		pos:     make(map[Gpid]int, len(configs)),
		nodes:   make(map[string]*nodeIndex),
	}
	for i := range configs {
		g := configs[i].Gpid
		if _, dup := l.pos[g]; dup {
			return nil, fmt.Errorf("%w: %s", ErrDuplicatePartition, g)
		}
		l.pos[g] = i
		l.index(i, +1)
	}
	return l, nil
}

// Len is the number of partitions.
func (l *Layout) Len() int { return len(l.configs) }

// At returns the i-th configuration, 0 <= i < Len(), in the order given to
// NewLayout. The returned config shares slices with the layout: read only.
func (l *Layout) At(i int) PartitionConfig { return l.configs[i] }

// Config returns the configuration of partition g (read only, see At).
func (l *Layout) Config(g Gpid) (PartitionConfig, bool) {
	i, ok := l.pos[g]
	if !ok {
		return PartitionConfig{}, false
	}
	return l.configs[i], true
}

// Load returns node's role counts.
func (l *Layout) Load(node string) NodeLoad {
	if ni := l.nodes[node]; ni != nil {
		return ni.load
	}
	return NodeLoad{}
}

// Nodes lists, in ascending order, every node holding a role somewhere.
func (l *Layout) Nodes() []string {
	out := make([]string, 0, len(l.nodes))
	for n, ni := range l.nodes {
		if len(ni.parts) > 0 {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// PartitionsOf returns the positions (for At) of the partitions where node
// holds a role, in ascending order.
func (l *Layout) PartitionsOf(node string) []int {
	ni := l.nodes[node]
	if ni == nil {
		return nil
	}
	out := make([]int, 0, len(ni.parts))
	for i := range ni.parts {
		out = append(out, i)
	}
	slices.Sort(out)
	return out
}

// Set replaces the configuration of an existing partition and updates the
// node index. The layout takes ownership of cfg.
func (l *Layout) Set(cfg PartitionConfig) error {
	i, ok := l.pos[cfg.Gpid]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownPartition, cfg.Gpid)
	}
	l.index(i, -1)
	l.configs[i] = cfg
	l.index(i, +1)
	return nil
}

// Apply applies a proposal to the partition's current configuration
// (ApplyProposal) and stores the result.
func (l *Layout) Apply(p Proposal) (PartitionConfig, error) {
	cur, ok := l.Config(p.Gpid)
	if !ok {
		return PartitionConfig{}, fmt.Errorf("%w: %s", ErrUnknownPartition, p.Gpid)
	}
	next, err := ApplyProposal(cur, p)
	if err != nil {
		return PartitionConfig{}, err
	}
	return next, l.Set(next)
}

// index adds (delta=+1) or removes (delta=-1) the roles of configs[i].
func (l *Layout) index(i int, delta int) {
	c := &l.configs[i]
	if c.Primary != "" {
		l.touch(c.Primary, i, delta).load.Primary += delta
	}
	for _, s := range c.Secondaries {
		l.touch(s, i, delta).load.Secondary += delta
	}
	for _, s := range c.Learners {
		l.touch(s, i, delta).load.Learner += delta
	}
}

func (l *Layout) touch(node string, i int, delta int) *nodeIndex {
	ni := l.nodes[node]
	if ni == nil {
		ni = &nodeIndex{parts: make(map[int]struct{})}
		l.nodes[node] = ni
	}
	if delta > 0 {
		ni.parts[i] = struct{}{}
	} else {
		delete(ni.parts, i)
	}
	return ni
}
