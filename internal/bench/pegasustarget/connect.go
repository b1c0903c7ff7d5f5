package pegasustarget

import (
	"context"
	"time"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// ConnectOptions say which cluster and table a benchmark loads.
type ConnectOptions struct {
	MetaServers []string
	Table       TableSpec
	// Create creates the table when it does not exist, and waits until it
	// is fully healthy.
	Create bool
	// OpTimeout bounds every operation (see New); 0 leaves it to the
	// caller's deadline.
	OpTimeout time.Duration
	// Credentials reach the cluster: a TLS identity, and the admin token
	// creating the table needs.
	Credentials dial.Credentials
}

// Connection is an opened benchmark table.
type Connection struct {
	Target *Target
	Client *client.Client
	// Table describes the table when Create was set; Created tells
	// whether this connection created it.
	Table   *pb.TableInfo
	Created bool
}

// Connect connects to the cluster, creates the table when asked to, and
// opens it.
func Connect(ctx context.Context, opts ConnectOptions) (*Connection, error) {
	conn := &Connection{}
	if opts.Create {
		conns := dial.New(opts.MetaServers, dial.Options{Credentials: opts.Credentials})
		info, created, err := EnsureTable(ctx, conns, opts.Table)
		conns.Close()
		if err != nil {
			return nil, err
		}
		conn.Table, conn.Created = info, created
	}
	c, err := client.New(ctx, client.Config{MetaServers: opts.MetaServers, TLS: opts.Credentials.TLS})
	if err != nil {
		return nil, err
	}
	t, err := c.Open(ctx, opts.Table.Name)
	if err != nil {
		c.Close()
		return nil, err
	}
	conn.Client = c
	conn.Target = New(t, opts.OpTimeout)
	return conn, nil
}

// Close closes the client.
func (c *Connection) Close() error { return c.Client.Close() }
