package oneboxcluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/bench"
	"github.com/pegasus-go/pegasus/internal/bench/pegasustarget"
	"github.com/pegasus-go/pegasus/internal/bench/scenario"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// loadTarget is the load's bench.Target: writes always, and reads unless
// ReadFrom moved them, go to the outside client; moved reads go to a
// client inside a replica server's network namespace.
type loadTarget struct {
	outside bench.Target
	side    atomic.Pointer[sideReader]
}

// sideReader is the inside client with its tally.
type sideReader struct {
	target     *pegasustarget.Target
	ok, failed atomic.Int64
}

var _ bench.Target = (*loadTarget)(nil)

func (t *loadTarget) Get(ctx context.Context, key []byte) ([]byte, bool, error) {
	s := t.side.Load()
	if s == nil {
		return t.outside.Get(ctx, key)
	}
	v, found, err := s.target.Get(ctx, key)
	if err != nil {
		s.failed.Add(1)
	} else {
		s.ok.Add(1)
	}
	return v, found, err
}

func (t *loadTarget) Set(ctx context.Context, key, value []byte) error {
	return t.outside.Set(ctx, key, value)
}

func (t *loadTarget) Del(ctx context.Context, key []byte) error { return t.outside.Del(ctx, key) }

// sideClients are the inside clients ReadFrom opened; Close closes them
// (a read may still be in flight on one after ReadFromOutside).
type sideClients struct {
	mu      sync.Mutex
	clients []*client.Client
}

// LoadTarget wraps the outside client's target so that ReadFrom can move
// the reads; the load must use the returned target (Launch does it).
func (c *Cluster) LoadTarget(outside bench.Target) bench.Target {
	c.target = &loadTarget{outside: outside}
	return c.target
}

// ReadFrom implements scenario.SideReader for a netns onebox.
func (c *Cluster) ReadFrom(ctx context.Context, node string) error {
	if c.target == nil {
		return fmt.Errorf("%w: the load does not go through the cluster's LoadTarget", scenario.ErrUnsupported)
	}
	p, err := c.process(node)
	if err != nil {
		return err
	}
	dial, err := c.ob.DialerIn(p.Name)
	if err != nil {
		return err
	}
	cli, err := client.New(ctx, client.Config{MetaServers: c.ob.MetaAddrs(), Dialer: dial, TLS: c.ob.Credentials().TLS})
	if err != nil {
		return fmt.Errorf("client inside %s's namespace: %w", p.Name, err)
	}
	c.side.mu.Lock()
	c.side.clients = append(c.side.clients, cli)
	c.side.mu.Unlock()
	tbl, err := cli.Open(ctx, c.table)
	if err != nil {
		return fmt.Errorf("client inside %s's namespace: %w", p.Name, err)
	}
	target := pegasustarget.New(tbl, 0)
	// One read learns the routing and connects to the primary, so that
	// the load's reads reach it at once.
	if _, _, err := target.Get(ctx, []byte("isolate-warmup")); err != nil {
		return fmt.Errorf("read inside %s's namespace: %w", p.Name, err)
	}
	c.target.side.Store(&sideReader{target: target})
	return nil
}

// ReadFromOutside implements scenario.SideReader.
func (c *Cluster) ReadFromOutside() {
	if c.target != nil {
		c.target.side.Store(nil)
	}
}

// SideReads implements scenario.SideReader: the tally of the inside client
// in use, or of none.
func (c *Cluster) SideReads() (ok, failed int64) {
	if c.target == nil {
		return 0, 0
	}
	if s := c.target.side.Load(); s != nil {
		return s.ok.Load(), s.failed.Load()
	}
	return 0, 0
}

func (s *sideClients) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, c := range s.clients {
		errs = append(errs, c.Close())
	}
	s.clients = nil
	return errors.Join(errs...)
}

// MigrateNode implements scenario.Migrator with the meta server's
// MigrateNode, as `migrate_node -n` in the shell.
func (c *Cluster) MigrateNode(ctx context.Context, node string) ([]string, error) {
	p, err := c.process(node)
	if err != nil {
		return nil, err
	}
	resp, err := dial.CallMeta(ctx, c.conns, func(ctx context.Context, m pb.MetaClient) (*pb.DrainNodeResponse, error) {
		return m.MigrateNode(ctx, &pb.DrainNodeRequest{Node: p.Address})
	})
	if err != nil {
		return nil, fmt.Errorf("%w: migrate_node %s: %w", ErrAdmin, p.Name, err)
	}
	if code := resp.GetError().GetCode(); code != pb.ErrorCode_ERR_OK {
		return nil, fmt.Errorf("%w: migrate_node %s: %s %s", ErrAdmin, p.Name, code, resp.GetError().GetMessage())
	}
	return resp.GetProposals(), nil
}
