package meta_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/onebox/oneboxtest"
)

// outageLease is fd_lease_seconds under oneboxtest's fast failure detector.
const outageLease = 4 * time.Second

// TestE2EServesWithEveryMetaServerDown: kill -9 every meta server for three
// times fd_lease_seconds under reads and writes. Every replica server's
// lease from the meta server runs out, but no configuration has to change,
// and a primary with members holds its read lease from them: every read
// and write succeeds throughout, reads return what was written, and once the
// meta servers are back no partition's configuration has changed.
func TestE2EServesWithEveryMetaServerDown(t *testing.T) {
	if oneboxtest.FastGrace <= outageLease {
		t.Fatalf("fast failure detector: grace %v, lease %v", oneboxtest.FastGrace, outageLease)
	}
	e := startMetaE2E(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := client.New(ctx, client.Config{MetaServers: e.ob.MetaAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	tbl, err := cl.Open(ctx, e2eTable)
	if err != nil {
		t.Fatal(err)
	}
	// Keys every partition serves, written before the outage and read
	// during it.
	const preKeys = 64
	for i := range preKeys {
		key := fmt.Sprintf("pre%02d", i)
		opCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := tbl.Set(opCtx, []byte(key), nil, []byte(key), 0)
		cancel()
		if err != nil {
			t.Fatalf("write before the outage: %s: %v", key, err)
		}
	}
	before, err := e.partitions(ctx)
	if err != nil {
		t.Fatal(err)
	}

	w := &writer{tbl: tbl}
	loadCtx, stopLoad := context.WithCancel(ctx)
	wg := w.run(loadCtx)
	var reads, readFailures atomic.Int64
	var readMu sync.Mutex
	var firstReadFailure string
	var rwg sync.WaitGroup
	rwg.Go(func() {
		for loadCtx.Err() == nil {
			key := fmt.Sprintf("pre%02d", rand.IntN(preKeys))
			opCtx, cancel := context.WithTimeout(context.WithoutCancel(loadCtx), 5*time.Second)
			got, found, err := tbl.Get(opCtx, []byte(key), nil)
			cancel()
			if err != nil || !found || string(got) != key {
				readFailures.Add(1)
				readMu.Lock()
				if firstReadFailure == "" {
					firstReadFailure = fmt.Sprintf("%s: %q found=%v %v", key, got, found, err)
				}
				readMu.Unlock()
				continue
			}
			reads.Add(1)
			time.Sleep(5 * time.Millisecond)
		}
	})
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			stopLoad()
			wg.Wait()
			rwg.Wait()
		}
	}
	defer stop()

	procs, err := e.ob.Status()
	if err != nil {
		t.Fatal(err)
	}
	var metas []string
	for _, p := range procs {
		if p.Role == onebox.RoleMeta {
			metas = append(metas, p.Name)
		}
	}
	for _, m := range metas {
		if err := e.ob.Kill(m); err != nil {
			t.Fatal(err)
		}
	}
	down := time.Now()
	outage := 3 * outageLease
	// Count what is acknowledged once every lease from the meta server has
	// certainly run out (a lease lasts fd_lease_seconds from a beacon sent
	// before the kill).
	var writesAfterLease, readsAfterLease int64
	leaseOver := time.NewTimer(time.Until(down.Add(outageLease + time.Second)))
	outageOver := time.NewTimer(time.Until(down.Add(outage)))
	select {
	case <-leaseOver.C:
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	writesAfterLease, readsAfterLease = w.acked.Load(), reads.Load()
	select {
	case <-outageOver.C:
	case <-ctx.Done():
		t.Fatal(ctx.Err())
	}
	writesAfterLease, readsAfterLease = w.acked.Load()-writesAfterLease, reads.Load()-readsAfterLease
	for _, m := range metas {
		if err := e.ob.StartNode(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	stop()

	t.Logf("every meta server down for %v (fd_lease %v): %d writes and %d reads acknowledged after every lease from the meta server had run out; in all %d writes (%d failed), %d reads (%d failed)",
		outage, outageLease, writesAfterLease, readsAfterLease, w.acked.Load(), w.failed.Load(), reads.Load(), readFailures.Load())
	if n := w.failed.Load(); n != 0 {
		t.Errorf("%d writes failed: %s", n, w.firstFailures())
	}
	if n := readFailures.Load(); n != 0 {
		t.Errorf("%d reads failed, the first: %s", n, firstReadFailure)
	}
	if writesAfterLease == 0 || readsAfterLease == 0 {
		t.Errorf("nothing served once the leases from the meta server had run out: %d writes, %d reads", writesAfterLease, readsAfterLease)
	}
	if w.failed.Load() != 0 {
		return
	}
	// Every write the writer made was acknowledged (none failed): read
	// each back.
	for i := range w.acked.Load() {
		key := fmt.Sprintf("w%07d", i)
		opCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		got, found, err := tbl.Get(opCtx, []byte(key), nil)
		cancel()
		if err != nil || !found || string(got) != key {
			t.Fatalf("acknowledged write %s reads back %q found=%v: %v", key, got, found, err)
		}
	}
	// No configuration had to change, and none did.
	if err := poll(ctx, "a meta leader answering", func() error {
		_, err := e.partitions(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	after, err := e.partitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range before {
		if b, a := before[i], after[i]; a.GetBallot() != b.GetBallot() || a.GetPrimary() != b.GetPrimary() {
			t.Errorf("partition %d changed across the outage: ballot %d primary %s -> ballot %d primary %s",
				i, b.GetBallot(), b.GetPrimary(), a.GetBallot(), a.GetPrimary())
		}
	}
}
