package decide

import (
	"errors"
	"testing"
	"time"
)

// TestFDFollowerRestartFenceExpires replays a rolling restart during which
// meta leadership moves. The restarted node's first beacon reaches the
// follower (replica servers try the meta servers in list order until one
// leads), so the follower sees the new start time; the leader of the time
// handles the restart and later gives the node its roles back. When the
// follower takes over minutes later, it must not treat that long-handled
// restart as fresh: the node is healthy and holds its roles, and fencing it
// would both strip those roles and make the drain of the next node look
// like it leaves a single live member.
func TestFDFollowerRestartFenceExpires(t *testing.T) {
	cfg := DefaultFDConfig()
	cfg.Protocol = proto
	fd, err := NewFailureDetector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fd.SetLeader(t0, false, "meta1", nil)
	for _, n := range []string{"n1", "n2", "n3"} {
		fd.Beacon(t0, beacon(n, t0))
	}
	// n1, drained, restarts; its first beacon goes to this follower.
	restart := t0.Add(time.Minute)
	fd.Beacon(restart, beacon("n1", restart))

	// Minutes later meta1 has re-added n1 everywhere; this server leads.
	took := restart.Add(5 * time.Minute)
	l := layoutOf(t,
		"1.0 b=9 p=n2 s=n1,n3",
		"1.1 b=9 p=n2 s=n3,n1",
	)
	fd.SetLeader(took, true, "meta2", l.Nodes())
	if !fd.Alive("n1") {
		t.Fatal("n1, restarted long before the takeover, is not presumed alive")
	}
	// The settle period passes with every node beaconing on time.
	p := NewPlanner(DefaultKnobs())
	now := took
	for now.Before(took.Add(cfg.Grace + 2*time.Second)) {
		now = now.Add(cfg.BeaconInterval)
		fd.Beacon(now, beacon("n1", restart))
		fd.Beacon(now, beacon("n2", t0))
		fd.Beacon(now, beacon("n3", t0))
		plan := p.Plan(now, l, fd)
		if len(plan.Proposals) != 0 || len(plan.Events) != 0 {
			t.Fatalf("takeover changed a healthy cluster: events %v, proposals\n%s", plan.Events, proposalsText(plan.Proposals))
		}
	}
	if !fd.Settled(now) || !fd.Alive("n1") {
		t.Fatalf("settled %v, n1 alive %v", fd.Settled(now), fd.Alive("n1"))
	}
	if ack := fd.Beacon(now, beacon("n1", restart)); ack.LeaseExpiry.IsZero() {
		t.Fatalf("n1 gets no lease: %v", ack.Reason)
	}
	// The roll goes on with n3 (migrated already): its secondary roles
	// can go, n1 and n2 stay in both partitions.
	props, err := DowngradeNode(l, fd, "n3")
	if err != nil {
		t.Fatalf("downgrade_node n3: %v", err)
	}
	if len(props) != 2 {
		t.Fatalf("proposals\n%s", proposalsText(props))
	}
}

// TestFDFollowerRestartFenceRecent: a restart the follower saw just before
// it took over may not have been handled by anyone (the old leader may
// have died with it), so its fence stays and the node's roles go.
func TestFDFollowerRestartFenceRecent(t *testing.T) {
	cfg := DefaultFDConfig()
	cfg.Protocol = proto
	fd, err := NewFailureDetector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fd.SetLeader(t0, false, "meta1", nil)
	fd.Beacon(t0, beacon("n1", t0))
	restart := t0.Add(time.Minute)
	fd.Beacon(restart, beacon("n1", restart))
	took := restart.Add(3 * time.Second)
	fd.SetLeader(took, true, "meta2", []string{"n1"})
	if fd.Alive("n1") {
		t.Fatal("n1, restarted just before the takeover, is alive")
	}
	ack := fd.Beacon(took, beacon("n1", restart))
	if !ack.LeaseExpiry.IsZero() || !errors.Is(ack.Reason, ErrNodeFenced) {
		t.Fatalf("ack %+v", ack)
	}
}
