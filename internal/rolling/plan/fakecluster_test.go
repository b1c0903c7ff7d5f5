package plan

import (
	"fmt"
	"strings"
)

// fakeCluster is an in-memory cluster that reacts to the machine's actions
// the way a Pegasus cluster would, coarsely: migrate_node turns the node's
// primaries into secondaries and hands the primaries to other nodes,
// downgrade_node drops its secondaries, stopping a node drops whatever it
// still serves (and, if it still held primaries, costs client errors until
// failover), and a running node re-learns its dropped replicas only while
// meta.lb.add_secondary_max_count_for_one_node is not 0, taking learnTicks
// ticks. Faults make chosen commands stick or fail.
type fakeCluster struct {
	servers      []*fakeServer
	leader       string
	level        string
	knobs        map[string]string // absent means DEFAULT
	knobLog      []string          // every knob or level command, in order
	availability float64
	clientErrors uint64
	learnTicks   int
	faults       map[string]string // "<fault> <node>" -> error text
}

type fakeServer struct {
	node    string
	role    Role
	running bool
	version string

	primaries, secondaries int // replica servers: replicas served
	open                   int // replicas open on the server
	missing                int // replicas dropped from it and not yet re-learned
	learning               int // ticks of learning left; 0 = not learning

	beacons int // meta servers: replica servers heard from since start
	// Meta servers: cluster is the cluster its configuration names (""
	// for the fake's own); registered is whether it holds a session in the
	// cluster's etcd, as a standby or the leader.
	cluster    string
	registered bool
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

func (c *fakeCluster) partitions() int {
	total := 0
	for _, r := range c.replicas() {
		total += r.primaries
	}
	// Primaries of a stopped node are failed over, so the total is stable.
	return total
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
			s.Replicas = append(s.Replicas, ReplicaServer{Node: sv.node, Alive: sv.running,
				Primaries: sv.primaries, Secondaries: sv.secondaries, Version: sv.version})
		case RoleCollector:
			s.Collector = &CollectorServer{Node: sv.node, Alive: sv.running, Version: sv.version}
			a := c.availability
			s.Availability = &a
		}
	}
	s.Tables = c.view().Tables
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
		n := c.server(a.Node)
		if _, stuck := c.fault("migrate-stuck", a.Node); stuck {
			return ""
		}
		c.movePrimaries(n)
	case ActDowngradeNode:
		n := c.server(a.Node)
		n.missing += n.secondaries
		n.secondaries = 0
	case ActKillPartition:
		if _, stuck := c.fault("close-stuck", a.Node); stuck {
			return ""
		}
		c.server(a.Node).open = 0
	case ActStop:
		n := c.server(a.Node)
		if !n.running {
			return "" // stopping a stopped server is a success
		}
		n.running = false
		switch n.role {
		case RoleReplica:
			// Requests to its primaries fail until the meta server fails
			// them over; a drained node has none.
			c.clientErrors += uint64(10 * n.primaries)
			dropped := n.primaries + n.secondaries
			c.movePrimaries(n)
			n.missing += dropped
			n.secondaries, n.open, n.learning = 0, 0, 0
		case RoleMeta:
			n.beacons = 0
			if c.leader == n.node {
				c.leader = ""
				c.elect()
			}
		}
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

// movePrimaries hands n's primaries to the other running replica servers,
// round robin; n keeps them as secondaries if it is still running.
func (c *fakeCluster) movePrimaries(n *fakeServer) {
	var others []*fakeServer
	for _, r := range c.replicas() {
		if r != n && r.running {
			others = append(others, r)
		}
	}
	if len(others) == 0 {
		return
	}
	for i := 0; i < n.primaries; i++ {
		o := others[i%len(others)]
		o.primaries++
		if o.secondaries > 0 {
			o.secondaries-- // its secondary of that partition became primary
		}
	}
	if n.running {
		n.secondaries += n.primaries
	}
	n.primaries = 0
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
// servers, and running replica servers re-learn dropped replicas when
// re-replication is allowed.
func (c *fakeCluster) tick() {
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
			if !s.running || s.missing == 0 || c.knobs[KnobAddSecondaryMax] == "0" {
				continue
			}
			if s.learning == 0 {
				s.learning = c.learnTicks
			}
			s.learning--
			if s.learning == 0 {
				s.secondaries += s.missing
				s.missing = 0
				s.open = s.primaries + s.secondaries
			}
		}
	}
}

func (c *fakeCluster) view() *ClusterView {
	v := &ClusterView{}
	missing := 0
	for _, r := range c.replicas() {
		v.Nodes = append(v.Nodes, NodeStatus{Node: r.node, Alive: r.running,
			Primaries: r.primaries, Secondaries: r.secondaries})
		missing += r.missing
	}
	p := c.partitions()
	unhealthy := min(missing, p)
	v.Tables = []TableHealth{{AppID: 1, Name: "temp", PartitionCount: p,
		FullyHealthy: p - unhealthy, Unhealthy: unhealthy}}
	return v
}

// observe answers the queries among actions.
func (c *fakeCluster) observe(actions []Action) Observation {
	var obs Observation
	for _, a := range actions {
		switch a.Kind {
		case ActQueryCluster:
			obs.Cluster = c.view()
		case ActQueryReplica:
			n := c.server(a.Node)
			if n.running {
				obs.Replicas = append(obs.Replicas, ReplicaStatus{Node: n.node, Total: n.open})
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
						ClientErrors: c.clientErrors}
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
			fmt.Fprintf(&b, " p=%d s=%d missing=%d", s.primaries, s.secondaries, s.missing)
		}
		b.WriteString("\n")
	}
	v := c.view()
	fmt.Fprintf(&b, "fully healthy %d/%d", v.Tables[0].FullyHealthy, v.Tables[0].PartitionCount)
	return b.String()
}

func newFakeCluster(metas []string, leader string, replicas []string, primaries, secondaries int,
	collector, version, level string) *fakeCluster {
	c := &fakeCluster{leader: leader, level: level, knobs: map[string]string{},
		availability: 1, learnTicks: 3, faults: map[string]string{}}
	for _, m := range metas {
		c.servers = append(c.servers, &fakeServer{node: m, role: RoleMeta, running: true, version: version,
			beacons: len(replicas), registered: true})
	}
	for _, r := range replicas {
		c.servers = append(c.servers, &fakeServer{node: r, role: RoleReplica, running: true, version: version,
			primaries: primaries, secondaries: secondaries, open: primaries + secondaries})
	}
	if collector != "" {
		c.servers = append(c.servers, &fakeServer{node: collector, role: RoleCollector, running: true, version: version})
	}
	return c
}
