package meta

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

func TestProposeRules(t *testing.T) {
	s := newSim(t, "n1:1", "n2:1", "n3:1", "n4:1")
	s.settle()
	tb := s.createTable("t", 2, 3)
	g := decide.Gpid{AppID: tb.AppID, Index: 0}
	cfg := s.stored(g)
	sec := cfg.Secondaries[0]
	ctx := context.Background()

	propose := func(proposer string, p ReplicaProposal) ProposalResult {
		t.Helper()
		res, err := s.ctl.Propose(ctx, proposer, []ReplicaProposal{p})
		if err != nil {
			t.Fatal(err)
		}
		return res[0]
	}
	cases := []struct {
		name     string
		proposer string
		p        ReplicaProposal
		want     error
		code     pb.ErrorCode
	}{
		{"stale ballot", cfg.Primary, ReplicaProposal{Gpid: g, Type: decide.DowngradeToInactive, Node: sec, Ballot: cfg.Ballot - 1},
			decide.ErrStaleProposal, pb.ErrorCode_ERR_STALE_BALLOT},
		{"not from the primary", sec, ReplicaProposal{Gpid: g, Type: decide.DowngradeToInactive, Node: cfg.Secondaries[1], Ballot: cfg.Ballot},
			ErrNotPrimary, pb.ErrorCode_ERR_INVALID_STATE},
		{"meta-only type", cfg.Primary, ReplicaProposal{Gpid: g, Type: decide.AssignPrimary, Node: sec, Ballot: cfg.Ballot},
			ErrUnsupportedProposal, pb.ErrorCode_ERR_INVALID_PARAMETERS},
		{"upgrade of a non-learner", cfg.Primary, ReplicaProposal{Gpid: g, Type: decide.UpgradeToSecondary, Node: sec, Ballot: cfg.Ballot},
			decide.ErrNotLearner, pb.ErrorCode_ERR_INVALID_PARAMETERS},
		{"unknown partition", cfg.Primary, ReplicaProposal{Gpid: decide.Gpid{AppID: 77}, Type: ForceUpdateBallot, Ballot: 1},
			ErrUnknownPartition, pb.ErrorCode_ERR_OBJECT_NOT_FOUND},
	}
	for _, tc := range cases {
		r := propose(tc.proposer, tc.p)
		if !errors.Is(r.Err, tc.want) || wireCode(r.Err) != tc.code {
			t.Errorf("%s: %v (%s), want %v (%s)", tc.name, r.Err, wireCode(r.Err), tc.want, tc.code)
		}
		if tc.p.Gpid == g && r.Config.Ballot != cfg.Ballot {
			t.Errorf("%s: refused proposal answered with %s, want the current config", tc.name, r.Config)
		}
	}
	if got := s.stored(g); got.Ballot != cfg.Ballot {
		t.Fatalf("refused proposals changed the store: %s", got)
	}

	// A forced ballot update keeps the membership.
	r := propose(cfg.Primary, ReplicaProposal{Gpid: g, Type: ForceUpdateBallot, Node: cfg.Primary, Ballot: cfg.Ballot})
	if r.Err != nil || r.Config.Ballot != cfg.Ballot+1 || r.Config.Primary != cfg.Primary || len(r.Config.Secondaries) != 2 {
		t.Fatalf("force update ballot: %s, %v", r.Config, r.Err)
	}
	cfg = r.Config
	// Removing a secondary that stopped acknowledging: it becomes a last
	// drop, and every member (and the removed node) is told.
	s.admin.mu.Lock()
	clear(s.admin.pushes)
	s.admin.mu.Unlock()
	r = propose(cfg.Primary, ReplicaProposal{Gpid: g, Type: decide.DowngradeToInactive, Node: sec, Ballot: cfg.Ballot, LastCommittedDecree: 42})
	if r.Err != nil || r.Config.RoleOf(sec) != decide.RoleNone || r.Config.LastDrops[0] != sec || r.Config.LastCommittedDecree != 42 {
		t.Fatalf("downgrade: %s, %v", r.Config, r.Err)
	}
	s.waitPushes()
	s.admin.mu.Lock()
	for _, n := range members(cfg) {
		if s.admin.pushes[n] == 0 {
			t.Errorf("%s was not pushed the new configuration", n)
		}
	}
	s.admin.mu.Unlock()

	// Two proposals for one partition in one request: the second is stale.
	cfg = r.Config
	res, err := s.ctl.Propose(ctx, cfg.Primary, []ReplicaProposal{
		{Gpid: g, Type: ForceUpdateBallot, Ballot: cfg.Ballot},
		{Gpid: g, Type: ForceUpdateBallot, Ballot: cfg.Ballot},
	})
	if err != nil || res[0].Err != nil || !errors.Is(res[1].Err, decide.ErrStaleProposal) {
		t.Fatalf("duplicate proposals: %v, %+v", err, res)
	}

	// Below steady, replicas' proposals wait.
	if _, _, err := s.ctl.MetaLevel(ctx, "freezed", KnobLease{}); err != nil {
		t.Fatal(err)
	}
	cfg = s.stored(g)
	r = propose(cfg.Primary, ReplicaProposal{Gpid: g, Type: ForceUpdateBallot, Ballot: cfg.Ballot})
	if !errors.Is(r.Err, ErrLevelForbids) || wireCode(r.Err) != pb.ErrorCode_ERR_STATE_FREEZED {
		t.Fatalf("proposal at freezed: %v", r.Err)
	}
}

// A proposal computed on a cache that is behind the store loses the
// compare-and-swap; the proposer gets the stored configuration and the
// cache catches up.
func TestProposeLosesRaceToStore(t *testing.T) {
	s := newSim(t, "n1:1", "n2:1", "n3:1")
	s.settle()
	tb := s.createTable("t", 1, 3)
	g := decide.Gpid{AppID: tb.AppID}
	s.ctl.mu.Lock()
	cur, rev, _ := s.ctl.cache.config(g)
	store := s.ctl.term.store
	s.ctl.mu.Unlock()
	ahead := cur.Clone()
	ahead.Ballot += 5
	if _, err := store.UpdatePartition(context.Background(), rev, ahead); err != nil {
		t.Fatal(err)
	}
	res, err := s.ctl.Propose(context.Background(), cur.Primary, []ReplicaProposal{{Gpid: g, Type: ForceUpdateBallot, Ballot: cur.Ballot}})
	if err != nil {
		t.Fatal(err)
	}
	var ce *ConflictError
	if !errors.As(res[0].Err, &ce) || res[0].Config.Ballot != ahead.Ballot || wireError(res[0].Err).GetBallot() != ahead.Ballot {
		t.Fatalf("got %s, %v; want a conflict carrying ballot %d", res[0].Config, res[0].Err, ahead.Ballot)
	}
	if c, _ := configsByGpid(t, s.ctl, "t")[g]; c.Ballot != ahead.Ballot {
		t.Fatalf("cache at ballot %d after the conflict, store at %d", c.Ballot, ahead.Ballot)
	}
	if got := s.stored(g); got.Ballot != ahead.Ballot {
		t.Fatalf("store at %d, want %d: the losing write landed", got.Ballot, ahead.Ballot)
	}
}

// A primary that gives up on a learner proposes DowngradeToInactive for it:
// the learner leaves the configuration without becoming a last drop (it
// never held a full copy), and the next round adds a learner again, so the
// partition is not left a replica short.
func TestProposeGiveUpLearner(t *testing.T) {
	s := newSim(t, "n1:1", "n2:1", "n3:1", "n4:1")
	s.settle()
	tb := s.createTable("t", 1, 3)
	g := decide.Gpid{AppID: tb.AppID}
	ctx := context.Background()
	cfg := s.stored(g)
	res, err := s.ctl.Propose(ctx, cfg.Primary, []ReplicaProposal{
		{Gpid: g, Type: decide.DowngradeToInactive, Node: cfg.Secondaries[0], Ballot: cfg.Ballot}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("downgrade of a secondary: %v, %+v", err, res)
	}
	round := func() decide.PartitionConfig {
		t.Helper()
		if _, err := s.ctl.Round(ctx); err != nil {
			t.Fatal(err)
		}
		s.waitPushes()
		return s.stored(g)
	}
	cfg = round()
	if len(cfg.Learners) != 1 {
		t.Fatalf("the cure added no learner: %s", cfg)
	}
	learner := cfg.Learners[0]
	res, err = s.ctl.Propose(ctx, cfg.Primary, []ReplicaProposal{
		{Gpid: g, Type: decide.DowngradeToInactive, Node: learner, Ballot: cfg.Ballot}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("give up on learner %s: %v, %+v", learner, err, res)
	}
	got := res[0].Config
	if got.RoleOf(learner) != decide.RoleNone || len(got.Learners) != 0 || got.Ballot != cfg.Ballot+1 {
		t.Fatalf("after giving up on %s: %s", learner, got)
	}
	if !slices.Equal(got.LastDrops, cfg.LastDrops) {
		t.Fatalf("giving up on a learner changed last_drops: %v, then %v", cfg.LastDrops, got.LastDrops)
	}
	if cfg = round(); len(cfg.Learners) != 1 {
		t.Fatalf("no learner added again after the give-up: %s", cfg)
	}
}
