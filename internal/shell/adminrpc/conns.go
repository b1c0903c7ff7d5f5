// Package adminrpc makes the unary administration calls of the shell and
// the onebox supervisor: calls to the meta servers that find and follow the
// leader, and calls to one named server (a meta server, or a replica
// server's ReplicaAdmin service).
//
// Administration is rare and latency-insensitive, so everything here is a
// plain unary gRPC call with a short connect timeout: an operator who
// mistyped a meta address learns it within seconds, not after gRPC's
// minutes-long reconnection backoff.
package adminrpc

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pegasus-go/pegasus/internal/rpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Defaults of Options.
const (
	DefaultDialTimeout = 3 * time.Second
	DefaultCallTimeout = 10 * time.Second
)

// Options bound the calls. Zero fields take the defaults.
type Options struct {
	// DialTimeout bounds connecting to one server.
	DialTimeout time.Duration
	// CallTimeout bounds one call to one server once connected.
	CallTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	return o
}

// reconnectBackoff keeps gRPC's own redial of a restarting server short: a
// onebox waits for servers that are seconds away from listening.
var reconnectBackoff = backoff.Config{
	BaseDelay:  50 * time.Millisecond,
	Multiplier: 1.6,
	Jitter:     0.2,
	MaxDelay:   time.Second,
}

// Conns holds one gRPC connection per server address and remembers which
// meta server answered last, so that the next meta call goes to the leader
// first. It is safe for concurrent use.
type Conns struct {
	opts Options

	mu     sync.Mutex
	metas  []string // configured meta servers, then any a redirect named
	leader string   // the meta server that served the last call
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
	cc, err := c.conn(addr)
	if err != nil {
		return nil, err
	}
	dialCtx, cancel := context.WithTimeout(ctx, c.opts.DialTimeout)
	defer cancel()
	// A connection that failed before (the server was down a moment ago)
	// sits in TRANSIENT_FAILURE until gRPC's backoff expires; ask for a new
	// attempt now, and fail only if that attempt fails too.
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
			attempted = true
			cc.ResetConnectBackoff()
		case connectivity.Shutdown:
			return nil, fmt.Errorf("%w: %s", ErrClosed, addr)
		}
		if !cc.WaitForStateChange(dialCtx, state) {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("adminrpc: connecting to %s: %w", addr, err)
			}
			return nil, fmt.Errorf("%w: %s: not connected within %s", ErrUnreachable, addr, c.opts.DialTimeout)
		}
	}
}

// conn returns the (possibly not yet connected) connection to addr.
func (c *Conns) conn(addr string) (*grpc.ClientConn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if cc, ok := c.conns[addr]; ok {
		return cc, nil
	}
	opts := append(rpc.ClientOptions(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: reconnectBackoff, MinConnectTimeout: c.opts.DialTimeout}),
	)
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnreachable, addr, err)
	}
	c.conns[addr] = cc
	return cc, nil
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

func (c *Conns) setLeader(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.leader = addr
	if !slices.Contains(c.metas, addr) {
		c.metas = append(c.metas, addr)
	}
}

// callOrder returns the meta servers to try: the last leader, then the rest.
func (c *Conns) callOrder() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	order := make([]string, 0, len(c.metas))
	if c.leader != "" {
		order = append(order, c.leader)
	}
	for _, m := range c.metas {
		if m != c.leader {
			order = append(order, m)
		}
	}
	return order
}
