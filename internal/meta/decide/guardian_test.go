package decide

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

type report struct {
	node                string
	gpid                Gpid
	committed, prepared int64
}

func TestGuardianRound(t *testing.T) {
	for _, tc := range []struct {
		name    string
		configs []string
		alive   []string
		reports []report
		ballots map[string]int64 // reported ballot per node, default 0
		members map[string]int64 // reported member ballot per node, default 0
		copies  map[string]uint64
		level   Level
		want    string // proposals, one per line
		waiting string // "gpid reason" per line
	}{
		{
			name:    "healthy cluster: nothing to do",
			configs: []string{"1.0 p=n1 s=n2,n3", "1.1 p=n2 s=n3,n1"},
			alive:   []string{"n1", "n2", "n3"},
		},
		{
			name:    "dead primary: downgrade and promote the most up-to-date secondary in one change",
			configs: []string{"1.0 b=3 p=n1 s=n2,n3"},
			alive:   []string{"n2", "n3", "n4"},
			reports: []report{{"n2", Gpid{1, 0}, 9, 12}, {"n3", Gpid{1, 0}, 10, 10}},
			want:    "1.0@3 DOWNGRADE_TO_INACTIVE(n1,n1) UPGRADE_TO_PRIMARY(n3,n3)\n",
		},
		{
			name:    "equal committed: prepared decides",
			configs: []string{"1.0 b=3 p=n1 s=n2,n3"},
			alive:   []string{"n2", "n3"},
			reports: []report{{"n2", Gpid{1, 0}, 10, 12}, {"n3", Gpid{1, 0}, 10, 11}},
			want:    "1.0@3 DOWNGRADE_TO_INACTIVE(n1,n1) UPGRADE_TO_PRIMARY(n2,n2)\n",
		},
		{
			name:    "equal progress: fewest primaries decides",
			configs: []string{"1.0 b=3 p=n1 s=n2,n3", "1.1 p=n2 s=n3,n4"},
			alive:   []string{"n2", "n3", "n4"},
			reports: []report{{"n2", Gpid{1, 0}, 10, 10}, {"n3", Gpid{1, 0}, 10, 10}},
			want:    "1.0@3 DOWNGRADE_TO_INACTIVE(n1,n1) UPGRADE_TO_PRIMARY(n3,n3)\n",
		},
		{
			name:    "freezed: dead roles go, nothing else",
			configs: []string{"1.0 b=3 p=n1 s=n2,n3", "1.1 p=n2 s=n1"},
			alive:   []string{"n2", "n3"},
			level:   LevelFreezed,
			want: "1.0@3 DOWNGRADE_TO_INACTIVE(n1,n1)\n" +
				"1.1@1 DOWNGRADE_TO_INACTIVE(n2,n1)\n",
		},
		{
			name:    "new partition: assign on the node with fewest primaries",
			configs: []string{"1.0 b=0 p=-", "1.1 p=n1 s=n2,n3", "1.2 p=n2 s=n1,n3"},
			alive:   []string{"n1", "n2", "n3"},
			want:    "1.0@0 ASSIGN_PRIMARY(n3,n3)\n",
		},
		{
			name:    "all members gone: wait for the last dropped node",
			configs: []string{"1.0 b=8 p=- d=n1,n2 db=6,7"},
			alive:   []string{"n1", "n3"},
			reports: []report{{"n1", Gpid{1, 0}, 100, 100}},
			members: map[string]int64{"n1": 6},
			waiting: "1.0 waiting for n2, last member at ballot 7, decree 0\n",
		},
		{
			name:    "last dropped node back with its data: recover from it",
			configs: []string{"1.0 b=8 p=- d=n1,n2"},
			alive:   []string{"n2", "n3"},
			reports: []report{{"n2", Gpid{1, 0}, 7, 7}},
			want:    "1.0@8 ASSIGN_PRIMARY(n2,n2)\n",
		},
		{
			name:    "last dropped node back but without the replica: wait",
			configs: []string{"1.0 b=8 p=- d=n1,n2"},
			alive:   []string{"n1", "n2"},
			reports: []report{{"n1", Gpid{1, 0}, 7, 7}},
			waiting: "1.0 waiting for n2, the last member, decree 0\n",
		},
		{
			// Its replica was deleted and created again: the copy it
			// reports is not the one that was a member.
			name:    "last dropped node back with another copy of the replica: wait",
			configs: []string{"1.0 b=8 p=- d=n1,n2 db=6,7 di=a1,a2"},
			alive:   []string{"n1", "n2"},
			reports: []report{{"n1", Gpid{1, 0}, 7, 7}, {"n2", Gpid{1, 0}, 0, 0}},
			members: map[string]int64{"n1": 6, "n2": 0},
			copies:  map[string]uint64{"n1": 0xa1, "n2": 0xb2},
			waiting: "1.0 waiting for n2, last member at ballot 7, decree 0\n",
		},
		{
			name:    "both last dropped nodes back, dropped together: the further one wins",
			configs: []string{"1.0 b=8 p=- d=n1,n2 db=7,7"},
			alive:   []string{"n1", "n2"},
			reports: []report{{"n1", Gpid{1, 0}, 9, 9}, {"n2", Gpid{1, 0}, 7, 8}},
			members: map[string]int64{"n1": 7, "n2": 7},
			want:    "1.0@8 ASSIGN_PRIMARY(n1,n1)\n",
		},
		{
			// n1 claims a higher commit point, but n2 was a member later:
			// n1 left first and may lack writes committed after.
			name:    "both last dropped nodes back: the later member wins over decrees",
			configs: []string{"1.0 b=8 p=- d=n1,n2 db=6,7"},
			alive:   []string{"n1", "n2"},
			reports: []report{{"n1", Gpid{1, 0}, 100, 100}, {"n2", Gpid{1, 0}, 99, 105}},
			members: map[string]int64{"n1": 6, "n2": 7},
			want:    "1.0@8 ASSIGN_PRIMARY(n2,n2)\n",
		},
		{
			// The last member may never have heard of the last ballot it
			// was a member of (its push was lost): its report is below
			// the one recorded at the drop, but the drop tells. n1, which
			// reports more progress, left earlier and is not a candidate.
			name:    "the last member under-reports its member ballot: still the one",
			configs: []string{"1.0 b=9 p=- d=n1,n2 db=6,8"},
			alive:   []string{"n1", "n2"},
			reports: []report{{"n1", Gpid{1, 0}, 100, 120}, {"n2", Gpid{1, 0}, 99, 105}},
			members: map[string]int64{"n1": 6, "n2": 6},
			want:    "1.0@9 ASSIGN_PRIMARY(n2,n2)\n",
		},
		{
			// n1 was dropped earlier, but reports membership of the last
			// configuration: it holds as much as n2, and a longer log.
			name:    "an earlier drop that was a member as late as the last one may win",
			configs: []string{"1.0 b=9 p=- d=n1,n2 db=6,8"},
			alive:   []string{"n1", "n2"},
			reports: []report{{"n1", Gpid{1, 0}, 100, 120}, {"n2", Gpid{1, 0}, 100, 105}},
			members: map[string]int64{"n1": 8, "n2": 8},
			want:    "1.0@9 ASSIGN_PRIMARY(n1,n1)\n",
		},
		{
			// A node that fell out of last_drops is never considered,
			// whatever it reports; the last dropped one always stays in.
			name:    "three drops, the last member is waited for even with two others back",
			configs: []string{"1.0 b=12 p=- d=n2,n3,n4 db=9,10,11"},
			alive:   []string{"n1", "n2", "n3"},
			reports: []report{{"n1", Gpid{1, 0}, 50, 50}, {"n2", Gpid{1, 0}, 40, 40}, {"n3", Gpid{1, 0}, 45, 46}},
			members: map[string]int64{"n1": 12, "n2": 9, "n3": 10},
			waiting: "1.0 waiting for n4, last member at ballot 11, decree 0\n",
		},
		{
			name:    "both last dropped nodes back, all equal: the last dropped",
			configs: []string{"1.0 b=8 p=- d=n1,n2 db=7,7"},
			alive:   []string{"n1", "n2"},
			reports: []report{{"n1", Gpid{1, 0}, 9, 9}, {"n2", Gpid{1, 0}, 9, 9}},
			members: map[string]int64{"n1": 7, "n2": 7},
			want:    "1.0@8 ASSIGN_PRIMARY(n2,n2)\n",
		},
		{
			// Issue 14's staggered outage: n1 left first, n2 then committed
			// alone and died. n1 came back first and was pushed the current
			// configuration, whose ballot an older replica server took
			// although it was no member: its ballot says nothing about the
			// writes it holds.
			name:    "staggered outage: a node dropped earlier reporting a higher ballot does not win",
			configs: []string{"1.0 b=3 p=- d=n1,n2"},
			alive:   []string{"n1", "n2"},
			reports: []report{{"n1", Gpid{1, 0}, 0, 1}, {"n2", Gpid{1, 0}, 2, 2}},
			ballots: map[string]int64{"n1": 3, "n2": 2},
			want:    "1.0@3 ASSIGN_PRIMARY(n2,n2)\n",
		},
		{
			name:    "staggered outage with drop details and member ballots",
			configs: []string{"1.0 b=3 p=- d=n1,n2 db=1,2"},
			alive:   []string{"n1", "n2"},
			reports: []report{{"n1", Gpid{1, 0}, 0, 1}, {"n2", Gpid{1, 0}, 2, 2}},
			ballots: map[string]int64{"n1": 1, "n2": 2},
			members: map[string]int64{"n1": 1, "n2": 2},
			want:    "1.0@3 ASSIGN_PRIMARY(n2,n2)\n",
		},
		{
			// The 3-replica variant: both secondaries removed in turn, the
			// primary n3 committed alone, then died.
			name:    "staggered outage, 3 replicas: the last member wins over returning secondaries",
			configs: []string{"1.0 b=4 p=- d=n1,n2,n3 db=1,2,3"},
			alive:   []string{"n1", "n2", "n3"},
			reports: []report{{"n1", Gpid{1, 0}, 0, 1}, {"n2", Gpid{1, 0}, 1, 2}, {"n3", Gpid{1, 0}, 3, 3}},
			ballots: map[string]int64{"n1": 4, "n2": 4, "n3": 3},
			members: map[string]int64{"n1": 1, "n2": 2, "n3": 3},
			want:    "1.0@4 ASSIGN_PRIMARY(n3,n3)\n",
		},
		{
			name:    "staggered outage, 3 replicas: the secondaries are back, the primary not: wait",
			configs: []string{"1.0 b=4 p=- d=n1,n2,n3 db=1,2,3"},
			alive:   []string{"n1", "n2"},
			reports: []report{{"n1", Gpid{1, 0}, 0, 1}, {"n2", Gpid{1, 0}, 1, 2}},
			members: map[string]int64{"n1": 1, "n2": 2},
			waiting: "1.0 waiting for n3, last member at ballot 3, decree 0\n",
		},
		{
			name:    "no primary and no secondary reporting its replica: wait",
			configs: []string{"1.0 b=5 p=n1 s=n2"},
			alive:   []string{"n2"},
			want:    "1.0@5 DOWNGRADE_TO_INACTIVE(n1,n1)\n",
			waiting: "1.0 waiting for a secondary to report its replica\n",
		},
		{
			name:    "dead secondary and learner are removed; learner not remembered",
			configs: []string{"1.0 b=4 p=n1 s=n2,n3 l=n4 max=4"},
			alive:   []string{"n1", "n2"},
			want:    "1.0@4 DOWNGRADE_TO_INACTIVE(n1,n3) DOWNGRADE_TO_INACTIVE(n1,n4)\n",
			// Two members of four: the restart window waits for n3.
			waiting: "1.0 waiting for the dropped node within the assign delay\n",
		},
		{
			name:    "primary and every secondary dead: all dropped, then wait",
			configs: []string{"1.0 b=4 p=n1 s=n2"},
			alive:   []string{"n3"},
			want:    "1.0@4 DOWNGRADE_TO_INACTIVE(n1,n1) DOWNGRADE_TO_INACTIVE(,n2)\n",
			waiting: "1.0 waiting for n2, last member at ballot 4, decree 0\n",
		},
		{
			name:    "redundant secondary: remove from the most loaded node",
			configs: []string{"1.0 p=n1 s=n2,n3,n4", "1.1 p=n3 s=n1,n2", "1.2 p=n2 s=n3,n1"},
			alive:   []string{"n1", "n2", "n3", "n4"},
			want:    "1.0@1 REMOVE(n1,n2)\n",
		},
		{
			name:    "single member: emergency, add on the least loaded node at once",
			configs: []string{"1.0 b=6 p=n1 d=n2,n3", "1.1 p=n2 s=n3,n1"},
			alive:   []string{"n1", "n2", "n3", "n4"},
			want:    "1.0@6 ADD_SECONDARY(n1,n3)\n",
		},
		{
			name:    "missing secondary, nothing dropped (replica count raised): add at once",
			configs: []string{"1.0 b=6 p=n1 s=n2", "1.1 p=n2 s=n3,n1"},
			alive:   []string{"n1", "n2", "n3", "n4"},
			want:    "1.0@6 ADD_SECONDARY(n1,n4)\n",
		},
		{
			name:    "learner in flight: wait for it",
			configs: []string{"1.0 b=6 p=n1 s=n2 l=n3 d=n3"},
			alive:   []string{"n1", "n2", "n3", "n4"},
		},
		{
			name:    "stopped: nothing at all",
			configs: []string{"1.0 b=3 p=n1 s=n2,n3"},
			alive:   []string{"n2", "n3"},
			level:   LevelStopped,
		},
		{
			name:    "blind: nothing at all",
			configs: []string{"1.0 b=3 p=n1 s=n2,n3"},
			alive:   []string{"n2", "n3"},
			level:   LevelBlind,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := layoutOf(t, tc.configs...)
			nodes := nodesAlive(tc.alive...)
			for _, r := range tc.reports {
				nodes.report(r.node, r.gpid, r.committed, r.prepared)
				rep := nodes.reports[r.node][r.gpid]
				rep.Ballot = tc.ballots[r.node]
				rep.MemberBallot = tc.members[r.node]
				rep.Incarnation = tc.copies[r.node]
				nodes.reports[r.node][r.gpid] = rep
			}
			level := tc.level
			if level == 0 {
				level = LevelSteady
			}
			var g Guardian
			res := g.Cure(CureInput{Now: t0, Level: level, Knobs: DefaultKnobs(), Layout: l, Nodes: nodes})
			if got := proposalsText(res.Proposals); got != tc.want {
				t.Errorf("proposals:\n%s\nwant:\n%s", got, tc.want)
			}
			if got := waitingText(res.Waiting); got != tc.waiting {
				t.Errorf("waiting:\n%s\nwant:\n%s", got, tc.waiting)
			}
			applyAll(t, l, res.Proposals)
		})
	}
}

func waitingText(ws []Waiting) string {
	var b strings.Builder
	for _, w := range ws {
		fmt.Fprintf(&b, "%s %s\n", w.Gpid, w)
	}
	return b.String()
}

// TestGuardianAssignDelay: a partition missing a secondary re-adds the node
// dropped last as soon as it is back within replica_assign_delay; anywhere
// else only once the delay ran out.
func TestGuardianAssignDelay(t *testing.T) {
	const delay = 5 * time.Minute
	type step struct {
		at    time.Duration
		alive []string
		want  string
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{
			name: "dropped node returns inside the window",
			steps: []step{
				{0, []string{"n1", "n2", "n4"}, ""},
				{time.Minute, []string{"n1", "n2", "n4"}, ""},
				{4 * time.Minute, []string{"n1", "n2", "n3", "n4"}, "1.0@5 ADD_SECONDARY(n1,n3)\n"},
			},
		},
		{
			name: "dropped node stays away: another node after the delay",
			steps: []step{
				{0, []string{"n1", "n2", "n4"}, ""},
				{delay - time.Nanosecond, []string{"n1", "n2", "n4"}, ""},
				{delay, []string{"n1", "n2", "n4"}, "1.0@5 ADD_SECONDARY(n1,n4)\n"},
			},
		},
		{
			name: "after the delay a returned dropped node is still preferred",
			steps: []step{
				{0, []string{"n1", "n2", "n4"}, ""},
				{delay + time.Second, []string{"n1", "n2", "n3", "n4"}, "1.0@5 ADD_SECONDARY(n1,n3)\n"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := DefaultKnobs()
			k.AssignDelay = delay
			var g Guardian
			l := layoutOf(t, "1.0 b=5 p=n1 s=n2 d=n3")
			for _, s := range tc.steps {
				res := g.Cure(CureInput{Now: t0.Add(s.at), Level: LevelSteady, Knobs: k, Layout: l, Nodes: nodesAlive(s.alive...)})
				if got := proposalsText(res.Proposals); got != s.want {
					t.Fatalf("at %v: proposals\n%s\nwant\n%s", s.at, got, s.want)
				}
				if s.want == "" && (len(res.Waiting) != 1 || res.Waiting[0].Reason != WaitRestartWindow) {
					t.Fatalf("at %v: waiting %v", s.at, res.Waiting)
				}
			}
		})
	}

	// The window runs from the first round that saw the partition short,
	// and ends when the partition is whole again.
	var g Guardian
	l := layoutOf(t, "1.0 b=5 p=n1 s=n2 d=n3")
	in := CureInput{Now: t0, Level: LevelSteady, Knobs: DefaultKnobs(), Layout: l, Nodes: nodesAlive("n1", "n2")}
	g.Cure(in)
	if start, ok := g.WindowStart(Gpid{1, 0}); !ok || !start.Equal(t0) {
		t.Fatalf("window start %v %v", start, ok)
	}
	if err := l.Set(pc(t, "1.0 b=7 p=n1 s=n2,n3")); err != nil {
		t.Fatal(err)
	}
	in.Now = t0.Add(time.Minute)
	in.Nodes = nodesAlive("n1", "n2", "n3")
	g.Cure(in)
	if _, ok := g.WindowStart(Gpid{1, 0}); ok {
		t.Fatal("window survives a whole partition")
	}
}

// TestGuardianFlowControl: add_secondary_max_count_for_one_node bounds the
// learners on one node. 0 holds back only the re-adding of a node that was
// taken out while alive (a node being drained for a restart); a partition
// that lost a replica elsewhere is still repaired, one learner per node at
// a time.
func TestGuardianFlowControl(t *testing.T) {
	configs := []string{
		"1.0 b=2 p=n1 d=n2",      // one member: emergency, n2 (dropped, alive) preferred
		"1.1 b=2 p=n1 s=n2",      // nothing dropped: emergency, least loaded node
		"1.2 b=2 p=n2 s=n1",      // same
		"1.3 b=2 p=n1 s=n2 d=n3", // restart window, n3 drained and alive: only n3 will do
		"1.4 b=2 p=n2 s=n1 l=n4 d=n4",
	}
	for _, tc := range []struct {
		max     int
		want    string
		waiting string
	}{
		{
			// The emergencies are repaired at one learner per node; only
			// the drained n3 waits.
			max: 0,
			want: "1.0@2 ADD_SECONDARY(n1,n2)\n" +
				"1.1@2 ADD_SECONDARY(n1,n3)\n",
			waiting: "1.2 add_secondary_max_count_for_one_node reached\n" +
				"1.3 add_secondary_max_count_for_one_node reached\n",
		},
		{
			// n4 has a learner already: no room there. The one-member
			// partition goes first and takes n2; n3 fills with 1.1.
			max: 1,
			want: "1.0@2 ADD_SECONDARY(n1,n2)\n" +
				"1.1@2 ADD_SECONDARY(n1,n3)\n",
			waiting: "1.2 add_secondary_max_count_for_one_node reached\n" +
				"1.3 add_secondary_max_count_for_one_node reached\n",
		},
		{
			// 1.2 goes to n3 (one learner) rather than n4 (one learner):
			// equal load, address order. 1.3 then finds n3 full.
			max: 2,
			want: "1.0@2 ADD_SECONDARY(n1,n2)\n" +
				"1.1@2 ADD_SECONDARY(n1,n3)\n" +
				"1.2@2 ADD_SECONDARY(n2,n3)\n",
			waiting: "1.3 add_secondary_max_count_for_one_node reached\n",
		},
		{
			max: 10,
			want: "1.0@2 ADD_SECONDARY(n1,n2)\n" +
				"1.1@2 ADD_SECONDARY(n1,n3)\n" +
				"1.2@2 ADD_SECONDARY(n2,n3)\n" +
				"1.3@2 ADD_SECONDARY(n1,n3)\n",
		},
	} {
		t.Run(fmt.Sprint(tc.max), func(t *testing.T) {
			k := DefaultKnobs()
			k.AddSecondaryMaxCountForOneNode = tc.max
			l := layoutOf(t, configs...)
			var g Guardian
			res := g.Cure(CureInput{Now: t0, Level: LevelSteady, Knobs: k, Layout: l, Nodes: nodesAlive("n1", "n2", "n3", "n4")})
			if got := proposalsText(res.Proposals); got != tc.want {
				t.Errorf("proposals\n%s\nwant\n%s", got, tc.want)
			}
			if got := waitingText(res.Waiting); got != tc.waiting {
				t.Errorf("waiting\n%s\nwant\n%s", got, tc.waiting)
			}
			applyAll(t, l, res.Proposals)
			// Learners per node never exceed the knob.
			for _, n := range []string{"n1", "n2", "n3", "n4"} {
				if got := l.Load(n).Learner; got > max(tc.max, 1) {
					t.Errorf("%s has %d learners", n, got)
				}
			}
		})
	}
}

// TestGuardianCapZeroRepairsElsewhere is the rolling restart's situation:
// n3 was drained (downgraded while alive) and the roll holds
// add_secondary_max_count_for_one_node at 0 so that n3 is not re-added
// before it restarts. Meanwhile n4 crashes. The cap must keep holding n3's
// own partitions, and must not keep the partitions n4 took down from
// being repaired: once n4 is back it is re-added, and a partition that n3
// and n4 together left with one member gets a learner at once.
func TestGuardianCapZeroRepairsElsewhere(t *testing.T) {
	k := DefaultKnobs()
	k.AddSecondaryMaxCountForOneNode = 0
	var g Guardian
	l := layoutOf(t,
		"1.0 b=3 p=n1 s=n2 d=n3", // drained n3
		"1.1 b=3 p=n1 s=n2,n4",   // n4 about to crash
		"1.2 b=3 p=n2 s=n4 d=n3", // drained n3, and n4 about to crash
		"1.3 b=3 p=n2 s=n1,n5")   // untouched
	cure := func(at time.Duration, alive ...string) CureResult {
		t.Helper()
		res := g.Cure(CureInput{Now: t0.Add(at), Level: LevelSteady, Knobs: k, Layout: l, Nodes: nodesAlive(alive...)})
		applyAll(t, l, res.Proposals) // Apply sets the new configuration
		return res
	}
	// n3 drained and alive: held.
	if res := cure(0, "n1", "n2", "n3", "n4", "n5"); len(res.Proposals) != 0 {
		t.Fatalf("drained n3 re-added while the cap is 0:\n%s", proposalsText(res.Proposals))
	}
	// n4 dies: its roles go; 1.2 is left with n2 alone and is repaired at
	// once (not on n3's account alone: any node will do, n3 first).
	res := cure(time.Second, "n1", "n2", "n3", "n5")
	want := "1.1@3 DOWNGRADE_TO_INACTIVE(n1,n4)\n" + "1.2@3 DOWNGRADE_TO_INACTIVE(n2,n4) ADD_SECONDARY(n2,n3)\n"
	if got := proposalsText(res.Proposals); got != want {
		t.Fatalf("after n4 died:\n%s\nwant\n%s", got, want)
	}
	// n4 comes back within the window: 1.1 gets it back although the cap
	// is 0; 1.0 still waits for the drained n3.
	res = cure(2*time.Second, "n1", "n2", "n3", "n4", "n5")
	want = "1.1@4 ADD_SECONDARY(n1,n4)\n"
	if got := proposalsText(res.Proposals); got != want {
		t.Fatalf("after n4 came back:\n%s\nwant\n%s", got, want)
	}
	if got := waitingText(res.Waiting); !strings.Contains(got, "1.0 add_secondary_max_count_for_one_node reached") {
		t.Fatalf("1.0 not held for n3: %s", got)
	}
}

// TestGuardianCapZeroRepairsAReplicaLostBeforeItsDeathWasSeen: a crashed
// node is often taken out of a partition by its primary (writes to it
// fail) before the failure detector declares it dead, so when the
// partition's window opens the dropped node still counts as alive, as a
// drained one would. Once it is seen dead it was lost, not drained: when
// it comes back it is re-added although the cap is 0. (A roll draining
// another node holds the cap at 0 meanwhile; before, such partitions
// stayed one replica short until the roll gave up.)
func TestGuardianCapZeroRepairsAReplicaLostBeforeItsDeathWasSeen(t *testing.T) {
	k := DefaultKnobs()
	k.AddSecondaryMaxCountForOneNode = 0
	var g Guardian
	// n3 was taken out of 1.0 by its primary a moment ago, still alive
	// in the failure detector's view.
	l := layoutOf(t, "1.0 b=3 p=n1 s=n2 d=n3")
	cure := func(at time.Duration, alive ...string) CureResult {
		t.Helper()
		res := g.Cure(CureInput{Now: t0.Add(at), Level: LevelSteady, Knobs: k, Layout: l, Nodes: nodesAlive(alive...)})
		applyAll(t, l, res.Proposals)
		return res
	}
	if res := cure(0, "n1", "n2", "n3"); len(res.Proposals) != 0 {
		t.Fatalf("n3 re-added while it is the window's drained node and the cap is 0:\n%s", proposalsText(res.Proposals))
	}
	// The failure detector declares n3 dead; it restarts and is back.
	cure(time.Second, "n1", "n2")
	res := cure(2*time.Second, "n1", "n2", "n3")
	if got, want := proposalsText(res.Proposals), "1.0@3 ADD_SECONDARY(n1,n3)\n"; got != want {
		t.Fatalf("after n3 crashed and came back:\n%s\nwant\n%s", got, want)
	}
}

// TestGuardianBalancerOwns: a surplus replica of a partition the balancer
// is moving is left to the balancer.
func TestGuardianBalancerOwns(t *testing.T) {
	l := layoutOf(t, "1.0 p=n1 s=n2,n3,n4")
	var g Guardian
	res := g.Cure(CureInput{Now: t0, Level: LevelSteady, Knobs: DefaultKnobs(), Layout: l,
		Nodes: nodesAlive("n1", "n2", "n3", "n4"), BalancerOwns: func(Gpid) bool { return true }})
	if len(res.Proposals) != 0 {
		t.Fatalf("proposals %v", res.Proposals)
	}
}

// TestGuardianDropRecordsPrimaryBound: a primary dropped because its
// process restarted is dropped on the new process's first beacon, whose
// report bounds the ballots the node can be primary at; the drop records
// the bound (and configurations carry it to the replicas), so the next
// primary need not wait out the old one's read lease. Without a report the
// drop records none.
func TestGuardianDropRecordsPrimaryBound(t *testing.T) {
	for _, tc := range []struct {
		name  string
		bound int64 // n1's reported MinPrimaryBallot; 0: no report
	}{
		{"restarted primary reported its bound", 4},
		{"silent primary: nothing known", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := layoutOf(t, "1.0 b=3 p=n1 s=n2,n3")
			nodes := nodesAlive("n2", "n3")
			g0 := Gpid{1, 0}
			nodes.report("n2", g0, 10, 10)
			nodes.report("n3", g0, 10, 10)
			if tc.bound != 0 {
				nodes.report("n1", g0, 10, 10)
				rep := nodes.reports["n1"][g0]
				rep.MinPrimaryBallot = tc.bound
				nodes.reports["n1"][g0] = rep
			}
			var g Guardian
			res := g.Cure(CureInput{Now: t0, Level: LevelSteady, Knobs: DefaultKnobs(), Layout: l, Nodes: nodes})
			if len(res.Proposals) != 1 {
				t.Fatalf("proposals: %s", proposalsText(res.Proposals))
			}
			next, err := l.Apply(res.Proposals[0])
			if err != nil {
				t.Fatal(err)
			}
			if next.Primary == "" || next.Primary == "n1" || len(next.LastDrops) != 1 || next.LastDrops[0] != "n1" {
				t.Fatalf("after the round: %s", next)
			}
			if got := next.dropDetail(0); got.MinPrimaryBallot != tc.bound || got.MemberBallot != 3 {
				t.Errorf("drop detail of n1: %+v, want member ballot 3, min primary ballot %d", got, tc.bound)
			}
		})
	}
}
