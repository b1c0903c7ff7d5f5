package meta

import (
	"errors"
	"slices"
	"testing"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

func TestBeaconLeaseAndRefusals(t *testing.T) {
	s := newSim(t, "n1:1", "n2:1")
	r := s.beacon(s.ctl, "n1:1")
	if !r.Allowed || r.Err != nil || r.Lease != testFD().Lease {
		t.Fatalf("leader's answer: %+v, want allowed with lease %v", r, testFD().Lease)
	}

	for _, proto := range []string{"2.0", "1.7", "garbage"} {
		s.node("n2:1").proto = proto
		r = s.beacon(s.ctl, "n2:1")
		if r.Allowed || !errors.Is(r.Err, decide.ErrProtocolIncompatible) || wireCode(r.Err) != pb.ErrorCode_ERR_VERSION_OUTDATED {
			t.Fatalf("protocol %q: %+v, want refused with ERR_VERSION_OUTDATED", proto, r)
		}
		if r.Lease != 0 || len(r.Configs) != 0 {
			t.Fatalf("protocol %q: refused node got lease %v and %d configs", proto, r.Lease, len(r.Configs))
		}
	}
	// One minor version apart is compatible: a rolling upgrade.
	s.node("n2:1").proto = "1.1"
	if r = s.beacon(s.ctl, "n2:1"); !r.Allowed || r.Lease == 0 {
		t.Fatalf("protocol 1.1: %+v, want allowed", r)
	}

	// A follower acks, names the leader, grants nothing.
	s.ctl.StepDown("meta9:34601")
	r = s.beacon(s.ctl, "n1:1")
	if !r.Allowed || r.Lease != 0 || r.Leader != "meta9:34601" {
		t.Fatalf("follower's answer: %+v", r)
	}
	e := wireError(r.Err)
	if e.GetCode() != pb.ErrorCode_ERR_FORWARD_TO_OTHERS || e.GetPrimary() != "meta9:34601" {
		t.Fatalf("follower's error: %v, want ERR_FORWARD_TO_OTHERS naming meta9:34601", e)
	}
}

func TestBeaconSyncsConfigs(t *testing.T) {
	s := newSim(t, "n1:1", "n2:1", "n3:1", "n4:1")
	s.steps(1)
	tb := s.createTable("t", 4, 3)
	g := func(i int32) decide.Gpid { return decide.Gpid{AppID: tb.AppID, Index: i} }

	cfg := s.stored(g(0))
	n := s.node(cfg.Primary)
	// Forget everything the node was told: it must be told again.
	clear(n.reps)
	r := s.beacon(s.ctl, n.addr)
	want := 0
	for i := range int32(4) {
		if s.stored(g(i)).RoleOf(n.addr) != decide.RoleNone {
			want++
		}
	}
	if len(r.Configs) != want || len(r.Tables) != 1 || r.Tables[0].Name != "t" {
		t.Fatalf("node with no replica got %d configs and tables %v, want %d and table t", len(r.Configs), r.Tables, want)
	}
	// Nothing more once it holds them.
	if r = s.beacon(s.ctl, n.addr); len(r.Configs) != 0 || len(r.Remove) != 0 {
		t.Fatalf("in-sync node got %d configs, remove %v", len(r.Configs), r.Remove)
	}

	// A stale ballot is corrected.
	n.reps[g(0)].cfg.Ballot = 0
	if r = s.beacon(s.ctl, n.addr); len(r.Configs) != 1 || r.Configs[0].Gpid != g(0) {
		t.Fatalf("stale ballot: got %v", r.Configs)
	}
	// A primary that went inactive at the same ballot is reactivated.
	n.reps[g(0)].inactive = true
	if r = s.beacon(s.ctl, n.addr); len(r.Configs) != 1 || r.Configs[0].Gpid != g(0) {
		t.Fatalf("inactive primary: got %v", r.Configs)
	}

	// Replicas of unknown tables, and of partitions the node has no role
	// in, may go; those of a dropped member (last_drops) must stay, they
	// are what recovery falls back on.
	var outsider string
	for _, a := range []string{"n1:1", "n2:1", "n3:1", "n4:1"} {
		if cfg.RoleOf(a) == decide.RoleNone {
			outsider = a
		}
	}
	o := s.node(outsider)
	o.reps[decide.Gpid{AppID: 99, Index: 0}] = &simReplica{cfg: decide.PartitionConfig{Gpid: decide.Gpid{AppID: 99}, Ballot: 3}}
	o.reps[g(0)] = &simReplica{cfg: cfg}
	r = s.beacon(s.ctl, outsider)
	slices.SortFunc(r.Remove, decide.Gpid.Compare)
	if len(r.Remove) != 2 || r.Remove[0] != g(0) || r.Remove[1] != (decide.Gpid{AppID: 99}) {
		t.Fatalf("outsider: remove %v, want [%s 99.0]", r.Remove, g(0))
	}

	s.ctl.mu.Lock()
	c0, rev, _ := s.ctl.cache.config(g(0))
	s.ctl.mu.Unlock()
	withDrop := c0.Clone()
	withDrop.Ballot++
	withDrop.LastDrops = []string{outsider}
	if _, err := s.ctl.term.store.UpdatePartition(t.Context(), rev, withDrop); err != nil {
		t.Fatal(err)
	}
	// Let the controller see the new record through a lost race.
	if _, err := s.ctl.Propose(t.Context(), cfg.Primary, []ReplicaProposal{{Gpid: g(0), Type: ForceUpdateBallot, Ballot: c0.Ballot}}); err != nil {
		t.Fatal(err)
	}
	o.reps[g(0)] = &simReplica{cfg: withDrop}
	if r = s.beacon(s.ctl, outsider); len(r.Remove) != 0 {
		t.Fatalf("dropped member told to remove its replica: %v", r.Remove)
	}
}
