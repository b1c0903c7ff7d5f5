package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/stream"
)

// Client is a connection to one cluster. It is safe for concurrent use and
// meant to be long-lived: it caches the partition configuration of every
// table opened through it and keeps one stream per replica server that all
// operations share.
type Client struct {
	cfg   Config
	metas *metaSession

	// writeIDs make the RequestIDs that let primaries recognise a retried
	// write.
	writeIDs *stream.WriteIDs

	mu       sync.Mutex
	replicas map[string]*replicaConn
	tables   map[string]*Table
	closed   bool
}

// New connects to the cluster whose meta servers cfg lists. It returns once
// one meta server accepted a connection, or fails with ErrUnavailable when
// none did within cfg.DialTimeout (or before ctx ended), and with
// ErrInvalidArgument for a bad Config.
func New(ctx context.Context, cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	writeIDs, err := stream.NewWriteIDs()
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	c := &Client{
		cfg:      cfg,
		writeIDs: writeIDs,
		replicas: make(map[string]*replicaConn),
		tables:   make(map[string]*Table),
	}
	c.metas = newMetaSession(cfg.MetaServers, c.dialOptions())
	waitCtx, cancel := context.WithTimeout(ctx, cfg.DialTimeout)
	defer cancel()
	if err := c.metas.waitConnected(waitCtx); err != nil {
		c.metas.close()
		return nil, err
	}
	return c, nil
}

// dialOptions are how the client reaches servers: its dial timeout and
// credentials. Reconnection to a server that went away is paced short
// (internal/dial): a replica server restarted in a rolling upgrade is back
// within seconds and must be used again as soon as the meta server routes
// to it.
func (c *Client) dialOptions() dial.Options {
	return dial.Options{DialTimeout: c.cfg.DialTimeout, Dialer: c.cfg.Dialer, Credentials: dial.Credentials{TLS: c.cfg.TLS}}
}

func (c *Client) dial(addr string) (*grpc.ClientConn, error) {
	return c.dialOptions().NewClient(addr)
}

// Open returns the table named name, fetching its partition configuration
// from the meta server the first time. It fails with ErrTableNotFound when
// the cluster has no such table. Opening a table twice returns the same
// *Table.
func (c *Client) Open(ctx context.Context, name string) (*Table, error) {
	if name == "" {
		return nil, fmt.Errorf("%w: empty table name", ErrInvalidArgument)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if t, ok := c.tables[name]; ok {
		c.mu.Unlock()
		return t, nil
	}
	c.mu.Unlock()

	ctx, cancel := c.opContext(ctx)
	defer cancel()
	t := &Table{c: c, name: name, routes: newRouteCache(name, c.metas, c.cfg.OperationTimeout)}
	// The meta servers may be mid-election or restarting: keep asking,
	// paced like any routing retry, until the caller's deadline.
	for n := 0; ; {
		err := t.routes.load(ctx)
		if err == nil {
			break
		}
		if errors.Is(err, ErrTableNotFound) || errors.Is(err, ErrIncompatibleVersion) || errors.Is(err, ErrClosed) {
			return nil, &opError{op: "open", table: name, attempts: n + 1, err: err}
		}
		d := c.cfg.RoutingBackoff.delay(n, rand.Float64())
		n++
		if deadline, ok := ctx.Deadline(); ctx.Err() != nil || (ok && time.Until(deadline) <= d) {
			e := &opError{op: "open", table: name, attempts: n, last: err, err: ErrTimeout, ctxErr: context.DeadlineExceeded}
			if errors.Is(ctx.Err(), context.Canceled) {
				e.err, e.ctxErr = nil, context.Canceled
			}
			return nil, e
		}
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if prior, ok := c.tables[name]; ok {
		return prior, nil
	}
	c.tables[name] = t
	return t, nil
}

// Close fails every operation in flight with ErrClosed and releases all
// connections. Operations started after Close fail with ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	conns := c.replicas
	c.replicas = nil
	c.mu.Unlock()
	for _, rc := range conns {
		rc.Close()
	}
	c.metas.close()
	return nil
}

// replica returns the connection to the replica server at addr, creating it
// on first use.
func (c *Client) replica(addr string) (*replicaConn, *transportError) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, transportRule(addr, ErrClosed)
	}
	if rc, ok := c.replicas[addr]; ok {
		return rc, nil
	}
	cc, err := c.dial(addr)
	if err != nil {
		// Only a malformed address gets here. It came from the meta
		// server, whose next answer may be better.
		return nil, transportRule(addr, err)
	}
	rc := newReplicaConn(addr, cc)
	c.replicas[addr] = rc
	return rc, nil
}

// opContext applies the default operation timeout to a context without a
// deadline.
func (c *Client) opContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.cfg.OperationTimeout)
}
