package replica

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/pacifica"
)

const testApp = 1

// loadWriter keeps writing distinct keys through the public client and
// remembers every acknowledged one.
type loadWriter struct {
	table *client.Table
	stop  chan struct{}
	wg    sync.WaitGroup

	mu     sync.Mutex
	acked  map[string]string // hash key -> value
	failed []error
	count  atomic.Int64
}

func startWriters(t testing.TB, table *client.Table, writers int) *loadWriter {
	w := &loadWriter{table: table, stop: make(chan struct{}), acked: make(map[string]string)}
	for i := range writers {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for n := 0; ; n++ {
				select {
				case <-w.stop:
					return
				default:
				}
				key := fmt.Sprintf("w%d-%06d", i, n)
				value := strings.Repeat(key, 8)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				err := table.Set(ctx, []byte(key), []byte("s"), []byte(value), 0)
				cancel()
				w.mu.Lock()
				if err != nil {
					w.failed = append(w.failed, fmt.Errorf("%s: %w", key, err))
				} else {
					w.acked[key] = value
				}
				w.mu.Unlock()
				if err == nil {
					w.count.Add(1)
				}
			}
		}()
	}
	return w
}

// waitAcks waits until n more writes were acknowledged.
func (w *loadWriter) waitAcks(t testing.TB, n int64, timeout time.Duration) {
	t.Helper()
	target := w.count.Load() + n
	deadline := time.Now().Add(timeout)
	for w.count.Load() < target {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d writes acknowledged in %v", w.count.Load(), target, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (w *loadWriter) finish() (map[string]string, []error) {
	close(w.stop)
	w.wg.Wait()
	return w.acked, w.failed
}

func openTable(t testing.TB, metaAddr string) *client.Table {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.New(ctx, client.Config{MetaServers: []string{metaAddr}, OperationTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	table, err := c.Open(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	return table
}

// TestSecondaryCrashRelearnAndConverge is the replica server's story end to
// end: writes keep succeeding while a secondary crashes, is removed by
// reconfiguration, restarts from its directory (replaying its log), relearns
// one partition from the primary's log and the other from a checkpoint, and
// rejoins as secondary; at the end every acknowledged write is readable and
// all three replicas of each partition hold the same data.
func TestSecondaryCrashRelearnAndConverge(t *testing.T) {
	c := newTestCluster(t, 3, clusterOptions{
		// A tiny entry cache sends learners to the on-disk log, and small
		// segments let a flush trim the log below what a learner needs.
		core:         func(cfg *pacifica.Config) { cfg.CacheEntries, cfg.CacheBytes = 8, 4<<10 },
		segmentBytes: 16 << 10,
	})
	a, b, victim := c.addr(0), c.addr(1), c.addr(2)
	c.meta.createTable("test", testApp, [][]string{{a, b, victim}, {b, a, victim}})
	c.waitFor(10*time.Second, "both partitions healthy", func() bool { return c.healthy(testApp, 0) && c.healthy(testApp, 1) })

	table := openTable(t, c.meta.addr)
	w := startWriters(t, table, 8)
	w.waitAcks(t, 300, 30*time.Second)

	// The crash. Prepares to the victim stall, each primary reports it, the
	// meta server removes it, and writes go on with two members.
	c.kill(2)
	c.waitFor(20*time.Second, "the victim removed from both partitions", func() bool {
		return !strings.Contains(fmt.Sprint(c.meta.config(0).Secondaries, c.meta.config(1).Secondaries), victim)
	})
	w.waitAcks(t, 1500, 60*time.Second)

	// Partition 1's primary flushes and trims its log: the victim's gap is no
	// longer in it, so it must learn from a checkpoint. Partition 0's
	// primary keeps its log: the victim learns from it.
	out := adminCommand(t, b, "replica.trigger-checkpoint", fmt.Sprint(testApp), "1")
	if !strings.Contains(out, "log segments removed=") || strings.Contains(out, "removed=0") {
		t.Fatalf("trigger-checkpoint did not trim partition 1's log: %s", out)
	}

	c.start(2)
	for pidx := range int32(2) {
		p := c.replica(2, testApp, pidx)
		if p == nil {
			t.Fatalf("restarted server did not reopen partition %d", pidx)
		}
		if p.stats.replayedEntries == 0 {
			t.Errorf("partition %d replayed nothing: its store was never flushed, the log must be replayed", pidx)
		}
		t.Logf("partition %d: replayed %d entries in %v", pidx, p.stats.replayedEntries, p.stats.openDuration)
	}
	c.waitFor(60*time.Second, "the victim back as secondary of both partitions", func() bool {
		return c.healthy(testApp, 0) && c.healthy(testApp, 1)
	})
	w.waitAcks(t, 200, 30*time.Second)
	acked, failed := w.finish()
	if len(failed) > 0 {
		t.Errorf("%d writes failed, first: %v", len(failed), failed[0])
	}

	// Which way each partition learned.
	if n := c.replica(0, testApp, 0).stats.logEntriesServed.Load(); n == 0 {
		t.Errorf("partition 0 was not learned from the primary's log")
	}
	if n := c.replica(2, testApp, 0).stats.ckptInstalled.Load(); n != 0 {
		t.Errorf("partition 0 installed %d checkpoints; its gap was in the primary's log", n)
	}
	if n := c.replica(2, testApp, 1).stats.ckptInstalled.Load(); n == 0 {
		t.Errorf("partition 1 was not learned from a checkpoint")
	}

	// Every acknowledged write is there.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for key, value := range acked {
		got, found, err := table.Get(ctx, []byte(key), []byte("s"))
		if err != nil || !found || string(got) != value {
			t.Fatalf("acknowledged write %s: got %q found=%v err=%v", key, got, found, err)
		}
	}
	t.Logf("%d acknowledged writes all readable; meta history:\n  %s", len(acked), strings.Join(c.meta.history(), "\n  "))

	// And the three replicas of each partition are identical.
	for pidx := range 2 {
		c.waitFor(10*time.Second, fmt.Sprintf("partition %d applied everywhere", pidx), func() bool { return c.converged(testApp, pidx) })
		var first []string
		for i := range 3 {
			p := c.replica(i, testApp, int32(pidx))
			got := storeContents(t, p)
			if i == 0 {
				first = got
				continue
			}
			if diff, ok := sameLines(first, got); !ok {
				t.Errorf("partition %d: server %d differs from server 0: %s", pidx, i, diff)
			}
		}
		t.Logf("partition %d: %d records, applied decree %d on every replica", pidx, len(first),
			c.replica(0, testApp, int32(pidx)).view.Load().applied)
	}
}
