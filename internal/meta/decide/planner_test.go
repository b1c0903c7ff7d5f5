package decide

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestPlanner runs the scripts in testdata/planner: small clusters whose
// replica servers beacon on a fake clock, with the planner run every
// second and its proposals applied, as the meta server's driver would.
// Regenerate expectations with -rewrite.
//
//	nodes n1 n2 ...       replica servers, up and beaconing
//	config                partition configs, one per line (see pc)
//	set <knob> <value>    Planner.SetKnob
//	run <duration>        advance 1 s at a time: beacons every 3 s, Plan, apply
//	stop <node>           the process dies: no more beacons
//	start <node>          a new process: new start time, beacons at once
//	learn                 every learner on an up node becomes secondary
//	migrate <node>        MigrateNode, applied
//	downgrade <node>      DowngradeNode, applied
//	leader                this meta server takes over leadership now
//	show                  configs, `nodes -d`, `ls -d`
func TestPlanner(t *testing.T) {
	datadriven.Walk(t, "testdata/planner", func(t *testing.T, path string) {
		w := newWorld(t)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return w.do(t, d)
		})
	})
}

type world struct {
	now     time.Time
	fd      *FailureDetector
	planner *Planner
	layout  *Layout
	up      map[string]bool
	start   map[string]time.Time
	beat    map[string]time.Time
	// disk holds, per node, the partitions it has data of and the ballot it
	// last held a role at (reported as its committed decree, and as its
	// member ballot unless memberRep lags).
	disk  map[string]map[Gpid]int64
	level Level
	// memberRep is the member ballot a node reports: at most disk, lower
	// when it never heard of the last ballots it was a member of.
	memberRep map[string]map[Gpid]int64
	// inc is the copy of each partition a node holds (its incarnation).
	inc map[string]map[Gpid]uint64
	// lagging makes recordDisks leave a node's reported member ballot
	// behind now and then, as a lost configuration push does.
	lagging func(n string, g Gpid) bool
}

func newWorld(t *testing.T) *world {
	fd, err := NewFailureDetector(DefaultFDConfig())
	if err != nil {
		t.Fatal(err)
	}
	fd.SetLeader(t0.Add(-time.Hour), true, "meta1", nil)
	l, _ := NewLayout(nil)
	return &world{
		now: t0, fd: fd, planner: NewPlanner(DefaultKnobs()), layout: l,
		up: map[string]bool{}, start: map[string]time.Time{}, beat: map[string]time.Time{},
		disk: map[string]map[Gpid]int64{}, level: LevelSteady,
		memberRep: map[string]map[Gpid]int64{}, inc: map[string]map[Gpid]uint64{},
	}
}

func (w *world) elapsed() string { return w.now.Sub(t0).String() }

func (w *world) do(t *testing.T, d *datadriven.TestData) string {
	var out strings.Builder
	args := func() []string {
		var s []string
		for _, a := range d.CmdArgs {
			s = append(s, a.Key)
		}
		return s
	}
	switch d.Cmd {
	case "nodes":
		for _, n := range args() {
			w.up[n], w.start[n] = true, w.now
			w.beacon(n)
		}
		w.fd.Check(w.now)
	case "config":
		var cfgs []PartitionConfig
		for _, line := range strings.Split(strings.TrimSpace(d.Input), "\n") {
			cfgs = append(cfgs, pc(t, line))
		}
		l, err := NewLayout(cfgs)
		if err != nil {
			t.Fatal(err)
		}
		w.layout = l
		w.recordDisks()
	case "set":
		a := args()
		if err := w.planner.SetKnob(a[0], a[1]); err != nil {
			return err.Error()
		}
	case "run":
		dur, err := time.ParseDuration(args()[0])
		if err != nil {
			t.Fatal(err)
		}
		for end := w.now.Add(dur); w.now.Before(end); {
			w.now = w.now.Add(time.Second)
			for _, n := range sortedNodes(w.up) {
				if w.up[n] && w.now.Sub(w.beat[n]) >= 3*time.Second {
					w.beacon(n)
				}
			}
			w.plan(&out, false)
		}
	case "plan":
		w.plan(&out, true)
	case "stop":
		w.up[args()[0]] = false
	case "start":
		n := args()[0]
		w.up[n], w.start[n] = true, w.now
		ack := w.beacon(n)
		fmt.Fprintf(&out, "beacon ack: allowed=%v lease=%v", ack.Allowed, !ack.LeaseExpiry.IsZero())
		if ack.Reason != nil {
			fmt.Fprintf(&out, " (%v)", ack.Reason)
		}
		out.WriteByte('\n')
	case "learn":
		for i := 0; i < w.layout.Len(); i++ {
			c := w.layout.At(i)
			for _, n := range c.Learners {
				if !w.up[n] {
					continue
				}
				p := Proposal{Gpid: c.Gpid, Ballot: c.Ballot, Actions: []Action{{Type: UpgradeToSecondary, Target: c.Primary, Node: n}}}
				w.apply(&out, p)
				c, _ = w.layout.Config(c.Gpid)
			}
		}
		w.recordDisks()
	case "migrate", "downgrade":
		f := MigrateNode
		if d.Cmd == "downgrade" {
			f = DowngradeNode
		}
		props, err := f(w.layout, w.fd, args()[0])
		for _, p := range props {
			w.apply(&out, p)
		}
		if err != nil {
			fmt.Fprintf(&out, "error: %v\n", err)
		}
		w.recordDisks()
	case "leader":
		var members []string
		members = append(members, w.layout.Nodes()...)
		w.fd.SetLeader(w.now, false, "meta2", nil)
		w.fd.SetLeader(w.now, true, "meta1", members)
	case "show":
		for i := 0; i < w.layout.Len(); i++ {
			fmt.Fprintln(&out, w.layout.At(i))
		}
		cfgs := make([]PartitionConfig, w.layout.Len())
		for i := range cfgs {
			cfgs[i] = w.layout.At(i)
		}
		fmt.Fprintln(&out, "nodes -d:")
		for _, r := range NodeReplicaCounts(cfgs, sortedNodes(w.up)) {
			status := "UNALIVE"
			if w.fd.Alive(r.Node) {
				status = "ALIVE"
			}
			fmt.Fprintf(&out, "  %s %s replicas=%d primaries=%d secondaries=%d\n", r.Node, status, r.ReplicaCount, r.PrimaryCount, r.SecondaryCount)
		}
		fmt.Fprintln(&out, "ls -d:")
		for _, h := range TableHealths(cfgs) {
			fmt.Fprintf(&out, "  app %d partitions=%d fully_healthy=%d unhealthy=%d write_unhealthy=%d read_unhealthy=%d\n",
				h.AppID, h.PartitionCount, h.FullyHealthy, h.Unhealthy, h.WriteUnhealthy, h.ReadUnhealthy)
		}
	default:
		t.Fatalf("unknown command %s", d.Cmd)
	}
	return out.String()
}

// beacon sends node's beacon, reporting every replica on its disk.
func (w *world) beacon(n string) BeaconAck {
	var reps []ReplicaReport
	for g, decree := range w.disk[n] {
		st := StatusInactive
		if c, ok := w.layout.Config(g); ok {
			switch c.RoleOf(n) {
			case RolePrimary:
				st = StatusPrimary
			case RoleSecondary:
				st = StatusSecondary
			case RoleLearner:
				st = StatusPotentialSecondary
			}
		}
		// The ballot reported is the one a replica server of an older
		// version showed: the newest it was pushed, member or not.
		ballot := decree
		if c, ok := w.layout.Config(g); ok && (slices.Contains(c.LastDrops, n) || c.RoleOf(n) != RoleNone) {
			ballot = c.Ballot
		}
		reps = append(reps, ReplicaReport{Gpid: g, Status: st, Ballot: ballot, MemberBallot: w.memberRep[n][g],
			LastCommittedDecree: decree, LastPreparedDecree: decree, Incarnation: w.inc[n][g]})
	}
	slices.SortFunc(reps, func(a, b ReplicaReport) int { return a.Gpid.Compare(b.Gpid) })
	w.beat[n] = w.now
	return w.fd.Beacon(w.now, Beacon{Node: n, Protocol: DefaultFDConfig().Protocol, StartTime: w.start[n], Replicas: reps})
}

// recordDisks notes that members hold their partition's data up to the
// current ballot.
func (w *world) recordDisks() {
	for i := 0; i < w.layout.Len(); i++ {
		c := w.layout.At(i)
		for _, n := range roleNodes(&c) {
			if w.disk[n] == nil {
				w.disk[n] = map[Gpid]int64{}
				w.memberRep[n] = map[Gpid]int64{}
				w.inc[n] = map[Gpid]uint64{}
			}
			if _, ok := w.disk[n][c.Gpid]; !ok && w.inc[n][c.Gpid] == 0 {
				w.inc[n][c.Gpid] = uint64(len(w.inc))<<32 | uint64(c.Gpid.AppID)<<16 | uint64(c.Gpid.Index) + 1
			}
			w.disk[n][c.Gpid] = c.Ballot
			if w.lagging == nil || !w.lagging(n, c.Gpid) {
				w.memberRep[n][c.Gpid] = c.Ballot
			}
		}
	}
}

func (w *world) plan(out *strings.Builder, verbose bool) {
	p := w.planner.Plan(w.now, w.layout, w.fd)
	at := "t=" + w.elapsed() + ": "
	if p.Level != w.level || verbose {
		fmt.Fprintf(out, "%slevel %s", at, p.Level.Name())
		if p.Freeze.Reason != "" {
			fmt.Fprintf(out, " (%s)", p.Freeze.Reason)
		}
		out.WriteByte('\n')
		w.level = p.Level
	}
	for _, n := range p.Unfenced {
		fmt.Fprintf(out, "%sunfence %s\n", at, n)
	}
	for _, e := range p.Events {
		fmt.Fprintf(out, "%s%s\n", at, e)
	}
	for _, pr := range p.Proposals {
		fmt.Fprintf(out, "%s", at)
		w.apply(out, pr)
	}
	if verbose {
		for _, wt := range p.Waiting {
			fmt.Fprintf(out, "%swaiting %s: %s\n", at, wt.Gpid, wt.Reason)
		}
		fmt.Fprintf(out, "%sbalancer moves in progress: %d\n", at, w.planner.balancer.Pending())
		if p.BalanceBlocked != "" {
			fmt.Fprintf(out, "%sbalancer blocked: %s\n", at, p.BalanceBlocked)
		}
	}
	w.recordDisks()
}

// apply writes a proposal as the driver would: liveness check, then
// ApplyProposal on the current config.
func (w *world) apply(out *strings.Builder, p Proposal) {
	fmt.Fprintf(out, "%s", proposalsText([]Proposal{p}))
	if err := CheckAlive(p, w.fd.Alive); err != nil {
		fmt.Fprintf(out, "  rejected: %v\n", err)
		return
	}
	if _, err := w.layout.Apply(p); err != nil {
		fmt.Fprintf(out, "  rejected: %v\n", err)
	}
}

func sortedNodes(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
