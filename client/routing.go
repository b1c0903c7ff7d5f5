package client

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pegasus-go/pegasus/internal/pegasusrpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// PartitionHash returns the hash that places a record: Pegasus' CRC-64 of
// its hash key, or of its sort key when the hash key is empty, so that this
// client and the official Pegasus clients place every key alike. A table with n partitions keeps the record in partition
// PartitionHash(hashKey, sortKey) % n.
func PartitionHash(hashKey, sortKey []byte) uint64 {
	if len(hashKey) == 0 {
		return pegasusrpc.HashKeyHash(sortKey)
	}
	return pegasusrpc.HashKeyHash(hashKey)
}

// minRefreshInterval spaces the configuration queries of one table. Under a
// failover every in-flight operation of the table wants a refresh; they share
// one query (see routeCache.refresh), and this keeps the next one from
// starting the instant the previous ended, so that the meta server sees at
// most ~100 queries a second per table per client while primaries move.
const minRefreshInterval = 10 * time.Millisecond

// partitionRoute is where one partition's primary is believed to be.
type partitionRoute struct {
	primary string
	ballot  int64
}

// routeTable is an immutable snapshot of a table's partition configuration.
// Readers load it without locks; every change installs a new snapshot.
type routeTable struct {
	appID int32
	parts []partitionRoute
	// generation increases with every snapshot installed, so that an
	// operation can tell whether the routing changed since it looked.
	generation uint64
}

// locate returns the partition index a hash routes to and its route.
func (rt *routeTable) locate(hash uint64) (int32, partitionRoute) {
	pidx := int32(hash % uint64(len(rt.parts)))
	return pidx, rt.parts[pidx]
}

// refreshCall is one configuration query shared by every operation that
// asked for a refresh while it ran.
type refreshCall struct {
	done chan struct{}
	err  error
}

// routeCache holds one table's routing: a snapshot read on every operation,
// refreshed from the meta server when an operation finds it stale, and
// patched in place when a replica names the new primary of a partition.
type routeCache struct {
	table   string
	metas   *metaSession
	timeout time.Duration // bounds one refresh, independent of any caller

	cur atomic.Pointer[routeTable]

	mu          sync.Mutex
	inflight    *refreshCall
	lastRefresh time.Time
}

func newRouteCache(table string, metas *metaSession, timeout time.Duration) *routeCache {
	return &routeCache{table: table, metas: metas, timeout: timeout}
}

// snapshot returns the current routing.
func (rc *routeCache) snapshot() *routeTable { return rc.cur.Load() }

// load queries the meta server and installs its answer; Open calls it before
// the table is handed out.
func (rc *routeCache) load(ctx context.Context) error {
	resp, err := rc.metas.queryConfig(ctx, rc.table)
	if err != nil {
		return err
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.lastRefresh = time.Now()
	return rc.install(resp)
}

// refresh makes sure the routing is newer than generation seen: if another
// operation refreshed it since, it returns at once; if a query is running, it
// waits for that one; else it starts one. At most one query per table is in
// flight, however many operations fail at once. The query runs under its own
// timeout, so one impatient caller cannot fail it for the others; the
// caller's ctx only bounds how long this caller waits.
func (rc *routeCache) refresh(ctx context.Context, seen uint64) error {
	rc.mu.Lock()
	if rc.cur.Load().generation > seen {
		rc.mu.Unlock()
		return nil
	}
	call := rc.inflight
	if call == nil {
		call = &refreshCall{done: make(chan struct{})}
		rc.inflight = call
		go rc.runRefresh(call, time.Until(rc.lastRefresh.Add(minRefreshInterval)))
	}
	rc.mu.Unlock()
	select {
	case <-call.done:
		return call.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (rc *routeCache) runRefresh(call *refreshCall, wait time.Duration) {
	if wait > 0 {
		time.Sleep(wait)
	}
	ctx, cancel := context.WithTimeout(context.Background(), rc.timeout)
	resp, err := rc.metas.queryConfig(ctx, rc.table)
	cancel()
	rc.mu.Lock()
	if err == nil {
		err = rc.install(resp)
	}
	rc.lastRefresh = time.Now()
	rc.inflight = nil
	rc.mu.Unlock()
	call.err = err
	close(call.done)
}

// install validates a configuration answer and merges it into the routing.
// The caller holds rc.mu. When the table was recreated (new app id) or
// resized, the answer replaces the routing outright. Otherwise each
// partition keeps whichever of the cached and the answered route has the
// higher ballot: a primary learned from a replica's hint may be newer than
// what a lagging meta server answers, and must not be rolled back by it.
func (rc *routeCache) install(resp *pb.QueryConfigResponse) error {
	info := resp.GetTable()
	n := int(info.GetPartitionCount())
	if n <= 0 || len(resp.GetPartitions()) != n {
		return &Error{
			Code:    pb.ErrorCode_ERR_INVALID_DATA.String(),
			Message: fmt.Sprintf("configuration of table %q has %d partitions, partition_count %d", rc.table, len(resp.GetPartitions()), n),
			kind:    ErrInternal,
		}
	}
	fresh := &routeTable{appID: info.GetAppId(), parts: make([]partitionRoute, n)}
	filled := make([]bool, n)
	for _, pc := range resp.GetPartitions() {
		i := int(pc.GetGpid().GetPartitionIndex())
		if i < 0 || i >= n || filled[i] {
			return &Error{
				Code:    pb.ErrorCode_ERR_INVALID_DATA.String(),
				Message: fmt.Sprintf("configuration of table %q has a bad or repeated partition index %d", rc.table, i),
				kind:    ErrInternal,
			}
		}
		filled[i] = true
		fresh.parts[i] = partitionRoute{primary: pc.GetPrimary(), ballot: pc.GetBallot()}
	}
	old := rc.cur.Load()
	if old != nil {
		fresh.generation = old.generation + 1
		if old.appID == fresh.appID && len(old.parts) == n {
			for i := range fresh.parts {
				if old.parts[i].ballot > fresh.parts[i].ballot {
					fresh.parts[i] = old.parts[i]
				}
			}
		}
	}
	rc.cur.Store(fresh)
	return nil
}

// learnPrimary records a replica's hint that primary serves partition pidx
// at ballot. It only takes effect if the hint is newer than what the cache
// holds for the same incarnation of the table; an older or equal ballot
// says nothing the cache does not already know.
func (rc *routeCache) learnPrimary(appID, pidx int32, primary string, ballot int64) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	old := rc.cur.Load()
	if old.appID != appID || int(pidx) >= len(old.parts) || old.parts[pidx].ballot >= ballot {
		return
	}
	fresh := &routeTable{appID: old.appID, parts: make([]partitionRoute, len(old.parts)), generation: old.generation + 1}
	copy(fresh.parts, old.parts)
	fresh.parts[pidx] = partitionRoute{primary: primary, ballot: ballot}
	rc.cur.Store(fresh)
}
