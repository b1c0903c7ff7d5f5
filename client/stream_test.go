package client

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// TestConcurrentOperationsShareOneStream: 64 goroutines run reads and
// writes at once while the replica servers answer each request after a
// random delay, so replies come back out of order. Every caller must get
// its own answer, and each server must have seen exactly one stream.
func TestConcurrentOperationsShareOneStream(t *testing.T) {
	const goroutines, opsEach = 64, 40
	fc := newFakeCluster(t, 1, 3)
	fc.createTable("t", 8)
	tbl := fc.open(fc.newClient(nil), "t")
	ctx := testCtx(t)
	for _, r := range fc.replicas {
		r.setHook(func(*pb.ClientRequest) fault {
			return fault{delay: time.Duration(rand.IntN(2000)) * time.Microsecond}
		})
	}

	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hk := []byte(fmt.Sprintf("worker-%d", g))
			for i := range opsEach {
				sk := []byte(fmt.Sprintf("k%d", i%5))
				want := []byte(fmt.Sprintf("%d/%d", g, i))
				if err := tbl.Set(ctx, hk, sk, want, 0); err != nil {
					errs <- err
					return
				}
				got, found, err := tbl.Get(ctx, hk, sk)
				if err != nil || !found || !bytes.Equal(got, want) {
					errs <- fmt.Errorf("worker %d op %d: Get = %q, %v, %v; want %q", g, i, got, found, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	var outOfOrder int64
	for _, r := range fc.replicas {
		if n := r.streams.Load(); n != 1 {
			t.Errorf("replica %s saw %d streams, want 1", r.addr, n)
		}
		outOfOrder += r.outOfOrder.Load()
	}
	if outOfOrder == 0 {
		t.Fatal("no reply was sent out of order; the test did not exercise reply matching")
	}
	if got := requests(fc.replicas...); got != goroutines*opsEach*2 {
		t.Fatalf("%d requests reached the servers, want %d (no retries expected)", got, goroutines*opsEach*2)
	}
}

// TestIncompatibleServerIsNotRetried: a server that refuses the client's
// protocol version, in the stream handshake or in an answer, fails the
// operation at once with ErrIncompatibleVersion.
func TestIncompatibleServerIsNotRetried(t *testing.T) {
	t.Run("answer", func(t *testing.T) {
		fc := newFakeCluster(t, 1, 1)
		fc.createTable("t", 1)
		tbl := fc.open(fc.newClient(nil), "t")
		fc.replicas[0].setHook(func(*pb.ClientRequest) fault { return fault{code: pb.ErrorCode_ERR_VERSION_OUTDATED} })
		_, _, err := tbl.Get(testCtx(t), b("h"), b("s"))
		if !errors.Is(err, ErrIncompatibleVersion) {
			t.Fatalf("Get = %v, want ErrIncompatibleVersion", err)
		}
		if n := fc.replicas[0].requests.Load(); n != 1 {
			t.Fatalf("%d attempts: a refused version was retried", n)
		}
	})
	t.Run("handshake", func(t *testing.T) {
		fc := newFakeCluster(t, 1, 1)
		fc.createTable("t", 1)
		tbl := fc.open(fc.newClient(nil), "t")
		var handshakes atomic.Int32
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer(grpc.StreamInterceptor(func(any, grpc.ServerStream, *grpc.StreamServerInfo, grpc.StreamHandler) error {
			handshakes.Add(1)
			return status.Error(codes.FailedPrecondition, "rpc: incompatible protocol version")
		}))
		pb.RegisterReplicaClientServer(srv, &fakeReplica{})
		go srv.Serve(lis)
		defer srv.Stop()
		fc.movePrimary("t", 0, lis.Addr().String(), answerNotFound, true)
		fc.replicas[0].setHook(func(*pb.ClientRequest) fault { return fault{code: pb.ErrorCode_ERR_OBJECT_NOT_FOUND} })

		_, _, err = tbl.Get(testCtx(t), b("h"), b("s"))
		if !errors.Is(err, ErrIncompatibleVersion) || errors.Is(err, ErrTimeout) {
			t.Fatalf("Get = %v, want ErrIncompatibleVersion", err)
		}
		if n := handshakes.Load(); n != 1 {
			t.Fatalf("%d stream handshakes: a refused version was retried", n)
		}
	})
}
