package sim

import (
	"context"
	"time"

	"github.com/pegasus-go/pegasus/internal/meta"
	"github.com/pegasus-go/pegasus/internal/meta/decide"
)

// The regression schedules: one per hole of issue 14, each written to fail
// on the code it was written against (see holes_test.go for what each
// failure shows). Node names are r1..rN; partition 0's bootstrap primary is
// r1, its secondaries r2 (and r3).

// Scripts lists them by name.
var Scripts = map[string]*Script{
	"staggered-outage-2":         staggeredOutage2,
	"staggered-outage-3":         staggeredOutage3,
	"isolated-primary-migrate":   isolatedPrimaryMigrate,
	"clock-step-lease":           clockStepLease(-30 * time.Second),
	"clock-step-lease-control":   clockStepLease(0),
	"exactly-once-restart":       exactlyOnceRestart,
	"exactly-once-checkpoint":    exactlyOnceCheckpoint,
	"removal-race-empty-member":  removalRace,
	"isolated-lone-primary":      isolatedLonePrimary,
	"etcd-outage":                etcdOutage,
	"kill-partition-primary":     killPartitionPrimary,
	"foreign-meta":               foreignMeta,
	"kill-partition-last-member": killPartitionLastMember,
}

func sec(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func crashNode(name string) func(*World) { return func(w *World) { w.node(name).crash() } }
func startNode(name string) func(*World) { return func(w *World) { w.restartNode(w.node(name)) } }

// cutBoth cuts node from every process in others, both ways, until heal.
func cutBoth(node string, others func(*World) []string) func(*World) {
	return func(w *World) {
		os := others(w)
		w.trace.note("script: cut %s from %v", node, os)
		for _, o := range os {
			w.net.setLink(node, o, false)
			w.net.setLink(o, node, false)
		}
	}
}

// cluster lists the meta servers and the replica servers other than node:
// everything but the clients.
func cluster(node string) func(*World) []string {
	return func(w *World) []string { return append(w.metaNames(), w.nodeNames(node)...) }
}

func healNet(w *World) {
	w.net.healAll()
	w.trace.note("script: network healed")
}

// staggeredOutage2 is the reproduced bug, as run on a onebox: a table of 2
// replicas {P=r1, B=r2}; B dies, P commits the writes in flight alone
// (ballot 2 = {P}); P dies; B comes back first and, once P is back too, is
// made primary: the writes P acknowledged alone are lost.
var staggeredOutage2 = &Script{
	Name:  "staggered-outage-2",
	Nodes: 2, Partitions: 1, Replicas: 2, Clients: 4,
	Options: func(o *Options) {
		o.registerPct = 100
		o.regTimeout = 5 * time.Second
	},
	LoadEnd:    sec(13),
	FinalAfter: sec(60),
	Steps: []Step{
		{At: sec(8), Do: crashNode("r2")},
		{At: sec(14), Do: crashNode("r1")},
		{At: sec(32), Do: startNode("r2")},
		{At: sec(47), Do: startNode("r1")},
	},
}

// staggeredOutage3 is the variant with 3 replicas: both secondaries die, the
// primary commits alone, dies, and a stale secondary is made primary.
var staggeredOutage3 = &Script{
	Name:  "staggered-outage-3",
	Nodes: 3, Partitions: 1, Replicas: 3, Clients: 4,
	Options: func(o *Options) {
		o.registerPct = 100
		o.regTimeout = 5 * time.Second
	},
	LoadEnd:    sec(13),
	FinalAfter: sec(70),
	Steps: []Step{
		{At: sec(8), Do: crashNode("r2")},
		{At: sec(8.6), Do: crashNode("r3")},
		{At: sec(14), Do: crashNode("r1")},
		{At: sec(32), Do: startNode("r2")},
		{At: sec(34), Do: startNode("r3")},
		{At: sec(50), Do: startNode("r1")},
	},
}

// isolatedPrimaryMigrate is hole 1: the primary r1 is cut off from the meta
// servers and its peers just after a beacon (its lease runs ~9 s more) but
// still reaches the clients; migrate_node r1 at once hands the primary
// role to a secondary, which has r1 removed and commits without it, while
// r1 keeps serving reads under its lease.
var isolatedPrimaryMigrate = &Script{
	Name:  "isolated-primary-migrate",
	Nodes: 3, Partitions: 1, Replicas: 3, Clients: 4, Readers: 1,
	Options: func(o *Options) {
		o.registerPct = 100
		o.regTimeout = 10 * time.Second
	},
	LoadEnd:    sec(40),
	FinalAfter: sec(45),
	Steps:      isolateAndMigrate,
}

// isolateAndMigrate cuts r1 off from the meta servers and its peers right
// after its beacon was answered, runs migrate_node r1 at once, and heals
// the network at 38 s.
var isolateAndMigrate = []Step{
	{At: sec(20), Do: func(w *World) {
		// Wait for r1's next beacon to have been answered.
		r1 := w.node("r1")
		w.schedule(nil, r1.nextBeacon-w.now+50*time.Millisecond, func() {
			cutBoth("r1", cluster("r1"))(w)
			w.admin("migrate_node r1", func(m *metaServer) error {
				_, err := m.ctl.MigrateNode(context.Background(), "r1", meta.DrainOptions{})
				return err
			})
		})
	}},
	{At: sec(38), Do: healNet},
}

// isolatedLonePrimary is hole 1 with 2 replicas and
// mutation_2pc_min_replica_count 1: the secondary r2 that migrate_node
// makes primary has r1 removed and is left a lone primary, which commits
// alone and serves reads on its lease from the meta server, while the
// isolated r1 still serves reads under the lease its secondary gave it.
var isolatedLonePrimary = &Script{
	Name:  "isolated-lone-primary",
	Nodes: 2, Partitions: 1, Replicas: 2, Clients: 4, Readers: 1,
	Options: func(o *Options) {
		o.registerPct = 100
		o.regTimeout = 10 * time.Second
		o.minReplicas = 1
	},
	LoadEnd:    sec(40),
	FinalAfter: sec(45),
	Steps:      isolateAndMigrate,
}

// etcdOutage is the data plane's independence from the metadata store:
// etcd is down for 30 s under load, the meta leader loses its session and
// steps down, no meta server leads, and no configuration has to change.
// Every operation must succeed: primaries with members hold their read
// leases from them, and writes need no lease.
var etcdOutage = &Script{
	Name:  "etcd-outage",
	Nodes: 3, Partitions: 2, Replicas: 3, Clients: 4, Readers: 1,
	Options: func(o *Options) {
		o.registerPct = 50
		o.regTimeout = 10 * time.Second
	},
	Available:  true,
	LoadEnd:    sec(50),
	FinalAfter: sec(52),
	Steps: []Step{
		{At: sec(10), Do: func(w *World) { w.etcd.down() }},
		{At: sec(40), Do: func(w *World) { w.restartEtcd() }},
	},
}

// clockStepLease is hole 2: the primary r1's wall clock steps by step just
// after an accepted beacon, and r1 loses the meta servers and its peers
// (not its clients). The meta server declares it dead after the grace and
// promotes a secondary; with a backward step, r1's lease, compared in
// wall-clock time, outlives the grace by the step, and r1 serves stale
// reads. With step 0 (the control) the lease ends before the grace.
func clockStepLease(step time.Duration) *Script {
	name := "clock-step-lease"
	if step == 0 {
		name += "-control"
	}
	return &Script{
		Name:  name,
		Nodes: 3, Partitions: 1, Replicas: 3, Clients: 4, Readers: 1,
		Options: func(o *Options) {
			o.registerPct = 100
			o.regTimeout = 10 * time.Second
		},
		LoadEnd:    sec(70),
		FinalAfter: sec(75),
		Steps: []Step{
			{At: sec(20), Do: func(w *World) {
				r1 := w.node("r1")
				w.schedule(nil, r1.nextBeacon-w.now+50*time.Millisecond, func() {
					r1.p.clock.step(step)
					w.trace.note("script: r1 wall clock steps %v", step)
					cutBoth("r1", cluster("r1"))(w)
				})
			}},
			{At: sec(65), Do: healNet},
		},
	}
}

// exactlyOnceRestart is hole 3 (restart): a client's incr is applied but its
// answers are lost; every replica server restarts gracefully (flushing its
// store, so its log replays nothing); the client's retry, same request id,
// finds no trace of the original and is applied again.
var exactlyOnceRestart = &Script{
	Name:  "exactly-once-restart",
	Nodes: 3, Partitions: 1, Replicas: 3, Clients: 2,
	Options: func(o *Options) {
		o.registerPct = 0
		o.cntKeys = 1
		o.cntMix = [3]int{0, 1, 0}
		o.cntTimeout = 60 * time.Second
	},
	LoadEnd:    sec(40),
	FinalAfter: sec(45),
	Steps: []Step{
		{At: sec(10), Do: cutReplies("c0")},
		{At: sec(12), Do: func(w *World) {
			for _, n := range w.nodes {
				n.stop()
			}
		}},
		{At: sec(13), Do: func(w *World) {
			for _, n := range w.nodes {
				w.restartNode(n)
			}
		}},
		{At: sec(16), Do: healNet},
	},
}

// exactlyOnceCheckpoint is hole 3 (checkpoint install): a client's incr is
// applied but its answers are lost; a new replica r4 joins by copying a
// checkpoint that holds the incr; the old members die and r4 is made
// primary; the client's retry finds no trace of the original on r4 and is
// applied again.
var exactlyOnceCheckpoint = &Script{
	Name:  "exactly-once-checkpoint",
	Nodes: 4, Partitions: 1, Replicas: 2, Clients: 2,
	Options: func(o *Options) {
		o.registerPct = 0
		o.cntKeys = 1
		o.cntMix = [3]int{0, 1, 0}
		o.cntTimeout = 60 * time.Second
		o.cacheEntries = 8
		o.logSegment = 4
		o.checkpointSeconds = 2
		o.assignDelay = time.Second
	},
	LoadEnd:    sec(50),
	FinalAfter: sec(55),
	Steps: []Step{
		{At: sec(10), Do: cutReplies("c0")},
		// r2 dies: r1 alone, r3 or r4 added after the assign delay by
		// copying a checkpoint (the log is flushed and trimmed every 2 s).
		{At: sec(14), Do: crashNode("r2")},
		{At: sec(14), Do: func(w *World) {
			// Keep r3 out of the way, so that r4 is the one added.
			cutBoth("r3", func(w *World) []string { return w.metaNames() })(w)
		}},
		// r1 dies: the new secondary is made primary.
		{At: sec(30), Do: crashNode("r1")},
		{At: sec(42), Do: healNet},
	},
}

// killPartitionPrimary moves the primary role off r1 (migrate_node, ballot
// 2), then closes every replica of r2 and r3, the new primary and a
// secondary, with replica.kill_partition (no restart). The configurations
// that still name them must reopen their copies from disk.
var killPartitionPrimary = &Script{
	Name:  "kill-partition-primary",
	Nodes: 3, Partitions: 1, Replicas: 3, Clients: 3,
	LoadEnd:    sec(40),
	FinalAfter: sec(42),
	Steps: []Step{
		{At: sec(15), Do: func(w *World) {
			w.admin("migrate_node r1", func(m *metaServer) error {
				_, err := m.ctl.MigrateNode(context.Background(), "r1", meta.DrainOptions{})
				return err
			})
		}},
		{At: sec(22), Do: func(w *World) {
			w.node("r2").killPartitions()
			w.node("r3").killPartitions()
		}},
	},
}

// killPartitionLastMember: the partition's last member r2 is cut off and
// dropped (no member left), and replica.kill_partition closes its replica
// while no configuration names it. Everything heals and r1 comes back: the
// meta server waits for r2, the only node that holds every acknowledged
// write, but r2's beacons no longer report the closed replica, and no
// configuration reopens it.
var killPartitionLastMember = &Script{
	Name:  "kill-partition-last-member",
	Nodes: 3, Partitions: 1, Replicas: 2, Clients: 3,
	Options:    func(o *Options) { o.minReplicas = 1 },
	LoadEnd:    sec(45),
	FinalAfter: sec(47),
	Steps: []Step{
		{At: sec(10), Do: crashNode("r1")},
		{At: sec(20), Do: cutBoth("r2", cluster("r2"))},
		{At: sec(35), Do: func(w *World) { w.node("r2").killPartitions() }},
		{At: sec(37), Do: healNet},
		{At: sec(38), Do: startNode("r1")},
	},
}

// foreignMeta is hole 5: a configuration upgrade gives the meta servers a
// wrong cluster_name, so they restart on an empty namespace of the same
// etcd, knowing no table; every replica server beacons to them as before.
// Fifteen seconds later the mistake is undone. The replica servers must
// keep their data: a meta server of another cluster is no authority over
// them, and no replica is deleted on one message.
var foreignMeta = &Script{
	Name:  "foreign-meta",
	Nodes: 3, Partitions: 2, Replicas: 3, Clients: 3,
	LoadEnd:    sec(45),
	FinalAfter: sec(47),
	Steps: []Step{
		{At: sec(15), Do: func(w *World) { w.restartMetasOn(meta.NewMemStore(), "a wrong cluster_name") }},
		{At: sec(30), Do: func(w *World) { w.restartMetasOn(w.etcd.home, "the right cluster_name") }},
	},
}

// restartMetasOn restarts every meta server on namespace st of etcd.
func (w *World) restartMetasOn(st *meta.MemStore, why string) {
	w.trace.note("script: the meta servers restart with %s", why)
	for _, m := range w.metas {
		if m.p.up {
			m.crash()
		}
	}
	w.etcd.useNamespace(st)
	for _, m := range w.metas {
		m.start()
	}
}

// cutReplies cuts the links from every replica server to client c: its
// requests arrive and are executed, their answers are lost.
func cutReplies(c string) func(*World) {
	return func(w *World) {
		w.trace.note("script: answers to %s lost", c)
		for _, n := range w.nodes {
			w.net.setLink(string(n.id), c, false)
		}
	}
}

// removalRace is hole 4: a replica server holds a replica it has no role in
// (r4, a learner dropped by downgrade_node), so its beacon's answer tells
// it to remove it; that answer is delayed in the network while the meta
// server adds r4 as a learner again and r4, through its old replica, learns
// and is made a secondary. The late answer then deletes the replica of a
// member, and the next configuration naming r4 creates an empty one in its
// place.
var removalRace = &Script{
	Name:  "removal-race-empty-member",
	Nodes: 4, Partitions: 1, Replicas: 3, Clients: 2,
	Options: func(o *Options) {
		o.registerPct = 100
		o.assignDelay = time.Second
	},
	LoadEnd:    sec(40),
	FinalAfter: sec(45),
	Steps: []Step{
		// r3 dies; after the assign delay r4 is added as a learner, but
		// the primary cannot reach it, so it stays a learner.
		{At: sec(6), Do: func(w *World) {
			w.net.setLink("r1", "r4", false)
			w.node("r3").crash()
		}},
		// downgrade_node r4 drops the learner (CT_REMOVE: r4 is not in
		// last_drops), right before r4's next beacon, whose answer (remove
		// your replica) is delayed 2.5 s. The primary can teach r4 again.
		{At: sec(20), Do: func(w *World) {
			r4 := w.node("r4")
			w.schedule(nil, r4.nextBeacon-w.now-20*time.Millisecond, func() {
				w.admin("downgrade_node r4", func(m *metaServer) error {
					_, err := m.ctl.DowngradeNode(context.Background(), "r4", meta.DrainOptions{})
					return err
				})
				for _, m := range w.metas {
					w.net.slow[[2]string{m.name, "r4"}] = 2500 * time.Millisecond
				}
				w.net.setLink("r1", "r4", true)
			})
			w.schedule(nil, r4.nextBeacon-w.now+2900*time.Millisecond, func() {
				for _, m := range w.metas {
					delete(w.net.slow, [2]string{m.name, "r4"})
				}
			})
		}},
		{At: sec(35), Do: startNode("r3")},
	},
}

var _ = decide.Gpid{}
