package decide

import (
	"errors"
	"testing"
)

func TestApply(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  string
		act  Action
		want string // expected config, or "" when an error is expected
		err  error
	}{
		// AssignPrimary: node == target, no primary, node in no role.
		{"assign new", "1.0 b=1", Action{Type: AssignPrimary, Target: "n1", Node: "n1"}, "1.0 b=2 p=n1", nil},
		{"assign recovers dropped node", "1.0 b=5 d=n2,n1", Action{Type: AssignPrimary, Target: "n1", Node: "n1"}, "1.0 b=6 p=n1 d=n2", nil},
		{"assign target mismatch", "1.0", Action{Type: AssignPrimary, Target: "n2", Node: "n1"}, "", ErrTargetMismatch},
		{"assign with primary", "1.0 p=n2", Action{Type: AssignPrimary, Target: "n1", Node: "n1"}, "", ErrHasPrimary},
		{"assign a secondary", "1.0 p=- s=n1", Action{Type: AssignPrimary, Target: "n1", Node: "n1"}, "", ErrAlreadyMember},
		{"assign empty node", "1.0", Action{Type: AssignPrimary, Target: "", Node: ""}, "", ErrTargetMismatch},

		// UpgradeToPrimary: node == target, no primary, node is secondary.
		{"upgrade", "1.0 b=4 p=- s=n1,n2 d=n3", Action{Type: UpgradeToPrimary, Target: "n2", Node: "n2"}, "1.0 b=5 p=n2 s=n1 d=n3", nil},
		{"upgrade with primary", "1.0 p=n3 s=n1", Action{Type: UpgradeToPrimary, Target: "n1", Node: "n1"}, "", ErrHasPrimary},
		{"upgrade non-secondary", "1.0 p=- s=n1", Action{Type: UpgradeToPrimary, Target: "n2", Node: "n2"}, "", ErrNotSecondary},
		{"upgrade target mismatch", "1.0 p=- s=n1", Action{Type: UpgradeToPrimary, Target: "n2", Node: "n1"}, "", ErrTargetMismatch},

		// AddSecondary: target is primary, node holds no role, room left.
		{"add learner", "1.0 b=2 p=n1 s=n2 d=n3", Action{Type: AddSecondary, Target: "n1", Node: "n3"}, "1.0 b=3 p=n1 s=n2 l=n3 d=n3", nil},
		{"add one extra for balancing", "1.0 p=n1 s=n2,n3", Action{Type: AddSecondary, Target: "n1", Node: "n4"}, "1.0 b=2 p=n1 s=n2,n3 l=n4", nil},
		{"add beyond one extra", "1.0 p=n1 s=n2,n3 l=n4", Action{Type: AddSecondary, Target: "n1", Node: "n5"}, "", ErrGroupFull},
		{"add without primary", "1.0 p=- s=n2", Action{Type: AddSecondary, Target: "", Node: "n3"}, "", ErrNoPrimary},
		{"add target not primary", "1.0 p=n1 s=n2", Action{Type: AddSecondary, Target: "n2", Node: "n3"}, "", ErrTargetMismatch},
		{"add existing secondary", "1.0 p=n1 s=n2", Action{Type: AddSecondary, Target: "n1", Node: "n2"}, "", ErrAlreadyMember},
		{"add existing learner", "1.0 p=n1 s=n2 l=n3", Action{Type: AddSecondary, Target: "n1", Node: "n3"}, "", ErrAlreadyMember},

		// UpgradeToSecondary: target is primary, node is learner.
		{"learner done", "1.0 b=3 p=n1 s=n2 l=n3 d=n4,n3", Action{Type: UpgradeToSecondary, Target: "n1", Node: "n3"}, "1.0 b=4 p=n1 s=n2,n3 d=n4", nil},
		{"upgrade non-learner", "1.0 p=n1 s=n2", Action{Type: UpgradeToSecondary, Target: "n1", Node: "n3"}, "", ErrNotLearner},
		{"upgrade learner wrong target", "1.0 p=n1 s=n2 l=n3", Action{Type: UpgradeToSecondary, Target: "n2", Node: "n3"}, "", ErrTargetMismatch},

		// DowngradeToSecondary: target == node == primary.
		{"primary steps down", "1.0 b=7 p=n1 s=n2 l=n3", Action{Type: DowngradeToSecondary, Target: "n1", Node: "n1"}, "1.0 b=8 p=- s=n2,n1", nil},
		{"step down not primary", "1.0 p=n1 s=n2", Action{Type: DowngradeToSecondary, Target: "n2", Node: "n2"}, "", ErrTargetMismatch},
		{"step down no primary", "1.0 p=- s=n2", Action{Type: DowngradeToSecondary, Target: "n2", Node: "n2"}, "", ErrNoPrimary},

		// DowngradeToInactive: primary (target == node) or member (target == primary).
		{"dead primary", "1.0 b=2 p=n1 s=n2,n3 l=n4", Action{Type: DowngradeToInactive, Target: "n1", Node: "n1"}, "1.0 b=3 p=- s=n2,n3 d=n1", nil},
		{"drop secondary", "1.0 p=n1 s=n2,n3", Action{Type: DowngradeToInactive, Target: "n1", Node: "n3"}, "1.0 b=2 p=n1 s=n2 d=n3", nil},
		{"drop secondary of headless", "1.0 p=- s=n2,n3", Action{Type: DowngradeToInactive, Target: "", Node: "n3"}, "1.0 b=2 p=- s=n2 d=n3", nil},
		{"drop learner keeps drops", "1.0 p=n1 s=n2 l=n3 d=n5", Action{Type: DowngradeToInactive, Target: "n1", Node: "n3"}, "1.0 b=2 p=n1 s=n2 d=n5", nil},
		{"drops are FIFO of 3", "1.0 p=n1 s=n2 d=a,b,c", Action{Type: DowngradeToInactive, Target: "n1", Node: "n2"}, "1.0 b=2 p=n1 d=b,c,n2", nil},
		{"re-drop moves to end", "1.0 p=n1 s=n2 l=a d=a,b", Action{Type: DowngradeToInactive, Target: "n1", Node: "n2"}, "1.0 b=2 p=n1 l=a d=a,b,n2", nil},
		{"drop primary wrong target", "1.0 p=n1 s=n2", Action{Type: DowngradeToInactive, Target: "n2", Node: "n1"}, "", ErrTargetMismatch},
		{"drop secondary wrong target", "1.0 p=n1 s=n2,n3", Action{Type: DowngradeToInactive, Target: "n2", Node: "n3"}, "", ErrTargetMismatch},
		{"drop non-member", "1.0 p=n1 s=n2", Action{Type: DowngradeToInactive, Target: "n1", Node: "n9"}, "", ErrNotMember},

		// Remove: target is primary, node is secondary or learner.
		{"remove secondary", "1.0 p=n1 s=n2,n3,n4", Action{Type: Remove, Target: "n1", Node: "n2"}, "1.0 b=2 p=n1 s=n3,n4", nil},
		{"remove learner", "1.0 p=n1 s=n2 l=n4", Action{Type: Remove, Target: "n1", Node: "n4"}, "1.0 b=2 p=n1 s=n2", nil},
		{"remove primary", "1.0 p=n1 s=n2", Action{Type: Remove, Target: "n1", Node: "n1"}, "", ErrIsPrimary},
		{"remove non-member", "1.0 p=n1 s=n2", Action{Type: Remove, Target: "n1", Node: "n5"}, "", ErrNotMember},
		{"remove without primary", "1.0 p=- s=n2", Action{Type: Remove, Target: "", Node: "n2"}, "", ErrNoPrimary},

		{"unknown type", "1.0 p=n1", Action{Type: ConfigType(42), Target: "n1", Node: "n1"}, "", ErrUnknownConfigType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := pc(t, tc.cfg)
			before := cfg.Clone()
			got, err := Apply(cfg, tc.act)
			if cfg.String() != before.String() {
				t.Fatalf("Apply modified its input: %v -> %v", before, cfg)
			}
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !errors.Is(err, ErrInvalidAction) {
					t.Fatalf("Apply = %v, %v; want error %v", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			want := pc(t, tc.want)
			if got.String() != want.String() {
				t.Fatalf("Apply =\n  %v\nwant\n  %v", got, want)
			}
			if err := got.Check(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestApplyProposal(t *testing.T) {
	cfg := pc(t, "1.0 b=9 p=n1 s=n2,n3")
	handover := Proposal{Gpid: cfg.Gpid, Ballot: 9, Actions: []Action{
		{Type: DowngradeToSecondary, Target: "n1", Node: "n1"},
		{Type: UpgradeToPrimary, Target: "n2", Node: "n2"},
	}}
	got, err := ApplyProposal(cfg, handover)
	if err != nil {
		t.Fatal(err)
	}
	// Two actions, one configuration change.
	if want := pc(t, "1.0 b=10 p=n2 s=n3,n1"); got.String() != want.String() {
		t.Fatalf("handover = %v, want %v", got, want)
	}

	stale := handover
	stale.Ballot = 8
	if _, err := ApplyProposal(cfg, stale); !errors.Is(err, ErrStaleProposal) {
		t.Fatalf("stale proposal: %v", err)
	}
	other := handover
	other.Gpid = Gpid{1, 1}
	if _, err := ApplyProposal(cfg, other); !errors.Is(err, ErrWrongPartition) {
		t.Fatalf("wrong partition: %v", err)
	}
	if _, err := ApplyProposal(cfg, Proposal{Gpid: cfg.Gpid, Ballot: 9}); !errors.Is(err, ErrEmptyProposal) {
		t.Fatalf("empty proposal: %v", err)
	}
	// The second action is checked against the state the first left: n2 is
	// no longer a secondary once promoted.
	bad := Proposal{Gpid: cfg.Gpid, Ballot: 9, Actions: []Action{
		{Type: DowngradeToSecondary, Target: "n1", Node: "n1"},
		{Type: UpgradeToPrimary, Target: "n2", Node: "n2"},
		{Type: UpgradeToPrimary, Target: "n3", Node: "n3"},
	}}
	if _, err := ApplyProposal(cfg, bad); !errors.Is(err, ErrHasPrimary) {
		t.Fatalf("sequential check: %v", err)
	}
}

func TestCheckAlive(t *testing.T) {
	alive := func(n string) bool { return n != "dead" }
	g := Gpid{1, 0}
	for _, tc := range []struct {
		act Action
		ok  bool
	}{
		{Action{Type: AssignPrimary, Target: "dead", Node: "dead"}, false},
		{Action{Type: UpgradeToPrimary, Target: "n1", Node: "n1"}, true},
		{Action{Type: AddSecondary, Target: "dead", Node: "n2"}, false}, // the primary must drive learning
		{Action{Type: AddSecondary, Target: "n1", Node: "dead"}, false},
		{Action{Type: UpgradeToSecondary, Target: "n1", Node: "dead"}, false},
		{Action{Type: DowngradeToSecondary, Target: "dead", Node: "dead"}, false},
		{Action{Type: DowngradeToInactive, Target: "dead", Node: "dead"}, true}, // taking roles needs no liveness
		{Action{Type: Remove, Target: "n1", Node: "dead"}, true},
	} {
		err := CheckAlive(Proposal{Gpid: g, Actions: []Action{tc.act}}, alive)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrNodeNotAlive)) {
			t.Errorf("CheckAlive(%v) = %v, want ok=%v", tc.act, err, tc.ok)
		}
	}
}

func TestConfigCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  PartitionConfig
	}{
		{"two roles", PartitionConfig{MaxReplicaCount: 3, Primary: "a", Secondaries: []string{"a"}}},
		{"duplicate secondary", PartitionConfig{MaxReplicaCount: 3, Secondaries: []string{"a", "a"}}},
		{"empty node", PartitionConfig{MaxReplicaCount: 3, Secondaries: []string{""}}},
		{"member in drops", PartitionConfig{MaxReplicaCount: 3, Primary: "a", LastDrops: []string{"a"}}},
		{"too many drops", PartitionConfig{MaxReplicaCount: 3, LastDrops: []string{"a", "b", "c", "d"}}},
		{"zero replicas", PartitionConfig{}},
	} {
		if err := tc.cfg.Check(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: Check = %v", tc.name, err)
		}
	}
	// A learner may be the dropped node coming back.
	ok := PartitionConfig{MaxReplicaCount: 3, Primary: "a", Learners: []string{"b"}, LastDrops: []string{"b"}}
	if err := ok.Check(); err != nil {
		t.Errorf("learner in drops: %v", err)
	}
}

func TestProposalLines(t *testing.T) {
	p := Proposal{Gpid: Gpid{2, 5}, Actions: []Action{{Type: DowngradeToInactive, Target: "n1", Node: "n3"}}}
	want := "propose --gpid 2.5 --type DOWNGRADE_TO_INACTIVE -t n1 -n n3"
	if got := p.Lines(); len(got) != 1 || got[0] != want {
		t.Fatalf("Lines = %q", got)
	}
}
