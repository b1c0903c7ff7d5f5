package dial

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/pegasus-go/pegasus/internal/rpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// meta answers ClusterInfo as a leader naming itself, or as a follower
// redirecting to forwardTo, after an optional delay.
type meta struct {
	pb.UnimplementedMetaServer
	addr      string
	forwardTo string
	delay     time.Duration

	mu    sync.Mutex
	calls int
}

func (m *meta) ClusterInfo(ctx context.Context, _ *pb.ClusterInfoRequest) (*pb.ClusterInfoResponse, error) {
	m.mu.Lock()
	m.calls++
	m.mu.Unlock()
	select {
	case <-time.After(m.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if m.forwardTo != "" {
		return &pb.ClusterInfoResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_FORWARD_TO_OTHERS, Primary: m.forwardTo}}, nil
	}
	return &pb.ClusterInfoResponse{Leader: m.addr}, nil
}

func (m *meta) callCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}

// start serves m (or, when m is nil, a gRPC server without the Meta
// service) on a loopback port until the test ends.
func start(t *testing.T, m *meta) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(rpc.ServerOptions()...)
	if m != nil {
		m.addr = lis.Addr().String()
		pb.RegisterMetaServer(s, m)
	}
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

func deadAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func clusterInfo(ctx context.Context, c *Conns) (*pb.ClusterInfoResponse, error) {
	return CallMeta(ctx, c, func(ctx context.Context, m pb.MetaClient) (*pb.ClusterInfoResponse, error) {
		return m.ClusterInfo(ctx, &pb.ClusterInfoRequest{})
	})
}

func TestCallMetaFollowsRedirectAndRemembersLeader(t *testing.T) {
	leader := &meta{}
	start(t, leader)
	follower := &meta{forwardTo: leader.addr}
	start(t, follower)
	dead := deadAddr(t)

	// The leader is not even configured: the follower names it.
	c := New([]string{dead, follower.addr}, Options{DialTimeout: time.Second})
	defer c.Close()
	for range 3 {
		resp, err := clusterInfo(context.Background(), c)
		if err != nil || resp.GetLeader() != leader.addr {
			t.Fatalf("got %v, %v", resp, err)
		}
	}
	if c.Leader() != leader.addr {
		t.Errorf("Leader() = %s, want %s", c.Leader(), leader.addr)
	}
	if got := c.Metas(); !reflect.DeepEqual(got, []string{dead, follower.addr, leader.addr}) {
		t.Errorf("Metas() = %v", got)
	}
	if follower.callCount() != 1 || leader.callCount() != 3 {
		t.Errorf("follower answered %d calls, leader %d; want 1 and 3", follower.callCount(), leader.callCount())
	}
}

func TestCallMetaErrors(t *testing.T) {
	a, b := &meta{}, &meta{}
	start(t, a)
	start(t, b)
	a.forwardTo, b.forwardTo = b.addr, a.addr
	bare := start(t, nil)
	slow := &meta{delay: time.Minute}
	start(t, slow)

	for name, c := range map[string]struct {
		metas []string
		opts  Options
		ctx   time.Duration
		want  error
	}{
		"nobody listens":           {[]string{deadAddr(t), deadAddr(t)}, Options{}, 0, ErrUnreachable},
		"redirect loop":            {[]string{a.addr, b.addr}, Options{}, 0, ErrNoLeader},
		"no Meta service":          {[]string{bare}, Options{}, 0, ErrIncompatible},
		"every server too slow":    {[]string{slow.addr}, Options{CallTimeout: 100 * time.Millisecond}, 0, ErrUnreachable},
		"caller deadline":          {[]string{slow.addr, slow.addr}, Options{}, 100 * time.Millisecond, context.DeadlineExceeded},
		"no meta server":           {nil, Options{}, 0, ErrUnreachable},
		"incompatible before dead": {[]string{bare, deadAddr(t)}, Options{}, 0, ErrIncompatible},
	} {
		t.Run(name, func(t *testing.T) {
			conns := New(c.metas, c.opts)
			defer conns.Close()
			ctx := context.Background()
			if c.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, c.ctx)
				defer cancel()
			}
			begin := time.Now()
			_, err := clusterInfo(ctx, conns)
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if elapsed := time.Since(begin); elapsed > 5*time.Second {
				t.Errorf("took %s", elapsed)
			}
		})
	}
}

// A server that hangs is skipped after the call timeout and the next one
// serves the call.
func TestCallMetaSkipsHungServer(t *testing.T) {
	hung := &meta{delay: time.Minute}
	start(t, hung)
	ok := &meta{}
	start(t, ok)
	c := New([]string{hung.addr, ok.addr}, Options{CallTimeout: 100 * time.Millisecond})
	defer c.Close()
	resp, err := clusterInfo(context.Background(), c)
	if err != nil || resp.GetLeader() != ok.addr {
		t.Fatalf("got %v, %v", resp, err)
	}
}

// A server that was down and came back is used again at once, not after
// gRPC's reconnect backoff.
func TestDialRecoversAfterServerComesBack(t *testing.T) {
	addr := deadAddr(t)
	c := New([]string{addr}, Options{DialTimeout: time.Second})
	defer c.Close()
	if _, err := clusterInfo(context.Background(), c); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("got %v before the server runs", err)
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	s := grpc.NewServer(rpc.ServerOptions()...)
	m := &meta{addr: addr}
	pb.RegisterMetaServer(s, m)
	go s.Serve(lis)
	defer s.Stop()
	if resp, err := clusterInfo(context.Background(), c); err != nil || resp.GetLeader() != addr {
		t.Fatalf("after restart: %v, %v", resp, err)
	}
}

// busyMeta answers ClusterInfo with ERR_BUSY: an answer that RetryOn may
// declare not final.
type busyMeta struct {
	meta
}

func (m *busyMeta) ClusterInfo(ctx context.Context, r *pb.ClusterInfoRequest) (*pb.ClusterInfoResponse, error) {
	if _, err := m.meta.ClusterInfo(ctx, r); err != nil {
		return nil, err
	}
	return &pb.ClusterInfoResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_BUSY}}, nil
}

// With FanOut, the servers left after a hung one are asked at once: the
// call costs one attempt timeout, not one per hung server.
func TestCallMetaFanOut(t *testing.T) {
	hung1, hung2 := &meta{delay: time.Minute}, &meta{delay: time.Minute}
	start(t, hung1)
	start(t, hung2)
	ok := &meta{}
	start(t, ok)
	c := New([]string{hung1.addr, hung2.addr, ok.addr}, Options{CallTimeout: 300 * time.Millisecond})
	defer c.Close()
	begin := time.Now()
	resp, from, err := CallMetaFrom(context.Background(), c, func(ctx context.Context, m pb.MetaClient) (*pb.ClusterInfoResponse, error) {
		return m.ClusterInfo(ctx, &pb.ClusterInfoRequest{})
	}, FanOut())
	if err != nil || resp.GetLeader() != ok.addr || from != ok.addr {
		t.Fatalf("got %v from %s, %v", resp, from, err)
	}
	// Sequential asking would take two attempt timeouts.
	if elapsed := time.Since(begin); elapsed >= 600*time.Millisecond {
		t.Errorf("took %s: the remaining servers were not asked at once", elapsed)
	}
	if c.Leader() != ok.addr {
		t.Errorf("Leader() = %s", c.Leader())
	}
}

// RetryOn: an answer declared not final sends the call on to the next
// server; when nobody answers better, the last such answer comes back.
func TestCallMetaRetryOn(t *testing.T) {
	busyAddr := startWith(t, &busyMeta{})
	ok := &meta{}
	start(t, ok)
	retry := RetryOn(func(e *pb.Error) bool { return e.GetCode() == pb.ErrorCode_ERR_BUSY })

	c := New([]string{busyAddr, ok.addr}, Options{})
	defer c.Close()
	resp, err := clusterInfoWith(context.Background(), c, retry)
	if err != nil || resp.GetLeader() != ok.addr {
		t.Fatalf("got %v, %v; want the answer of %s", resp, err, ok.addr)
	}

	only := New([]string{busyAddr}, Options{})
	defer only.Close()
	resp, err = clusterInfoWith(context.Background(), only, retry)
	if err != nil || resp.GetError().GetCode() != pb.ErrorCode_ERR_BUSY {
		t.Fatalf("got %v, %v; want the ERR_BUSY answer", resp, err)
	}
}

func startWith(t *testing.T, m pb.MetaServer) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(rpc.ServerOptions()...)
	pb.RegisterMetaServer(s, m)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

func clusterInfoWith(ctx context.Context, c *Conns, opts ...CallOption) (*pb.ClusterInfoResponse, error) {
	return CallMeta(ctx, c, func(ctx context.Context, m pb.MetaClient) (*pb.ClusterInfoResponse, error) {
		return m.ClusterInfo(ctx, &pb.ClusterInfoRequest{})
	}, opts...)
}

// The meta leader dies. A replica server beacons with a deadline equal to
// its attempt timeout, and a follower's stale answer may name the dead
// server as leader again: every such call must still reach the live
// server, failing fast on the dead one. Before, the second call to the
// dead server waited out its whole deadline on a connection gRPC keeps in
// TRANSIENT_FAILURE, and so did every call after it: the replica servers
// of a onebox never reached the new leader (meta TestE2EMetaFailover).
func TestCallMetaAfterTheLeaderDies(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(rpc.ServerOptions()...)
	dead := &meta{addr: lis.Addr().String()}
	pb.RegisterMetaServer(s, dead)
	go s.Serve(lis)
	live := &meta{}
	start(t, live)
	const timeout = 2 * time.Second
	c := New([]string{dead.addr, live.addr}, Options{CallTimeout: timeout})
	defer c.Close()
	call := func(what string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		begun := time.Now()
		resp, err := clusterInfo(ctx, c)
		if err != nil {
			t.Fatalf("%s: %v after %v", what, err, time.Since(begun))
		}
		t.Logf("%s: answered by %s in %v", what, resp.GetLeader(), time.Since(begun).Round(time.Millisecond))
	}
	call("leader alive")
	s.Stop()
	for i := range 3 {
		c.SetLeader(dead.addr)
		call(fmt.Sprintf("dead leader named again (%d)", i))
	}
	if c.Leader() != live.addr {
		t.Fatalf("leader %s", c.Leader())
	}
}

// A hung leader (a frozen process, a cut network) costs the call whose
// deadline it used up, not every call after it: the next one starts at
// another server.
func TestCallMetaMovesOnFromAHungLeader(t *testing.T) {
	hung := &meta{delay: time.Minute}
	start(t, hung)
	live := &meta{}
	start(t, live)
	const timeout = 300 * time.Millisecond
	c := New([]string{hung.addr, live.addr}, Options{CallTimeout: timeout})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if _, err := clusterInfo(ctx, c); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("first call: %v", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), timeout)
	defer cancel2()
	if resp, err := clusterInfo(ctx2, c); err != nil || resp.GetLeader() != live.addr {
		t.Fatalf("second call: %v, %v", resp, err)
	}
}
