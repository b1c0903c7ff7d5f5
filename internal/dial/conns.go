// Package dial is the one way a process of the cluster reaches another:
// it owns the gRPC connections, their credentials (mutual TLS, an admin
// token), their timeouts, and the search for the meta server leader with
// its redirect rules. Every role, the shell, the rolling-update
// orchestrator, the onebox supervisor, the benchmarks and the Go client
// dial through it, so that a change to how the cluster is reached (TLS,
// authentication, a timeout) is made once.
//
// Conns keeps one connection per server address and remembers which meta
// server answered last. CallMeta runs a call against the meta servers,
// leader first, following ERR_FORWARD_TO_OTHERS; CallServer calls one
// named server. Options.NewClient builds a bare connection for callers
// that keep their own (data streams, peer replication, configuration
// pushes).
package dial

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Conns holds one gRPC connection per server address and remembers which
// meta server answered last, so that the next meta call goes to the
// leader first. It is safe for concurrent use.
type Conns struct {
	opts Options

	mu     sync.Mutex
	metas  []string        // configured meta servers, then any a redirect named
	leader string          // the meta server that served the last call
	failed map[string]bool // meta servers whose last call failed: asked last
	conns  map[string]*grpc.ClientConn
	closed bool
}

// New returns connections to the cluster whose meta servers are metas. It
// does not connect yet; every call connects on demand.
func New(metas []string, opts Options) *Conns {
	c := &Conns{opts: opts.withDefaults(), conns: make(map[string]*grpc.ClientConn)}
	for _, m := range metas {
		if m != "" && !slices.Contains(c.metas, m) {
			c.metas = append(c.metas, m)
		}
	}
	if len(c.metas) > 0 {
		c.leader = c.metas[0]
	}
	return c
}

// Options returns the options the connections were made with, defaults
// applied; callers that keep a connection of their own dial with them.
func (c *Conns) Options() Options { return c.opts }

// Metas returns the meta servers known: the configured ones first.
func (c *Conns) Metas() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.metas)
}

// Leader returns the meta server that served the last meta call (the
// first configured one before any call).
func (c *Conns) Leader() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leader
}

// Meta returns the Meta service of the meta server at addr, connected.
func (c *Conns) Meta(ctx context.Context, addr string) (pb.MetaClient, error) {
	cc, err := c.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	return pb.NewMetaClient(cc), nil
}

// ReplicaAdmin returns the ReplicaAdmin service of the replica server at
// addr, connected.
func (c *Conns) ReplicaAdmin(ctx context.Context, addr string) (pb.ReplicaAdminClient, error) {
	cc, err := c.Dial(ctx, addr)
	if err != nil {
		return nil, err
	}
	return pb.NewReplicaAdminClient(cc), nil
}

// Dial returns the connection to addr once it is ready, or an error
// wrapping ErrUnreachable when it is not ready within the dial timeout. A
// refused connection fails at once instead of waiting out the timeout.
func (c *Conns) Dial(ctx context.Context, addr string) (*grpc.ClientConn, error) {
	cc, err := c.Conn(addr)
	if err != nil {
		return nil, err
	}
	dialCtx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	// A connection that failed before (the server was down a moment ago)
	// sits in TRANSIENT_FAILURE until gRPC's backoff expires, and stays
	// there, without passing through CONNECTING, while its reconnection
	// attempts fail (pick_first's sticky TRANSIENT_FAILURE): waiting for a
	// state change on it would wait out the whole deadline for a server
	// that refuses at once. It is replaced by a fresh connection, whose
	// one attempt shows: ready, or failed.
	attempted := false
	for {
		state := cc.GetState()
		switch state {
		case connectivity.Ready:
			return cc, nil
		case connectivity.Idle:
			cc.Connect()
		case connectivity.Connecting:
			attempted = true
		case connectivity.TransientFailure:
			if attempted {
				return nil, fmt.Errorf("%w: %s: cannot connect", ErrUnreachable, addr)
			}
			if cc, err = c.replace(addr, cc); err != nil {
				return nil, err
			}
			continue
		case connectivity.Shutdown:
			return nil, fmt.Errorf("%w: %s", ErrClosed, addr)
		}
		if !cc.WaitForStateChange(dialCtx, state) {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("dial: connecting to %s: %w", addr, err)
			}
			return nil, fmt.Errorf("%w: %s: not connected within %s", ErrUnreachable, addr, c.opts.DialTimeout)
		}
	}
}

// Conn returns the (possibly not yet connected) connection to addr,
// creating it on first use.
func (c *Conns) Conn(addr string) (*grpc.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if cc, ok := c.conns[addr]; ok {
		return cc, nil
	}
	cc, err := c.opts.NewClient(addr)
	if err != nil {
		return nil, err
	}
	c.conns[addr] = cc
	return cc, nil
}

// replace closes old, the connection to addr, and returns a new one (or
// the one another caller already put in its place).
func (c *Conns) replace(addr string, old *grpc.ClientConn) (*grpc.ClientConn, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if cur, ok := c.conns[addr]; ok && cur != old {
		c.mu.Unlock()
		return cur, nil
	}
	cc, err := c.opts.NewClient(addr)
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	c.conns[addr] = cc
	c.mu.Unlock()
	old.Close()
	return cc, nil
}

// WaitAnyMeta connects to every known meta server and returns once one of
// them accepted a connection, or with an error wrapping ErrUnreachable
// when none did before ctx ended.
func (c *Conns) WaitAnyMeta(ctx context.Context) error {
	addrs := c.Metas()
	if len(addrs) == 0 {
		return fmt.Errorf("%w: no meta server configured", ErrUnreachable)
	}
	ready := make(chan struct{}, len(addrs))
	watchCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, addr := range addrs {
		cc, err := c.Conn(addr)
		if err != nil {
			return err
		}
		cc.Connect()
		go func() {
			for {
				s := cc.GetState()
				if s == connectivity.Ready {
					ready <- struct{}{}
					return
				}
				if !cc.WaitForStateChange(watchCtx, s) {
					return
				}
			}
		}()
	}
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: no meta server of %v accepted a connection: %w", ErrUnreachable, addrs, ctx.Err())
	}
}

// Close closes every connection. Calls made afterwards fail with ErrClosed.
func (c *Conns) Close() error {
	c.mu.Lock()
	conns := c.conns
	c.conns = nil
	c.closed = true
	c.mu.Unlock()
	for _, cc := range conns {
		cc.Close()
	}
	return nil
}

// Forget closes and drops the connection to addr, if any: a server that
// left the cluster for good need not be redialled.
func (c *Conns) Forget(addr string) {
	c.mu.Lock()
	cc := c.conns[addr]
	delete(c.conns, addr)
	c.mu.Unlock()
	if cc != nil {
		cc.Close()
	}
}

// SetLeader makes addr the first meta server asked, as an answer naming
// the leader says.
func (c *Conns) SetLeader(addr string) {
	if addr != "" {
		c.setLeader(addr)
	}
}

func (c *Conns) setLeader(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.leader = addr
	delete(c.failed, addr)
	c.learnLocked(addr)
}

// demote makes addr, a meta server that just failed a call, one of the
// last the next call asks, until it serves a call again or an answer names
// it leader; it is no longer taken for the leader.
func (c *Conns) demote(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leader == addr {
		c.leader = ""
	}
	if c.failed == nil {
		c.failed = make(map[string]bool)
	}
	c.failed[addr] = true
}

// learn adds a meta server a redirect named to the known ones.
func (c *Conns) learn(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.learnLocked(addr)
}

func (c *Conns) learnLocked(addr string) {
	if addr != "" && !slices.Contains(c.metas, addr) {
		c.metas = append(c.metas, addr)
	}
}

// callOrder returns the meta servers to try: the last leader, then the
// rest, those that failed the last call made to them last.
func (c *Conns) callOrder() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	order := make([]string, 0, len(c.metas))
	if c.leader != "" {
		order = append(order, c.leader)
	}
	for _, failed := range []bool{false, true} {
		for _, m := range c.metas {
			if m != c.leader && c.failed[m] == failed {
				order = append(order, m)
			}
		}
	}
	return order
}
