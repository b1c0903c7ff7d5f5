package decide

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pc parses a compact partition config for tests:
//
//	"1.0 b=3 p=n1 s=n2,n3 l=n4 d=n5,n6 db=2,3 di=a1,0 max=3"
//
// b defaults to 1, max to 3; p "-" or absent means no primary. db and di
// are the drop details of d (member ballot, hex incarnation), absent for a
// configuration written before they existed.
func pc(t testing.TB, spec string) PartitionConfig {
	t.Helper()
	f := strings.Fields(spec)
	var c PartitionConfig
	var app, idx int
	if _, err := fmt.Sscanf(f[0], "%d.%d", &app, &idx); err != nil {
		t.Fatalf("bad gpid in %q: %v", spec, err)
	}
	c.Gpid = Gpid{AppID: int32(app), Index: int32(idx)}
	c.Ballot, c.MaxReplicaCount = 1, 3
	list := func(v string) []string {
		if v == "" {
			return nil
		}
		return strings.Split(v, ",")
	}
	for _, kv := range f[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("bad field %q in %q", kv, spec)
		}
		switch k {
		case "b":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			c.Ballot = n
		case "max":
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			c.MaxReplicaCount = int32(n)
		case "p":
			if v != "-" {
				c.Primary = v
			}
		case "s":
			c.Secondaries = list(v)
		case "l":
			c.Learners = list(v)
		case "d":
			c.LastDrops = list(v)
		case "db", "di":
			for i, x := range list(v) {
				for len(c.LastDropDetails) <= i {
					c.LastDropDetails = append(c.LastDropDetails, DropDetail{})
				}
				base := 10
				if k == "di" {
					base = 16
				}
				n, err := strconv.ParseUint(x, base, 64)
				if err != nil {
					t.Fatal(err)
				}
				if k == "db" {
					c.LastDropDetails[i].MemberBallot = int64(n)
				} else {
					c.LastDropDetails[i].Incarnation = n
				}
			}
		default:
			t.Fatalf("bad field %q in %q", kv, spec)
		}
	}
	if err := c.Check(); err != nil {
		t.Fatalf("test config %q: %v", spec, err)
	}
	return c
}

func layoutOf(t testing.TB, specs ...string) *Layout {
	t.Helper()
	cfgs := make([]PartitionConfig, len(specs))
	for i, s := range specs {
		cfgs[i] = pc(t, s)
	}
	l, err := NewLayout(cfgs)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// fakeNodes is a NodeView with explicit liveness and reports.
type fakeNodes struct {
	alive   map[string]bool
	reports map[string]map[Gpid]ReplicaReport
}

func nodesAlive(names ...string) *fakeNodes {
	f := &fakeNodes{alive: map[string]bool{}, reports: map[string]map[Gpid]ReplicaReport{}}
	for _, n := range names {
		f.alive[n] = true
	}
	return f
}

func (f *fakeNodes) Alive(n string) bool { return f.alive[n] }

func (f *fakeNodes) AliveNodes() []string {
	var out []string
	for n, ok := range f.alive {
		if ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func (f *fakeNodes) Report(n string, g Gpid) (ReplicaReport, bool) {
	r, ok := f.reports[n][g]
	return r, ok
}

func (f *fakeNodes) report(n string, g Gpid, committed, prepared int64) {
	if f.reports[n] == nil {
		f.reports[n] = map[Gpid]ReplicaReport{}
	}
	f.reports[n][g] = ReplicaReport{Gpid: g, Status: StatusInactive, LastCommittedDecree: committed, LastPreparedDecree: prepared}
}

// proposalsText renders proposals one per line, actions only, for
// comparison with expectations.
func proposalsText(ps []Proposal) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "%s@%d", p.Gpid, p.Ballot)
		for _, a := range p.Actions {
			fmt.Fprintf(&b, " %s(%s,%s)", a.Type, a.Target, a.Node)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// applyAll applies every proposal to the layout and fails the test on any
// error: the decision code must only produce valid proposals.
func applyAll(t testing.TB, l *Layout, ps []Proposal) {
	t.Helper()
	for _, p := range ps {
		next, err := l.Apply(p)
		if err != nil {
			t.Fatalf("proposal %v does not apply: %v", p, err)
		}
		if err := next.Check(); err != nil {
			t.Fatalf("proposal %v breaks invariants: %v", p, err)
		}
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
