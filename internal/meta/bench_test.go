package meta

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/version"
)

// The simulation: 1,000 replica servers, 100,000 partitions of three
// replicas (six tables whose power-of-two sizes add up to 100,000), the
// default timings (beacon 3 s, grace 10 s), the controller on a MemStore.
// Every node beacons with one report per replica it holds (300 on average),
// all in sync, which is the steady state the meta server spends its life in.

const (
	simNodes = 1000
	// simBeaconDeadline is fd_beacon_interval_seconds: a round of beacons
	// from every node must be processed well within it.
	simBeaconDeadline = 3 * time.Second
)

var simTables = []int32{65536, 32768, 1024, 512, 128, 32} // 100,000 partitions

type simWorld struct {
	clock *fakeClock
	ctl   *Controller
	svc   *metaService
	store *MemStore
	nodes []string
	// beacons[i] is node i's beacon, as the gRPC handler receives it.
	beacons []*pb.BeaconRequest
	// metaHeap is the live heap the controller and the in-memory store
	// hold once every node has beaconed (the prebuilt requests excluded).
	metaHeap  uint64
	setupTime time.Duration
}

// nopAdmin accepts every push.
type nopAdmin struct{ calls atomic.Int64 }

func (a *nopAdmin) UpdateConfig(ctx context.Context, node string, req *pb.ConfigUpdateRequest) error {
	a.calls.Add(1)
	return nil
}

var (
	simOnce  sync.Once
	simState *simWorld
)

func simSetup(b *testing.B) *simWorld {
	simOnce.Do(func() { simState = newSimWorld(b) })
	if simState == nil {
		b.Fatal("simulation setup failed")
	}
	return simState
}

func newSimWorld(b *testing.B) *simWorld {
	start := time.Now()
	w := &simWorld{clock: &fakeClock{now: t0}, store: NewMemStore()}
	ctl, err := NewController(ControllerConfig{Self: "meta1:34601", FD: decide.DefaultFDConfig(), Knobs: decide.DefaultKnobs()},
		w.clock, &nopAdmin{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	w.ctl, w.svc = ctl, &metaService{srv: serverFor(ctl)}
	if _, err := ctl.BecomeLeader(context.Background(), w.store.Term()); err != nil {
		b.Fatal(err)
	}
	proto := version.Current().String()
	for i := range simNodes {
		n := fmt.Sprintf("10.0.%d.%d:34801", i/250, i%250)
		w.nodes = append(w.nodes, n)
		ctl.Beacon(Beacon{Node: n, Protocol: proto, StartTime: t0})
	}
	w.clock.Advance(decide.DefaultFDConfig().Grace + time.Second)
	for _, n := range w.nodes {
		ctl.Beacon(Beacon{Node: n, Protocol: proto, StartTime: t0})
	}
	if _, err := ctl.Round(context.Background()); err != nil {
		b.Fatal(err)
	}
	for i, p := range simTables {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if _, err := ctl.CreateTable(ctx, CreateTableRequest{Name: fmt.Sprintf("t%d", i), PartitionCount: p, ReplicaCount: 3}); err != nil {
			b.Fatal(err)
		}
		cancel()
	}
	if err := ctl.WaitPushes(context.Background()); err != nil {
		b.Fatal(err)
	}
	base := liveHeap()
	// Every node reports what it holds, in sync.
	byNode := make(map[string]*pb.BeaconRequest, simNodes)
	for _, n := range w.nodes {
		byNode[n] = &pb.BeaconRequest{Node: n, ProtocolVersion: proto, StartTimeMs: t0.UnixMilli(), BinaryVersion: "0.1.0"}
	}
	ctl.mu.Lock()
	l := ctl.cache.layout
	for i := 0; i < l.Len(); i++ {
		c := l.At(i)
		add := func(n string, st pb.PartitionStatus) {
			byNode[n].Replicas = append(byNode[n].Replicas, &pb.ReplicaReport{Gpid: gpidToPB(c.Gpid), Status: st, Ballot: c.Ballot,
				LastCommittedDecree: 1000, LastPreparedDecree: 1000, LastDurableDecree: 900})
		}
		add(c.Primary, pb.PartitionStatus_PS_PRIMARY)
		for _, s := range c.Secondaries {
			add(s, pb.PartitionStatus_PS_SECONDARY)
		}
	}
	ctl.mu.Unlock()
	for _, n := range w.nodes {
		w.beacons = append(w.beacons, byNode[n])
	}
	requests := liveHeap() - base
	w.clock.Advance(simBeaconDeadline)
	w.beaconRound(b, 0, simNodes)
	w.metaHeap = liveHeap() - requests
	w.setupTime = time.Since(start)
	return w
}

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// cpuTime is the process's user plus system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// beaconRound delivers one beacon from every node through the gRPC
// handler (wire types in and out, no network) and checks each answer.
func (w *simWorld) beaconRound(b *testing.B, from, to int) {
	for _, req := range w.beacons[from:to] {
		resp, err := w.svc.Beacon(context.Background(), req)
		if err != nil || !resp.GetAllowed() || resp.GetLeaseMs() == 0 || len(resp.GetConfigs()) != 0 || len(resp.GetRemove()) != 0 {
			b.Fatalf("beacon from %s: %v %v", req.GetNode(), resp, err)
		}
	}
}

// reportSim reports a beacon round's wall and CPU time against the beacon
// interval, and the meta server's heap.
func reportSim(b *testing.B, w *simWorld, wall, cpu time.Duration) {
	n := time.Duration(b.N)
	b.ReportMetric(float64((wall/n).Microseconds())/1000, "ms/beacon-round")
	b.ReportMetric(float64((cpu/n).Microseconds())/1000, "cpu-ms/beacon-round")
	b.ReportMetric(float64(simNodes)/(wall/n).Seconds(), "beacons/s")
	b.ReportMetric(100*(wall/n).Seconds()/simBeaconDeadline.Seconds(), "%-of-3s-interval")
	b.ReportMetric(float64(w.metaHeap)/(1<<20), "meta-heap-MB")
}

// BenchmarkMetaBeacons: one beacon round (1,000 beacons, 300,000 replica
// reports) processed sequentially on one goroutine, so ns/op is the CPU
// time of a round. The metrics compare it with the 3 s beacon interval.
func BenchmarkMetaBeacons(b *testing.B) {
	w := simSetup(b)
	b.Logf("setup: %d nodes, %d partitions in %v; controller and store heap %d MB", simNodes, 100000, w.setupTime, w.metaHeap>>20)
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime()
	for b.Loop() {
		w.clock.Advance(simBeaconDeadline)
		w.beaconRound(b, 0, simNodes)
	}
	reportSim(b, w, time.Since(start), cpuTime()-cpu)
}

// BenchmarkMetaBeaconsParallel: the same round from GOMAXPROCS goroutines,
// as the gRPC server would deliver it; beacons serialize on the
// controller's lock.
func BenchmarkMetaBeaconsParallel(b *testing.B) {
	w := simSetup(b)
	workers := runtime.GOMAXPROCS(0)
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime()
	for b.Loop() {
		w.clock.Advance(simBeaconDeadline)
		var wg sync.WaitGroup
		for k := range workers {
			wg.Go(func() { w.beaconRound(b, k*simNodes/workers, (k+1)*simNodes/workers) })
		}
		wg.Wait()
	}
	reportSim(b, w, time.Since(start), cpuTime()-cpu)
}

// BenchmarkMetaBeaconsWire adds protobuf decoding of every request and
// encoding of every answer, which gRPC does around the handler.
func BenchmarkMetaBeaconsWire(b *testing.B) {
	w := simSetup(b)
	raw := make([][]byte, len(w.beacons))
	for i, req := range w.beacons {
		var err error
		if raw[i], err = proto.Marshal(req); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime()
	for b.Loop() {
		w.clock.Advance(simBeaconDeadline)
		for _, buf := range raw {
			req := &pb.BeaconRequest{}
			if err := proto.Unmarshal(buf, req); err != nil {
				b.Fatal(err)
			}
			resp, err := w.svc.Beacon(context.Background(), req)
			if err != nil || !resp.GetAllowed() {
				b.Fatal(resp, err)
			}
			if _, err := proto.Marshal(resp); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportSim(b, w, time.Since(start), cpuTime()-cpu)
}

// BenchmarkMetaRound: one planning round over the 100,000 healthy
// partitions (failure detection, guardian scan, nothing to write).
func BenchmarkMetaRound(b *testing.B) {
	w := simSetup(b)
	w.beaconRound(b, 0, simNodes)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rep, err := w.ctl.Round(context.Background())
		if err != nil || len(rep.Applied)+len(rep.Failed) != 0 {
			b.Fatalf("round on a healthy cluster: %+v %v", rep, err)
		}
	}
}

// BenchmarkMetaTakeover: a new leader loading the 100,000 partitions from
// the store and building its cache.
func BenchmarkMetaTakeover(b *testing.B) {
	w := simSetup(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c, err := NewController(ControllerConfig{Self: "meta2:34601", FD: decide.DefaultFDConfig(), Knobs: decide.DefaultKnobs()},
			w.clock, &nopAdmin{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.BecomeLeader(context.Background(), w.store.Term()); err != nil {
			b.Fatal(err)
		}
		c.StepDown("")
		c.Close()
	}
	b.StopTimer()
	// The benchmark took the store's term away from the shared world's
	// controller; later benchmarks need a leading one.
	if _, err := w.ctl.BecomeLeader(context.Background(), w.store.Term()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkMetaNodeDeath: the round that finds a dead node holding about
// 300 replicas writes and pushes one configuration change for each
// (promoting a secondary where it was primary). Each iteration kills
// another node of a world of its own; the restart window is kept closed so
// that the rounds in between write nothing else.
func BenchmarkMetaNodeDeath(b *testing.B) {
	w := newSimWorld(b)
	if _, err := w.ctl.RemoteCommand(context.Background(), decide.KnobAssignDelayMs, []string{"100000000000"}, KnobLease{}); err != nil {
		b.Fatal(err)
	}
	dead := map[string]bool{}
	changes := 0
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		dead[w.nodes[i%simNodes]] = true
		for range 4 { // past the 10 s grace
			w.clock.Advance(simBeaconDeadline)
			for _, req := range w.beacons {
				if !dead[req.GetNode()] {
					w.svc.Beacon(context.Background(), req)
				}
			}
		}
		b.StartTimer()
		rep, err := w.ctl.Round(context.Background())
		if err != nil || len(rep.Applied) == 0 || len(rep.Failed) != 0 {
			b.Fatalf("round after %s died: %d applied, %d failed, %v", w.nodes[i%simNodes], len(rep.Applied), len(rep.Failed), err)
		}
		changes += len(rep.Applied)
		if err := w.ctl.WaitPushes(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(changes)/float64(b.N), "changes/op")
}
