package collector

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/meta/metatest"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// follower starts a fake meta server that answers every call by naming
// leader.
func follower(t *testing.T, leader string) (*metatest.Meta, string) {
	m, addr := metatest.Start(t)
	m.Update(func(d *metatest.Data) { d.Leader = leader })
	return m, addr
}

func deadAddr(t *testing.T) string {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

func listNodes(ctx context.Context, mc pb.MetaClient) (*pb.ListNodesResponse, error) {
	return mc.ListNodes(ctx, &pb.ListNodesRequest{})
}

func TestCallMetaFindsTheLeader(t *testing.T) {
	fc := newFakeCluster(t, 2)
	_, f := follower(t, fc.metaAddr)
	// A dead server first, then a follower that names the leader, which
	// is not configured at all.
	m := newMetaConns([]string{deadAddr(t), f}, dial.Credentials{})
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := callMeta(ctx, m, listNodes)
	if err != nil || len(resp.GetNodes()) != 2 {
		t.Fatalf("ListNodes: %v, %v", resp, err)
	}
	// The leader is asked first from now on.
	if got := m.Leader(); got != fc.metaAddr {
		t.Fatalf("asks %s first, want the leader %s", got, fc.metaAddr)
	}
}

func TestCallMetaWithNoServerAnswering(t *testing.T) {
	m := newMetaConns([]string{deadAddr(t), deadAddr(t)}, dial.Credentials{})
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := callMeta(ctx, m, listNodes); !errors.Is(err, ErrMetaUnavailable) {
		t.Fatalf("got %v, want ErrMetaUnavailable", err)
	}
	// Two followers naming each other never loop.
	a, addrA := follower(t, "")
	_, addrB := follower(t, addrA)
	a.Update(func(d *metatest.Data) { d.Leader = addrB })
	m2 := newMetaConns([]string{addrA}, dial.Credentials{})
	defer m2.Close()
	if _, err := callMeta(ctx, m2, listNodes); !errors.Is(err, ErrMetaUnavailable) {
		t.Fatalf("followers naming each other: %v, want ErrMetaUnavailable", err)
	}
}

func TestMetaErr(t *testing.T) {
	if metaErr(&pb.Error{}) != nil || metaErr(nil) != nil {
		t.Fatal("ERR_OK is an error")
	}
	err := metaErr(&pb.Error{Code: pb.ErrorCode_ERR_STATE_FREEZED, Message: "meta is freezed"})
	if !errors.Is(err, ErrMeta) || err.Error() != "collector: meta server error: ERR_STATE_FREEZED: meta is freezed" {
		t.Fatalf("got %v", err)
	}
}
