package meta_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// TestE2ECorruptReplicaRelearns: under client load, a replica server is
// killed, one partition replica's files are damaged on its disk, and the
// server is started again; twice, once with a byte flipped in the middle of
// the replica's mutation log, once with its store's sstables cut in half.
// The replica fails its checksums when it opens; the server moves it aside
// to a .err directory, counts it, and the partition learns a fresh copy
// from its primary: every partition is fully healthy again by itself, the
// server holds the damaged partition again, it tried to open the damaged
// copy once per restart (no retry loop), and every acknowledged write
// reads back.
func TestE2ECorruptReplicaRelearns(t *testing.T) {
	e := startMetaE2E(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	if err := poll(ctx, "the meta leader's failure detector to settle", func() error {
		return metaSettled(ctx, e.ob)
	}); err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(ctx, client.Config{MetaServers: e.ob.MetaAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	tbl, err := cl.Open(ctx, e2eTable)
	if err != nil {
		t.Fatal(err)
	}
	w := &ackWriter{tbl: tbl}
	wctx, stopWriter := context.WithTimeout(ctx, 5*time.Minute)
	wg := w.run(wctx)
	defer func() { stopWriter(); wg.Wait() }()
	if err := poll(ctx, "200 acknowledged writes", func() error {
		if n := w.count(); n < 200 {
			return fmt.Errorf("%d acknowledged", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	parts, err := e.partitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	app := parts[0].GetGpid().GetAppId()
	victim := e.ob.Replicas()[1]
	dataDir := filepath.Join(e.ob.Dir(), victim.Dir, "data")

	for i, damage := range []struct {
		what    string
		corrupt func(t *testing.T, dir string)
	}{
		{"a byte flipped in the middle of the mutation log", flipLogByte},
		{"sstables cut in half", truncateSSTables},
	} {
		gpid := fmt.Sprintf("%d.%d", app, i)
		// Flush the stores so that the store has sstables and the log
		// records both below and above the durable decree.
		if _, err := e.replicaCommand(ctx, victim.Address, "replica.trigger-checkpoint"); err != nil {
			t.Fatal(err)
		}
		before := w.count()
		if err := poll(ctx, "writes after the checkpoint", func() error {
			if n := w.count(); n < before+100 {
				return fmt.Errorf("%d acknowledged", n-before)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := e.ob.Kill(victim.Name); err != nil {
			t.Fatal(err)
		}
		damage.corrupt(t, filepath.Join(dataDir, gpid))
		restarted := time.Now()
		if err := e.ob.StartNode(ctx, victim.Name); err != nil {
			t.Fatal(err)
		}
		// Healing takes seconds; a replica stuck failing to open never
		// heals.
		hctx, hcancel := context.WithTimeout(ctx, 90*time.Second)
		defer hcancel()
		if err := poll(hctx, victim.Address+" a member of "+gpid+" again, every partition fully healthy", func() error {
			parts, err := e.partitions(hctx)
			if err != nil {
				return err
			}
			for _, p := range parts {
				g := fmt.Sprintf("%d.%d", p.GetGpid().GetAppId(), p.GetGpid().GetPartitionIndex())
				if p.GetPrimary() == "" || len(p.GetSecondaries()) != 2 {
					return fmt.Errorf("%s: primary %q secondaries %v", g, p.GetPrimary(), p.GetSecondaries())
				}
				if g == gpid && p.GetPrimary() != victim.Address && !slices.Contains(p.GetSecondaries(), victim.Address) {
					return fmt.Errorf("%s: primary %q secondaries %v", g, p.GetPrimary(), p.GetSecondaries())
				}
			}
			held, err := e.progress(hctx, victim.Address)
			if err != nil {
				return err
			}
			if p := held[gpid]; p.Status != "PS_SECONDARY" && p.Status != "PS_PRIMARY" {
				return fmt.Errorf("%s on %s: %q", gpid, victim.Address, p.Status)
			}
			return e.ob.WaitHealthy(hctx)
		}); err != nil {
			t.Fatalf("%s: %v", damage.what, err)
		}
		healed := time.Since(restarted)
		aside, err := filepath.Glob(filepath.Join(dataDir, gpid+".*.err"))
		if err != nil || len(aside) != 1 {
			t.Fatalf("%s: .err directories of %s: %v %v", damage.what, gpid, aside, err)
		}
		m := replicaMetrics(ctx, t, victim)
		if m["pegasus_replica_corrupt_replicas_total"] != 1 || m["pegasus_replica_open_failures_total"] != 1 {
			t.Fatalf("%s: corrupt replicas %v, open failures %v after the restart, want 1 and 1", damage.what,
				m["pegasus_replica_corrupt_replicas_total"], m["pegasus_replica_open_failures_total"])
		}
		t.Logf("%s of %s on %s: moved aside to %s, partition healthy with it %v after the restart (%d writes acknowledged so far)",
			damage.what, gpid, victim.Address, filepath.Base(aside[len(aside)-1]), healed.Round(100*time.Millisecond), w.count())
	}
	onlyCopyWaits(ctx, t, e, cl)
	stopWriter()
	wg.Wait()
	keys := w.keys()
	for _, k := range keys {
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		v, found, err := tbl.Get(rctx, []byte(k), nil)
		rcancel()
		if err != nil || !found || string(v) != k {
			t.Errorf("acknowledged write %s: read %q (found %v), %v", k, v, found, err)
		}
	}
	t.Logf("%d acknowledged writes read back, %d writes failed (%s)", len(keys), w.failed.Load(), w.firstFailure())
}

// onlyCopyWaits: a partition with one replica (so its one copy holds
// every acknowledged write) whose log is damaged must wait for that copy:
// the server moves the damaged copy aside, and the meta server neither
// promotes nor creates an empty one in its place; it says why the
// partition waits.
func onlyCopyWaits(ctx context.Context, t *testing.T, e *metaE2E, cl *client.Client) {
	t.Helper()
	const single = "corrupt_single"
	resp, err := dial.CallMeta(ctx, e.conns, func(ctx context.Context, m pb.MetaClient) (*pb.CreateTableResponse, error) {
		return m.CreateTable(ctx, &pb.CreateTableRequest{Name: single, PartitionCount: 1, ReplicaCount: 1})
	})
	if err != nil || resp.GetError().GetCode() != pb.ErrorCode_ERR_OK {
		t.Fatalf("create table: %v %v", resp.GetError(), err)
	}
	if err := e.ob.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	tbl, err := cl.Open(ctx, single)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := tbl.Set(wctx, []byte(fmt.Sprintf("s%03d", i)), nil, []byte("v"), 0)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	query := func() (*pb.QueryConfigResponse, error) {
		return dial.CallMeta(ctx, e.conns, func(ctx context.Context, m pb.MetaClient) (*pb.QueryConfigResponse, error) {
			return m.QueryConfig(ctx, &pb.QueryConfigRequest{Table: single})
		})
	}
	qc, err := query()
	if err != nil || len(qc.GetPartitions()) != 1 {
		t.Fatalf("query config: %v %v", qc, err)
	}
	pc := qc.GetPartitions()[0]
	var holder onebox.Process
	for _, r := range e.ob.Replicas() {
		if r.Address == pc.GetPrimary() {
			holder = r
		}
	}
	if holder.Name == "" {
		t.Fatalf("primary %q is no replica server", pc.GetPrimary())
	}
	if err := e.ob.Kill(holder.Name); err != nil {
		t.Fatal(err)
	}
	g := fmt.Sprintf("%d.0", pc.GetGpid().GetAppId())
	flipLogByte(t, filepath.Join(e.ob.Dir(), holder.Dir, "data", g))
	if err := e.ob.StartNode(ctx, holder.Name); err != nil {
		t.Fatal(err)
	}
	// The server is back (the main table heals with it) and has moved the
	// damaged copy aside ...
	if err := poll(ctx, "the main table fully healthy, "+g+" moved aside", func() error {
		if aside, _ := filepath.Glob(filepath.Join(e.ob.Dir(), holder.Dir, "data", g+".*.err")); len(aside) != 1 {
			return fmt.Errorf(".err directories of %s: %v", g, aside)
		}
		parts, err := e.partitions(ctx)
		if err != nil {
			return err
		}
		for _, p := range parts {
			if p.GetPrimary() == "" || len(p.GetSecondaries()) != 2 {
				return fmt.Errorf("%d: primary %q secondaries %v", p.GetGpid().GetPartitionIndex(), p.GetPrimary(), p.GetSecondaries())
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// ... and the partition whose only copy it was waits, with a reason,
	// once the meta server has dropped the restarted primary, and through
	// several guardian rounds after.
	if err := poll(ctx, g+" waiting for "+holder.Address, func() error {
		qc, err := query()
		if err != nil {
			return err
		}
		if p := qc.GetPartitions()[0]; p.GetPrimary() != "" || len(qc.GetWaits()) == 0 {
			return fmt.Errorf("primary %q secondaries %v waits %v", p.GetPrimary(), p.GetSecondaries(), qc.GetWaits())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		qc, err = query()
		if err != nil {
			t.Fatal(err)
		}
		p := qc.GetPartitions()[0]
		if p.GetPrimary() != "" || len(p.GetSecondaries()) != 0 {
			t.Fatalf("%s, whose only copy was corrupt, got primary %q secondaries %v: an empty or partial copy was trusted",
				g, p.GetPrimary(), p.GetSecondaries())
		}
		if len(qc.GetWaits()) != 1 || !strings.Contains(qc.GetWaits()[0].GetReason(), holder.Address) {
			t.Fatalf("%s waits for %v, want the reason naming %s", g, qc.GetWaits(), holder.Address)
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(time.Second):
		}
	}
	t.Logf("%s (one replica) with a corrupt log on %s waits: %s", g, holder.Address, qc.GetWaits()[0].GetReason())
}

// ackWriter writes fresh keys one after another and remembers which ones
// were acknowledged.
type ackWriter struct {
	tbl    *client.Table
	failed atomic.Int64
	mu     sync.Mutex
	acked  []string
	first  string
}

func (w *ackWriter) run(ctx context.Context) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ctx.Err() == nil && i < 1_000_000; i++ {
			opCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			key := fmt.Sprintf("c%07d", i)
			err := w.tbl.Set(opCtx, []byte(key), nil, []byte(key), 0)
			cancel()
			w.mu.Lock()
			if err == nil {
				w.acked = append(w.acked, key)
			} else if w.failed.Add(1) == 1 {
				w.first = fmt.Sprintf("%s: %v", key, err)
			}
			w.mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	})
	return &wg
}

func (w *ackWriter) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

func (w *ackWriter) keys() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.acked)
}

func (w *ackWriter) firstFailure() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.first
}

// flipLogByte flips one byte halfway through the records of the replica's
// largest log segment (before its last record, so the damage is not a torn
// tail).
func flipLogByte(t *testing.T, dir string) {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dir, "plog", "log.*.plog"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("no log segment in %s: %v", dir, err)
	}
	var path string
	var data []byte
	for _, s := range segs {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(bytes.TrimRight(b, "\x00")); n > len(bytes.TrimRight(data, "\x00")) {
			path, data = s, b
		}
	}
	end := len(bytes.TrimRight(data, "\x00"))
	const header = 32
	if end < header+1024 {
		t.Fatalf("%s holds %d bytes of records, too few to damage the middle", path, end-header)
	}
	off := header + (end-header)/2
	data[off] ^= 0xFF
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// truncateSSTables cuts every sstable of the replica's store in half.
func truncateSSTables(t *testing.T, dir string) {
	t.Helper()
	ssts, err := filepath.Glob(filepath.Join(dir, "data", "*.sst"))
	if err != nil || len(ssts) == 0 {
		t.Fatalf("no sstable in %s: %v", dir, err)
	}
	for _, s := range ssts {
		st, err := os.Stat(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(s, st.Size()/2); err != nil {
			t.Fatal(err)
		}
	}
}

// replicaMetrics reads a replica server's unlabelled Prometheus series.
func replicaMetrics(ctx context.Context, t *testing.T, p onebox.Process) map[string]float64 {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.HTTPAddress+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := make(map[string]float64)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var name string
		var v float64
		if line := sc.Text(); !strings.HasPrefix(line, "#") && !strings.Contains(line, "{") {
			if _, err := fmt.Sscanf(line, "%s %g", &name, &v); err == nil {
				out[name] = v
			}
		}
	}
	return out
}
