package plan

import (
	"fmt"
	"strings"
)

// BuildBalance plans letting the meta server's balancer even out the
// layout, typically once new replica servers joined (a scale-out: Pegasus'
// guide sets the level lively, watches nodes -d, and sets steady again):
//
//	check-healthy
//	set_meta_level lively, until the balancer has nothing left to move
//	    and every partition is fully healthy
//	meta level back
//
// The balancer moves at most one replica or primary per node at a time
// and starts nothing while a partition is not fully healthy, which bounds
// the extra load on every node. A pause sets the level to steady (moves in
// flight finish, none starts) until resume sets it lively again.
func BuildBalance(s Snapshot, o Options) (Plan, error) {
	if err := s.validate(); err != nil {
		return Plan{}, err
	}
	o.SLO.Off = true
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return Plan{}, err
	}
	if len(o.Nodes) > 0 {
		return Plan{}, fmt.Errorf("%w: balance takes no nodes", ErrInvalidOptions)
	}
	if down := s.downNodes(); len(down) > 0 {
		return Plan{}, fmt.Errorf("%w: %s (the balancer moves nothing while a node is down; "+
			"bring it back, or take it out with pegasus scale-in)", ErrNodeDown, strings.Join(down, ", "))
	}
	if o.MinAvailability > 0 && s.Collector == nil {
		return Plan{}, fmt.Errorf("%w: min availability %s needs a collector to measure it",
			ErrInvalidOptions, percent(o.MinAvailability))
	}
	level, _ := normalizeMetaLevel(s.MetaLevel)
	if level == "" {
		level = "steady"
	}
	p := Plan{Operation: OpBalance, Options: o, Cluster: s.Cluster, MetaLevel: level, Tables: len(s.Tables)}
	p.fillCluster(s)
	b := builder{plan: &p, opts: o, snapshot: s}
	p.Notes = append(p.Notes, b.leftByRoll(KnobMetaLevel)...)
	replicas := 0
	for _, r := range s.Replicas {
		replicas += r.Partitions()
	}
	b.add(Step{Kind: KindCheckHealthy, Phase: PhasePrepare, Holdable: true})
	b.add(b.set(KindWaitBalanced, KnobMetaLevel, "lively", Step{Phase: PhaseBalance, Partitions: replicas, Holdable: true}))
	b.add(b.reset(KindSetMetaLevel, KnobMetaLevel))
	return p, nil
}

// balanceObserved says how far the balancer is, for progress and for a
// timeout's reason.
func balanceObserved(b *BalanceStatus, v *ClusterView) string {
	var parts []string
	switch {
	case b.Moves() > 0:
		parts = append(parts, fmt.Sprintf("%d moves in flight (%d move_pri, %d copy_sec)", b.Moves(), b.MovePrimary, b.CopySecondary))
	case b.Blocked != "":
		parts = append(parts, "not balancing: "+b.Blocked)
	case b.Level != "" && b.Level != "lively":
		parts = append(parts, "meta level is "+b.Level)
	default:
		parts = append(parts, "planning")
	}
	parts = append(parts, fmt.Sprintf("primary stddev %.2f, total stddev %.2f", b.PrimaryStddev, b.TotalStddev))
	if v != nil {
		var counts []string
		for _, n := range v.Nodes {
			if n.Alive {
				counts = append(counts, fmt.Sprintf("%s %d/%d", n.Node, n.Primaries, n.Primaries+n.Secondaries))
			}
		}
		if len(counts) > 0 {
			parts = append(parts, "primaries/replicas "+strings.Join(counts, " "))
		}
	}
	return strings.Join(parts, "; ")
}
