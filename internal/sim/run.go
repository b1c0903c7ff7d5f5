package sim

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/pegasus-go/pegasus/internal/bench"
	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/meta"
	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
)

// Options configure one run. Everything not set here is drawn from the
// seed, so a seed names a whole run: cluster shape, timings, workload and
// fault schedule.
type Options struct {
	Seed uint64
	// Class picks the fault schedule (Classes); empty: drawn from the seed.
	Class string
	// Script replaces the random fault schedule with a scripted one (the
	// regression schedules of scripts.go); the cluster shape may be fixed
	// by it too.
	Script *Script
	// Trace, when set, receives every notable event as it happens.
	Trace io.Writer
	// Verbose also traces the drivers' logs.
	Verbose bool
	// KeepGoing records violations and runs to the end instead of
	// stopping at the first one.
	KeepGoing bool

	// Drawn from the seed (or set by a script).
	nodes, partitions, replicas int
	clients                     int
	// readers is how many of the clients only read registers (a read-mostly
	// user keeps its cached route for as long as its reads succeed).
	readers          int
	regKeys, cntKeys int
	registerPct      int
	// cntMix weighs the counter operations: get, incr, check_and_set.
	cntMix                    [3]int
	think                     time.Duration
	regTimeout, cntTimeout    time.Duration
	finalTimeout              time.Duration
	warmup, faultTime, settle time.Duration
	logSegment                int
	checkpointSeconds         int
	cacheEntries              int
	assignDelay               time.Duration
	// minReplicas, when set, is mutation_2pc_min_replica_count.
	minReplicas int
	faults      faultParams
}

// Result is what one run found.
type Result struct {
	Seed  uint64
	Class string
	// Ops counts client operations; Failed and Unknown those that failed
	// or ended with an unknown outcome; Lost the acknowledged writes the
	// final reads did not find.
	Ops, Failed, Unknown, Lost int
	// Linearizable is porcupine's verdict on the register history.
	Linearizable bench.Verdict
	// Violations lists the safety violations found (the first stops the
	// run unless KeepGoing).
	Violations []string
	// Unverified lists the keys whose final read failed: the cluster did
	// not serve them again in time after the faults stopped (liveness).
	Unverified []string
	// Steps is the number of events run; SimTime the simulated duration.
	Steps   int
	SimTime time.Duration
	// Fingerprint identifies the run's exact execution.
	Fingerprint uint64
	// Trace holds the last notable events.
	Trace string
	// Stats are counters of what happened.
	Stats string
}

// Violated reports whether the run found a safety violation.
func (r Result) Violated() bool { return len(r.Violations) > 0 }

// Summary is a one-line description of the run.
func (r Result) Summary() string {
	s := fmt.Sprintf("seed %d (%s): %d ops, %d failed, %d unknown, %d lost, linearizable %s, %d steps, %s simulated",
		r.Seed, r.Class, r.Ops, r.Failed, r.Unknown, r.Lost, r.Linearizable, r.Steps, r.SimTime.Round(time.Second))
	if len(r.Unverified) > 0 {
		s += fmt.Sprintf(", %d keys unverified", len(r.Unverified))
	}
	if len(r.Violations) > 0 {
		s += "\nVIOLATION: " + r.Violations[0]
	}
	return s
}

type runStats struct {
	violations  []string
	dropped     int
	tornRecords int
	checkpoints int
	// retriesAnswered counts retries answered from a request record.
	retriesAnswered int
	elections       int
	reads           int
	faultsApplied   int
}

// tableShape is the table the run uses.
type tableShape struct {
	name       string
	appID      int32
	partitions int32
	replicas   int32
}

func (t tableShape) gpidOf(key string) decide.Gpid {
	return decide.Gpid{AppID: t.appID, Index: int32(pegasusrpc.HashKeyHash([]byte(key)) % uint64(t.partitions))}
}

// Run runs one simulation.
func Run(opts Options) Result {
	w := newWorld(opts)
	w.run()
	return w.result()
}

func newWorld(opts Options) *World {
	w := &World{
		opts:   opts,
		rng:    rand.New(rand.NewPCG(opts.Seed, 0x9e3779b97f4a7c15)),
		byName: make(map[string]*proc),
	}
	w.trace = newTrace(w, opts.Trace)
	w.check = newChecker(w)
	w.configure()
	w.net = newNetwork(w)
	w.etcd = newEtcd(w)
	w.table = tableShape{name: "sim", partitions: int32(w.opts.partitions), replicas: int32(w.opts.replicas)}
	w.hist = newHistory(w, w.opts.regKeys, w.opts.cntKeys)

	fd := decide.DefaultFDConfig()
	// Runs restart nodes far more often than the unstable-restart guard
	// tolerates; the guard has its own tests.
	fd.MaxUnstableRestarts = 0
	knobs := decide.DefaultKnobs()
	knobs.AssignDelay = w.opts.assignDelay
	for i := range 2 {
		name := fmt.Sprintf("m%d", i)
		m := &metaServer{w: w, name: name, fd: fd, knobs: knobs, lb: time.Second}
		m.p = w.newProc(name, w.newHostClock())
		w.metas = append(w.metas, m)
	}
	rcfg := config.DefaultReplica()
	rcfg.CheckpointIntervalSeconds = w.opts.checkpointSeconds
	if w.opts.minReplicas > 0 {
		rcfg.Mutation2PCMinReplicaCount = w.opts.minReplicas
	}
	for i := range w.opts.nodes {
		name := fmt.Sprintf("r%d", i+1)
		s := &replicaServer{w: w, id: pacifica.NodeID(name), disk: newDisk(), cfg: rcfg, log: w.logger()}
		entries := w.opts.cacheEntries
		s.tune = func(c *pacifica.Config) { c.CacheEntries = entries }
		s.p = w.newProc(name, w.newHostClock())
		w.nodes = append(w.nodes, s)
	}
	for i := range w.opts.clients + 1 {
		c := &client{w: w, idx: i, clientID: uint64(i+1)<<32 | uint64(w.rng.Uint32())}
		c.p = w.newProc(fmt.Sprintf("c%d", i), w.newHostClock())
		if i < w.opts.clients {
			w.clients = append(w.clients, c)
		} else {
			w.reader = c
		}
	}
	return w
}

// newHostClock draws a host clock: a drift of a few hundred ppm at most
// (the clock schedule class draws larger ones) and a skew of a second.
func (w *World) newHostClock() *clock {
	drift := (w.rng.Float64()*2 - 1) * w.opts.faults.maxDrift
	return newClock(w, drift, w.between(-time.Second, time.Second))
}

// bootstrap writes the table to the store as create_app would (ballot 1,
// one primary and replicas-1 secondaries per partition, spread over the
// nodes), then starts everything.
func (w *World) bootstrap() {
	ctx := context.Background()
	st := w.etcd.store.Term()
	tb, err := st.CreateTable(ctx, meta.Table{Name: w.table.name, PartitionCount: w.table.partitions,
		ReplicaCount: w.table.replicas, Status: meta.TableCreating})
	if err != nil {
		panic(err)
	}
	w.table.appID = tb.AppID
	var cfgs []decide.PartitionConfig
	for i := range w.table.partitions {
		c := decide.PartitionConfig{Gpid: decide.Gpid{AppID: tb.AppID, Index: i}, Ballot: 1, MaxReplicaCount: w.table.replicas}
		for k := range int(w.table.replicas) {
			n := string(w.nodes[(int(i)+k)%len(w.nodes)].id)
			if k == 0 {
				c.Primary = n
			} else {
				c.Secondaries = append(c.Secondaries, n)
			}
		}
		cfgs = append(cfgs, c)
		w.check.configWritten(c)
	}
	if _, err := st.CreatePartitions(ctx, cfgs); err != nil {
		panic(err)
	}
	tb.Status = meta.TableAvailable
	if err := st.UpdateTable(ctx, tb); err != nil {
		panic(err)
	}
	w.etcd.start()
	for _, m := range w.metas {
		m.start()
	}
	// Replica servers come up once a meta server leads, as a table is
	// created on a running cluster: create_app pushes the configurations
	// to every member at once.
	w.schedule(nil, 500*time.Millisecond, func() {
		for _, n := range w.nodes {
			n.start()
		}
	})
}

// run runs the whole timeline: start, load under faults, healing, final
// reads.
func (w *World) run() {
	w.bootstrap()
	faultStart := w.opts.warmup
	faultEnd := faultStart + w.opts.faultTime
	if s := w.opts.Script; s != nil {
		// A script's faults end after its last step.
		faultEnd = 0
		for _, st := range s.Steps {
			faultEnd = max(faultEnd, st.At+time.Second)
		}
	}
	w.loadEnd = faultEnd + w.opts.settle
	w.finalAfter = w.loadEnd
	w.schedule(nil, w.opts.warmup, func() {
		for _, c := range w.clients {
			w.start(c.p)
			w.clientLoop(c)
		}
	})
	if s := w.opts.Script; s != nil {
		if s.LoadEnd > 0 {
			w.loadEnd = s.LoadEnd
		}
		if s.FinalAfter > 0 {
			w.finalAfter = s.FinalAfter
		}
		s.install(w)
	} else {
		w.nemesis(faultStart, faultEnd)
	}
	w.schedule(nil, faultEnd, func() { w.healAll("faults end") })
	hardStop := max(w.loadEnd+w.opts.cntTimeout, w.finalAfter) + w.opts.finalTimeout + 30*time.Second
	for !w.stopped && !w.finished && w.now < hardStop && w.step() {
	}
}

func (w *World) result() Result {
	r := Result{
		Seed:        w.opts.Seed,
		Class:       w.opts.Class,
		Ops:         w.hist.ops,
		Failed:      w.hist.failed,
		Unknown:     w.hist.unknown,
		Steps:       w.steps,
		SimTime:     w.now,
		Violations:  w.stats.violations,
		Unverified:  w.hist.unverified,
		Fingerprint: w.trace.hash,
	}
	if w.opts.Script != nil {
		r.Class = "script:" + w.opts.Script.Name
	}
	if !w.stopped || w.opts.KeepGoing {
		v := w.hist.judge()
		r.Linearizable, r.Lost = v.linearizable, v.lost
		if v.violation != "" {
			r.Violations = append(r.Violations, v.violation)
		}
		if !w.finished && len(r.Unverified) == 0 {
			r.Unverified = append(r.Unverified, "(final reads did not complete)")
		}
	} else {
		r.Linearizable = bench.VerdictUnknown
	}
	r.Trace = w.trace.tail(80)
	r.Stats = fmt.Sprintf("faults %d, elections %d, dropped messages %d, torn log records %d, checkpoints installed %d, retries answered from records %d, reads served %d",
		w.stats.faultsApplied, w.stats.elections, w.stats.dropped, w.stats.tornRecords, w.stats.checkpoints,
		w.stats.retriesAnswered, w.stats.reads)
	return r
}

// Report renders a failed run for a test log: the violation, the tail of
// the trace and the command that replays it.
func (r Result) Report() string {
	var b strings.Builder
	b.WriteString(r.Summary())
	b.WriteString("\n")
	b.WriteString(r.Stats)
	b.WriteString("\n--- last events ---\n")
	b.WriteString(r.Trace)
	b.WriteString("\n")
	return b.String()
}
