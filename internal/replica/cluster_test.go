package replica

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/security"
	"github.com/pegasus-go/pegasus/internal/storage"
)

// testCluster is N replica servers on loopback sockets and temp dirs, with a
// fakeMeta. Servers can be killed (a crash: network gone, disk frozen, no
// flush) and restarted from their directories on the same address.
type testCluster struct {
	t       testing.TB
	meta    *fakeMeta
	servers []*testServer
	opts    clusterOptions
}

type clusterOptions struct {
	// core adjusts every replica's core (small caches force log reads).
	core func(*pacifica.Config)
	// segmentBytes is the log segment size.
	segmentBytes int64
	// security is every server's security setup (nil: none).
	security *security.Server
	// config adjusts every server's configuration.
	config func(*config.Replica)
	// dedupRetention overrides write_dedup_retention_seconds.
	dedupRetention time.Duration
	// clock is every server's wall clock (Options.Clock); nil: time.Now.
	clock func() time.Time
}

type testServer struct {
	dir string
	// metaAddrs, when set, replaces the cluster's fake meta in the
	// server's meta_servers.
	metaAddrs []string
	addr      string // empty until first started
	fs        *crashFS
	srv       *Server
}

// testLogger writes the servers' logs to stderr when REPLICA_TEST_LOG is
// set, and nowhere otherwise.
func testLogger() *slog.Logger {
	if os.Getenv("REPLICA_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testTick is the core tick of test servers: timeouts in ticks then last
// a fifth of their production length.
const testTick = 20 * time.Millisecond

func newTestCluster(t testing.TB, n int, opts clusterOptions) *testCluster {
	c := &testCluster{t: t, meta: newFakeMeta(t, 3000), opts: opts}
	root := t.TempDir()
	for i := range n {
		c.servers = append(c.servers, &testServer{dir: filepath.Join(root, fmt.Sprintf("r%d", i))})
		c.start(i)
	}
	t.Cleanup(func() {
		for i := range c.servers {
			c.stop(i)
		}
	})
	return c
}

func (c *testCluster) serverConfig(ts *testServer) config.Replica {
	cfg := config.DefaultReplica()
	cfg.Listen = "127.0.0.1:0"
	if ts.addr != "" {
		cfg.Listen = ts.addr
	}
	cfg.HTTPListen = "127.0.0.1:0"
	cfg.PegasusListen = ""
	cfg.DataDir = ts.dir
	cfg.MetaServers = []string{c.meta.addr}
	cfg.BeaconIntervalSeconds, cfg.LeaseSeconds, cfg.GraceSeconds = 1, 3, 4
	cfg.PrepareTimeoutMsForSecondaries = 600
	cfg.GroupCheckIntervalMs = 200
	cfg.CheckpointIntervalSeconds = 0 // flushes only when a test asks
	cfg.BlockCacheMB = 8
	if ts.metaAddrs != nil {
		cfg.MetaServers = ts.metaAddrs
	}
	if c.opts.config != nil {
		c.opts.config(&cfg)
	}
	return cfg
}

// start (re)starts server i from its directory.
func (c *testCluster) start(i int) {
	c.t.Helper()
	ts := c.servers[i]
	ts.fs = newCrashFS()
	var srv *Server
	var err error
	// A restarted server rebinds its old port, which the kernel may not
	// have released yet.
	for attempt := 0; ; attempt++ {
		srv, err = New(c.serverConfig(ts), Options{
			FS:                  ts.fs,
			Logger:              testLogger(),
			TickInterval:        testTick,
			LogSegmentBytes:     c.opts.segmentBytes,
			CoreConfig:          c.opts.core,
			WriteDedupRetention: c.opts.dedupRetention,
			Security:            c.opts.security,
			Clock:               c.opts.clock,
		})
		if err == nil || attempt == 50 || !strings.Contains(err.Error(), "address already in use") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		c.t.Fatalf("starting server %d: %v", i, err)
	}
	ts.srv, ts.addr = srv, srv.Node()
	srv.Start()
}

// kill crashes server i: its network dies first, then its disk freezes,
// then it is torn down without flushing anything.
func (c *testCluster) kill(i int) {
	ts := c.servers[i]
	ts.srv.abort(ts.fs.freeze)
	ts.srv = nil
}

// stop shuts server i down gracefully, if it runs.
func (c *testCluster) stop(i int) {
	ts := c.servers[i]
	if ts.srv != nil {
		if err := ts.srv.Close(); err != nil {
			c.t.Errorf("closing server %d: %v", i, err)
		}
		ts.srv = nil
	}
}

func (c *testCluster) addr(i int) string { return c.servers[i].addr }

// index returns the server listening on addr.
func (c *testCluster) index(addr string) int {
	for i, ts := range c.servers {
		if ts.addr == addr {
			return i
		}
	}
	c.t.Fatalf("no server at %s", addr)
	return -1
}

// replica returns server i's open replica of partition pidx, or nil.
func (c *testCluster) replica(i int, app, pidx int32) *partition {
	ts := c.servers[i]
	if ts.srv == nil {
		return nil
	}
	return ts.srv.partition(gpid{app: app, index: pidx})
}

// waitFor polls cond until it holds or timeout passes.
func (c *testCluster) waitFor(timeout time.Duration, what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("timed out after %v waiting for %s\nmeta history:\n  %s", timeout, what,
				strings.Join(c.meta.history(), "\n  "))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// healthy reports whether partition pidx's configuration has all its
// members in it and every member's replica runs in the role the
// configuration gives it, at its ballot.
func (c *testCluster) healthy(app int32, pidx int) bool {
	cfg := c.meta.config(pidx)
	if len(cfg.Learners) > 0 || int32(1+len(cfg.Secondaries)) != cfg.MaxReplicaCount {
		return false
	}
	check := func(addr string, want pacifica.Status) bool {
		p := c.replica(c.index(addr), app, int32(pidx))
		if p == nil {
			return false
		}
		v := p.view.Load()
		return v.status == want && int64(v.ballot) == cfg.Ballot && !v.failed
	}
	if !check(cfg.Primary, pacifica.StatusPrimary) {
		return false
	}
	for _, s := range cfg.Secondaries {
		if !check(s, pacifica.StatusSecondary) {
			return false
		}
	}
	return true
}

// converged reports whether every member of partition pidx applied the
// same decree, the primary's commit point.
func (c *testCluster) converged(app int32, pidx int) bool {
	cfg := c.meta.config(pidx)
	prim := c.replica(c.index(cfg.Primary), app, int32(pidx))
	if prim == nil {
		return false
	}
	want := prim.view.Load()
	if want.applied != want.committed || want.applied != want.prepared {
		return false
	}
	for _, s := range cfg.Secondaries {
		p := c.replica(c.index(s), app, int32(pidx))
		if p == nil || p.view.Load().applied != want.applied {
			return false
		}
	}
	return true
}

// storeContents returns every record of a replica's store, one line each.
func storeContents(t testing.TB, p *partition) []string {
	t.Helper()
	var out []string
	var cursor []byte
	for {
		recs, next, err := p.store.Load().FullScan(cursor, storage.ReadOptions{MaxCount: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			out = append(out, fmt.Sprintf("%q/%q=%q exp=%d", r.HashKey, r.SortKey, r.Value, r.ExpireTS))
		}
		if next == nil {
			return out
		}
		cursor = next
	}
}

// adminCommand runs a remote command on a server through its gRPC admin
// service, as the shell does.
func adminCommand(t testing.TB, addr, cmd string, args ...string) string {
	t.Helper()
	cc, err := dial.Options{}.NewClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := pb.NewReplicaAdminClient(cc).RemoteCommand(ctx, &pb.RemoteCommandRequest{Command: cmd, Args: args})
	if err != nil {
		t.Fatalf("%s on %s: %v", cmd, addr, err)
	}
	if e := resp.GetError(); e.GetCode() != pb.ErrorCode_ERR_OK {
		t.Fatalf("%s on %s: %s %s", cmd, addr, e.GetCode(), e.GetMessage())
	}
	return resp.GetOutput()
}

// sameLines reports the first difference between two listings.
func sameLines(a, b []string) (string, bool) {
	for i := range max(len(a), len(b)) {
		switch {
		case i >= len(a):
			return "missing " + b[i], false
		case i >= len(b):
			return "extra " + a[i], false
		case a[i] != b[i]:
			return a[i] + " vs " + b[i], false
		}
	}
	return "", true
}
