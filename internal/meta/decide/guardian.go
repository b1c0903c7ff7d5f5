package decide

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Guardian repairs partitions, following Pegasus' partition_guardian: it
// takes roles away from dead nodes, gives every partition a primary, and
// keeps max_replica_count members per partition. It remembers one thing
// between rounds: when each partition was first seen missing a secondary,
// which starts its restart window (replica_assign_delay_ms_for_dropouts).
// After a meta failover the windows start afresh, which only makes the new
// leader wait longer, never shorter.
//
// One round looks at every partition once and proposes at most one
// proposal per partition, so a proposal never races another one of the
// same round on the ballot.
type Guardian struct {
	windows map[Gpid]*window
	round   uint64
}

type window struct {
	since time.Time
	// round is the last round the partition was seen missing a secondary;
	// windows not refreshed by a round are dropped at its end.
	round uint64
	// drained: the node dropped last was alive when the window opened, so
	// it was taken out on purpose (downgrade_node before a restart) rather
	// than lost, and has not been seen dead since. Only such a partition is held back by a cap of 0 (see
	// quota); after a meta failover a window opens afresh and a node lost
	// earlier but back by then counts as drained, which delays its re-add
	// until the cap is raised, never a repair elsewhere.
	drained bool
}

// CureInput is everything a guardian round decides on.
type CureInput struct {
	Now time.Time
	// Level is the effective level: freezed only takes roles from dead
	// nodes; steady and lively also cure.
	Level  Level
	Knobs  Knobs
	Layout *Layout
	Nodes  NodeView
	// BalancerOwns reports partitions with a balancer move in progress;
	// the guardian leaves their surplus replica to the balancer. May be nil.
	BalancerOwns func(Gpid) bool
}

// WaitReason says why the guardian leaves a partition that needs repair
// alone this round.
type WaitReason uint8

const (
	// WaitDroppedNodes: no primary, no secondary left, and the last member
	// (the last dropped node) has not come back with its data. Only it is
	// sure to hold every committed write (Pegasus' DDD state).
	WaitDroppedNodes WaitReason = iota + 1
	// WaitRestartWindow: a secondary is missing and the node dropped last
	// may still come back within meta.lb.assign_delay_ms.
	WaitRestartWindow
	// WaitFlowControl: the chosen node already has
	// meta.lb.add_secondary_max_count_for_one_node learners in flight.
	WaitFlowControl
	// WaitNoCandidate: no alive node outside the group can take a replica.
	WaitNoCandidate
	// WaitSecondaryReport: no primary, and no alive secondary reports its
	// copy of the partition (yet): none is promoted on trust.
	WaitSecondaryReport
)

func (w WaitReason) String() string {
	switch w {
	case WaitDroppedNodes:
		return "waiting for the last dropped node to return"
	case WaitRestartWindow:
		return "waiting for the dropped node within the assign delay"
	case WaitFlowControl:
		return "add_secondary_max_count_for_one_node reached"
	case WaitNoCandidate:
		return "no node to place a replica on"
	case WaitSecondaryReport:
		return "waiting for a secondary to report its replica"
	}
	return "unknown"
}

// Waiting is a partition the guardian knowingly left unrepaired.
type Waiting struct {
	Gpid   Gpid
	Reason WaitReason
	// Node, Ballot and Decree detail WaitDroppedNodes: the node waited for,
	// the ballot of the last configuration it was a member of (zero if not
	// recorded) and the last commit point the meta server knows of.
	Node   string
	Ballot int64
	Decree int64
}

// String says why the partition waits, the way `ls -d` and `app -d` print
// it: "waiting for 10.0.0.3:34801, last member at ballot 7, decree 105".
func (w Waiting) String() string {
	if w.Reason != WaitDroppedNodes || w.Node == "" {
		return w.Reason.String()
	}
	if w.Ballot == 0 {
		return fmt.Sprintf("waiting for %s, the last member, decree %d", w.Node, w.Decree)
	}
	return fmt.Sprintf("waiting for %s, last member at ballot %d, decree %d", w.Node, w.Ballot, w.Decree)
}

// CureResult is the outcome of one guardian round.
type CureResult struct {
	Proposals []Proposal
	Waiting   []Waiting
	// Errors are internal inconsistencies: a rule produced an action that
	// the validity rules reject. The partition is left alone this round;
	// the driver should log these. Tests assert there are none.
	Errors []error
}

// Cure runs one round.
//
// Per partition, in one proposal:
//  1. (freezed and up) every dead member is removed with
//     DowngradeToInactive; a dead primary goes to last_drops like any
//     member, so the restart window can bring it back as a secondary.
//  2. (steady and up) without primary: promote the alive secondary that
//     reports its copy with the highest committed, then prepared, decree (it
//     has the least to reconcile), fewest primaries breaking ties. Without
//     secondaries and without last_drops (a new partition): AssignPrimary on
//     the node with the fewest primaries. Without secondaries but with
//     last_drops, recover (see recover): never by guess.
//  3. (steady and up) with primary, fewer members and learners than
//     max_replica_count: add one learner (see addSecondary). More members
//     than max_replica_count: Remove the secondary on the most loaded node.
//
// Steps 1 and 2 share one proposal, so a dead primary is replaced in one
// configuration change rather than two rounds.
func (g *Guardian) Cure(in CureInput) CureResult {
	var res CureResult
	if !in.Level.AllowsDeadNodeDowngrade() {
		return res
	}
	cure := in.Level.AllowsCure()
	if g.windows == nil {
		g.windows = make(map[Gpid]*window)
	}
	if cure {
		g.round++
	}
	r := &cureRound{in: in, g: g, res: &res, delta: make(map[string]NodeLoad)}
	var deferred []pendingAdd
	for i := 0; i < in.Layout.Len(); i++ {
		b := builder{base: in.Layout.At(i)}
		r.removeDead(&b)
		if cure {
			if add, ok := r.cure(&b); ok {
				deferred = append(deferred, add)
				continue
			}
		}
		r.finish(&b)
	}
	// Adds are rationed by flow control; partitions with the fewest
	// members go first, as they are one failure from unavailability.
	slices.SortStableFunc(deferred, func(a, b pendingAdd) int { return a.members - b.members })
	for i := range deferred {
		r.addSecondary(&deferred[i])
		r.finish(&deferred[i].b)
	}
	if cure {
		for gp, w := range g.windows {
			if w.round != g.round {
				delete(g.windows, gp)
			}
		}
	}
	slices.SortFunc(res.Proposals, func(a, b Proposal) int { return a.Gpid.Compare(b.Gpid) })
	slices.SortFunc(res.Waiting, func(a, b Waiting) int { return a.Gpid.Compare(b.Gpid) })
	return res
}

// WindowStart returns when the guardian first saw g missing a secondary in
// its current episode.
func (g *Guardian) WindowStart(gp Gpid) (time.Time, bool) {
	w := g.windows[gp]
	if w == nil {
		return time.Time{}, false
	}
	return w.since, true
}

// cureRound is the state of one Cure call.
type cureRound struct {
	in  CureInput
	g   *Guardian
	res *CureResult
	// delta is the change in node loads from proposals made this round, so
	// that later choices in the round see earlier ones.
	delta map[string]NodeLoad
}

type pendingAdd struct {
	b       builder
	members int
}

func (r *cureRound) load(n string) NodeLoad {
	l, d := r.in.Layout.Load(n), r.delta[n]
	return NodeLoad{Primary: l.Primary + d.Primary, Secondary: l.Secondary + d.Secondary, Learner: l.Learner + d.Learner}
}

func (r *cureRound) alive(n string) bool { return r.in.Nodes.Alive(n) }

func (r *cureRound) removeDead(b *builder) {
	base := &b.base
	if base.Primary != "" && !r.alive(base.Primary) {
		rep := r.report(base.Primary, base.Gpid)
		b.do(Action{Type: DowngradeToInactive, Target: base.Primary, Node: base.Primary,
			Incarnation: rep.Incarnation, MinPrimaryBallot: rep.MinPrimaryBallot}, "primary dead")
	}
	for _, s := range base.Secondaries {
		if !r.alive(s) {
			rep := r.report(s, base.Gpid)
			b.do(Action{Type: DowngradeToInactive, Target: b.cfg().Primary, Node: s,
				Incarnation: rep.Incarnation, MinPrimaryBallot: rep.MinPrimaryBallot}, "secondary dead")
		}
	}
	for _, l := range base.Learners {
		// Learners are gone already if the primary changed.
		if !r.alive(l) && b.cfg().RoleOf(l) == RoleLearner {
			b.do(Action{Type: DowngradeToInactive, Target: b.cfg().Primary, Node: l}, "learner dead")
		}
	}
}

// cure handles steps 2 and 3. It returns a pendingAdd when the partition
// needs a new learner, which is decided after every partition was seen.
func (r *cureRound) cure(b *builder) (pendingAdd, bool) {
	c := b.cfg()
	if c.Primary == "" {
		r.choosePrimary(b)
		return pendingAdd{}, false
	}
	members, max := c.ReplicaCount(), int(c.MaxReplicaCount)
	if members < max {
		// The window runs while members are missing, learner or not: a
		// learner that fails leaves the partition as short as before.
		w := r.g.windows[c.Gpid]
		if w == nil {
			w = &window{since: r.in.Now}
			if n := len(c.LastDrops); n > 0 && c.RoleOf(c.LastDrops[n-1]) == RoleNone {
				w.drained = r.alive(c.LastDrops[n-1])
			}
			r.g.windows[c.Gpid] = w
		}
		if n := len(c.LastDrops); w.drained && n > 0 && !r.alive(c.LastDrops[n-1]) {
			// Seen dead since: it was lost, not drained (a crashed node is
			// often taken out by its primary before the failure detector
			// notices). Its return is a repair, which a cap of 0 does not
			// hold back. A drained node the roll restarts fast enough is
			// never seen dead and stays held until the roll raises the cap.
			w.drained = false
		}
		w.round = r.g.round
		// One learner at a time per partition: each one loads the primary.
		if len(c.Learners) == 0 {
			return pendingAdd{b: *b, members: members}, true
		}
		return pendingAdd{}, false
	}
	if members > max && len(c.Learners) == 0 && (r.in.BalancerOwns == nil || !r.in.BalancerOwns(c.Gpid)) {
		victim := pickBest(c.Secondaries, func(a, b string) int { return r.load(a).Roles() - r.load(b).Roles() })
		b.do(Action{Type: Remove, Target: c.Primary, Node: victim}, "redundant secondary")
	}
	return pendingAdd{}, false
}

// incarnation is the copy of g node last reported, zero if unknown.
func (r *cureRound) incarnation(node string, g Gpid) uint64 {
	return r.report(node, g).Incarnation
}

// report returns node's latest report about g, zero if none. A restarted
// primary is dropped on the first beacon of its new process, which carries
// the new process's report, and with it the bound that spares the next
// primary a wait (ReplicaReport.MinPrimaryBallot).
func (r *cureRound) report(node string, g Gpid) ReplicaReport {
	rep, _ := r.in.Nodes.Report(node, g)
	return rep
}

func (r *cureRound) choosePrimary(b *builder) {
	c := b.cfg()
	if len(c.Secondaries) > 0 {
		// Only a secondary that reports its copy is promoted: one that
		// lost it (its replica was deleted, the node holds nothing) would
		// become an empty primary.
		var reporting []string
		for _, s := range c.Secondaries {
			if r.hasCopy(s, c.Gpid, 0) {
				reporting = append(reporting, s)
			}
		}
		if len(reporting) == 0 {
			r.res.Waiting = append(r.res.Waiting, Waiting{Gpid: c.Gpid, Reason: WaitSecondaryReport})
			return
		}
		best := pickBest(reporting, func(a, b string) int {
			if d := compareProgress(r.in.Nodes, c.Gpid, a, b); d != 0 {
				return d
			}
			return r.load(b).Primary - r.load(a).Primary
		})
		b.do(Action{Type: UpgradeToPrimary, Target: best, Node: best}, "no primary: promote secondary")
		return
	}
	if len(c.LastDrops) == 0 {
		best := ""
		for _, n := range r.in.Nodes.AliveNodes() {
			if best == "" || lessLoaded(r.load(n), r.load(best)) {
				best = n
			}
		}
		if best == "" {
			r.wait(c.Gpid, WaitNoCandidate)
			return
		}
		b.do(Action{Type: AssignPrimary, Target: best, Node: best}, "no primary: assign")
		return
	}
	best, w := RecoveryCandidate(*c, r.in.Nodes)
	if best == "" {
		r.res.Waiting = append(r.res.Waiting, w)
		return
	}
	b.do(Action{Type: AssignPrimary, Target: best, Node: best, Incarnation: r.incarnation(best, c.Gpid)},
		"no primary: recover from the last member")
}

// RecoveryCandidate chooses the new primary of a partition whose members
// are all gone (no primary, no secondary, last_drops not empty), or says
// why it waits. It is Pegasus' DDD state, decided on what members durably
// hold, never on a guess.
//
// Committing needs every member, so the node dropped last (L), a member of
// the last configuration that had any, holds every committed write, whether
// or not it heard of that configuration. It must be back, reporting the copy
// it was dropped with; else the partition waits for it. Another dropped
// node X is as good only if it provably holds as much: it was dropped in
// the same change as L (a member of the same last configuration), or it
// reports a member ballot at least that configuration's. Every other node
// may lack writes committed after it left, whatever ballot it reports: a
// replica that was pushed a configuration it is no member of does not take
// its ballot, but one of an older version did (issue 14's staggered
// outage). Among the candidates the highest reported member ballot, then
// the longest log (last prepared, then committed decree) wins, so that as
// few writes in flight as possible are given up; ties go to L.
func RecoveryCandidate(c PartitionConfig, nodes NodeView) (string, Waiting) {
	n := len(c.LastDrops)
	if c.Primary != "" || len(c.Secondaries) > 0 || n == 0 {
		return "", Waiting{Gpid: c.Gpid, Reason: WaitNoCandidate}
	}
	last, ld := c.LastDrops[n-1], c.dropDetail(n-1)
	wait := Waiting{Gpid: c.Gpid, Reason: WaitDroppedNodes, Node: last, Ballot: ld.MemberBallot, Decree: c.LastCommittedDecree}
	if !copyOf(nodes, last, c.Gpid, ld.Incarnation) {
		return "", wait
	}
	cand := []string{last}
	for i := n - 2; i >= 0 && ld.MemberBallot > 0; i-- {
		d, det := c.LastDrops[i], c.dropDetail(i)
		if !copyOf(nodes, d, c.Gpid, det.Incarnation) {
			continue
		}
		rep, _ := nodes.Report(d, c.Gpid)
		if det.MemberBallot == ld.MemberBallot || rep.MemberBallot >= ld.MemberBallot {
			cand = append(cand, d)
		}
	}
	best := pickBest(cand, func(a, b string) int {
		ra, _ := nodes.Report(a, c.Gpid)
		rb, _ := nodes.Report(b, c.Gpid)
		if d := cmpInt64(ra.MemberBallot, rb.MemberBallot); d != 0 {
			return d
		}
		if d := cmpInt64(ra.LastPreparedDecree, rb.LastPreparedDecree); d != 0 {
			return d
		}
		if d := cmpInt64(ra.LastCommittedDecree, rb.LastCommittedDecree); d != 0 {
			return d
		}
		// Equal: the node dropped last.
		if a == last {
			return 1
		}
		if b == last {
			return -1
		}
		return 0
	})
	return best, Waiting{}
}

// hasCopy reports whether node is alive and reports a usable copy of g; a
// non-zero incarnation must match the copy reported.
func (r *cureRound) hasCopy(node string, g Gpid, incarnation uint64) bool {
	return copyOf(r.in.Nodes, node, g, incarnation)
}

// copyOf reports whether node is alive and reports a usable copy of g, the
// copy named incarnation unless that is zero (unknown).
func copyOf(nodes NodeView, node string, g Gpid, incarnation uint64) bool {
	if !nodes.Alive(node) {
		return false
	}
	rep, ok := nodes.Report(node, g)
	if !ok || rep.Status == StatusError || rep.Status == StatusInvalid {
		return false
	}
	return incarnation == 0 || rep.Incarnation == 0 || rep.Incarnation == incarnation
}

// addSecondary adds one learner to a partition short of members, following
// Pegasus: normally only the node dropped last is re-added, once it is
// alive again, so that a restarting node catches up from its own data
// instead of a full copy being made elsewhere. The partition is in
// emergency, and a replica goes to the best other node, when it has fewer
// than two members, when there is no dropped node to wait for, or when the
// restart window (meta.lb.assign_delay_ms) has run out. In emergency,
// alive dropped nodes are still preferred (newest first): they may have
// most of the data. Flow control caps learners in flight per receiving node
// (see quota for what a cap of 0 holds back).
func (r *cureRound) addSecondary(p *pendingAdd) {
	c := p.b.cfg()
	var last string
	if n := len(c.LastDrops); n > 0 && c.RoleOf(c.LastDrops[n-1]) == RoleNone {
		last = c.LastDrops[n-1]
	}
	emergency := p.members < min(2, int(c.MaxReplicaCount)) || last == ""
	w := r.g.windows[c.Gpid]
	if w != nil && r.in.Now.Sub(w.since) >= r.in.Knobs.AssignDelay {
		emergency = true
	}
	// held: a cap of 0 applies to this partition (see quota).
	held := !emergency && w != nil && w.drained
	quota := func(n string) bool { return r.quota(n, held) }
	if !emergency {
		switch {
		case !r.alive(last):
			r.wait(c.Gpid, WaitRestartWindow)
		case !quota(last):
			r.wait(c.Gpid, WaitFlowControl)
		default:
			r.addLearner(&p.b, last, "restart window: re-add dropped node")
		}
		return
	}
	throttled := false
	for i := len(c.LastDrops) - 1; i >= 0; i-- {
		d := c.LastDrops[i]
		if c.RoleOf(d) != RoleNone || !r.alive(d) {
			continue
		}
		if quota(d) {
			r.addLearner(&p.b, d, "missing secondary: re-add dropped node")
			return
		}
		throttled = true
	}
	best := ""
	for _, n := range r.in.Nodes.AliveNodes() {
		if c.RoleOf(n) != RoleNone {
			continue
		}
		if !quota(n) {
			throttled = true
			continue
		}
		if best == "" || r.load(n).Roles() < r.load(best).Roles() {
			best = n
		}
	}
	switch {
	case best != "":
		r.addLearner(&p.b, best, "missing secondary: add on least loaded node")
	case throttled:
		r.wait(c.Gpid, WaitFlowControl)
	default:
		r.wait(c.Gpid, WaitNoCandidate)
	}
}

// quota reports whether node n may take one more learner.
//
// add_secondary_max_count_for_one_node bounds the learners in flight per
// node. A rolling restart sets it to 0 while it drains a node so that the
// node, taken out of its partitions while still alive, is not re-added to
// them before it restarts. That is all 0 may hold back: a partition that
// lost a replica elsewhere (a crashed node, or one with too few members
// left, or past its restart window) is repaired whatever the cap, one
// learner per node at a time. A roll that dies or pauses with the cap at 0
// must not leave the rest of the cluster unrepairable.
func (r *cureRound) quota(n string, held bool) bool {
	limit := r.in.Knobs.AddSecondaryMaxCountForOneNode
	if limit == 0 && !held {
		limit = 1
	}
	return r.load(n).Learner < limit
}

func (r *cureRound) addLearner(b *builder, n, reason string) {
	if b.do(Action{Type: AddSecondary, Target: b.cfg().Primary, Node: n}, reason) {
		d := r.delta[n]
		d.Learner++
		r.delta[n] = d
	}
}

func (r *cureRound) wait(g Gpid, why WaitReason) {
	r.res.Waiting = append(r.res.Waiting, Waiting{Gpid: g, Reason: why})
}

// finish turns the builder into a proposal and accounts its effect on node
// loads (learners were accounted when added).
func (r *cureRound) finish(b *builder) {
	if b.err != nil {
		// A rule above produced an action the validity rules reject: a
		// bug. Proposing nothing for the partition is the safe way out.
		r.res.Errors = append(r.res.Errors, b.err)
		return
	}
	if len(b.acts) == 0 {
		return
	}
	for _, n := range roleNodes(&b.base) {
		d := r.delta[n]
		d = subRole(d, b.base.RoleOf(n))
		r.delta[n] = d
	}
	for _, n := range roleNodes(&b.c) {
		d := r.delta[n]
		d = addRole(d, b.c.RoleOf(n))
		r.delta[n] = d
	}
	r.res.Proposals = append(r.res.Proposals, b.proposal())
}

func roleNodes(c *PartitionConfig) []string {
	out := make([]string, 0, 1+len(c.Secondaries))
	if c.Primary != "" {
		out = append(out, c.Primary)
	}
	return append(out, c.Secondaries...)
}

func addRole(l NodeLoad, r Role) NodeLoad {
	switch r {
	case RolePrimary:
		l.Primary++
	case RoleSecondary:
		l.Secondary++
	}
	return l
}

func subRole(l NodeLoad, r Role) NodeLoad {
	switch r {
	case RolePrimary:
		l.Primary--
	case RoleSecondary:
		l.Secondary--
	}
	return l
}

// compareProgress compares what a and b report about g: positive when a is
// further ahead (committed decree, then prepared decree). A node without a
// report counts as behind every node with one.
func compareProgress(nodes NodeView, g Gpid, a, b string) int {
	ra, oka := nodes.Report(a, g)
	rb, okb := nodes.Report(b, g)
	switch {
	case oka != okb:
		if oka {
			return 1
		}
		return -1
	case ra.LastCommittedDecree != rb.LastCommittedDecree:
		return cmpInt64(ra.LastCommittedDecree, rb.LastCommittedDecree)
	}
	return cmpInt64(ra.LastPreparedDecree, rb.LastPreparedDecree)
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// pickBest returns the candidate that better ranks highest; ties go to the
// first in ascending address order, so decisions are deterministic.
func pickBest(cand []string, better func(a, b string) int) string {
	best := ""
	for _, n := range cand {
		if best == "" {
			best = n
			continue
		}
		if d := better(n, best); d > 0 || (d == 0 && n < best) {
			best = n
		}
	}
	return best
}

// lessLoaded orders primary candidates: fewest primaries, then fewest
// roles. Equal loads are decided by the caller's iteration order.
func lessLoaded(a, b NodeLoad) bool {
	if a.Primary != b.Primary {
		return a.Primary < b.Primary
	}
	return a.Roles() < b.Roles()
}

// builder accumulates the actions of one partition's proposal, applying
// each to a scratch copy so that later rules see earlier actions' effect.
// The config is cloned only when a first action is added, so a round over
// healthy partitions allocates nothing.
type builder struct {
	base    PartitionConfig
	c       PartitionConfig
	acts    []Action
	reasons []string
	err     error
}

// cfg is the partition as the actions so far leave it (read only).
func (b *builder) cfg() *PartitionConfig {
	if len(b.acts) == 0 {
		return &b.base
	}
	return &b.c
}

func (b *builder) do(a Action, reason string) bool {
	if b.err != nil {
		return false
	}
	if len(b.acts) == 0 {
		b.c = b.base.Clone()
	}
	if err := applyInPlace(&b.c, a); err != nil {
		b.err = err
		return false
	}
	b.acts = append(b.acts, a)
	if !slices.Contains(b.reasons, reason) {
		b.reasons = append(b.reasons, reason)
	}
	return true
}

func (b *builder) proposal() Proposal {
	return Proposal{Gpid: b.base.Gpid, Ballot: b.base.Ballot, Actions: b.acts, Reason: strings.Join(b.reasons, "; ")}
}
