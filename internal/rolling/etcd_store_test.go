package rolling

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/pegasus-go/pegasus/internal/embedetcd"
	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startEtcd runs an embedded etcd for the test and returns a dialer of
// fresh clients (one per simulated orchestrator process).
func startEtcd(t *testing.T) func() *clientv3.Client {
	t.Helper()
	s, err := embedetcd.Start(embedetcd.Config{
		Name:      "rolling-test",
		Dir:       t.TempDir(),
		ClientURL: fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
		PeerURL:   fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return func() *clientv3.Client {
		cli, err := clientv3.New(clientv3.Config{Endpoints: s.Endpoints(), DialTimeout: 5 * time.Second,
			Logger: zap.NewNop()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cli.Close() })
		return cli
	}
}

func TestEtcdStoreLockStateAndRequests(t *testing.T) {
	dial := startEtcd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a := NewEtcdStore(dial(), "c1", 2*time.Second)
	b := NewEtcdStore(dial(), "c1", 2*time.Second)

	if _, err := a.Load(ctx); !errors.Is(err, ErrNoRoll) {
		t.Fatalf("Load on empty store: %v", err)
	}
	if err := b.Request(ctx, Request{Op: RequestPause}); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Request without a holder: %v", err)
	}

	first := Holder{Host: "host-a", PID: 1, Started: time.Unix(1_700_000_000, 0).UTC()}
	sa, err := a.Acquire(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	// The second orchestrator is refused with the holder's name.
	_, err = b.Acquire(ctx, Holder{Host: "host-b", PID: 2})
	var locked *LockedError
	if !errors.Is(err, ErrLocked) || !errors.As(err, &locked) || locked.Holder.Host != "host-a" ||
		!strings.Contains(err.Error(), "pid 1 on host-a") {
		t.Fatalf("second Acquire: %v", err)
	}
	if h, held, err := b.Holder(ctx); err != nil || !held || h.PID != 1 {
		t.Fatalf("Holder = %v %v %v", h, held, err)
	}

	rec := Record{Format: recordFormat, Run: RunSpec{Control: "exec"}, State: plan.State{Format: 1, Status: plan.StatusRunning}}
	if err := sa.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err := b.Load(ctx)
	if err != nil || got.State.Status != plan.StatusRunning || got.Run.Control != "exec" {
		t.Fatalf("Load = %+v, %v", got, err)
	}

	// A request from another terminal reaches the holder and is consumed.
	errc := make(chan error, 1)
	go func() { errc <- b.Request(ctx, Request{Op: RequestPause, Reason: "look at graphs"}) }()
	select {
	case r := <-sa.Requests():
		if r.Op != RequestPause || r.Reason != "look at graphs" {
			t.Fatalf("request %+v", r)
		}
	case <-ctx.Done():
		t.Fatal("request never delivered")
	}
	if err := <-errc; err != nil {
		t.Fatalf("Request: %v", err)
	}

	// After release, the old session can no longer write.
	if err := sa.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := sa.Save(ctx, rec); !errors.Is(err, ErrLockLost) {
		t.Fatalf("Save after release: %v", err)
	}
	sb, err := b.Acquire(ctx, Holder{Host: "host-b", PID: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Release(ctx)
	rec.State.Status = plan.StatusPaused
	if err := sb.Save(ctx, rec); err != nil {
		t.Fatal(err)
	}
}

// An orchestrator killed with -9 never releases its lock: its lease
// expires, and the next one takes over.
func TestEtcdStoreLockOfADeadOrchestratorExpires(t *testing.T) {
	dial := startEtcd(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	deadCli := dial()
	dead := NewEtcdStore(deadCli, "c1", time.Second)
	if _, err := dead.Acquire(ctx, Holder{Host: "dead", PID: 1}); err != nil {
		t.Fatal(err)
	}
	// A request addressed to the dead holder, never consumed.
	reqCtx, reqCancel := context.WithTimeout(ctx, 300*time.Millisecond)
	next := NewEtcdStore(dial(), "c1", time.Second)
	_ = deadCli.Close() // keep-alives stop, as if the process died
	if err := next.Request(reqCtx, Request{Op: RequestAbort}); !errors.Is(err, ErrNotAcknowledged) {
		t.Fatalf("Request to a dead holder: %v", err)
	}
	reqCancel()

	if _, err := next.Acquire(ctx, Holder{Host: "next", PID: 2}); !errors.Is(err, ErrLocked) {
		t.Fatalf("Acquire before expiry: %v", err)
	}
	waitCtx, waitCancel := context.WithTimeout(ctx, 10*time.Second)
	defer waitCancel()
	s, err := AcquireWait(waitCtx, next, Holder{Host: "next", PID: 2}, 100*time.Millisecond)
	if err != nil {
		t.Fatalf("AcquireWait: %v", err)
	}
	defer s.Release(ctx)
	// The dead holder's pending abort was discarded, not delivered.
	select {
	case r := <-s.Requests():
		t.Fatalf("stale request delivered: %+v", r)
	case <-time.After(300 * time.Millisecond):
	}
}
