package plan

import (
	"fmt"
	"slices"
	"strings"
)

// Operation is what a plan does. The three share the machine, the store,
// the lock and the operator commands (pause, resume, abort, status): only
// one runs on a cluster at a time.
type Operation string

const (
	// OpRoll restarts or upgrades servers (pegasus rolling-update); the
	// zero value, so stored rolls read as rolls.
	OpRoll Operation = ""
	// OpScaleIn takes replica servers out of the cluster for good
	// (pegasus scale-in).
	OpScaleIn Operation = "scale-in"
	// OpBalance lets the meta server's balancer even out primaries and
	// replicas, typically after replica servers joined (pegasus balance).
	OpBalance Operation = "balance"
)

// CommandName is the pegasus subcommand that runs the operation.
func (o Operation) CommandName() string {
	if o == OpRoll {
		return "rolling-update"
	}
	return string(o)
}

// Noun names one run of the operation in messages: "roll", "scale-in",
// "balance".
func (o Operation) Noun() string {
	if o == OpRoll {
		return "roll"
	}
	return string(o)
}

// SecondaryCopy copies the secondary of partition Gpid on From to To, a
// node outside the partition; the meta server removes From once the copy
// is a secondary (balance -g <gpid> -p copy_sec -f <from> -t <to>).
type SecondaryCopy struct {
	Gpid string `json:"gpid"`
	From string `json:"from"`
	To   string `json:"to"`
}

func (c SecondaryCopy) String() string {
	return fmt.Sprintf("balance -g %s -p copy_sec -f %s -t %s", c.Gpid, c.From, c.To)
}

// BuildScaleIn plans taking the replica servers o.Nodes out of the
// cluster for good, one at a time, in the order given, following
// Pegasus' scale-in guide with a copy in place of its re-replication
// after a kill:
//
//	prepare:  check-healthy; set_meta_level steady (the balancer does not
//	          move replicas back while nodes leave)
//	each node: migrate_node; balance -p copy_sec of every secondary it
//	          holds to the least loaded remaining node, at most
//	          Options.MaxCopies in flight, until no partition lists it and
//	          every partition is fully healthy; replica.kill_partition;
//	          stop; meta.forget_node
//	reset:    meta level back
//
// Every partition keeps max_replica_count replicas throughout: a copy
// joins before the node's replica leaves. Refused up front: a server down,
// a node that is not a replica server, and a table whose
// max_replica_count the remaining replica servers cannot hold.
func BuildScaleIn(s Snapshot, o Options) (Plan, error) {
	if err := s.validate(); err != nil {
		return Plan{}, err
	}
	o.SLO.Off = true // no baseline to compare a smaller cluster with
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return Plan{}, err
	}
	if len(o.Nodes) == 0 {
		return Plan{}, fmt.Errorf("%w: name the replica servers to remove", ErrEmptyScope)
	}
	if down := s.downNodes(); len(down) > 0 {
		return Plan{}, fmt.Errorf("%w: %s", ErrNodeDown, strings.Join(down, ", "))
	}
	byNode := make(map[string]ReplicaServer)
	for _, r := range s.Replicas {
		byNode[r.Node] = r
	}
	var leaving []ReplicaServer
	var unknown []string
	for _, n := range o.Nodes {
		r, ok := byNode[n]
		switch {
		case !ok:
			unknown = append(unknown, n)
		case slices.ContainsFunc(leaving, func(l ReplicaServer) bool { return l.Node == n }):
			return Plan{}, fmt.Errorf("%w: %s named twice", ErrInvalidOptions, n)
		default:
			leaving = append(leaving, r)
		}
	}
	if len(unknown) > 0 {
		return Plan{}, fmt.Errorf("%w: %s (not a replica server of the cluster)", ErrUnknownNode, strings.Join(unknown, ", "))
	}
	var remaining []string
	for _, r := range s.Replicas {
		if !slices.Contains(o.Nodes, r.Node) {
			remaining = append(remaining, r.Node)
		}
	}
	if err := checkCapacity(s.Partitions, remaining); err != nil {
		return Plan{}, err
	}
	if o.MinAvailability > 0 && s.Collector == nil {
		return Plan{}, fmt.Errorf("%w: min availability %s needs a collector to measure it",
			ErrInvalidOptions, percent(o.MinAvailability))
	}
	level, _ := normalizeMetaLevel(s.MetaLevel)
	if level == "" {
		level = "steady"
	}
	p := Plan{Operation: OpScaleIn, Options: o, Cluster: s.Cluster, MetaLevel: level, Tables: len(s.Tables)}
	p.fillCluster(s)
	b := builder{plan: &p, opts: o, snapshot: s}
	p.Notes = append(p.Notes, b.leftByRoll(KnobMetaLevel)...)

	b.add(Step{Kind: KindCheckHealthy, Phase: PhasePrepare, Holdable: true})
	// Steady: the balancer would move replicas back onto a leaving node;
	// the copies asked for still run.
	b.add(b.set(KindSetMetaLevel, KnobMetaLevel, "steady", Step{Phase: PhasePrepare, Holdable: true}))
	for _, r := range leaving {
		p.Batches = append(p.Batches, []string{r.Node})
	}
	p.Moves, p.Copies = expectedScaleIn(s.Partitions, o.Nodes, remaining)
	for _, r := range leaving {
		n, parts := r.Node, r.Partitions()
		// The node's first step: a pause holds here, never with the node
		// half emptied.
		b.add(Step{Kind: KindMigrate, Phase: PhaseReplica, Role: RoleReplica, Node: n, Partitions: parts, Holdable: true})
		b.add(Step{Kind: KindCopyOut, Phase: PhaseReplica, Role: RoleReplica, Node: n, Partitions: parts})
		b.add(Step{Kind: KindCloseReplicas, Phase: PhaseReplica, Role: RoleReplica, Node: n, Partitions: parts})
		b.add(Step{Kind: KindStop, Phase: PhaseReplica, Role: RoleReplica, Node: n, Decommission: true})
		b.add(Step{Kind: KindForget, Phase: PhaseReplica, Role: RoleReplica, Node: n})
	}
	b.add(b.reset(KindSetMetaLevel, KnobMetaLevel))
	return p, nil
}

// fillCluster copies the snapshot's servers and sizes into the plan.
func (p *Plan) fillCluster(s Snapshot) {
	for _, t := range s.Tables {
		p.Partitions += t.PartitionCount
	}
	for _, r := range s.Replicas {
		p.Replicas = append(p.Replicas, r.Node)
	}
	for _, m := range s.Metas {
		p.Metas = append(p.Metas, m.Node)
		if m.Leader {
			p.Leader = m.Node
		}
	}
	if s.Collector != nil {
		p.Collector = s.Collector.Node
	}
}

// leftByRoll notes the knobs an unfinished operation left overridden.
func (b *builder) leftByRoll(knobs ...string) []string {
	var notes []string
	for _, k := range knobs {
		if ks := b.snapshot.Knobs[k]; ks.LeftByRoll() {
			notes = append(notes, fmt.Sprintf("%s = %s was left by %s, which did not finish; "+
				"the configuration's value is restored at the end", k, ks.Value, ks.Owner))
		}
	}
	return notes
}

// checkCapacity refuses a scale-in after which some table would have more
// replicas per partition than replica servers to put them on.
func checkCapacity(parts []PartitionView, remaining []string) error {
	seen := make(map[string]bool)
	for _, p := range parts {
		if seen[p.Table] {
			continue
		}
		seen[p.Table] = true
		if p.MaxReplicas > len(remaining) {
			return fmt.Errorf("%w: table %s keeps %d replicas of each partition (max_replica_count), "+
				"but only %d replica servers would remain (%s)", ErrTooFewNodes, p.Table, p.MaxReplicas,
				len(remaining), strings.Join(remaining, ", "))
		}
	}
	return nil
}

// copying reports whether a copy of p is under way: a learner catching up,
// or a replica beyond max_replica_count that the meta server is about to
// remove (the copy is a secondary, its source not yet gone).
func (p PartitionView) copying() bool {
	return len(p.Learners) > 0 || p.Members() > p.MaxReplicas
}

// planCopies chooses the next copies that take node's secondaries
// elsewhere, given every partition's configuration: one per partition
// where node is a secondary and nothing else is learning, to the alive
// remaining node with the fewest replicas and learners (counting the
// copies chosen so far; address order breaks ties) that holds no role in
// it, until limit copies are in flight. Partitions already learning count
// as in flight. Deterministic for a given view.
//
// targets are the alive replica servers that may receive copies (the
// cluster's, less every leaving one).
func planCopies(parts []PartitionView, node string, targets []string, limit int) []SecondaryCopy {
	load := make(map[string]int)
	inFlight := 0
	for _, p := range parts {
		for _, n := range p.members() {
			load[n]++
		}
		if p.copying() && p.Holds(node) {
			inFlight++
		}
	}
	cands := slices.Clone(targets)
	slices.Sort(cands)
	var out []SecondaryCopy
	for _, p := range parts {
		if inFlight >= limit {
			break
		}
		if !slices.Contains(p.Secondaries, node) || p.copying() {
			continue
		}
		to := ""
		for _, c := range cands {
			if slices.Contains(p.members(), c) {
				continue
			}
			if to == "" || load[c] < load[to] {
				to = c
			}
		}
		if to == "" {
			continue
		}
		load[to]++
		inFlight++
		out = append(out, SecondaryCopy{Gpid: p.Gpid, From: node, To: to})
	}
	return out
}

// expectedScaleIn predicts, for a dry run, what a scale-in moves, node
// after node over the snapshot's layout: migrate_node hands each primary
// of the leaving node to the member leading fewest partitions (the meta
// server prefers the most caught-up one first, which a snapshot cannot
// know; in a quiet cluster all are caught up), then every secondary is
// copied to the least loaded remaining node, as if all copies ran at once.
// A node that left is in no partition when the next one goes.
func expectedScaleIn(parts []PartitionView, leaving, remaining []string) (map[string][]PrimaryMove, map[string][]SecondaryCopy) {
	view := make([]PartitionView, len(parts))
	leads := make(map[string]int)
	for i, p := range parts {
		view[i] = p
		view[i].Secondaries = slices.Clone(p.Secondaries)
		if p.Primary != "" {
			leads[p.Primary]++
		}
	}
	moves := make(map[string][]PrimaryMove)
	copies := make(map[string][]SecondaryCopy)
	for _, node := range leaving {
		for i := range view {
			v := &view[i]
			if v.Primary != node || len(v.Secondaries) == 0 {
				continue
			}
			to := v.Secondaries[0]
			for _, c := range v.Secondaries[1:] {
				if leads[c] < leads[to] || (leads[c] == leads[to] && c < to) {
					to = c
				}
			}
			moves[node] = append(moves[node], PrimaryMove{Gpid: v.Gpid, From: node, To: to})
			leads[node]--
			leads[to]++
			v.Primary = to
			v.Secondaries = append(slices.DeleteFunc(v.Secondaries, func(s string) bool { return s == to }), node)
		}
		cs := planCopies(view, node, remaining, len(view))
		for _, c := range cs {
			for i := range view {
				if v := &view[i]; v.Gpid == c.Gpid {
					v.Secondaries = append(slices.DeleteFunc(v.Secondaries, func(s string) bool { return s == node }), c.To)
				}
			}
		}
		copies[node] = cs
	}
	return moves, copies
}
