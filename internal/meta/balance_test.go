package meta

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// balanceCountOf reads meta.lb.get_balance_operation_count detail.
func balanceCountOf(t *testing.T, c *Controller) balanceCount {
	t.Helper()
	out, err := c.RemoteCommand(context.Background(), balanceCountCommand, []string{"detail"}, KnobLease{})
	if err != nil {
		t.Fatal(err)
	}
	var r balanceCount
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%s: %q: %v", balanceCountCommand, out, err)
	}
	return r
}

// TestScaleInCopiesEverySecondaryAway is a scale-in as the meta server
// sees it, at level steady: migrate_node hands n4's primaries over, then
// balance -p copy_sec moves each of its secondaries to another node, the
// new copy joining before the old one leaves, until n4 holds nothing; n4
// stops, and meta.forget_node removes it from the node list.
func TestScaleInCopiesEverySecondaryAway(t *testing.T) {
	s := newSim(t, "n1:1", "n2:1", "n3:1", "n4:1")
	ctx := context.Background()
	s.settle()
	s.createTable("t", 8, 3)
	s.steps(2)
	if _, err := s.ctl.MigrateNode(ctx, "n4:1", DrainOptions{}); err != nil {
		t.Fatal(err)
	}
	s.waitPushes()

	others := []string{"n1:1", "n2:1", "n3:1"}
	copied := 0
	for g, c := range configsByGpid(t, s.ctl, "t") {
		if c.RoleOf("n4:1") != decide.RoleSecondary {
			continue
		}
		to := ""
		for _, n := range others {
			if c.RoleOf(n) == decide.RoleNone {
				to = n
			}
		}
		lines, err := s.ctl.CopySecondary(ctx, g, "n4:1", to)
		if err != nil || len(lines) != 1 {
			t.Fatalf("copy_sec %s n4 -> %s: %v %q", g, to, err, lines)
		}
		// A second copy of the same partition waits for the first.
		if _, err := s.ctl.CopySecondary(ctx, g, "n4:1", to); !errors.Is(err, decide.ErrMoveInProgress) ||
			wireCode(err) != pb.ErrorCode_ERR_INVALID_PARAMETERS {
			t.Fatalf("second copy_sec of %s: %v", g, err)
		}
		// Never fewer replicas than max_replica_count meanwhile.
		if got := configsByGpid(t, s.ctl, "t")[g]; got.ReplicaCount() < 3 || got.RoleOf(to) != decide.RoleLearner {
			t.Fatalf("%s after copy_sec: %s", g, got)
		}
		copied++
	}
	if copied == 0 {
		t.Fatal("n4 was secondary of nothing")
	}
	if r := balanceCountOf(t, s.ctl); r.CopySec != copied || r.Total != copied || r.Balanced {
		t.Fatalf("balance count while copying: %+v", r)
	}
	// Learners catch up, the sources are removed, the moves end.
	s.steps(3)
	for g, c := range configsByGpid(t, s.ctl, "t") {
		if c.RoleOf("n4:1") != decide.RoleNone || c.ReplicaCount() != 3 || len(c.Learners) > 0 {
			t.Fatalf("%s after the copies: %s", g, c)
		}
	}
	s.checkHealthy("t")
	if r := balanceCountOf(t, s.ctl); r.Total != 0 || r.Balanced || r.Level != "steady" {
		t.Fatalf("balance count at steady after the copies: %+v", r)
	}

	// Forgetting a node that is alive, or unknown name mistakes, is refused
	// or harmless.
	if err := s.ctl.ForgetNode("n4:1"); !errors.Is(err, ErrNodeAlive) {
		t.Fatalf("forget an alive node: %v", err)
	}
	s.node("n4:1").down = true
	s.steps(int(testFD().Grace/time.Second) + 2)
	if _, err := s.ctl.RemoteCommand(ctx, forgetNodeCommand, []string{"n4:1"}, KnobLease{}); err != nil {
		t.Fatal(err)
	}
	if err := s.ctl.ForgetNode("n4:1"); err != nil {
		t.Fatalf("forgetting twice: %v", err)
	}
	nodes, err := s.ctl.ListNodes()
	if err != nil {
		t.Fatal(err)
	}
	st, _ := s.ctl.Status()
	if len(nodes) != 3 || st.TotalNodes != 3 || st.AliveNodes != 3 {
		t.Fatalf("after forget_node: %d nodes, status %+v", len(nodes), st)
	}
}

// TestBalanceCountSaysBalanced: at lively the balancer evens out a new,
// empty node; meta.lb.get_balance_operation_count says moves are in
// progress, then balanced once nothing is left to move.
func TestBalanceCountSaysBalanced(t *testing.T) {
	s := newSim(t, "n1:1", "n2:1", "n3:1")
	ctx := context.Background()
	s.settle()
	s.createTable("t", 8, 3)
	s.steps(2)
	if r := balanceCountOf(t, s.ctl); r.Balanced || r.Level != "steady" {
		t.Fatalf("at steady: %+v", r)
	}
	s.addNode("n4:1")
	s.steps(2)
	if _, _, err := s.ctl.MetaLevel(ctx, "lively", KnobLease{}); err != nil {
		t.Fatal(err)
	}
	sawMoves := false
	for i := 0; i < 60; i++ {
		s.step()
		r := balanceCountOf(t, s.ctl)
		sawMoves = sawMoves || r.Total > 0
		if r.Balanced {
			if !sawMoves || r.Level != "lively" {
				t.Fatalf("balanced without moving anything: %+v", r)
			}
			nodes, _ := s.ctl.ListNodes()
			for _, n := range nodes {
				if n.Address == "n4:1" && n.Replicas() < 5 {
					t.Fatalf("balanced, but the new node holds %d of 24 replicas", n.Replicas())
				}
			}
			s.checkHealthy("t")
			return
		}
	}
	t.Fatal("never balanced")
}
