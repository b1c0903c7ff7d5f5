package meta

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
)

// A node that stops beaconing loses its roles after the grace period, in
// one configuration change per partition; once the restart window (the
// assign delay) has run out, a new replica is added on the spare node and
// upgraded when its primary says it caught up.
func TestDeadNodeIsReplaced(t *testing.T) {
	s := newSim(t, "n1:1", "n2:1", "n3:1", "n4:1")
	s.settle()
	s.createTable("t", 8, 3)
	s.steps(2)
	s.checkHealthy("t")
	before := configsByGpid(t, s.ctl, "t")

	const dead = "n2:1"
	s.node(dead).down = true
	// Within the grace period nothing changes.
	for range int(testFD().Grace/time.Second) - 1 {
		if rep := s.step(); len(rep.Applied) != 0 {
			t.Fatalf("changes before the grace period ran out: %v", rep.Applied)
		}
	}
	var removed int
	for i := 0; i < 3 && removed == 0; i++ {
		removed = len(s.step().Applied)
	}
	after := configsByGpid(t, s.ctl, "t")
	for g, old := range before {
		cur := after[g]
		if old.RoleOf(dead) == decide.RoleNone {
			if cur.Ballot != old.Ballot {
				t.Fatalf("%s did not involve %s but changed: %s -> %s", g, dead, old, cur)
			}
			continue
		}
		if cur.Ballot != old.Ballot+1 || cur.RoleOf(dead) != decide.RoleNone || cur.Primary == "" {
			t.Fatalf("%s: want %s removed in one change that keeps a primary: %s -> %s", g, dead, old, cur)
		}
		if cur.LastDrops[len(cur.LastDrops)-1] != dead {
			t.Fatalf("%s: %s not recorded as last drop: %s", g, dead, cur)
		}
	}
	if removed == 0 {
		t.Fatal("dead node never removed")
	}

	// The restart window holds new copies back...
	s.steps(3)
	for g, c := range configsByGpid(t, s.ctl, "t") {
		if before[g].RoleOf(dead) != decide.RoleNone && (len(c.Learners) > 0 || c.ReplicaCount() == 3) {
			t.Fatalf("%s: replica added within the restart window: %s", g, c)
		}
	}
	// ...until it is shortened to nothing.
	if _, err := s.ctl.RemoteCommand(context.Background(), decide.KnobAssignDelayMs, []string{"0"}, KnobLease{}); err != nil {
		t.Fatal(err)
	}
	s.steps(3)
	s.checkHealthy("t")
	for g, c := range configsByGpid(t, s.ctl, "t") {
		if c.RoleOf(dead) != decide.RoleNone {
			t.Fatalf("%s: dead node back in %s", g, c)
		}
	}
}

// A restarted node comes back through the restart window: it is fenced,
// its roles are taken away, and then the guardian re-adds it as a
// learner (it catches up from its own data), not a stranger.
func TestRestartedNodeIsReadded(t *testing.T) {
	s := newSim(t, "n1:1", "n2:1", "n3:1", "n4:1")
	s.settle()
	s.createTable("t", 8, 3)
	s.steps(2)

	const node = "n3:1"
	before := configsByGpid(t, s.ctl, "t")
	n := s.node(node)
	n.start = s.clock.Now()
	for _, r := range n.reps {
		r.inactive = true
	}
	select {
	case <-s.ctl.Wake():
	default:
	}
	r := s.beacon(s.ctl, node)
	if r.Lease != 0 || !r.Allowed || wireCode(r.Err).String() != "ERR_INACTIVE_STATE" {
		t.Fatalf("restarted node: %+v, want allowed, fenced, no lease", r)
	}
	// The leader is asked for a round now: the old process's roles can
	// move without waiting for the next tick.
	select {
	case <-s.ctl.Wake():
	default:
		t.Fatal("a restarted node's beacon did not wake the leader's loop")
	}
	s.steps(6)
	s.checkHealthy("t")
	for g, c := range configsByGpid(t, s.ctl, "t") {
		if before[g].RoleOf(node) == decide.RoleNone {
			continue
		}
		// Removed, re-added as a learner, upgraded: three ballots, and the
		// node is back as a secondary, not replaced by another.
		if c.RoleOf(node) != decide.RoleSecondary || c.Ballot != before[g].Ballot+3 {
			t.Fatalf("%s: want %s back as secondary after three changes: %s -> %s", g, node, before[g], c)
		}
	}
	if r := s.beacon(s.ctl, node); r.Lease == 0 {
		t.Fatalf("node still without lease after re-adding: %+v", r)
	}
}

// A new leader on the same store changes nothing while every node keeps
// beaconing, and the old leader can no longer write.
func TestTakeoverChangesNothing(t *testing.T) {
	s := newSim(t, "n1:1", "n2:1", "n3:1", "n4:1")
	s.settle()
	s.createTable("t", 16, 3)
	s.steps(2)
	s.checkHealthy("t")
	before := s.configs(s.ctl, "t")

	old := s.ctl
	s.ctl = s.newController()
	// The new leader heard some beacons as a follower, not all.
	s.ctl.StepDown(old.Self())
	s.beacon(s.ctl, "n1:1")
	oldTerm := old.term.ctx
	s.lead(s.ctl)
	for range 3 * int(testFD().Grace/time.Second) {
		if rep := s.step(); len(rep.Applied)+len(rep.Failed) != 0 {
			t.Fatalf("new leader changed configurations: applied %v failed %v", rep.Applied, rep.Failed)
		}
	}
	if after := s.configs(s.ctl, "t"); after != before {
		t.Fatalf("configurations changed by the takeover:\nbefore\n%s\nafter\n%s", before, after)
	}

	// The old leader still believes it leads until it tries to write.
	_, err := old.MigrateNode(context.Background(), "n1:1", DrainOptions{})
	if !errors.Is(err, ErrLostLeadership) {
		t.Fatalf("deposed leader's migrate_node: %v, want ErrLostLeadership", err)
	}
	if oldTerm.Err() == nil || old.Leading() {
		t.Fatal("deposed leader's term did not end on the fence failure")
	}
	if after := s.configs(s.ctl, "t"); after != before {
		t.Fatalf("deposed leader changed configurations:\n%s", after)
	}
}

func configsByGpid(t *testing.T, c *Controller, table string) map[decide.Gpid]decide.PartitionConfig {
	t.Helper()
	_, cfgs, err := c.QueryConfig(table, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[decide.Gpid]decide.PartitionConfig, len(cfgs))
	for _, c := range cfgs {
		out[c.Gpid] = c
	}
	return out
}

// At steady nothing moves to a new node; at lively the balancer evens
// primaries and replicas out, through the same learner flow.
func TestBalancerRunsOnlyWhenLively(t *testing.T) {
	s := newSim(t, "n1:1", "n2:1", "n3:1")
	s.settle()
	s.createTable("t", 8, 3)
	s.addNode("n4:1")
	s.steps(5)
	load := func() (prim, repl int) {
		for _, c := range configsByGpid(t, s.ctl, "t") {
			if c.Primary == "n4:1" {
				prim++
			}
			if r := c.RoleOf("n4:1"); r == decide.RolePrimary || r == decide.RoleSecondary {
				repl++
			}
		}
		return prim, repl
	}
	if p, r := load(); p+r != 0 {
		t.Fatalf("steady level moved %d primaries and %d replicas to the new node", p, r)
	}
	if _, _, err := s.ctl.MetaLevel(context.Background(), "lively", KnobLease{}); err != nil {
		t.Fatal(err)
	}
	s.steps(40)
	s.checkHealthy("t")
	if p, r := load(); p != 2 || r != 6 {
		t.Fatalf("after balancing the new node holds %d primaries and %d replicas, want 2 and 6", p, r)
	}
	st, _ := s.ctl.Status()
	if st.BalanceOperations != 0 {
		t.Fatalf("%d balance operations still pending", st.BalanceOperations)
	}
}
