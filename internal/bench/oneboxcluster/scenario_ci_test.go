package oneboxcluster

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/bench"
	"github.com/pegasus-go/pegasus/internal/bench/pegasustarget"
	"github.com/pegasus-go/pegasus/internal/bench/scenario"
	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/onebox/oneboxtest"
)

func TestMain(m *testing.M) { oneboxtest.MainNoLeaks(m) }

// runOnOnebox runs one scenario on a fresh onebox at CI size: a 25 s load
// at 200 ops/s over 1000 keys, half reads, and fails on any lost
// acknowledged write or linearizability violation, and on any broken
// promise of the scenario (rolling-ha: no failed operation).
func runOnOnebox(t *testing.T, name string, roles ...string) {
	if testing.Short() {
		t.Skip("starts a onebox of real processes and loads it for half a minute; skipped with -short")
	}
	bin := oneboxtest.Binary(t)
	oneboxtest.RequireRoles(t, bin, append([]string{"etcd", "meta", "replica"}, roles...)...)
	s, err := scenario.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	progress := &logBuffer{}
	table := pegasustarget.TableSpec{Name: "bench_ci", PartitionCount: 8}
	if s.Table.Partitions > 0 {
		table.PartitionCount, table.ReplicaCount = s.Table.Partitions, s.Table.Replicas
	}
	keys := uint64(1000)
	if s.Keys > 0 {
		keys = s.Keys
	}
	l, err := Launch(ctx, Setup{
		Dir:           t.TempDir(),
		Binary:        bin,
		Table:         table,
		Progress:      progress,
		Network:       s.Network,
		WallClockHook: s.WallClockHook,
		Tuning:        onebox.Tuning{Replica: s.ReplicaConfig, Meta: s.MetaConfig},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := l.Close(); err != nil {
			t.Errorf("closing the onebox: %v", err)
		}
	}()

	out := t.TempDir()
	rep, err := scenario.Run(ctx, s, l.Cluster, l.Target, scenario.Options{
		Load: bench.Config{
			Workload: bench.Workload{KeyCount: keys, ReadRatio: 0.5, ValueSize: 100, Seed: 42},
			Workers:  32,
			Rate:     200,
			Duration: 25 * time.Second,
			OutDir:   out,
		},
		Baseline: 5 * time.Second,
		Progress: progress,
	})
	var text strings.Builder
	if rep != nil {
		rep.WriteText(&text)
	}
	if err != nil || rep == nil || !rep.Passed() {
		t.Errorf("scenario %s: err %v, problems %v\n%s\nprogress:\n%s", name, err, problemsOf(rep), text.String(), progress.String())
		return
	}
	// The checks must have decided: an undecided verdict proves nothing.
	if rep.Linearizability != bench.VerdictOK || rep.Load.LostWriteCheck.Verified == 0 {
		t.Errorf("scenario %s: linearizability %s, %d keys verified: the checks did not decide\n%s",
			name, rep.Linearizability, rep.Load.LostWriteCheck.Verified, text.String())
	}
	t.Logf("scenario %s:\n%s", name, text.String())
}

func problemsOf(rep *scenario.Report) []string {
	if rep == nil {
		return nil
	}
	return rep.Problems
}

func TestRollingHAUnderLoad(t *testing.T) {
	runOnOnebox(t, "rolling-ha", "rolling-update")
}

func TestKillReplicaUnderLoad(t *testing.T) {
	runOnOnebox(t, "kill-replica")
}
