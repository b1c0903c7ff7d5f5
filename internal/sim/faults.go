package sim

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/pegasus-go/pegasus/internal/meta"
	"github.com/pegasus-go/pegasus/internal/meta/decide"
)

// Classes are the fault schedules, one per row of the fault matrix
// (docs/correctness.md). A seed without a class gets Classes[seed % n].
var Classes = []string{"calm", "network", "crash", "clock", "meta", "admin", "staggered", "chaos"}

// faultParams are a schedule's knobs.
type faultParams struct {
	// weights of the nemesis' actions (action names in nemesisActions).
	weights map[string]int
	// gap is the mean pause between two faults.
	gap time.Duration
	// background network quality while faults run.
	dropP, dupP, stallP float64
	maxStall            time.Duration
	slowDiskP           float64
	// maxDrift bounds the hosts' clock drift.
	maxDrift float64
}

// configure draws the run's shape and schedule from the seed.
func (w *World) configure() {
	o := &w.opts
	if o.Class == "" {
		o.Class = Classes[o.Seed%uint64(len(Classes))]
		if o.Script != nil {
			o.Class = "calm"
		}
	}
	o.nodes = 3 + w.rng.IntN(3)
	o.replicas = 2 + w.rng.IntN(2)
	o.partitions = []int{1, 2, 4}[w.rng.IntN(3)]
	o.clients = 2 + w.rng.IntN(3)
	o.readers = w.rng.IntN(2)
	o.regKeys = 2 + w.rng.IntN(4)
	o.cntKeys = 1 + w.rng.IntN(3)
	o.registerPct = 50
	o.cntMix = [3]int{1, 2, 2}
	o.think = time.Duration(w.rng.IntN(30)) * time.Millisecond
	o.regTimeout = []time.Duration{5 * time.Second, 10 * time.Second}[w.rng.IntN(2)]
	o.cntTimeout = []time.Duration{20 * time.Second, 60 * time.Second}[w.rng.IntN(2)]
	o.finalTimeout = 120 * time.Second
	o.warmup = 2 * time.Second
	o.faultTime = time.Duration(30+w.rng.IntN(60)) * time.Second
	o.settle = 20 * time.Second
	o.logSegment = 4 + w.rng.IntN(60)
	o.checkpointSeconds = []int{2, 5, 20, 100}[w.rng.IntN(4)]
	o.cacheEntries = []int{8, 64, 1024}[w.rng.IntN(3)]
	o.assignDelay = []time.Duration{3 * time.Second, 30 * time.Second, 300 * time.Second}[w.rng.IntN(3)]
	f := faultParams{gap: 5 * time.Second, maxDrift: 2e-4, maxStall: 500 * time.Millisecond, stallP: 0.001}
	switch o.Class {
	case "calm":
		f.weights = map[string]int{}
	case "network":
		f.weights = map[string]int{"partition": 4, "flaky": 3, "isolate-from-meta": 2, "isolate-from-peers": 2,
			"isolate-from-cluster": 2, "one-way": 2, "beacon-loss": 2}
		f.dropP, f.dupP, f.stallP, f.maxStall = 0.01, 0.01, 0.01, 2*time.Second
	case "crash":
		f.weights = map[string]int{"crash": 5, "stop": 2, "restart-all": 1}
		f.slowDiskP = 0.01
	case "clock":
		f.weights = map[string]int{"clock-step": 4, "pause": 4, "isolate-from-meta": 1, "isolate-from-cluster": 1}
		f.maxDrift = 0.02
	case "meta":
		f.weights = map[string]int{"meta-crash": 3, "meta-pause": 2, "etcd-down": 3, "meta-etcd-cut": 2, "beacon-loss": 1}
	case "admin":
		f.weights = map[string]int{"migrate": 4, "downgrade": 3, "balance": 2, "kill-partition": 3, "crash": 1,
			"isolate-from-cluster": 2}
	case "staggered":
		f.weights = map[string]int{"staggered": 1}
		f.gap = 20 * time.Second
	case "chaos":
		f.weights = map[string]int{"partition": 2, "flaky": 2, "isolate-from-meta": 2, "isolate-from-peers": 1,
			"isolate-from-cluster": 1,
			"one-way":              1, "crash": 3, "stop": 1, "clock-step": 1, "pause": 2, "meta-crash": 1, "etcd-down": 1,
			"meta-etcd-cut": 1, "migrate": 2, "downgrade": 1, "balance": 1, "kill-partition": 1, "staggered": 1,
			"beacon-loss": 1}
		f.dropP, f.dupP, f.stallP, f.maxStall, f.slowDiskP = 0.005, 0.005, 0.005, time.Second, 0.005
		f.maxDrift = 0.005
	default:
		panic(fmt.Sprintf("sim: unknown schedule class %q", o.Class))
	}
	o.faults = f
	if o.Script != nil {
		o.Script.shape(o)
	}
}

// nemesis schedules random faults between start and end.
func (w *World) nemesis(start, end time.Duration) {
	f := w.opts.faults
	var names []string
	total := 0
	for n, wt := range f.weights {
		if wt > 0 {
			names = append(names, n)
			total += wt
		}
	}
	slices.Sort(names)
	w.schedule(nil, start, func() {
		w.net.dropP, w.net.dupP, w.net.stallP, w.net.maxStall = f.dropP, f.dupP, f.stallP, f.maxStall
	})
	if total == 0 {
		return
	}
	var next func()
	next = func() {
		if w.now >= end {
			return
		}
		r := w.rng.IntN(total)
		for _, n := range names {
			if r -= f.weights[n]; r < 0 {
				w.stats.faultsApplied++
				w.fault(n, end)
				break
			}
		}
		w.schedule(nil, w.between(f.gap/5, 2*f.gap), next)
	}
	w.schedule(nil, start+w.between(0, f.gap), next)
}

// healAt runs fn at min(now+d, end): every fault heals by the end of the
// fault period.
func (w *World) healAt(d, end time.Duration, fn func()) {
	w.schedule(nil, min(d, max(end-w.now, 0)), fn)
}

// fault applies one nemesis action.
func (w *World) fault(name string, end time.Duration) {
	n := pick(w, w.nodes)
	switch name {
	case "crash", "stop":
		if !n.p.up {
			return
		}
		if name == "crash" {
			n.crash()
		} else {
			n.stop()
		}
		w.healAt(w.between(500*time.Millisecond, 30*time.Second), end, func() { w.restartNode(n) })
	case "restart-all":
		for _, x := range w.nodes {
			if x.p.up {
				x.crash()
			}
		}
		for _, x := range w.nodes {
			w.healAt(w.between(100*time.Millisecond, 15*time.Second), end, func() { w.restartNode(x) })
		}
	case "staggered":
		w.staggered(end)
	case "partition":
		// A random cut between this node and a random set of others.
		var cut []string
		for _, name := range w.allNames() {
			if name != string(n.id) && w.chance(0.4) {
				cut = append(cut, name)
			}
		}
		w.trace.note("fault: cut %s from %v", n.id, cut)
		for _, o := range cut {
			w.net.setLink(string(n.id), o, false)
			w.net.setLink(o, string(n.id), false)
		}
		w.healAt(w.between(time.Second, 20*time.Second), end, func() {
			for _, o := range cut {
				w.net.setLink(string(n.id), o, true)
				w.net.setLink(o, string(n.id), true)
			}
			w.trace.note("heal: %s reconnected", n.id)
		})
	case "isolate-from-meta":
		w.isolate(string(n.id), w.metaNames(), true, true, w.between(time.Second, 25*time.Second), end)
	case "isolate-from-peers":
		w.isolate(string(n.id), w.nodeNames(string(n.id)), true, true, w.between(time.Second, 20*time.Second), end)
	case "isolate-from-cluster":
		// Cut off from the meta servers and the other replica servers, but
		// not from the clients (a partial partition).
		w.isolate(string(n.id), append(w.metaNames(), w.nodeNames(string(n.id))...), true, true,
			w.between(time.Second, 30*time.Second), end)
	case "one-way":
		others := append(w.metaNames(), w.nodeNames(string(n.id))...)
		out := w.chance(0.5)
		w.isolate(string(n.id), others, out, !out, w.between(time.Second, 15*time.Second), end)
	case "beacon-loss":
		// Beacons (and only beacons' path) lost for a while: an imperfect
		// failure detector that may think a live node dead.
		w.isolate(string(n.id), w.metaNames(), true, false, w.between(2*time.Second, 15*time.Second), end)
	case "flaky":
		old := *w.net
		w.net.dropP, w.net.dupP, w.net.stallP = 0.05+0.2*w.rng.Float64(), 0.05, 0.05
		w.net.maxStall = 3 * time.Second
		w.trace.note("fault: flaky network (drop %.2f)", w.net.dropP)
		w.healAt(w.between(time.Second, 10*time.Second), end, func() {
			w.net.dropP, w.net.dupP, w.net.stallP, w.net.maxStall = old.dropP, old.dupP, old.stallP, old.maxStall
			w.trace.note("heal: network steady")
		})
	case "clock-step":
		d := 30 * time.Second
		if w.chance(0.5) {
			d = -d
		}
		p := w.procOf(n.p, w.metas)
		p.clock.step(d)
		w.trace.note("fault: %s wall clock steps %v", p.name, d)
		if p == n.p && w.chance(0.5) {
			// ... and then loses the cluster, keeping its clients.
			w.isolate(string(n.id), append(w.metaNames(), w.nodeNames(string(n.id))...), true, true,
				w.between(5*time.Second, 40*time.Second), end)
		}
	case "pause":
		p := w.procOf(n.p, w.metas)
		d := w.between(500*time.Millisecond, 15*time.Second)
		p.pausedUntil = max(p.pausedUntil, w.now+d)
		w.trace.note("fault: %s paused for %v", p.name, d.Round(time.Millisecond))
	case "meta-crash":
		m := w.leaderOrAny()
		if !m.p.up {
			return
		}
		m.crash()
		w.healAt(w.between(time.Second, 20*time.Second), end, func() { w.restartMeta(m) })
	case "meta-pause":
		m := w.leaderOrAny()
		d := w.between(time.Second, 12*time.Second)
		m.p.pausedUntil = max(m.p.pausedUntil, w.now+d)
		w.trace.note("fault: %s paused for %v", m.name, d.Round(time.Millisecond))
	case "etcd-down":
		if !w.etcd.p.up {
			return
		}
		w.etcd.down()
		w.healAt(w.between(2*time.Second, 30*time.Second), end, func() { w.restartEtcd() })
	case "meta-etcd-cut":
		m := w.leaderOrAny()
		w.isolate(m.name, []string{"etcd"}, true, true, w.between(time.Second, 15*time.Second), end)
	case "migrate":
		w.admin("migrate_node "+string(n.id), func(m *metaServer) error {
			_, err := m.ctl.MigrateNode(context.Background(), string(n.id), meta.DrainOptions{})
			return err
		})
	case "downgrade":
		w.admin("downgrade_node "+string(n.id), func(m *metaServer) error {
			_, err := m.ctl.DowngradeNode(context.Background(), string(n.id), meta.DrainOptions{})
			return err
		})
	case "balance":
		level := "lively"
		if w.chance(0.5) {
			level = "steady"
		}
		w.admin("set_meta_level "+level, func(m *metaServer) error {
			_, _, err := m.ctl.MetaLevel(context.Background(), level, meta.KnobLease{})
			return err
		})
	case "kill-partition":
		if n.p.up {
			n.killPartitions()
		}
	default:
		panic("sim: unknown fault " + name)
	}
}

// isolate cuts the links from node to others (out) and from others to node
// (in) for d.
func (w *World) isolate(node string, others []string, out, in bool, d, end time.Duration) {
	w.trace.note("fault: cut %s from %v (out %v, in %v) for %v", node, others, out, in, d.Round(time.Millisecond))
	set := func(up bool) {
		for _, o := range others {
			if out {
				w.net.setLink(node, o, up)
			}
			if in {
				w.net.setLink(o, node, up)
			}
		}
	}
	set(false)
	w.healAt(d, end, func() {
		set(true)
		w.trace.note("heal: %s links to %v restored", node, others)
	})
}

// staggered takes every member of one partition down, one after the other,
// with writes acknowledged by the shrinking configuration in between, and
// brings them back in a random order.
func (w *World) staggered(end time.Duration) {
	g := decide.Gpid{AppID: w.table.appID, Index: int32(w.rng.IntN(w.opts.partitions))}
	cfg, ok := w.check.configs[g]
	if !ok {
		return
	}
	members := append([]string{}, cfg.Secondaries...)
	if cfg.Primary != "" {
		members = append(members, cfg.Primary)
	}
	w.rng.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
	w.trace.note("fault: staggered outage of %s: %v", g, members)
	at := time.Duration(0)
	for _, name := range members {
		n := w.node(name)
		at += w.between(500*time.Millisecond, 4*time.Second)
		w.schedule(nil, at, func() {
			// Past the end of the fault period nothing would restart it.
			if n.p.up && w.now < end {
				n.crash()
			}
		})
	}
	order := slices.Clone(members)
	w.rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	for _, name := range order {
		n := w.node(name)
		at += w.between(time.Second, 15*time.Second)
		w.healAt(at, end, func() { w.restartNode(n) })
	}
}

// admin runs an operator command on the meta leader, if there is one.
func (w *World) admin(what string, fn func(*metaServer) error) {
	m := w.leader()
	if m == nil {
		w.trace.note("admin: %s: no leader", what)
		return
	}
	err := fn(m)
	m.afterCall()
	w.trace.note("admin: %s on %s: err=%v", what, m.name, err)
}

func (w *World) leader() *metaServer {
	for _, m := range w.metas {
		if m.p.up && m.leading {
			return m
		}
	}
	return nil
}

func (w *World) leaderOrAny() *metaServer {
	if m := w.leader(); m != nil {
		return m
	}
	return pick(w, w.metas)
}

// procOf picks n's process or, now and then, a meta server's.
func (w *World) procOf(n *proc, metas []*metaServer) *proc {
	if w.chance(0.2) {
		return pick(w, metas).p
	}
	return n
}

func (w *World) restartNode(n *replicaServer) {
	if !n.p.up {
		n.start()
	}
}

func (w *World) restartMeta(m *metaServer) {
	if !m.p.up {
		m.start()
	}
}

func (w *World) restartEtcd() {
	if !w.etcd.p.up {
		w.etcd.start()
	}
}

// healAll ends every fault: links restored, processes restarted and
// resumed, etcd up, the network steady.
func (w *World) healAll(why string) {
	w.net.healAll()
	w.net.dropP, w.net.dupP, w.net.stallP = 0, 0, 0
	w.restartEtcd()
	for _, m := range w.metas {
		m.p.pausedUntil = min(m.p.pausedUntil, w.now)
		w.restartMeta(m)
	}
	for _, n := range w.nodes {
		n.p.pausedUntil = min(n.p.pausedUntil, w.now)
		w.restartNode(n)
	}
	w.trace.note("heal: everything (%s)", why)
}

func (w *World) metaNames() []string {
	var out []string
	for _, m := range w.metas {
		out = append(out, m.name)
	}
	return out
}

func (w *World) nodeNames(except string) []string {
	var out []string
	for _, n := range w.nodes {
		if string(n.id) != except {
			out = append(out, string(n.id))
		}
	}
	return out
}

func (w *World) allNames() []string {
	out := append(w.metaNames(), w.nodeNames("")...)
	for _, c := range w.clients {
		out = append(out, c.p.name)
	}
	return append(out, "etcd")
}
