package meta

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Clock is the controller's time source; tests use a fake one.
type Clock interface {
	Now() time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// ReplicaAdmin delivers configurations to replica servers
// (ReplicaAdmin.UpdateConfig). The server uses gRPC (NewGRPCReplicaAdmin);
// tests use in-memory fakes.
type ReplicaAdmin interface {
	UpdateConfig(ctx context.Context, node string, req *pb.ConfigUpdateRequest) error
}

// GRPCReplicaAdmin calls replica servers' ReplicaAdmin service, with one
// connection per node kept for the life of the value.
type GRPCReplicaAdmin struct {
	opts  dial.Options
	mu    sync.Mutex
	conns map[string]*grpc.ClientConn
}

// NewGRPCReplicaAdmin returns an admin client with no connection yet; it
// dials with opts (the meta server's credentials).
func NewGRPCReplicaAdmin(opts dial.Options) *GRPCReplicaAdmin {
	return &GRPCReplicaAdmin{opts: opts, conns: make(map[string]*grpc.ClientConn)}
}

// UpdateConfig implements ReplicaAdmin.
func (a *GRPCReplicaAdmin) UpdateConfig(ctx context.Context, node string, req *pb.ConfigUpdateRequest) error {
	cc, err := a.conn(node)
	if err != nil {
		return err
	}
	resp, err := pb.NewReplicaAdminClient(cc).UpdateConfig(ctx, req)
	if err != nil {
		return fmt.Errorf("meta: UpdateConfig on %s: %w", node, err)
	}
	if e := resp.GetError(); e.GetCode() != pb.ErrorCode_ERR_OK {
		return fmt.Errorf("%w: %s: %s %s", ErrPushRejected, node, e.GetCode(), e.GetMessage())
	}
	return nil
}

func (a *GRPCReplicaAdmin) conn(node string) (*grpc.ClientConn, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if cc, ok := a.conns[node]; ok {
		return cc, nil
	}
	cc, err := a.opts.NewClient(node)
	if err != nil {
		return nil, fmt.Errorf("meta: dialing %s: %w", node, err)
	}
	a.conns[node] = cc
	return cc, nil
}

// Close closes every connection.
func (a *GRPCReplicaAdmin) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for n, cc := range a.conns {
		cc.Close()
		delete(a.conns, n)
	}
}

// maxPushConfigs bounds the configurations of one UpdateConfig call.
const maxPushConfigs = 1000

// pushQueue delivers configurations to replica servers in the background:
// the leader must not wait on a slow or dead node, and a push is only a
// shortcut (every beacon answer carries what a node has missed). Per node
// it keeps the newest configuration of each partition and one sender
// goroutine while there is work, so a burst of changes to one node goes
// out as one call, in ballot order per partition.
type pushQueue struct {
	admin   ReplicaAdmin
	timeout time.Duration
	log     *slog.Logger
	// sink, when set, receives every push synchronously instead
	// (ControllerConfig.PushSink).
	sink func(node string, configs []decide.PartitionConfig, tables []Table)

	mu sync.Mutex
	// clusterID goes in every push: a replica server of another cluster
	// refuses it.
	clusterID string
	idle      *sync.Cond
	nodes     map[string]*pendingPush
	active    int
	closed    bool
}

type pendingPush struct {
	configs map[decide.Gpid]decide.PartitionConfig
	tables  map[int32]Table
	running bool
}

// setClusterID sets the id the next pushes carry.
func (q *pushQueue) setClusterID(id string) {
	q.mu.Lock()
	q.clusterID = id
	q.mu.Unlock()
}

func newPushQueue(admin ReplicaAdmin, timeout time.Duration, clusterID string, log *slog.Logger,
	sink func(string, []decide.PartitionConfig, []Table)) *pushQueue {
	q := &pushQueue{admin: admin, timeout: timeout, clusterID: clusterID, log: log, sink: sink, nodes: make(map[string]*pendingPush)}
	q.idle = sync.NewCond(&q.mu)
	return q
}

// enqueue queues configs (and the tables they belong to) for node. The
// configs must not be modified afterwards.
func (q *pushQueue) enqueue(node string, configs []decide.PartitionConfig, tables []Table) {
	if node == "" || (len(configs) == 0 && len(tables) == 0) {
		return
	}
	if q.sink != nil {
		q.sink(node, configs, tables)
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	p := q.nodes[node]
	if p == nil {
		p = &pendingPush{configs: make(map[decide.Gpid]decide.PartitionConfig), tables: make(map[int32]Table)}
		q.nodes[node] = p
	}
	for _, c := range configs {
		if old, ok := p.configs[c.Gpid]; !ok || c.Ballot >= old.Ballot {
			p.configs[c.Gpid] = c
		}
	}
	for _, t := range tables {
		p.tables[t.AppID] = t
	}
	if !p.running {
		p.running = true
		q.active++
		go q.send(node, p)
	}
}

// send delivers node's pending configurations until there are none.
func (q *pushQueue) send(node string, p *pendingPush) {
	for {
		q.mu.Lock()
		if len(p.configs) == 0 && len(p.tables) == 0 {
			p.running = false
			delete(q.nodes, node)
			q.active--
			q.idle.Broadcast()
			q.mu.Unlock()
			return
		}
		req := &pb.ConfigUpdateRequest{ClusterId: q.clusterID}
		for g, c := range p.configs {
			if len(req.Configs) == maxPushConfigs {
				break
			}
			req.Configs = append(req.Configs, configToPB(c))
			delete(p.configs, g)
		}
		for id, t := range p.tables {
			req.Tables = append(req.Tables, tableToPB(t))
			delete(p.tables, id)
		}
		q.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), q.timeout)
		err := q.admin.UpdateConfig(ctx, node, req)
		cancel()
		if err != nil {
			// The node's next beacon answer carries the same configs.
			q.log.Debug("config push failed", "node", node, "configs", len(req.Configs), "err", err)
		}
	}
}

// wait blocks until no push is in flight or ctx ends.
func (q *pushQueue) wait(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		q.idle.Broadcast()
	})
	defer stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.active > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		q.idle.Wait()
	}
	return nil
}

// close drops what is queued and accepts nothing more; pushes in flight
// finish within the push timeout.
func (q *pushQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	for _, p := range q.nodes {
		clear(p.configs)
		clear(p.tables)
	}
}
