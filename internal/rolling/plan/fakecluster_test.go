package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// fakeCluster is an in-memory cluster that reacts to the machine's actions
// the way a Pegasus cluster would, coarsely, over an explicit partition
// layout: migrate_node hands each of the node's primaries to an alive
// secondary (the one leading fewest), downgrade_node takes the node out of
// the partitions where it is a secondary, stopping a node takes it out of
// every partition (a primary it still led fails over, costing client
// errors), a running node is re-added to the partitions it was taken out
// of once meta.lb.add_secondary_max_count_for_one_node is not 0, after
// learnTicks ticks, and balance move_pri swaps a primary and a secondary.
// Faults make chosen commands stick or fail.
type fakeCluster struct {
	servers      []*fakeServer
	parts        []*fakePartition
	leader       string
	level        string
	knobs        map[string]string // absent means DEFAULT
	knobLog      []string          // every knob or level command, in order
	availability float64
	clientErrors uint64
	learnTicks   int
	faults       map[string]string // "<fault> <node>" -> error text
	// ticks counts polls; each is a new scrape of the collector's traffic.
	ticks int
}

// Clients' view as the fake collector reports it: every request of table
// temp takes slowP99 while any running replica server runs a version
// marked slow (fault slow-version <version>), else fastP99.
const (
	fastP99 = 2 * time.Millisecond
	slowP99 = 80 * time.Millisecond
)

func (c *fakeCluster) p99() time.Duration {
	for _, r := range c.replicas() {
		if _, slow := c.fault("slow-version", r.version); slow && r.running {
			return slowP99
		}
	}
	return fastP99
}

type fakeServer struct {
	node    string
	role    Role
	running bool
	version string
	zone    string
	// crashed: the server failed on its own, not drained by the roll: its
	// re-adds are repair, which the meta server allows even while
	// add_secondary_max_count_for_one_node is 0.
	crashed bool

	open     int // replica servers: replicas open on the server
	learning int // ticks of learning left; 0 = not learning
	// stepDownLag: ticks a replica server takes, after migrate_node, to
	// enter the new ballots of the partitions it led; until then its own
	// status still counts them (stillLeads) while the meta's does not.
	stepDownLag, stepDownLeft, stillLeads int

	beacons int // meta servers: replica servers heard from since start
	// Meta servers: cluster is the cluster its configuration names (""
	// for the fake's own); registered is whether it holds a session in the
	// cluster's etcd, as a standby or the leader.
	cluster    string
	registered bool
}

// fakePartition is one partition. dropped are the nodes taken out of it
// (downgraded or stopped) that the meta server re-adds once they are back.
type fakePartition struct {
	gpid        string
	primary     string
	secondaries []string
	dropped     []string
	max         int
}

// members counts the primary and secondaries.
func (p *fakePartition) members() int {
	n := len(p.secondaries)
	if p.primary != "" {
		n++
	}
	return n
}

func (p *fakePartition) view() PartitionView {
	return PartitionView{Gpid: p.gpid, Table: "temp", Primary: p.primary,
		Secondaries: slices.Clone(p.secondaries), MaxReplicas: p.max}
}

func (c *fakeCluster) server(node string) *fakeServer {
	for _, s := range c.servers {
		if s.node == node {
			return s
		}
	}
	panic("fake cluster: unknown node " + node)
}

func (c *fakeCluster) replicas() []*fakeServer {
	var out []*fakeServer
	for _, s := range c.servers {
		if s.role == RoleReplica {
			out = append(out, s)
		}
	}
	return out
}

// counts returns n's primaries, secondaries and replicas taken out of it
// and not re-added yet.
func (c *fakeCluster) counts(n string) (primaries, secondaries, missing int) {
	for _, p := range c.parts {
		switch {
		case p.primary == n:
			primaries++
		case slices.Contains(p.secondaries, n):
			secondaries++
		}
		if slices.Contains(p.dropped, n) {
			missing++
		}
	}
	return primaries, secondaries, missing
}

func (c *fakeCluster) fault(kind, node string) (string, bool) {
	msg, ok := c.faults[kind+" "+node]
	return msg, ok
}

// snapshot is what a driver would read before planning.
func (c *fakeCluster) snapshot(newVersion string) Snapshot {
	s := Snapshot{Cluster: "fake", MetaLevel: c.level, NewVersion: newVersion}
	for _, sv := range c.servers {
		switch sv.role {
		case RoleMeta:
			s.Metas = append(s.Metas, MetaServer{Node: sv.node, Alive: sv.running,
				Leader: sv.node == c.leader, Version: sv.version})
		case RoleReplica:
			p, sec, _ := c.counts(sv.node)
			s.Replicas = append(s.Replicas, ReplicaServer{Node: sv.node, Alive: sv.running,
				Primaries: p, Secondaries: sec, Version: sv.version, Zone: sv.zone})
		case RoleCollector:
			s.Collector = &CollectorServer{Node: sv.node, Alive: sv.running, Version: sv.version}
			a := c.availability
			s.Availability = &a
		}
	}
	s.Tables = c.view().Tables
	s.Partitions = c.partitionViews()
	return s
}

// execute runs one command and returns its error text ("" on success).
func (c *fakeCluster) execute(a Action) string {
	switch a.Kind {
	case ActSetMetaLevel:
		c.level = a.Value
		c.knobLog = append(c.knobLog, a.String())
	case ActRemoteCommand:
		if msg, ok := c.fault("knob-error", a.Knob); ok {
			return msg
		}
		if a.Value == KnobDefault {
			delete(c.knobs, a.Knob)
		} else {
			c.knobs[a.Knob] = a.Value
		}
		c.knobLog = append(c.knobLog, a.String())
	case ActMigrateNode:
		if _, stuck := c.fault("migrate-stuck", a.Node); stuck {
			return ""
		}
		c.handOver(a.Node, false)
	case ActDowngradeNode:
		// As the meta server: a partition short of a replica elsewhere
		// that would keep fewer than two members is refused (writes would
		// rest on one copy), the others go. (The meta server refuses a
		// table of two replicas too; the fake lets those go.)
		var refused []string
		for _, p := range c.parts {
			if i := slices.Index(p.secondaries, a.Node); i >= 0 && p.primary != "" {
				if p.members() < p.max && p.members()-1 < min(2, p.max) {
					refused = append(refused, p.gpid)
					continue
				}
				p.secondaries = slices.Delete(p.secondaries, i, i+1)
				p.dropped = append(p.dropped, a.Node)
			}
		}
		if len(refused) > 0 {
			return "downgrade_node: refused " + strings.Join(refused, ", ") + ": decide: too few members left"
		}
	case ActKillPartition:
		if _, stuck := c.fault("close-stuck", a.Node); stuck {
			return ""
		}
		c.server(a.Node).open = 0
	case ActMovePrimaries:
		for _, m := range a.Moves {
			for _, p := range c.parts {
				if p.gpid == m.Gpid && p.primary == m.From && slices.Contains(p.secondaries, m.To) {
					p.secondaries = slices.DeleteFunc(p.secondaries, func(s string) bool { return s == m.To })
					p.secondaries = append(p.secondaries, m.From)
					p.primary = m.To
				}
			}
		}
	case ActStop:
		n := c.server(a.Node)
		if !n.running {
			return "" // stopping a stopped server is a success
		}
		c.down(n)
	case ActInstall:
		if msg, ok := c.fault("install-error", a.Node); ok {
			return msg
		}
		c.server(a.Node).version = a.Value
	case ActStart:
		if msg, ok := c.fault("start-error", a.Node); ok {
			return msg
		}
		n := c.server(a.Node)
		if !n.running {
			n.running = true
			if n.role == RoleMeta {
				// A meta server that cannot reach the cluster's etcd
				// answers RPCs but never registers; one configured for
				// another cluster registers there, and leads it.
				_, noEtcd := c.fault("meta-no-etcd", n.node)
				_, wrong := c.fault("meta-wrong-cluster", n.node)
				n.registered = !noEtcd && !wrong
				if wrong {
					n.cluster = "other"
				}
				if c.leader == "" {
					c.elect()
				}
			}
		}
	default:
		panic("fake cluster: not a command: " + a.String())
	}
	return ""
}

// down stops server n: a replica server is taken out of every partition
// (a primary it still led fails over, costing client errors).
func (c *fakeCluster) down(n *fakeServer) {
	n.running = false
	switch n.role {
	case RoleReplica:
		// Requests to its primaries fail until the meta server fails
		// them over; a drained node has none.
		c.handOver(n.node, true)
		for _, p := range c.parts {
			if i := slices.Index(p.secondaries, n.node); i >= 0 {
				p.secondaries = slices.Delete(p.secondaries, i, i+1)
				p.dropped = append(p.dropped, n.node)
			}
		}
		n.open, n.learning = 0, 0
	case RoleMeta:
		n.beacons = 0
		if c.leader == n.node {
			c.leader = ""
			c.elect()
		}
	}
}

// crash fails replica server n on its own, outside the roll: its
// partitions lose it until it runs again and re-learns (repair, which
// add_secondary_max_count_for_one_node 0 does not hold back).
func (c *fakeCluster) crash(node string) {
	n := c.server(node)
	c.down(n)
	n.crashed = true
}

// handOver gives each primary of n to an alive secondary, the one leading
// fewest partitions. Without failover n stays a secondary (migrate_node);
// with it (n died) n is taken out and every request to it until then
// failed.
func (c *fakeCluster) handOver(n string, failover bool) {
	if s := c.server(n); !failover && s.stepDownLag > 0 {
		s.stillLeads, _, _ = c.counts(n)
		s.stepDownLeft = s.stepDownLag
	}
	for _, p := range c.parts {
		if p.primary != n {
			continue
		}
		to := ""
		for _, s := range p.secondaries {
			if !c.server(s).running {
				continue
			}
			if pt, _, _ := c.counts(s); to == "" || pt < func() int { q, _, _ := c.counts(to); return q }() {
				to = s
			}
		}
		if failover {
			c.clientErrors += 10
		}
		if to == "" {
			if failover {
				p.primary = ""
				p.dropped = append(p.dropped, n)
			}
			continue
		}
		p.secondaries = slices.DeleteFunc(p.secondaries, func(s string) bool { return s == to })
		p.primary = to
		if failover {
			p.dropped = append(p.dropped, n)
		} else {
			p.secondaries = append(p.secondaries, n)
		}
	}
}

func (c *fakeCluster) elect() {
	for _, s := range c.servers {
		if s.role == RoleMeta && s.running && s.registered {
			c.leader = s.node
			return
		}
	}
}

// tick advances the cluster by one poll: beacons reach running meta
// servers, and running replica servers re-learn the replicas they were
// taken out of when re-replication is allowed.
func (c *fakeCluster) tick() {
	c.ticks++
	running := 0
	for _, r := range c.replicas() {
		if r.running {
			running++
		}
	}
	for _, s := range c.servers {
		switch s.role {
		case RoleMeta:
			if s.running {
				s.beacons = running
			}
		case RoleReplica:
			if s.stepDownLeft > 0 {
				if s.stepDownLeft--; s.stepDownLeft == 0 {
					s.stillLeads = 0
				}
			}
			_, _, missing := c.counts(s.node)
			if !s.running || missing == 0 || (c.knobs[KnobAddSecondaryMax] == "0" && !s.crashed) {
				continue
			}
			if _, stuck := c.fault("no-learn-version", s.version); stuck {
				continue // a build too broken to catch up
			}
			if s.learning == 0 {
				s.learning = c.learnTicks
			}
			s.learning--
			if s.learning == 0 {
				for _, p := range c.parts {
					if i := slices.Index(p.dropped, s.node); i >= 0 {
						p.dropped = slices.Delete(p.dropped, i, i+1)
						p.secondaries = append(p.secondaries, s.node)
					}
				}
				pr, sec, _ := c.counts(s.node)
				s.open = pr + sec
				s.crashed = false
			}
		}
	}
}

func (c *fakeCluster) partitionViews() []PartitionView {
	out := make([]PartitionView, len(c.parts))
	for i, p := range c.parts {
		out[i] = p.view()
	}
	return out
}

func (c *fakeCluster) view() *ClusterView {
	v := &ClusterView{}
	for _, r := range c.replicas() {
		p, s, _ := c.counts(r.node)
		v.Nodes = append(v.Nodes, NodeStatus{Node: r.node, Alive: r.running, Primaries: p, Secondaries: s})
	}
	healthy := 0
	for _, p := range c.parts {
		if p.primary != "" && 1+len(p.secondaries) >= p.max {
			healthy++
		}
	}
	v.Tables = []TableHealth{{AppID: 1, Name: "temp", PartitionCount: len(c.parts),
		FullyHealthy: healthy, Unhealthy: len(c.parts) - healthy}}
	return v
}

// observe answers the queries among actions.
func (c *fakeCluster) observe(actions []Action) Observation {
	var obs Observation
	for _, a := range actions {
		switch a.Kind {
		case ActQueryCluster:
			obs.Cluster = c.view()
		case ActQueryPartitions:
			obs.Partitions = c.partitionViews()
		case ActQueryReplica:
			n := c.server(a.Node)
			if n.running {
				primaries, _, _ := c.counts(n.node)
				if n.stepDownLeft > 0 {
					primaries = n.stillLeads
				}
				obs.Replicas = append(obs.Replicas, ReplicaStatus{Node: n.node, Total: n.open, Primaries: primaries})
			}
		case ActQueryMetas:
			obs.Metas = nil
			for _, s := range c.servers {
				if s.role == RoleMeta {
					cluster := "fake"
					if s.cluster != "" {
						cluster = s.cluster
					}
					obs.Metas = append(obs.Metas, MetaStatus{Node: s.node, Alive: s.running,
						Leader: s.running && (s.node == c.leader || s.cluster != ""), BeaconsFrom: s.beacons,
						Cluster: cluster, Registered: s.running && s.registered})
				}
			}
		case ActQueryCollector:
			for _, s := range c.servers {
				if s.role == RoleCollector && s.running {
					obs.Collector = &CollectorStatus{Alive: true, Availability: c.availability,
						ClientErrors: c.clientErrors, ProbeP99: c.p99(),
						Tables:    []TableSLO{{Table: "temp", QPS: 500, P99: c.p99()}},
						TrafficAt: epoch.Add(time.Duration(c.ticks) * time.Second)}
				}
			}
		}
	}
	return obs
}

// describe prints the cluster's state for test output.
func (c *fakeCluster) describe() string {
	var b strings.Builder
	level := c.level
	fmt.Fprintf(&b, "meta level %s; leader %s\n", level, c.leader)
	for _, k := range []string{KnobAssignDelay, KnobAddSecondaryMax} {
		v, ok := c.knobs[k]
		if !ok {
			v = KnobDefault
		}
		fmt.Fprintf(&b, "%s = %s\n", k, v)
	}
	for _, s := range c.servers {
		state := "running"
		if !s.running {
			state = "stopped"
		}
		fmt.Fprintf(&b, "%s %s %s v%s", s.role, s.node, state, s.version)
		if s.role == RoleReplica {
			p, sec, missing := c.counts(s.node)
			fmt.Fprintf(&b, " p=%d s=%d missing=%d", p, sec, missing)
			if s.zone != "" {
				fmt.Fprintf(&b, " zone=%s", s.zone)
			}
		}
		b.WriteString("\n")
	}
	v := c.view()
	fmt.Fprintf(&b, "fully healthy %d/%d", v.Tables[0].FullyHealthy, v.Tables[0].PartitionCount)
	return b.String()
}

// newFakeCluster lays out primaries*len(replicas) partitions of
// 1+secondaries/primaries replicas each: partition i is led by replica
// i mod n and has the next replicas in order as secondaries, so every
// replica server leads `primaries` partitions and is secondary of
// `secondaries`.
func newFakeCluster(metas []string, leader string, replicas []string, primaries, secondaries int,
	collector, version, level string) *fakeCluster {
	c := &fakeCluster{leader: leader, level: level, knobs: map[string]string{},
		availability: 1, learnTicks: 3, faults: map[string]string{}}
	for _, m := range metas {
		c.servers = append(c.servers, &fakeServer{node: m, role: RoleMeta, running: true, version: version,
			beacons: len(replicas), registered: true})
	}
	copies := 1
	if primaries > 0 {
		copies = 1 + secondaries/primaries
	}
	if primaries > 0 && (secondaries%primaries != 0 || copies > len(replicas)) {
		panic(fmt.Sprintf("fake cluster: %d primaries and %d secondaries per node do not make a layout over %d nodes",
			primaries, secondaries, len(replicas)))
	}
	for i := range primaries * len(replicas) {
		p := &fakePartition{gpid: fmt.Sprintf("1.%d", i), primary: replicas[i%len(replicas)], max: copies}
		for k := 1; k < copies; k++ {
			p.secondaries = append(p.secondaries, replicas[(i+k)%len(replicas)])
		}
		c.parts = append(c.parts, p)
	}
	for _, r := range replicas {
		c.servers = append(c.servers, &fakeServer{node: r, role: RoleReplica, running: true, version: version,
			open: primaries + secondaries})
	}
	if collector != "" {
		c.servers = append(c.servers, &fakeServer{node: collector, role: RoleCollector, running: true, version: version})
	}
	return c
}
