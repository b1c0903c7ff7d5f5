package etcdtarget

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pegasus-go/pegasus/internal/bench"
	"github.com/pegasus-go/pegasus/internal/embedetcd"
)

func TestWriteErrors(t *testing.T) {
	for _, tc := range []struct {
		err      error
		rejected bool
	}{
		{rpctypes.ErrNoLeader, true},
		{rpctypes.ErrGRPCNoLeader, true}, // a raw gRPC status
		{rpctypes.ErrTooManyRequests, true},
		{rpctypes.ErrRequestTooLarge, true},
		{rpctypes.ErrNoSpace, true},
		{fmt.Errorf("put: %w", rpctypes.ErrNoLeader), true},
		{rpctypes.ErrLeaderChanged, false},
		{rpctypes.ErrTimeout, false},
		{rpctypes.ErrStopped, false},
		{context.DeadlineExceeded, false},
		{errors.New("connection reset"), false},
	} {
		got := writeError(tc.err)
		if !errors.Is(got, tc.err) {
			t.Errorf("%v: result %v does not wrap it", tc.err, got)
		}
		if errors.Is(got, bench.ErrRejected) != tc.rejected {
			t.Errorf("%v: rejected = %v, want %v", tc.err, !tc.rejected, tc.rejected)
		}
	}
	if writeError(nil) != nil {
		t.Error("writeError(nil) is not nil")
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestRunAgainstEtcd runs a short load through the target against an
// embedded single-member etcd: the checkers must find it linearizable with
// nothing lost, which also proves the target reads back what it wrote.
func TestRunAgainstEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an embedded etcd; skipped with -short")
	}
	srv, err := embedetcd.Start(embedetcd.Config{
		Name:      "bench",
		Dir:       t.TempDir(),
		ClientURL: "http://" + freeAddr(t),
		PeerURL:   "http://" + freeAddr(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cli, err := clientv3.New(clientv3.Config{Endpoints: srv.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	r, err := bench.NewRunner(New(cli), bench.Config{
		Workload: bench.Workload{KeyCount: 50, ReadRatio: 0.5, DeleteRatio: 0.1, ValueSize: 64, Seed: 3},
		Workers:  4,
		MaxOps:   400,
	})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.FailedOps != 0 || rep.Linearizability != bench.VerdictOK || rep.LostWrites != 0 || rep.CorruptReads != 0 {
		t.Errorf("failed %d, linearizability %s, lost %d, corrupt %d", rep.FailedOps, rep.Linearizability, rep.LostWrites, rep.CorruptReads)
	}
	if lw := rep.LostWriteCheck; lw.Verified == 0 || lw.Verified != lw.Keys {
		t.Errorf("read back %d of %d keys", lw.Verified, lw.Keys)
	}
}
