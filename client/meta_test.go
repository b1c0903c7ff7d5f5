package client

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/meta/metatest"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// TestMetaFollowerForwardsToLeader: the first configured meta server is a
// follower. Its ERR_FORWARD_TO_OTHERS names the leader; the client follows
// and asks the leader first from then on.
func TestMetaFollowerForwardsToLeader(t *testing.T) {
	fc := newFakeCluster(t, 2, 2)
	fc.createTable("t", 2)
	leader, follower := fc.metas[0], fc.metas[1]
	c := fc.newClient(func(cfg *Config) { cfg.MetaServers = []string{follower.addr, leader.addr} })
	tbl := fc.open(c, "t")
	if follower.queries() != 1 || leader.queries() != 1 {
		t.Fatalf("follower answered %d queries, leader %d; want 1 and 1", follower.queries(), leader.queries())
	}

	// A refresh goes straight to the leader.
	fc.movePrimary("t", 0, fc.replicas[1].addr, answerNoHint, true)
	if err := tbl.Set(testCtx(t), keyIn(0, 2, "f"), b("s"), b("v"), 0); err != nil {
		t.Fatal(err)
	}
	if follower.queries() != 1 || leader.queries() != 2 {
		t.Fatalf("after a refresh: follower %d queries, leader %d; want 1 and 2", follower.queries(), leader.queries())
	}
}

// TestMetaLeaderLearnedFromForward: the configured list holds only a
// follower; the leader it names is added to the known meta servers.
func TestMetaLeaderLearnedFromForward(t *testing.T) {
	fc := newFakeCluster(t, 2, 1)
	fc.createTable("t", 1)
	c := fc.newClient(func(cfg *Config) { cfg.MetaServers = []string{fc.metas[1].addr} })
	if _, err := c.Open(testCtx(t), "t"); err != nil {
		t.Fatal(err)
	}
	if fc.metas[0].queries() != 1 {
		t.Fatal("the leader named by the follower was not asked")
	}
}

// TestMetaFailover: the remembered meta server is down; the others are
// asked and the table opens.
func TestMetaFailover(t *testing.T) {
	fc := newFakeCluster(t, 1, 1)
	fc.createTable("t", 1)
	c := fc.newClient(func(cfg *Config) { cfg.MetaServers = []string{deadAddr(t), fc.metas[0].addr} })
	if _, err := c.Open(testCtx(t), "t"); err != nil {
		t.Fatal(err)
	}
	if fc.metas[0].queries() != 1 {
		t.Fatalf("live meta server answered %d queries, want 1", fc.metas[0].queries())
	}
}

// TestNoMetaServerReachable: New fails with ErrUnavailable when no meta
// server accepts a connection within the dial timeout.
func TestNoMetaServerReachable(t *testing.T) {
	start := time.Now()
	_, err := New(context.Background(), Config{MetaServers: []string{deadAddr(t), deadAddr(t)}, DialTimeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("New = %v, want ErrUnavailable", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("New took %v with a 200 ms dial timeout", time.Since(start))
	}
}

// TestOpenWaitsForMeta: every meta server is a follower that names no
// leader (an election in progress); Open keeps asking until its deadline
// and fails with ErrTimeout.
func TestOpenWaitsForMeta(t *testing.T) {
	fc := newFakeCluster(t, 1, 1)
	fc.createTable("t", 1)
	fc.metas[0].Update(func(d *metatest.Data) {
		d.Fail[metatest.QueryConfig] = &pb.Error{Code: pb.ErrorCode_ERR_FORWARD_TO_OTHERS}
	})
	c := fc.newClient(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Open(ctx, "t")
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Open = %v, want ErrTimeout", err)
	}
	if n := fc.metas[0].queries(); n < 2 {
		t.Fatalf("the meta server was asked %d times; Open should retry", n)
	}

	// The election ends: Open succeeds.
	fc.metas[0].Update(func(d *metatest.Data) { delete(d.Fail, metatest.QueryConfig) })
	if _, err := c.Open(testCtx(t), "t"); err != nil {
		t.Fatal(err)
	}
}

// TestDialerOpensEveryConnection: with Config.Dialer set, the connections
// to the meta server and to the replica server both go through it.
func TestDialerOpensEveryConnection(t *testing.T) {
	fc := newFakeCluster(t, 1, 1)
	fc.createTable("t", 1)
	var mu sync.Mutex
	dialed := make(map[string]int)
	c := fc.newClient(func(cfg *Config) {
		cfg.Dialer = func(ctx context.Context, addr string) (net.Conn, error) {
			mu.Lock()
			dialed[addr]++
			mu.Unlock()
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}
	})
	tbl := fc.open(c, "t")
	if err := tbl.Set(testCtx(t), keyIn(0, 1, "d"), b("s"), b("v"), 0); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if dialed[fc.metas[0].addr] == 0 || dialed[fc.replicas[0].addr] == 0 {
		t.Fatalf("dialed %v; want the meta server %s and the replica server %s", dialed, fc.metas[0].addr, fc.replicas[0].addr)
	}
}
