package rolling

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

// TestE2EParallelRollInTwoZones: six replica servers in two zones of
// three, --parallel 2, under load: the roll restarts pairs of one zone
// that share no partition, fails no client operation, loses no write, and
// leaves each server the primaries it had.
//
// The zones are chosen once the tables are placed (the meta server's
// placement decides which servers share partitions), as an operator
// labels racks, and set in each server's configuration.
func TestE2EParallelRollInTwoZones(t *testing.T) {
	e := startE2EWith(t, e2eOptions{replicas: 6, partitions: 8})
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	zoneOf := e.labelZones(ctx)
	t.Logf("zones: %v", zoneOf)

	l, closeLoad := newLoad(t, ctx, e.ob.MetaAddrs())
	defer closeLoad()
	primariesBefore := e.primaryCounts(ctx)
	loadCtx, stopLoad := context.WithCancel(ctx)
	wg := l.run(loadCtx, 8, 25*time.Millisecond)
	time.Sleep(2 * time.Second)
	start := time.Now()
	out, report, err := e.roll(ctx, "--mode", "ha", "--parallel", "2")
	took := time.Since(start)
	time.Sleep(time.Second)
	stopLoad()
	wg.Wait()
	t.Logf("load: %s; roll took %v", l.summary(), took.Round(time.Second))
	if err != nil || report.Status != plan.StatusSucceeded {
		t.Fatalf("roll: %v, %s: %s", err, report.Status, report.Reason)
	}
	if l.failed.Load() != 0 {
		t.Errorf("client operations failed during the parallel roll: %s", l.summary())
	}
	l.verify(t, ctx)

	store, closeStore := e.store(ctx)
	defer closeStore()
	rec, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pairs := 0
	for _, b := range rec.State.Plan.Batches {
		if len(b) > 1 {
			pairs++
			if zoneOf[b[0]] != zoneOf[b[1]] {
				t.Errorf("batch %v spans zones", b)
			}
		}
	}
	if pairs == 0 || !strings.Contains(out, "together") {
		t.Fatalf("no two replica servers restarted together: batches %v", rec.State.Plan.Batches)
	}
	t.Logf("batches %v", rec.State.Plan.Batches)
	if got := e.primaryCounts(ctx); fmt.Sprint(got) != fmt.Sprint(primariesBefore) {
		t.Errorf("primaries per node after the roll %v, before %v", got, primariesBefore)
	}
	e.requireDefaultKnobs(ctx)
}

// labelZones splits the replica servers into two zones of three, choosing
// the split with the most same-zone pairs that share no partition, writes
// each server's zone into its configuration and restarts it, one at a
// time, waiting for the cluster to be whole after each. It returns each
// server's zone by address.
func (e *e2e) labelZones(ctx context.Context) map[string]string {
	e.t.Helper()
	c := DialCluster(e.ob.MetaAddrs(), e.ob.Credentials())
	parts, err := c.Partitions(ctx)
	c.Close()
	if err != nil {
		e.t.Fatal(err)
	}
	replicas := e.ob.Replicas()
	addr := func(i int) string { return replicas[i].Address }
	disjoint := func(a, b string) bool {
		for _, p := range parts {
			if p.Holds(a) && p.Holds(b) {
				return false
			}
		}
		return true
	}
	best, bestPairs := 0, -1
	for mask := 0; mask < 1<<len(replicas); mask++ {
		var in, out []int
		for i := range replicas {
			if mask&(1<<i) != 0 {
				in = append(in, i)
			} else {
				out = append(out, i)
			}
		}
		if len(in) != len(replicas)/2 {
			continue
		}
		n := 0
		for _, side := range [][]int{in, out} {
			for x := range side {
				for y := x + 1; y < len(side); y++ {
					if disjoint(addr(side[x]), addr(side[y])) {
						n++
					}
				}
			}
		}
		if n > bestPairs {
			best, bestPairs = mask, n
		}
	}
	if bestPairs < 1 {
		e.t.Fatalf("no two replica servers share no partition in %v", parts)
	}
	zones := make(map[string]string)
	re := regexp.MustCompile(`(?m)^zone = .*$`)
	for i, r := range replicas {
		zone := "zone-b"
		if best&(1<<i) != 0 {
			zone = "zone-a"
		}
		zones[r.Address] = zone
		cfg := filepath.Join(e.dir, r.Name, "config.toml")
		data, err := os.ReadFile(cfg)
		if err != nil {
			e.t.Fatal(err)
		}
		if err := os.WriteFile(cfg, re.ReplaceAll(data, []byte(`zone = "`+zone+`"`)), 0o644); err != nil {
			e.t.Fatal(err)
		}
		if err := e.ob.Restart(ctx, r.Name); err != nil {
			e.t.Fatal(err)
		}
		if err := e.ob.WaitHealthy(ctx); err != nil {
			e.t.Fatal(err)
		}
	}
	// Every server beacons its zone before the roll reads nodes -d.
	for ctx.Err() == nil {
		c := DialCluster(e.ob.MetaAddrs(), e.ob.Credentials())
		v, err := c.View(ctx)
		c.Close()
		labelled := 0
		if err == nil {
			for _, n := range v.Nodes {
				if n.Zone == zones[n.Node] {
					labelled++
				}
			}
		}
		if labelled == len(replicas) {
			return zones
		}
		time.Sleep(200 * time.Millisecond)
	}
	e.t.Fatal("zones never showed in nodes -d")
	return nil
}
