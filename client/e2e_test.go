package client_test

// End to end against a real onebox: one meta server, three replica servers
// and etcd, each its own process of a pegasus binary built from this
// module, driven through the public client only.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/onebox/oneboxtest"
	"github.com/pegasus-go/pegasus/internal/onebox/testcluster"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

func TestMain(m *testing.M) { oneboxtest.MainNoLeaks(m) }

const (
	e2eTable   = "client_e2e"
	e2eKeys    = 10000
	e2eWorkers = 32
)

// clientSentinels are the errors a caller can branch on; every failed
// operation must match one of them.
var clientSentinels = []error{
	client.ErrTimeout, client.ErrUnknownOutcome, client.ErrTableNotFound, client.ErrNotPrimary,
	client.ErrCapacityExceeded, client.ErrBusy, client.ErrInvalidArgument, client.ErrUnavailable,
	client.ErrIncompatibleVersion, client.ErrInternal, client.ErrClosed,
}

// sentinelOf returns the first sentinel err matches, nil if none.
func sentinelOf(err error) error {
	for _, s := range clientSentinels {
		if errors.Is(err, s) {
			return s
		}
	}
	return nil
}

// startClientE2E starts the onebox with a table of 8 partitions x 3
// replicas. The failure detector is shortened (oneboxtest.FastMeta) so
// that a killed replica server is replaced as primary within seconds
// instead of Pegasus' default tens of seconds.
func startClientE2E(t *testing.T) *onebox.Cluster {
	t.Helper()
	ob := testcluster.Start(t, onebox.Options{
		Metas: 1, Replicas: 3,
		Tuning: onebox.Tuning{Meta: oneboxtest.FastMeta, Replica: oneboxtest.FastReplica},
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conns := dial.New(ob.MetaAddrs(), dial.Options{Credentials: ob.Credentials()})
	defer conns.Close()
	resp, err := dial.CallMeta(ctx, conns, func(ctx context.Context, m pb.MetaClient) (*pb.CreateTableResponse, error) {
		return m.CreateTable(ctx, &pb.CreateTableRequest{Name: e2eTable, PartitionCount: 8, ReplicaCount: 3})
	})
	if err != nil || resp.GetError().GetCode() != pb.ErrorCode_ERR_OK {
		t.Fatalf("create table: %v %v", resp.GetError(), err)
	}
	if err := ob.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	return ob
}

func e2eKey(i int) []byte { return fmt.Appendf(nil, "key%05d", i) }

// e2eValue is the value of key i's seq-th write; key i is written only by
// worker i % e2eWorkers, in increasing seq, so a value names its write.
func e2eValue(i int, seq int64) []byte { return fmt.Appendf(nil, "%05d/%d", i, seq) }

// parseSeq returns the seq of a value e2eValue(i, seq) wrote, or -1.
func parseSeq(i int, value []byte) int64 {
	rest, ok := strings.CutPrefix(string(value), fmt.Sprintf("%05d/", i))
	if !ok {
		return -1
	}
	seq, err := strconv.ParseInt(rest, 10, 64)
	if err != nil {
		return -1
	}
	return seq
}

// waitUntil polls cond until it holds or within passes; it reports whether
// cond held.
func waitUntil(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// forEachWorker runs fn for every worker w on its own goroutine, over the
// keys it owns, and waits for them all.
func forEachWorker(fn func(w int, keys []int)) {
	var wg sync.WaitGroup
	for w := range e2eWorkers {
		var keys []int
		for i := w; i < e2eKeys; i += e2eWorkers {
			keys = append(keys, i)
		}
		wg.Go(func() { fn(w, keys) })
	}
	wg.Wait()
}

// TestE2EClientWritesSurviveReplicaCrash: 10,000 keys written and read
// back by 32 concurrent workers; then a replica server is killed with
// SIGKILL in the middle of a second write load. Every write ends in success
// or an error matching one of the client's sentinels, and once the cluster
// is healthy again every acknowledged write reads back, with its value or
// a later one of the same key's worker (a write whose outcome the client
// reported unknown may have been applied). Beside the load, a counter is
// incremented by one throughout: its final value lies between the number of
// acknowledged increments and that plus the unknown ones, and no value is
// returned twice (an incr retried across the crash applied once).
func TestE2EClientWritesSurviveReplicaCrash(t *testing.T) {
	ob := startClientE2E(t)
	ctx, cancel := context.WithTimeout(context.Background(), 80*time.Second)
	defer cancel()
	c, err := client.New(ctx, client.Config{MetaServers: ob.MetaAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tbl, err := c.Open(ctx, e2eTable)
	if err != nil {
		t.Fatal(err)
	}

	// acked[i] is the seq of key i's last acknowledged write, attempted[i]
	// that of its last write issued. Only key i's worker touches them
	// until the workers are done.
	acked := make([]int64, e2eKeys)
	attempted := make([]int64, e2eKeys)
	var errMu sync.Mutex
	var errs []error
	record := func(err error) {
		errMu.Lock()
		defer errMu.Unlock()
		errs = append(errs, err)
	}

	// The healthy cluster: every write and every read succeeds.
	start := time.Now()
	forEachWorker(func(_ int, keys []int) {
		for _, i := range keys {
			if err := tbl.Set(ctx, e2eKey(i), nil, e2eValue(i, 1), 0); err != nil {
				record(fmt.Errorf("set %s: %w", e2eKey(i), err))
				return
			}
			acked[i], attempted[i] = 1, 1
		}
	})
	wrote := time.Since(start)
	forEachWorker(func(_ int, keys []int) {
		for _, i := range keys {
			got, found, err := tbl.Get(ctx, e2eKey(i), nil)
			if err != nil || !found || string(got) != string(e2eValue(i, 1)) {
				record(fmt.Errorf("get %s: found=%v value %q err %v", e2eKey(i), found, got, err))
				return
			}
		}
	})
	if len(errs) > 0 {
		t.Fatalf("on a healthy cluster: %v", errors.Join(errs...))
	}
	t.Logf("%d keys written in %v and read back in %v by %d workers",
		e2eKeys, wrote.Round(time.Millisecond), (time.Since(start) - wrote).Round(time.Millisecond), e2eWorkers)

	// The second load: each worker rewrites its keys round and round, each
	// write with its own deadline, until the load is stopped.
	loadCtx, stopLoad := context.WithCancel(ctx)
	var loadWG sync.WaitGroup
	counter := []byte("counter")
	var incrAcked, incrUnknown int
	seen := make(map[int64]bool)
	loadWG.Go(func() {
		for loadCtx.Err() == nil {
			opCtx, cancel := context.WithTimeout(context.Background(), client.DefaultOperationTimeout)
			v, err := tbl.Incr(opCtx, counter, nil, 1, nil)
			cancel()
			switch {
			case err == nil:
				if seen[v] {
					record(fmt.Errorf("incr returned %d twice", v))
				}
				seen[v] = true
				incrAcked++
			case errors.Is(err, client.ErrUnknownOutcome):
				incrUnknown++
			default:
				record(fmt.Errorf("incr: %w", err))
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	var ackedOps atomic.Int64
	loadWG.Go(func() {
		forEachWorker(func(_ int, keys []int) {
			for n := 0; loadCtx.Err() == nil; n++ {
				i := keys[n%len(keys)]
				seq := attempted[i] + 1
				attempted[i] = seq
				opCtx, cancel := context.WithTimeout(context.Background(), client.DefaultOperationTimeout)
				err := tbl.Set(opCtx, e2eKey(i), nil, e2eValue(i, seq), 0)
				cancel()
				if err != nil {
					record(fmt.Errorf("set %s seq %d: %w", e2eKey(i), seq, err))
					continue
				}
				acked[i] = seq
				ackedOps.Add(1)
				time.Sleep(2 * time.Millisecond) // pacing, not a wait
			}
		})
	})
	fail := func(format string, args ...any) {
		t.Helper()
		stopLoad()
		loadWG.Wait()
		t.Fatalf(format, args...)
	}
	// The load runs before the kill: some writes acknowledged.
	if !waitUntil(30*time.Second, func() bool { return ackedOps.Load() >= 500 }) {
		fail("the load acknowledged %d writes in 30 s", ackedOps.Load())
	}
	victim := ob.Replicas()[2]
	if err := ob.Kill(victim.Name); err != nil {
		fail("%v", err)
	}
	killed := time.Now()
	// The meta server declares the victim dead (after the failure
	// detector's grace) and promotes new primaries; then the load runs on
	// them for a while.
	conns := dial.New(ob.MetaAddrs(), dial.Options{Credentials: ob.Credentials()})
	defer conns.Close()
	declaredDead := func() bool {
		resp, err := dial.CallMeta(ctx, conns, func(ctx context.Context, m pb.MetaClient) (*pb.ListNodesResponse, error) {
			return m.ListNodes(ctx, &pb.ListNodesRequest{})
		})
		if err != nil {
			return false
		}
		for _, n := range resp.GetNodes() {
			if n.GetAddress() == victim.Address {
				return !n.GetAlive()
			}
		}
		return false
	}
	if !waitUntil(60*time.Second, declaredDead) {
		fail("the meta server did not declare %s dead", victim.Name)
	}
	afterDeath := ackedOps.Load()
	if !waitUntil(60*time.Second, func() bool { return ackedOps.Load() >= afterDeath+1000 }) {
		fail("the load acknowledged %d writes after the failover, want 1000", ackedOps.Load()-afterDeath)
	}
	stopLoad()
	loadWG.Wait()
	t.Logf("%s killed; the load ran %v past the kill", victim.Name, time.Since(killed).Round(time.Millisecond))

	if err := ob.StartNode(ctx, victim.Name); err != nil {
		t.Fatal(err)
	}
	if err := ob.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}

	// Every failure is typed.
	kinds := make(map[string]int)
	for _, err := range errs {
		s := sentinelOf(err)
		if s == nil {
			t.Errorf("untyped error: %v", err)
			continue
		}
		kinds[s.Error()]++
	}
	var writes, ackedWrites int64
	for i := range e2eKeys {
		writes += attempted[i] - 1
		ackedWrites += acked[i] - 1
	}
	t.Logf("second load: %d writes, %d failed %v", writes, len(errs), kinds)
	if ackedWrites == 0 {
		t.Fatalf("no write acknowledged during the second load")
	}

	// Every acknowledged write reads back, or a later write of its key.
	var lost int
	forEachWorker(func(_ int, keys []int) {
		for _, i := range keys {
			got, found, err := tbl.Get(ctx, e2eKey(i), nil)
			seq := parseSeq(i, got)
			if err != nil || !found || seq < acked[i] || seq > attempted[i] {
				errMu.Lock()
				lost++
				if lost <= 5 {
					t.Errorf("%s: found=%v value %q err %v; acknowledged seq %d, last issued %d",
						e2eKey(i), found, got, err, acked[i], attempted[i])
				}
				errMu.Unlock()
			}
		}
	})
	if lost > 0 {
		t.Fatalf("%d of %d keys do not hold their acknowledged value", lost, e2eKeys)
	}
	t.Logf("all %d keys hold their acknowledged value (%d acknowledged writes in the second load)", e2eKeys, ackedWrites)

	got, found, err := tbl.Get(ctx, counter, nil)
	final, perr := strconv.ParseInt(string(got), 10, 64)
	if err != nil || !found || perr != nil {
		t.Fatalf("counter: %q found=%v err=%v", got, found, err)
	}
	if final < int64(incrAcked) || final > int64(incrAcked+incrUnknown) {
		t.Fatalf("counter = %d after %d acknowledged and %d unknown increments of 1", final, incrAcked, incrUnknown)
	}
	for v := range seen {
		if v < 1 || v > final {
			t.Fatalf("incr returned %d, outside 1..%d", v, final)
		}
	}
	t.Logf("counter = %d: %d increments acknowledged, %d unknown, no value returned twice", final, incrAcked, incrUnknown)
}
