package meta_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/onebox/testcluster"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// restartGrace is fd_grace_seconds of TestE2EQuickRestartTakesNoLeaseWait:
// long, so that a new primary waiting out its predecessor's read lease
// shows as a stall far beyond the bound the test sets.
const restartGrace = 15 * time.Second

// TestE2EQuickRestartTakesNoLeaseWait: kill -9 the replica server that
// leads partitions and start it again at once (a simple rolling restart).
// The meta server sees the new process in its first beacon and promotes a
// secondary for each partition it led. The secondaries had promised the old
// primary a grace period (fd_grace_seconds, 15 s here); waiting it out
// would stall those partitions' writes that long. The new process's report
// bounds the ballots the node can still be primary at, the configuration
// carries that bound, and the new primaries commit at once: every partition
// takes writes again well within half the grace.
func TestE2EQuickRestartTakesNoLeaseWait(t *testing.T) {
	slowFD := func(fd *config.FailureDetector) {
		fd.BeaconIntervalSeconds, fd.LeaseSeconds, fd.GraceSeconds, fd.CheckIntervalSeconds = 1, int(restartGrace/time.Second)-1, int(restartGrace/time.Second), 1
	}
	ob := testcluster.Start(t, onebox.Options{
		Metas: 1, Replicas: 3,
		Tuning: onebox.Tuning{
			Meta:    func(m *config.Meta) { slowFD(&m.FailureDetector); m.ElectionTTLSeconds = 2 },
			Replica: func(r *config.Replica) { slowFD(&r.FailureDetector) },
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	conns := dial.New(ob.MetaAddrs(), dial.Options{Credentials: ob.Credentials()})
	defer conns.Close()
	resp, err := dial.CallMeta(ctx, conns, func(ctx context.Context, m pb.MetaClient) (*pb.CreateTableResponse, error) {
		return m.CreateTable(ctx, &pb.CreateTableRequest{Name: e2eTable, PartitionCount: e2ePartitions, ReplicaCount: 3})
	})
	if err != nil || resp.GetError().GetCode() != pb.ErrorCode_ERR_OK {
		t.Fatalf("create table: %v %v", resp.GetError(), err)
	}
	if err := ob.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	e := &metaE2E{t: t, ob: ob, conns: conns}
	// A new leader cures nothing for one grace period (its failure
	// detector settles): wait until it acts at its configured level.
	if err := poll(ctx, "the meta leader's failure detector to settle", func() error {
		return metaSettled(ctx, ob)
	}); err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(ctx, client.Config{MetaServers: ob.MetaAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	tbl, err := cl.Open(ctx, e2eTable)
	if err != nil {
		t.Fatal(err)
	}
	// writeAll writes 64 keys at once (so every partition gets some) and
	// waits for all of them, each bounded by deadline.
	writeAll := func(round int, deadline time.Time) error {
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := range 64 {
			wg.Go(func() {
				opCtx, cancel := context.WithDeadline(ctx, deadline)
				defer cancel()
				key := fmt.Sprintf("r%d-k%02d", round, i)
				if err := tbl.Set(opCtx, []byte(key), nil, []byte(key), 0); err != nil {
					errs <- fmt.Errorf("%s: %w", key, err)
				}
			})
		}
		wg.Wait()
		close(errs)
		return <-errs
	}
	if err := writeAll(0, time.Now().Add(30*time.Second)); err != nil {
		t.Fatalf("writes before the restart: %v", err)
	}

	parts, err := e.partitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	led := map[string]int{}
	for _, p := range parts {
		led[p.GetPrimary()]++
	}
	var victim onebox.Process
	for _, r := range ob.Replicas() {
		if led[r.Address] > led[victim.Address] {
			victim = r
		}
	}
	if victim.Name == "" {
		t.Fatalf("no replica server leads a partition: %v", led)
	}

	killed := time.Now()
	if err := ob.Kill(victim.Name); err != nil {
		t.Fatal(err)
	}
	if err := ob.StartNode(ctx, victim.Name); err != nil {
		t.Fatal(err)
	}
	started := time.Since(killed)
	bound := restartGrace / 2
	boundCtx, cancelBound := context.WithDeadline(ctx, killed.Add(bound))
	defer cancelBound()
	if err := poll(boundCtx, "every partition with a primary other than "+victim.Address, func() error {
		parts, err := e.partitions(boundCtx)
		if err != nil {
			return err
		}
		for _, p := range parts {
			if p.GetPrimary() == "" || p.GetPrimary() == victim.Address {
				return fmt.Errorf("partition %d primary %q", p.GetGpid().GetPartitionIndex(), p.GetPrimary())
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("%v (%s led %d of %d partitions, restarted after %v)", err, victim.Address, led[victim.Address], e2ePartitions, started)
	}
	promoted := time.Since(killed)
	if err := writeAll(1, killed.Add(bound)); err != nil {
		t.Fatalf("a write was not acknowledged within %v of the kill (the new primaries waited out the old one's lease?): %v", bound, err)
	}
	t.Logf("%s (primary of %d of %d partitions) killed and started again in %v: new primaries after %v, a write acknowledged on every partition after %v (bound %v, fd_grace %v)",
		victim.Address, led[victim.Address], e2ePartitions, started.Round(10*time.Millisecond),
		promoted.Round(10*time.Millisecond), time.Since(killed).Round(10*time.Millisecond), bound, restartGrace)
}

// metaSettled returns nil once the meta leader's effective level is its
// configured one (GET /api/cluster).
func metaSettled(ctx context.Context, ob *onebox.Cluster) error {
	procs, err := ob.Status()
	if err != nil {
		return err
	}
	var last error = errors.New("no meta server")
	for _, p := range procs {
		if p.Role != onebox.RoleMeta || p.HTTPAddress == "" {
			continue
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.HTTPAddress+"/api/cluster", nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			last = err
			continue
		}
		var st struct {
			Level     string `json:"meta_function_level"`
			Effective string `json:"effective_level"`
			Freeze    string `json:"freeze_reason"`
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		switch {
		case err != nil:
			last = err
		case st.Effective != st.Level:
			last = fmt.Errorf("%s at %s, configured %s (%s)", p.Name, st.Effective, st.Level, st.Freeze)
		default:
			return nil
		}
	}
	return last
}
