package replica

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// beaconMeta answers beacons as a follower (forwarding to leader) or as
// the leader, and counts them.
type beaconMeta struct {
	pb.UnimplementedMetaServer
	leader string // empty: this one leads
	calls  atomic.Int32
}

func (m *beaconMeta) Beacon(context.Context, *pb.BeaconRequest) (*pb.BeaconResponse, error) {
	m.calls.Add(1)
	if m.leader != "" {
		return &pb.BeaconResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_FORWARD_TO_OTHERS, Primary: m.leader}}, nil
	}
	return &pb.BeaconResponse{Allowed: true}, nil
}

func serveMeta(t *testing.T, m *beaconMeta) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterMetaServer(srv, m)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

func TestMetaClientFollowsTheLeader(t *testing.T) {
	leader := &beaconMeta{}
	leaderAddr := serveMeta(t, leader)
	follower := &beaconMeta{leader: leaderAddr}
	followerAddr := serveMeta(t, follower)
	// The first address is dead, the second forwards, the leader is not
	// even listed.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()

	m := newMetaClient([]string{deadAddr, followerAddr}, dial.Options{})
	defer m.close()
	beacon := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return m.call(ctx, func(ctx context.Context, c pb.MetaClient) (*pb.Error, error) {
			r, err := c.Beacon(ctx, &pb.BeaconRequest{})
			return r.GetError(), err
		})
	}
	if err := beacon(); err != nil {
		t.Fatalf("beacon through a dead server and a follower: %v", err)
	}
	if leader.calls.Load() != 1 || follower.calls.Load() != 1 {
		t.Fatalf("leader saw %d beacons, follower %d; want 1 and 1", leader.calls.Load(), follower.calls.Load())
	}
	if err := beacon(); err != nil {
		t.Fatal(err)
	}
	if leader.calls.Load() != 2 || follower.calls.Load() != 1 {
		t.Fatalf("second beacon did not go straight to the leader: leader %d, follower %d",
			leader.calls.Load(), follower.calls.Load())
	}

	// No server answers: a typed error.
	m2 := newMetaClient([]string{deadAddr}, dial.Options{})
	defer m2.close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err = m2.call(ctx, func(ctx context.Context, c pb.MetaClient) (*pb.Error, error) {
		r, err := c.Beacon(ctx, &pb.BeaconRequest{})
		return r.GetError(), err
	})
	if !errors.Is(err, ErrMeta) {
		t.Fatalf("no meta server reachable: err %v, want ErrMeta", err)
	}
}
