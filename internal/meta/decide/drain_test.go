package decide

import (
	"errors"
	"strings"
	"testing"
)

func TestMigrateNode(t *testing.T) {
	l := layoutOf(t,
		"1.0 b=3 p=n1 s=n2,n3",
		"1.1 b=4 p=n1 s=n2,n3",
		"1.2 b=5 p=n1 s=n4",      // n4 dead: nobody to hand over to
		"1.3 b=6 p=n2 s=n1,n3",   // n1 secondary: untouched
		"2.0 b=7 p=n1 s=n3 l=n2", // the learner is no candidate
	)
	nodes := nodesAlive("n1", "n2", "n3")
	// 1.0: n3 is ahead. 1.1: equal progress and, counting 1.0's handover,
	// one primary each: address order gives n2.
	nodes.report("n2", Gpid{1, 0}, 10, 10)
	nodes.report("n3", Gpid{1, 0}, 10, 11)
	nodes.report("n2", Gpid{1, 1}, 5, 5)
	nodes.report("n3", Gpid{1, 1}, 5, 5)
	props, err := MigrateNode(l, nodes, "n1")
	want := "1.0@3 DOWNGRADE_TO_SECONDARY(n1,n1) UPGRADE_TO_PRIMARY(n3,n3)\n" +
		"1.1@4 DOWNGRADE_TO_SECONDARY(n1,n1) UPGRADE_TO_PRIMARY(n2,n2)\n" +
		"2.0@7 DOWNGRADE_TO_SECONDARY(n1,n1) UPGRADE_TO_PRIMARY(n3,n3)\n"
	if got := proposalsText(props); got != want {
		t.Fatalf("proposals\n%s\nwant\n%s", got, want)
	}
	var de *DrainError
	if !errors.As(err, &de) || !errors.Is(err, ErrDrainRefused) || !errors.Is(err, ErrNoHandoverTarget) {
		t.Fatalf("err = %v", err)
	}
	if len(de.Refused) != 1 || de.Refused[0].Gpid != (Gpid{1, 2}) || !strings.Contains(err.Error(), "1.2") {
		t.Fatalf("refused %+v", de.Refused)
	}
	applyAll(t, l, props)
	// Every handed-over partition keeps its members; n1 only primaries 1.2.
	if got := l.Load("n1"); got.Primary != 1 || got.Secondary != 4 {
		t.Fatalf("n1 load after migrate %+v", got)
	}
	for _, g := range []Gpid{{1, 0}, {1, 1}, {2, 0}} {
		c, _ := l.Config(g)
		if c.Primary == "" || c.RoleOf("n1") != RoleSecondary {
			t.Fatalf("%v after migrate", c)
		}
	}

	// Ties between equally loaded candidates go to the earlier address,
	// and each handover counts for the next choice.
	l2 := layoutOf(t, "1.0 p=x s=a,b", "1.1 p=x s=a,b", "1.2 p=x s=a,b")
	props, err = MigrateNode(l2, nodesAlive("x", "a", "b"), "x")
	if err != nil {
		t.Fatal(err)
	}
	want = "1.0@1 DOWNGRADE_TO_SECONDARY(x,x) UPGRADE_TO_PRIMARY(a,a)\n" +
		"1.1@1 DOWNGRADE_TO_SECONDARY(x,x) UPGRADE_TO_PRIMARY(b,b)\n" +
		"1.2@1 DOWNGRADE_TO_SECONDARY(x,x) UPGRADE_TO_PRIMARY(a,a)\n"
	if got := proposalsText(props); got != want {
		t.Fatalf("spread\n%s\nwant\n%s", got, want)
	}

	if _, err := MigrateNode(l2, nodesAlive("a", "b"), "x"); !errors.Is(err, ErrNodeNotAlive) {
		t.Fatalf("dead node: %v", err)
	}
}

func TestDowngradeNode(t *testing.T) {
	l := layoutOf(t,
		"1.0 b=3 p=n2 s=n1,n3",
		"1.1 b=4 p=n1 s=n2,n3",      // primary: refused, migrate first
		"1.2 b=5 p=n2 s=n1",         // would leave one member
		"1.3 b=6 p=n3 s=n1,n4",      // n4 dead: would leave one alive member
		"1.4 b=7 p=- s=n1,n2",       // no primary
		"1.5 b=8 p=n3 s=n2 l=n1",    // learner: removed
		"1.6 b=9 p=n2 s=n1 max=2",   // max 2: would leave one member
		"1.7 b=2 p=n4 s=n1,n2,n3",   // dead primary
		"2.0 b=2 p=n3 s=n1,n2 d=n5", // drops keep their order
	)
	nodes := nodesAlive("n1", "n2", "n3")
	props, err := DowngradeNode(l, nodes, "n1")
	want := "1.0@3 DOWNGRADE_TO_INACTIVE(n2,n1)\n" +
		"1.5@8 REMOVE(n3,n1)\n" +
		"2.0@2 DOWNGRADE_TO_INACTIVE(n3,n1)\n"
	if got := proposalsText(props); got != want {
		t.Fatalf("proposals\n%s\nwant\n%s", got, want)
	}
	var de *DrainError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v", err)
	}
	wantRefused := map[Gpid]error{
		{1, 1}: ErrIsPrimary,
		{1, 2}: ErrTooFewMembers,
		{1, 3}: ErrTooFewMembers,
		{1, 4}: ErrNoPrimary,
		{1, 6}: ErrTooFewMembers,
		{1, 7}: ErrNoPrimary,
	}
	if len(de.Refused) != len(wantRefused) {
		t.Fatalf("refused %+v", de.Refused)
	}
	for _, r := range de.Refused {
		if !errors.Is(r.Err, wantRefused[r.Gpid]) {
			t.Errorf("%s refused with %v, want %v", r.Gpid, r.Err, wantRefused[r.Gpid])
		}
		if !strings.Contains(err.Error(), r.Gpid.String()) {
			t.Errorf("error does not name %s", r.Gpid)
		}
	}
	applyAll(t, l, props)
	c, _ := l.Config(Gpid{2, 0})
	if want := pc(t, "2.0 b=3 p=n3 s=n2 d=n5,n1"); c.String() != want.String() {
		t.Fatalf("2.0 after downgrade: %v, want %v", c, want)
	}
	// The node keeps only what was refused.
	if got := l.Load("n1"); got.Learner != 0 || got.Primary != 1 || got.Secondary != 5 {
		t.Fatalf("n1 load %+v", got)
	}
}

// TestDrainForRestart: migrate then downgrade empties a node in a healthy
// cluster, and no partition loses its primary or drops below two members.
func TestDrainForRestart(t *testing.T) {
	l := layoutOf(t,
		"1.0 p=n1 s=n2,n3", "1.1 p=n2 s=n3,n1", "1.2 p=n3 s=n1,n2",
		"1.3 p=n1 s=n3,n2", "1.4 p=n2 s=n1,n3", "1.5 p=n3 s=n2,n1",
	)
	nodes := nodesAlive("n1", "n2", "n3")
	props, err := MigrateNode(l, nodes, "n1")
	if err != nil {
		t.Fatal(err)
	}
	applyAll(t, l, props)
	props, err = DowngradeNode(l, nodes, "n1")
	if err != nil {
		t.Fatal(err)
	}
	applyAll(t, l, props)
	if got := l.Load("n1"); got.Roles() != 0 {
		t.Fatalf("n1 still holds %+v", got)
	}
	for i := 0; i < l.Len(); i++ {
		c := l.At(i)
		h := HealthOf(c)
		if c.Primary == "" || h.WriteUnhealthy || c.ReplicaCount() != 2 || c.LastDrops[len(c.LastDrops)-1] != "n1" {
			t.Fatalf("after drain: %v", c)
		}
	}
	// Primaries spread over the two remaining nodes.
	if a, b := l.Load("n2").Primary, l.Load("n3").Primary; a != 3 || b != 3 {
		t.Fatalf("primaries n2=%d n3=%d", a, b)
	}
}

func TestMovePrimary(t *testing.T) {
	l := layoutOf(t, "1.0 b=3 p=n1 s=n2,n3", "1.1 b=4 p=n2 s=n1 l=n3")
	nodes := nodesAlive("n1", "n2", "n3")
	p, err := MovePrimary(l, nodes, Gpid{1, 0}, "n1", "n3")
	if err != nil || p == nil {
		t.Fatalf("move: %v %v", p, err)
	}
	if got := proposalsText([]Proposal{*p}); got != "1.0@3 DOWNGRADE_TO_SECONDARY(n1,n1) UPGRADE_TO_PRIMARY(n3,n3)\n" {
		t.Fatalf("proposal %s", got)
	}
	applyAll(t, l, []Proposal{*p})
	if p, err := MovePrimary(l, nodes, Gpid{1, 0}, "n1", "n3"); p != nil || err != nil {
		t.Fatalf("move already made: %v %v", p, err)
	}
	for _, tc := range []struct {
		g        Gpid
		from, to string
		want     error
	}{
		{Gpid{1, 0}, "n1", "n2", ErrTargetMismatch}, // n3 is primary now
		{Gpid{1, 1}, "n2", "n3", ErrNotSecondary},   // a learner
		{Gpid{1, 9}, "n2", "n1", ErrUnknownPartition},
	} {
		if _, err := MovePrimary(l, nodes, tc.g, tc.from, tc.to); !errors.Is(err, tc.want) {
			t.Errorf("%v %s->%s: %v, want %v", tc.g, tc.from, tc.to, err, tc.want)
		}
	}
	if _, err := MovePrimary(l, nodesAlive("n2"), Gpid{1, 1}, "n2", "n1"); !errors.Is(err, ErrNodeNotAlive) {
		t.Errorf("dead target: %v", err)
	}
}
