package replica

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// steppedClock is a wall clock an operator (or NTP) steps: time.Now plus an
// offset the test changes.
type steppedClock struct{ offset atomic.Int64 }

func (c *steppedClock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

func (c *steppedClock) step(d time.Duration) { c.offset.Add(int64(d)) }

// TestLeaseIgnoresWallClockSteps: leases run on the monotonic clock, so
// stepping the wall clock by 30 s either way neither cuts a lease short nor
// stretches it (issue 14, hole 2). A lone primary is used: its reads rest on
// the lease from the meta server.
func TestLeaseIgnoresWallClockSteps(t *testing.T) {
	clock := &steppedClock{}
	c := newTestCluster(t, 1, clusterOptions{clock: clock.now})
	a := c.addr(0)
	c.meta.createTable("test", testApp, [][]string{{a}})
	c.waitFor(10*time.Second, "healthy", func() bool { return c.healthy(testApp, 0) })
	primary := openRawStream(t, a)
	set := request("k", 1, &pb.SetRequest{HashKey: []byte("k"), SortKey: []byte("s"), Value: []byte("v")})
	if resp := primary.do(set); code(resp) != pb.ErrorCode_ERR_OK {
		t.Fatalf("set: %v", resp)
	}
	get := request("k", 1, &pb.GetRequest{HashKey: []byte("k"), SortKey: []byte("s")})
	c.waitFor(10*time.Second, "a read served", func() bool { return code(primary.do(get)) == pb.ErrorCode_ERR_OK })

	// Forward: a lease measured on the wall clock would be over at once.
	clock.step(30 * time.Second)
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); {
		if resp := primary.do(get); code(resp) != pb.ErrorCode_ERR_OK {
			t.Fatalf("read refused after the wall clock jumped 30 s ahead: %v", resp)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Backward, with the meta server gone: a lease measured on the wall
	// clock would last 30 s longer. It must end within fd_lease_seconds
	// (3 s here) of the last beacon.
	c.meta.refuse.Store(true)
	clock.step(-60 * time.Second)
	cut := time.Now()
	c.waitFor(6*time.Second, "the lease to run out", func() bool {
		return code(primary.do(get)) == pb.ErrorCode_ERR_INACTIVE_STATE
	})
	t.Logf("lease ran out %v after the meta server became unreachable", time.Since(cut).Round(time.Millisecond))
}

// TestServesThroughMetaServerOutage: with the meta server unreachable for
// three times the lease (its store down, say), a table whose partitions
// have members serves every read and write: primaries hold their read
// lease from their members, and nothing else needs the meta server while no
// configuration has to change. Every acknowledged write is read back.
func TestServesThroughMetaServerOutage(t *testing.T) {
	c := newTestCluster(t, 3, clusterOptions{})
	a, b, d := c.addr(0), c.addr(1), c.addr(2)
	c.meta.createTable("test", testApp, [][]string{{a, b, d}, {b, d, a}, {d, a, b}, {a, d, b}})
	c.waitFor(10*time.Second, "healthy", func() bool {
		for i := range 4 {
			if !c.healthy(testApp, i) {
				return false
			}
		}
		return true
	})
	table := openTable(t, c.meta.addr)
	w := startWriters(t, table, 4)
	w.waitAcks(t, 100, 20*time.Second)

	c.meta.refuse.Store(true)
	outage := 9 * time.Second // three times fd_lease_seconds
	before := w.count.Load()
	reads := 0
	for end := time.Now().Add(outage); time.Now().Before(end); {
		w.mu.Lock()
		var key, value string
		for k, v := range w.acked {
			key, value = k, v
			break
		}
		w.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		got, found, err := table.Get(ctx, []byte(key), []byte("s"))
		cancel()
		if err != nil || !found || string(got) != value {
			t.Fatalf("read of %s during the outage: %q, %v", key, got, err)
		}
		reads++
	}
	during := w.count.Load() - before
	if during < 100 {
		t.Fatalf("only %d writes acknowledged during the outage", during)
	}
	for i, ts := range c.servers {
		if ts.srv.leaseValid() {
			t.Fatalf("server %d still holds a lease from the meta server", i)
		}
	}
	c.meta.refuse.Store(false)
	acked, failed := w.finish()
	if len(failed) > 0 {
		t.Fatalf("%d writes failed, the first: %v", len(failed), failed[0])
	}
	t.Logf("meta server unreachable for %v: %d reads and %d writes acknowledged during it, none failed",
		outage, reads, during)
	for k, v := range acked {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		got, found, err := table.Get(ctx, []byte(k), []byte("s"))
		cancel()
		if err != nil || !found || string(got) != v {
			t.Fatalf("acknowledged write %s reads back %q, %v", k, got, err)
		}
	}
}
