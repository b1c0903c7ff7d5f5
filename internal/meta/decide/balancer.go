package decide

import (
	"fmt"
	"slices"
)

// Balancer evens out primaries and replicas across alive nodes, per table,
// in the spirit of Pegasus' greedy_load_balancer. It runs only at level
// lively and starts new moves only while every partition is fully healthy
// with every member alive: moving data while the cluster repairs itself
// competes with the repair and may move the same replica twice.
//
// Two kinds of move:
//   - move primary: [DowngradeToSecondary(from), UpgradeToPrimary(to)] in
//     one configuration change, where to is already a secondary. No data is
//     copied; it is the same graceful handover as migrate_node.
//   - copy secondary: AddSecondary(to) first; once the primary has turned
//     the learner into a secondary (UpgradeToSecondary, ballot+1), Remove
//     (from). The partition has one replica more than needed in between,
//     never one less.
//
// Primaries are balanced first, as moving them is cheap and they carry
// every write and read. A primary can only move to a node holding a
// secondary of the same partition, so when no direct move helps, the
// balancer looks for a chain a->b->...->z of moves (a shortest path in the
// graph "partition with primary on u has a secondary on v") from a node with
// the most primaries to one with at least two fewer: every node on the
// chain but the ends keeps its count. Replicas are balanced when no primary
// move applies to the table.
//
// Every move lowers sum(count^2) over the table's nodes, or keeps it and
// lowers sum(count^2) over the cluster-wide counts; the balancer therefore
// cannot cycle, and it stops when each table is within one of even per
// node and no move within that bound evens the cluster totals further.
//
// Each node takes part in at most one move at a time (a chain of primary
// moves counts as one, and locks every node on it), which bounds the extra
// load on any node. Pending moves are kept in memory and continued
// round by round; losing them (meta failover, level set to steady) leaves
// at worst one surplus replica, which the guardian removes.
type Balancer struct {
	moves map[Gpid]*move
}

type moveKind uint8

const (
	movePrimary moveKind = iota + 1
	copySecondary
)

type moveStep uint8

const (
	// stepIssued: the first proposal is out (for a primary move, the only one).
	stepIssued moveStep = iota
	// stepLearning: the learner is in the configuration and catching up.
	stepLearning
	// stepRemoveIssued: the learner is a secondary; Remove(from) is out.
	stepRemoveIssued
)

type move struct {
	kind     moveKind
	from, to string
	step     moveStep
	// prop is the last proposal, re-emitted while the configuration stays
	// at prop.Ballot (the driver has not applied it yet, or failed to).
	prop Proposal
}

// BalanceInput is what one balancer round decides on.
type BalanceInput struct {
	Layout *Layout
	Nodes  NodeView
	// Busy reports partitions the guardian changes this round; the balancer
	// keeps off them. May be nil.
	Busy func(Gpid) bool
}

// BalanceResult is the outcome of one balancer round.
type BalanceResult struct {
	Proposals []Proposal
	// Pending counts moves in progress after this round, new ones included
	// (cluster_info balance_operation_count).
	Pending int
	// Blocked says why no new move was considered; empty if they were.
	Blocked string
}

// Balanced reports a round that neither continued nor started any move.
func (r BalanceResult) Balanced() bool { return r.Pending == 0 && r.Blocked == "" }

// Owns reports whether a move of g is in progress.
func (b *Balancer) Owns(g Gpid) bool { _, ok := b.moves[g]; return ok }

// Pending returns the number of moves in progress.
func (b *Balancer) Pending() int { return len(b.moves) }

// Clear forgets every pending move (Pegasus clear_proposals on a level
// change to steady or below).
func (b *Balancer) Clear() { b.moves = nil }

// Balance runs one round: continue pending moves, then, if every partition
// is healthy, start new ones.
func (b *Balancer) Balance(in BalanceInput) BalanceResult {
	res := b.Continue(in)
	if why := unhealthy(in.Layout, in.Nodes); why != "" {
		res.Blocked = why
	} else {
		pl := newBalancePlan(b, in)
		res.Proposals = append(res.Proposals, pl.run()...)
	}
	res.Pending = len(b.moves)
	slices.SortFunc(res.Proposals, func(a, b Proposal) int { return a.Gpid.Compare(b.Gpid) })
	return res
}

// Continue carries the pending moves on by one round and starts none: what
// the meta server does at level steady, where the balancer plans nothing
// of its own but the moves an operator asked for (balance -p copy_sec)
// still go through, as Pegasus executes queued balancer proposals at
// steady.
func (b *Balancer) Continue(in BalanceInput) BalanceResult {
	if b.moves == nil {
		b.moves = make(map[Gpid]*move)
	}
	var res BalanceResult
	busy := func(g Gpid) bool { return in.Busy != nil && in.Busy(g) }
	for _, g := range sortedKeys(b.moves) {
		m := b.moves[g]
		c, ok := in.Layout.Config(g)
		if !ok || !in.Nodes.Alive(m.from) || !in.Nodes.Alive(m.to) {
			delete(b.moves, g)
			continue
		}
		p, emit, keep := m.advance(c)
		if !keep {
			delete(b.moves, g)
			continue
		}
		if emit && !busy(g) {
			res.Proposals = append(res.Proposals, p)
		}
	}
	res.Pending = len(b.moves)
	return res
}

// MoveCounts counts the moves in progress by kind, as Pegasus'
// meta.lb.get_balance_operation_count does.
type MoveCounts struct {
	MovePrimary   int
	CopySecondary int
}

// Total is every move in progress.
func (c MoveCounts) Total() int { return c.MovePrimary + c.CopySecondary }

// Counts returns the moves in progress by kind.
func (b *Balancer) Counts() MoveCounts {
	var c MoveCounts
	for _, m := range b.moves {
		switch m.kind {
		case movePrimary:
			c.MovePrimary++
		case copySecondary:
			c.CopySecondary++
		}
	}
	return c
}

// CopySecondary starts the move of one secondary of partition g from
// `from` to `to` (Pegasus' `balance -g <gpid> -p copy_sec -f <from> -t
// <to>`): to is added as a learner, one replica beyond max_replica_count
// (CT_ADD_SECONDARY_FOR_LB), and once the primary has made it a
// secondary the meta server removes from. The partition never has fewer
// replicas than before. The move is carried on round by round (Continue,
// Balance) at level steady and lively, like the balancer's own.
//
// It returns the first proposal, to write now. Refused: a partition with
// a move in progress, an unknown partition, one without an alive primary,
// a source that is not an alive secondary (a primary moves with move_pri
// first), a target that is not alive or already holds a role, and a
// partition with no room for one more replica.
func (b *Balancer) CopySecondary(l *Layout, nodes NodeView, g Gpid, from, to string) (Proposal, error) {
	if b.moves == nil {
		b.moves = make(map[Gpid]*move)
	}
	if m := b.moves[g]; m != nil {
		return Proposal{}, fmt.Errorf("%w: %s: %s -> %s", ErrMoveInProgress, g, m.from, m.to)
	}
	c, ok := l.Config(g)
	if !ok {
		return Proposal{}, fmt.Errorf("%w: %s", ErrUnknownPartition, g)
	}
	switch {
	case c.Primary == "" || !nodes.Alive(c.Primary):
		return Proposal{}, fmt.Errorf("%w: %s", ErrNoPrimary, g)
	case c.RoleOf(from) != RoleSecondary:
		return Proposal{}, fmt.Errorf("%w: %s: %s", ErrNotSecondary, g, from)
	case !nodes.Alive(from) || !nodes.Alive(to):
		return Proposal{}, fmt.Errorf("%w: %s: copy_sec %s -> %s", ErrNodeNotAlive, g, from, to)
	}
	p := Proposal{Gpid: g, Ballot: c.Ballot,
		Actions: []Action{{Type: AddSecondary, Target: c.Primary, Node: to}},
		Reason:  fmt.Sprintf("balance copy_sec %s -> %s", from, to)}
	if _, err := ApplyProposal(c, p); err != nil {
		return Proposal{}, err
	}
	b.moves[g] = &move{kind: copySecondary, from: from, to: to, prop: p}
	return p, nil
}

// advance moves m along given the partition's current configuration c. It
// returns the proposal to emit, if any, and whether the move goes on.
func (m *move) advance(c PartitionConfig) (Proposal, bool, bool) {
	if m.kind == movePrimary {
		// Done once the ballot moved, whether by this proposal or another;
		// in the latter case a later round re-plans from the new state.
		return m.prop, true, c.Ballot == m.prop.Ballot
	}
	for {
		switch m.step {
		case stepIssued:
			if c.Ballot == m.prop.Ballot {
				return m.prop, true, true
			}
			if r := c.RoleOf(m.to); r != RoleLearner && r != RoleSecondary {
				return Proposal{}, false, false // the learner was dropped
			}
			m.step = stepLearning
		case stepLearning:
			switch {
			case c.RoleOf(m.to) == RoleLearner:
				return Proposal{}, false, true
			case c.RoleOf(m.to) != RoleSecondary:
				return Proposal{}, false, false
			case c.RoleOf(m.from) == RoleNone:
				return Proposal{}, false, false // someone removed it already
			case c.RoleOf(m.from) != RoleSecondary:
				return Proposal{}, false, false // from became primary: re-plan
			}
			m.prop = Proposal{Gpid: c.Gpid, Ballot: c.Ballot,
				Actions: []Action{{Type: Remove, Target: c.Primary, Node: m.from}},
				Reason:  fmt.Sprintf("balance: copy secondary %s -> %s, remove source", m.from, m.to)}
			m.step = stepRemoveIssued
			return m.prop, true, true
		case stepRemoveIssued:
			if c.RoleOf(m.from) == RoleNone {
				return Proposal{}, false, false // done
			}
			if c.Ballot == m.prop.Ballot {
				return m.prop, true, true
			}
			// The ballot moved for another reason; issue again if it still
			// makes sense.
			m.step = stepLearning
		}
	}
}

// unhealthy returns why new moves must wait, or "".
func unhealthy(l *Layout, nodes NodeView) string {
	for i := 0; i < l.Len(); i++ {
		c := l.At(i)
		if c.Primary == "" || c.ReplicaCount() < int(c.MaxReplicaCount) {
			return fmt.Sprintf("partition %s is not fully healthy", c.Gpid)
		}
		if !nodes.Alive(c.Primary) {
			return fmt.Sprintf("partition %s has a dead member", c.Gpid)
		}
		for _, s := range c.Secondaries {
			if !nodes.Alive(s) {
				return fmt.Sprintf("partition %s has a dead member", c.Gpid)
			}
		}
	}
	return ""
}

// balancePlan is the working state for new moves in one round. Nodes are
// numbered by their position in the alive list.
type balancePlan struct {
	b      *Balancer
	in     BalanceInput
	names  []string
	idx    map[string]int
	busy   []bool // node takes part in a move
	owned  map[Gpid]bool
	tables map[int32][]int // partition positions per table
	apps   []int32
	// cluster-wide primary and replica counts, pending moves included.
	cPrim, cRepl []int
	out          []Proposal
}

func newBalancePlan(b *Balancer, in BalanceInput) *balancePlan {
	names := in.Nodes.AliveNodes()
	pl := &balancePlan{
		b: b, in: in, names: names,
		idx:    make(map[string]int, len(names)),
		busy:   make([]bool, len(names)),
		owned:  make(map[Gpid]bool, len(b.moves)),
		tables: make(map[int32][]int),
		cPrim:  make([]int, len(names)),
		cRepl:  make([]int, len(names)),
	}
	for i, n := range names {
		pl.idx[n] = i
	}
	for g, m := range b.moves {
		pl.owned[g] = true
		pl.markBusy(m.from)
		pl.markBusy(m.to)
	}
	for i := 0; i < in.Layout.Len(); i++ {
		c := in.Layout.At(i)
		if _, ok := pl.tables[c.Gpid.AppID]; !ok {
			pl.apps = append(pl.apps, c.Gpid.AppID)
		}
		pl.tables[c.Gpid.AppID] = append(pl.tables[c.Gpid.AppID], i)
		if in.Busy != nil && in.Busy(c.Gpid) {
			pl.owned[c.Gpid] = true
		}
	}
	slices.Sort(pl.apps)
	for _, app := range pl.apps {
		prim, repl := pl.tableCounts(app)
		for i := range names {
			pl.cPrim[i] += prim[i]
			pl.cRepl[i] += repl[i]
		}
	}
	return pl
}

func (pl *balancePlan) markBusy(n string) {
	if i, ok := pl.idx[n]; ok {
		pl.busy[i] = true
	}
}

// tableCounts counts primaries and replicas of one table per alive node, as
// they will be once the pending moves complete.
func (pl *balancePlan) tableCounts(app int32) (prim, repl []int) {
	prim, repl = make([]int, len(pl.names)), make([]int, len(pl.names))
	add := func(s []int, n string, d int) {
		if i, ok := pl.idx[n]; ok {
			s[i] += d
		}
	}
	for _, pos := range pl.tables[app] {
		c := pl.in.Layout.At(pos)
		add(prim, c.Primary, 1)
		add(repl, c.Primary, 1)
		for _, s := range c.Secondaries {
			add(repl, s, 1)
		}
		m := pl.b.moves[c.Gpid]
		if m == nil {
			continue
		}
		switch m.kind {
		case movePrimary:
			if c.Primary == m.from {
				add(prim, m.from, -1)
				add(prim, m.to, 1)
			}
		case copySecondary:
			if r := c.RoleOf(m.to); r != RolePrimary && r != RoleSecondary {
				add(repl, m.to, 1)
			}
			if c.RoleOf(m.from) == RoleSecondary {
				add(repl, m.from, -1)
			}
		}
	}
	return prim, repl
}

func (pl *balancePlan) run() []Proposal {
	for _, app := range pl.apps {
		prim, repl := pl.tableCounts(app)
		if pl.balancePrimaries(app, prim) {
			continue
		}
		pl.balanceReplicas(app, repl)
	}
	return pl.out
}

// improves reports whether moving one unit from a node with table count ta
// and cluster count ca to one with tb, cb lowers the potential.
func improves(ta, tb, ca, cb int) bool {
	return ta-tb >= 2 || (ta-tb == 1 && ca-cb >= 2)
}

type primaryEdge struct {
	to  int
	pos int
}

// balancePrimaries issues primary moves for one table and reports whether
// it issued any.
func (pl *balancePlan) balancePrimaries(app int32, prim []int) bool {
	n := len(pl.names)
	edges := make([][]primaryEdge, n)
	for _, pos := range pl.tables[app] {
		c := pl.in.Layout.At(pos)
		u, ok := pl.idx[c.Primary]
		if !ok || pl.owned[c.Gpid] {
			continue
		}
		for _, s := range c.Secondaries {
			if v, ok := pl.idx[s]; ok {
				edges[u] = append(edges[u], primaryEdge{to: v, pos: pos})
			}
		}
	}
	usable := func(e primaryEdge) bool {
		return !pl.busy[e.to] && !pl.owned[pl.in.Layout.At(e.pos).Gpid]
	}
	issued := false
	for {
		path := pl.primaryPath(prim, edges, usable)
		if path == nil {
			path = pl.primaryDirectForCluster(prim, edges, usable)
		}
		if path == nil {
			return issued
		}
		issued = true
		src, dst := path[0].from, path[len(path)-1].to
		prim[src]--
		prim[dst]++
		pl.cPrim[src]--
		pl.cPrim[dst]++
		g := pl.in.Layout.At(path[0].pos).Gpid
		for _, h := range path {
			c := pl.in.Layout.At(h.pos)
			from, to := pl.names[h.from], pl.names[h.to]
			p := Proposal{Gpid: c.Gpid, Ballot: c.Ballot,
				Actions: []Action{
					{Type: DowngradeToSecondary, Target: from, Node: from},
					{Type: UpgradeToPrimary, Target: to, Node: to},
				},
				Reason: fmt.Sprintf("balance: move primary %s -> %s", from, to)}
			if len(path) > 1 {
				p.Reason += fmt.Sprintf(" (chain from %s)", g)
			}
			pl.b.moves[c.Gpid] = &move{kind: movePrimary, from: from, to: to, prop: p}
			pl.owned[c.Gpid] = true
			pl.busy[h.from], pl.busy[h.to] = true, true
			pl.out = append(pl.out, p)
		}
	}
}

type hop struct {
	from, to int
	pos      int
}

// primaryPath finds a shortest chain of primary moves from a free node with
// the highest count to a free node with at least two fewer primaries.
// Source levels are tried from the highest down, each as one multi-source
// breadth-first search.
func (pl *balancePlan) primaryPath(prim []int, edges [][]primaryEdge, usable func(primaryEdge) bool) []hop {
	levels := map[int]bool{}
	lowest := -1
	for i, c := range prim {
		if pl.busy[i] {
			continue
		}
		levels[c] = true
		if lowest < 0 || c < lowest {
			lowest = c
		}
	}
	order := make([]int, 0, len(levels))
	for l := range levels {
		order = append(order, l)
	}
	slices.Sort(order)
	slices.Reverse(order)
	for _, h := range order {
		if h-lowest < 2 {
			break
		}
		if path := pl.bfs(prim, edges, usable, h); path != nil {
			return path
		}
	}
	return nil
}

func (pl *balancePlan) bfs(prim []int, edges [][]primaryEdge, usable func(primaryEdge) bool, h int) []hop {
	n := len(pl.names)
	parent := make([]hop, n)
	seen := make([]bool, n)
	var layer []int
	for i := 0; i < n; i++ {
		if !pl.busy[i] && prim[i] == h {
			seen[i] = true
			parent[i] = hop{from: -1}
			layer = append(layer, i)
		}
	}
	// Layer by layer, so that among the targets at the shortest distance
	// the one with the fewest primaries (then fewest cluster-wide) wins.
	for len(layer) > 0 {
		var next []int
		target := -1
		for _, u := range layer {
			for _, e := range edges[u] {
				if seen[e.to] || !usable(e) {
					continue
				}
				seen[e.to] = true
				parent[e.to] = hop{from: u, to: e.to, pos: e.pos}
				next = append(next, e.to)
				if prim[e.to] <= h-2 && (target < 0 || prim[e.to] < prim[target] ||
					(prim[e.to] == prim[target] && pl.cPrim[e.to] < pl.cPrim[target])) {
					target = e.to
				}
			}
		}
		if target >= 0 {
			var path []hop
			for v := target; parent[v].from >= 0; v = parent[v].from {
				path = append(path, parent[v])
			}
			slices.Reverse(path)
			return path
		}
		layer = next
	}
	return nil
}

// primaryDirectForCluster finds one direct primary move that keeps the
// table within its bound and evens the cluster-wide primary counts.
func (pl *balancePlan) primaryDirectForCluster(prim []int, edges [][]primaryEdge, usable func(primaryEdge) bool) []hop {
	var best []hop
	bestGain := 0
	for u := range edges {
		if pl.busy[u] {
			continue
		}
		for _, e := range edges[u] {
			if !usable(e) || prim[u]-prim[e.to] != 1 {
				continue
			}
			if gain := pl.cPrim[u] - pl.cPrim[e.to]; gain >= 2 && gain > bestGain {
				best, bestGain = []hop{{from: u, to: e.to, pos: e.pos}}, gain
			}
		}
	}
	return best
}

// balanceReplicas issues copy-secondary moves for one table.
func (pl *balancePlan) balanceReplicas(app int32, repl []int) {
	// Candidate partitions per source node: the node is a secondary, the
	// partition has no learner and no move.
	srcParts := make([][]int, len(pl.names))
	for _, pos := range pl.tables[app] {
		c := pl.in.Layout.At(pos)
		if len(c.Learners) > 0 || pl.owned[c.Gpid] {
			continue
		}
		for _, s := range c.Secondaries {
			if i, ok := pl.idx[s]; ok {
				srcParts[i] = append(srcParts[i], pos)
			}
		}
	}
	for {
		free := make([]int, 0, len(pl.names))
		for i := range pl.names {
			if !pl.busy[i] {
				free = append(free, i)
			}
		}
		// Sources from the most loaded, destinations from the least.
		slices.SortStableFunc(free, func(a, b int) int {
			if repl[a] != repl[b] {
				return repl[b] - repl[a]
			}
			return pl.cRepl[b] - pl.cRepl[a]
		})
		if !pl.copyOne(repl, free, srcParts) {
			return
		}
	}
}

func (pl *balancePlan) copyOne(repl []int, free []int, srcParts [][]int) bool {
	for _, from := range free {
		for j := len(free) - 1; j >= 0; j-- {
			to := free[j]
			if to == from || !improves(repl[from], repl[to], pl.cRepl[from], pl.cRepl[to]) {
				continue
			}
			for _, pos := range srcParts[from] {
				c := pl.in.Layout.At(pos)
				if pl.owned[c.Gpid] || c.RoleOf(pl.names[to]) != RoleNone {
					continue
				}
				fromName, toName := pl.names[from], pl.names[to]
				p := Proposal{Gpid: c.Gpid, Ballot: c.Ballot,
					Actions: []Action{{Type: AddSecondary, Target: c.Primary, Node: toName}},
					Reason:  fmt.Sprintf("balance: copy secondary %s -> %s", fromName, toName)}
				pl.b.moves[c.Gpid] = &move{kind: copySecondary, from: fromName, to: toName, prop: p}
				pl.owned[c.Gpid] = true
				pl.busy[from], pl.busy[to] = true, true
				repl[from]--
				repl[to]++
				pl.cRepl[from]--
				pl.cRepl[to]++
				pl.out = append(pl.out, p)
				return true
			}
		}
	}
	return false
}

func sortedKeys(m map[Gpid]*move) []Gpid {
	out := make([]Gpid, 0, len(m))
	for g := range m {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b Gpid) int { return a.Compare(b) })
	return out
}
