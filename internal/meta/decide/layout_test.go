package decide

import (
	"errors"
	"slices"
	"testing"
)

// checkLayoutIndex compares the layout's node index with a recount.
func checkLayoutIndex(t testing.TB, l *Layout) {
	t.Helper()
	want := map[string]NodeLoad{}
	parts := map[string][]int{}
	for i := 0; i < l.Len(); i++ {
		c := l.At(i)
		add := func(n string, f func(*NodeLoad)) {
			x := want[n]
			f(&x)
			want[n] = x
			parts[n] = append(parts[n], i)
		}
		if c.Primary != "" {
			add(c.Primary, func(x *NodeLoad) { x.Primary++ })
		}
		for _, s := range c.Secondaries {
			add(s, func(x *NodeLoad) { x.Secondary++ })
		}
		for _, s := range c.Learners {
			add(s, func(x *NodeLoad) { x.Learner++ })
		}
	}
	var nodes []string
	for n := range want {
		nodes = append(nodes, n)
	}
	slices.Sort(nodes)
	if got := l.Nodes(); !slices.Equal(got, nodes) {
		t.Fatalf("Nodes() = %v, want %v", got, nodes)
	}
	for n, w := range want {
		if got := l.Load(n); got != w {
			t.Fatalf("Load(%s) = %+v, want %+v", n, got, w)
		}
		if got := l.PartitionsOf(n); !slices.Equal(got, parts[n]) {
			t.Fatalf("PartitionsOf(%s) = %v, want %v", n, got, parts[n])
		}
	}
}

func TestLayout(t *testing.T) {
	l := layoutOf(t, "1.0 b=2 p=a s=b,c", "1.1 b=2 p=b s=c l=d", "2.0 p=- s=a d=c")
	checkLayoutIndex(t, l)
	if _, err := l.Apply(Proposal{Gpid: Gpid{1, 1}, Ballot: 2, Actions: []Action{{Type: UpgradeToSecondary, Target: "b", Node: "d"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Apply(Proposal{Gpid: Gpid{1, 0}, Ballot: 2, Actions: []Action{{Type: DowngradeToInactive, Target: "a", Node: "a"}}}); err != nil {
		t.Fatal(err)
	}
	checkLayoutIndex(t, l)
	if got := l.Load("a"); got != (NodeLoad{Secondary: 1}) {
		t.Fatalf("a: %+v", got)
	}
	// A failed apply changes nothing.
	before := l.At(0).String()
	if _, err := l.Apply(Proposal{Gpid: Gpid{1, 0}, Ballot: 2, Actions: []Action{{Type: UpgradeToPrimary, Target: "b", Node: "b"}}}); !errors.Is(err, ErrStaleProposal) {
		t.Fatalf("stale apply: %v", err)
	}
	if l.At(0).String() != before {
		t.Fatal("failed apply changed the layout")
	}
	if _, err := l.Apply(Proposal{Gpid: Gpid{9, 9}, Actions: []Action{{Type: AssignPrimary, Target: "a", Node: "a"}}}); !errors.Is(err, ErrUnknownPartition) {
		t.Fatalf("unknown partition: %v", err)
	}
	if _, err := NewLayout([]PartitionConfig{pc(t, "1.0 p=a"), pc(t, "1.0 p=b")}); !errors.Is(err, ErrDuplicatePartition) {
		t.Fatalf("duplicate: %v", err)
	}
}
