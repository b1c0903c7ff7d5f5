package plan

import (
	"fmt"
	"math"
	"slices"
)

// The fake cluster's side of scale-in and balance: copies of secondaries
// (balance -p copy_sec), the meta server forgetting a dead node, and a
// balancer that, at level lively, makes one move per tick while the
// layout is uneven.

// fakeCopy is a copy in flight: to learns for ticks, then becomes a
// secondary and from is removed.
type fakeCopy struct {
	part     *fakePartition
	from, to string
	ticks    int
}

// executeScale runs the commands of scale-in and balance; ok is false for
// any other command.
func (c *fakeCluster) executeScale(a Action) (string, bool) {
	switch a.Kind {
	case ActCopySecondaries:
		var refused []string
		for _, cp := range a.Copies {
			if msg := c.startCopy(cp.Gpid, cp.From, cp.To); msg != "" {
				refused = append(refused, msg)
			}
		}
		if len(refused) > 0 {
			return fmt.Sprintf("copy_sec refused: %v", refused), true
		}
		return "", true
	case ActForgetNode:
		n := c.server(a.Node)
		p, s, _ := c.counts(a.Node)
		switch {
		case n.running || n.downTicks < 2:
			return "meta: replica server still alive: " + a.Node, true
		case p+s > 0:
			return "meta: invalid argument: " + a.Node + " still holds replicas", true
		}
		c.forgotten[a.Node] = true
		return "", true
	}
	return "", false
}

// startCopy starts one copy_sec as the meta server would, or says why not.
func (c *fakeCluster) startCopy(gpid, from, to string) string {
	for _, p := range c.parts {
		if p.gpid != gpid {
			continue
		}
		switch {
		case !slices.Contains(p.secondaries, from):
			return gpid + ": " + from + " is not a secondary"
		case len(p.learners) > 0:
			return gpid + ": a move is in progress"
		case p.primary == to || slices.Contains(p.secondaries, to) || !c.server(to).running:
			return gpid + ": bad target " + to
		}
		p.learners = append(p.learners, to)
		c.copies = append(c.copies, &fakeCopy{part: p, from: from, to: to, ticks: c.learnTicks})
		return ""
	}
	return gpid + ": unknown partition"
}

// tickScale advances copies, the down counters and the balancer by one
// tick.
func (c *fakeCluster) tickScale() {
	for _, s := range c.replicas() {
		if s.running {
			s.downTicks = 0
		} else {
			s.downTicks++
		}
	}
	var left []*fakeCopy
	for _, cp := range c.copies {
		p := cp.part
		if !slices.Contains(p.learners, cp.to) {
			continue // dropped
		}
		if cp.ticks--; cp.ticks > 0 {
			left = append(left, cp)
			continue
		}
		p.learners = slices.DeleteFunc(p.learners, func(s string) bool { return s == cp.to })
		p.secondaries = append(p.secondaries, cp.to)
		p.secondaries = slices.DeleteFunc(p.secondaries, func(s string) bool { return s == cp.from })
		c.server(cp.to).open++
		if f := c.server(cp.from); f.open > 0 {
			f.open--
		}
	}
	c.copies = left
	if h := c.view().Tables[0].FullyHealthy; c.lowestHealthy < 0 || h < c.lowestHealthy {
		c.lowestHealthy = h
	}
	c.moving = ""
	if c.balancer && c.level == "lively" && len(c.copies) == 0 && c.healthy() {
		c.moving = c.balanceOnce()
	}
}

// healthy reports whether every partition has a primary and max members
// on running servers.
func (c *fakeCluster) healthy() bool {
	for _, p := range c.parts {
		if p.primary == "" || p.members() < p.max {
			return false
		}
	}
	return true
}

// balanceOnce makes the one move that evens primaries, else replicas,
// between the most and the least loaded running servers, and names it;
// "" when the spread is at most one.
func (c *fakeCluster) balanceOnce() string {
	var nodes []string
	for _, r := range c.replicas() {
		if r.running {
			nodes = append(nodes, r.node)
		}
	}
	extremes := func(count func(string) int) (hi, lo string) {
		for _, n := range nodes {
			if hi == "" || count(n) > count(hi) {
				hi = n
			}
			if lo == "" || count(n) < count(lo) {
				lo = n
			}
		}
		return hi, lo
	}
	prim := func(n string) int { p, _, _ := c.counts(n); return p }
	repl := func(n string) int { p, s, _ := c.counts(n); return p + s }
	if hi, lo := extremes(prim); prim(hi)-prim(lo) >= 2 {
		for _, p := range c.parts {
			if p.primary == hi && slices.Contains(p.secondaries, lo) {
				p.secondaries = append(slices.DeleteFunc(p.secondaries, func(s string) bool { return s == lo }), hi)
				p.primary = lo
				return "move_pri " + p.gpid
			}
		}
	}
	if hi, lo := extremes(repl); repl(hi)-repl(lo) >= 2 {
		for _, p := range c.parts {
			if slices.Contains(p.secondaries, hi) && p.primary != lo && !slices.Contains(p.secondaries, lo) {
				c.startCopy(p.gpid, hi, lo)
				return "copy_sec " + p.gpid
			}
		}
	}
	return ""
}

// balanceStatus is meta.lb.get_balance_operation_count and cluster_info.
func (c *fakeCluster) balanceStatus() *BalanceStatus {
	b := &BalanceStatus{Level: c.level, CopySecondary: len(c.copies)}
	if c.moving != "" && c.moving[:8] == "move_pri" {
		b.MovePrimary = 1
	}
	switch {
	case c.level != "lively":
		b.Blocked = "level " + c.level
	case !c.healthy():
		b.Blocked = "a partition is not fully healthy"
	default:
		b.Balanced = b.Moves() == 0 && c.moving == ""
	}
	var prim, repl []float64
	for _, r := range c.replicas() {
		if r.running {
			p, s, _ := c.counts(r.node)
			prim, repl = append(prim, float64(p)), append(repl, float64(p+s))
		}
	}
	b.PrimaryStddev, b.TotalStddev = stddev(prim), stddev(repl)
	return b
}

func stddev(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var sum, sq float64
	for _, x := range xs {
		sum += x
	}
	mean := sum / float64(len(xs))
	for _, x := range xs {
		sq += (x - mean) * (x - mean)
	}
	return math.Sqrt(sq / float64(len(xs)))
}

// addNode adds a running replica server holding nothing (a scale-out).
func (c *fakeCluster) addNode(node, version string) {
	c.servers = append(c.servers, &fakeServer{node: node, role: RoleReplica, running: true, version: version})
}
