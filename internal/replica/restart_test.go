package replica

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// TestKillPartitionThenRestart follows the rolling-restart recipe on one
// node: replica.kill_partition flushes and closes its replicas, the process
// dies, and the restarted server replays nothing before it serves again.
// The node is primary of partition 1: restarted, it may not reuse its old
// ballot and asks the meta server for a new one before taking writes.
func TestKillPartitionThenRestart(t *testing.T) {
	c := newTestCluster(t, 3, clusterOptions{})
	a, b, node := c.addr(0), c.addr(1), c.addr(2)
	c.meta.createTable("test", testApp, [][]string{{a, b, node}, {node, a, b}})
	c.waitFor(10*time.Second, "healthy", func() bool { return c.healthy(testApp, 0) && c.healthy(testApp, 1) })

	w := startWriters(t, openTable(t, c.meta.addr), 4)
	w.waitAcks(t, 500, 30*time.Second)
	if _, failed := w.finish(); len(failed) > 0 {
		t.Fatalf("%d writes failed, first: %v", len(failed), failed[0])
	}
	for pidx := range 2 {
		c.waitFor(10*time.Second, "applied everywhere", func() bool { return c.converged(testApp, pidx) })
	}

	var stat struct {
		Total   int `json:"total_replicas"`
		Opening int `json:"opening_replicas"`
		Closing int `json:"closing_replicas"`
	}
	if err := json.Unmarshal([]byte(adminCommand(t, node, "server-stat")), &stat); err != nil || stat.Total != 2 {
		t.Fatalf("server-stat before kill_partition: %+v, %v", stat, err)
	}

	out := adminCommand(t, node, "replica.kill_partition")
	t.Logf("replica.kill_partition:\n%s", out)
	if !strings.HasPrefix(out, "closed 2 of 2 replicas") {
		t.Fatalf("kill_partition answered %q", out)
	}
	for _, m := range regexp.MustCompile(`(\d+)\.(\d+): closed, durable_decree=(\d+)`).FindAllStringSubmatch(out, -1) {
		pidx, _ := strconv.Atoi(m[2])
		durable, _ := strconv.ParseInt(m[3], 10, 64)
		if applied := int64(c.replica(1, testApp, int32(pidx)).view.Load().applied); durable != applied {
			t.Errorf("partition %d closed durable at %d, the cluster applied %d", pidx, durable, applied)
		}
	}
	c.kill(2) // whatever it did after kill_partition never reaches the disk

	began := time.Now()
	c.start(2)
	opened := time.Since(began)
	for pidx := range int32(2) {
		p := c.replica(2, testApp, pidx)
		if p == nil {
			t.Fatalf("partition %d not reopened", pidx)
		}
		if p.stats.replayedEntries != 0 {
			t.Errorf("partition %d replayed %d entries after kill_partition flushed it", pidx, p.stats.replayedEntries)
		}
	}
	c.waitFor(30*time.Second, "the node serving its roles again", func() bool {
		return c.healthy(testApp, 0) && c.healthy(testApp, 1) && c.converged(testApp, 0) && c.converged(testApp, 1)
	})
	t.Logf("restart to serving: opened in %v, serving after %v; meta history:\n  %s",
		opened, time.Since(began), strings.Join(c.meta.history(), "\n  "))
	if cfg := c.meta.config(1); cfg.Primary != node || cfg.Ballot != 2 {
		t.Errorf("partition 1 after the restart: %v, want %s primary at ballot 2 (forced)", cfg, node)
	}
	w = startWriters(t, openTable(t, c.meta.addr), 2)
	w.waitAcks(t, 100, 30*time.Second)
	if _, failed := w.finish(); len(failed) > 0 {
		t.Fatalf("%d writes failed after the restart, first: %v", len(failed), failed[0])
	}

	// The HTTP status page shows the same.
	resp, err := http.Get(fmt.Sprintf("http://%s/status", c.servers[2].srv.HTTPAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page statusPage
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	if page.Node != node || !page.LeaseValid || len(page.Replicas) != 2 {
		t.Fatalf("/status: %+v", page)
	}
	for _, r := range page.Replicas {
		if r.Status != "PS_SECONDARY" && r.Status != "PS_PRIMARY" || r.Replayed != 0 {
			t.Errorf("/status replica %+v", r)
		}
	}
}

// TestKillPartitionReopensOnConfig: replica.kill_partition closes a node's
// replicas but the process stays up. The meta server's configurations still
// name the node primary of one partition and secondary of the other (past
// ballot 1), and it reopens both copies from its disk: they are the copies
// the configurations mean, not empty ones.
func TestKillPartitionReopensOnConfig(t *testing.T) {
	c := newTestCluster(t, 3, clusterOptions{})
	a, b, node := c.addr(0), c.addr(1), c.addr(2)
	c.meta.createTable("test", testApp, [][]string{{a, b, node}, {node, a, b}})
	c.waitFor(10*time.Second, "healthy", func() bool { return c.healthy(testApp, 0) && c.healthy(testApp, 1) })
	for pidx := range 2 {
		c.meta.change(pidx, "new ballot", func(*pb.PartitionConfiguration) {})
	}
	c.waitFor(10*time.Second, "healthy at ballot 2", func() bool { return c.healthy(testApp, 0) && c.healthy(testApp, 1) })
	w := startWriters(t, openTable(t, c.meta.addr), 2)
	w.waitAcks(t, 100, 30*time.Second)
	if _, failed := w.finish(); len(failed) > 0 {
		t.Fatalf("%d writes failed, first: %v", len(failed), failed[0])
	}

	// Which copy a replica is, read from its info file (the partition's
	// own field belongs to its goroutine).
	incarnation := func(pidx int32) uint64 {
		srv := c.servers[2].srv
		info, err := readReplicaInfo(srv.fs, srv.replicaDir(gpid{app: testApp, index: pidx}))
		if err != nil {
			t.Fatal(err)
		}
		return info.Incarnation
	}
	var copies [2]uint64
	for pidx := range int32(2) {
		copies[pidx] = incarnation(pidx)
	}
	out := adminCommand(t, node, "replica.kill_partition")
	if !strings.HasPrefix(out, "closed 2 of 2 replicas") {
		t.Fatalf("kill_partition answered %q", out)
	}
	c.waitFor(30*time.Second, "the node serving its roles again", func() bool {
		return c.healthy(testApp, 0) && c.healthy(testApp, 1) && c.converged(testApp, 0) && c.converged(testApp, 1)
	})
	for pidx := range int32(2) {
		if got := incarnation(pidx); got != copies[pidx] {
			t.Errorf("partition %d reopened as copy %x, want the one on disk, %x", pidx, got, copies[pidx])
		}
	}
	w = startWriters(t, openTable(t, c.meta.addr), 2)
	w.waitAcks(t, 100, 30*time.Second)
	if _, failed := w.finish(); len(failed) > 0 {
		t.Fatalf("%d writes failed after the reopen, first: %v", len(failed), failed[0])
	}
}

// TestStartSurvivesDamagedReplicaDirs: a directory left by a crash during
// creation is removed, an unreadable replica is skipped (moved aside to a
// .err directory, kept for inspection), and the healthy ones open.
func TestStartSurvivesDamagedReplicaDirs(t *testing.T) {
	c := newTestCluster(t, 1, clusterOptions{})
	addr := c.addr(0)
	c.meta.createTable("test", testApp, [][]string{{addr}, {addr}})
	c.waitFor(10*time.Second, "healthy", func() bool { return c.healthy(testApp, 0) && c.healthy(testApp, 1) })
	c.stop(0)

	dir := c.servers[0].dir
	if err := os.MkdirAll(filepath.Join(dir, "1.5", logDirName), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "1.1", infoFileName), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.start(0)
	if c.replica(0, testApp, 0) == nil {
		t.Fatal("the healthy replica did not open")
	}
	if c.replica(0, testApp, 1) != nil {
		t.Fatal("a replica with a corrupt info file opened")
	}
	if _, err := os.Stat(filepath.Join(dir, "1.1")); !os.IsNotExist(err) {
		t.Fatalf("the unreadable replica was not moved aside: %v", err)
	}
	if aside, _ := filepath.Glob(filepath.Join(dir, "1.1.*"+errorSuffix)); len(aside) != 1 {
		t.Fatalf("the unreadable replica was not kept in a .err directory: %v", aside)
	}
	if _, err := os.Stat(filepath.Join(dir, "1.5")); !os.IsNotExist(err) {
		t.Fatalf("the directory without info was not removed: %v", err)
	}
}

// TestRunEndsWhenDataDirVanishes: a server whose data_dir is removed under
// it stops (its stores can neither write nor close) instead of spinning.
func TestRunEndsWhenDataDirVanishes(t *testing.T) {
	meta := newFakeMeta(t, 3000)
	cfg := config.DefaultReplica()
	cfg.Listen, cfg.HTTPListen, cfg.PegasusListen = "127.0.0.1:0", "", ""
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.MetaServers = []string{meta.addr}
	srv, err := New(cfg, Options{Logger: testLogger(), TickInterval: testTick})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(context.Background()) }()
	if err := os.RemoveAll(cfg.DataDir); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrDataDirLost) {
			t.Fatalf("Run returned %v, want ErrDataDirLost", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after data_dir was removed")
	}
}
