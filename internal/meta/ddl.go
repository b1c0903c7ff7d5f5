package meta

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// createPollInterval paces CreateTable's wait for primaries.
const createPollInterval = 20 * time.Millisecond

// CreateTable creates a table (Pegasus create_app) and returns once every
// partition has a serving primary, or fails with ErrCreateTimeout when
// ctx's deadline (or CreateTableTimeout) passes first; the table exists
// then and becomes healthy on its own.
//
// Order of writes: the table record (status CREATING) with its name and
// app id, the partitions in chunks, then status AVAILABLE. A leader that
// dies half way leaves a CREATING table, which the next leader completes
// (finishCreating). Only then are configurations pushed, so no replica
// server ever opens a partition the store lacks.
func (c *Controller) CreateTable(ctx context.Context, req CreateTableRequest) (Table, error) {
	if err := req.validate(); err != nil {
		return Table{}, err
	}
	c.adminMu.Lock()
	defer c.adminMu.Unlock()

	c.mu.Lock()
	t, err := c.termLocked()
	if err != nil {
		c.mu.Unlock()
		return Table{}, err
	}
	if level := c.planner.Knobs().Level; !level.AllowsDDL() {
		c.mu.Unlock()
		return Table{}, fmt.Errorf("%w: create_app at %s", ErrLevelForbids, level)
	}
	if _, ok := c.cache.byName[req.Name]; ok {
		c.mu.Unlock()
		return Table{}, fmt.Errorf("%w: %s", ErrTableExists, req.Name)
	}
	alive := c.fd.AliveNodes()
	if int(req.ReplicaCount) > len(alive) {
		c.mu.Unlock()
		return Table{}, fmt.Errorf("%w: %d replicas, but %d replica servers are alive", ErrInvalidReplicaCount, req.ReplicaCount, len(alive))
	}
	alive = append([]string(nil), alive...)
	loads := make(map[string]decide.NodeLoad, len(alive))
	for _, n := range alive {
		loads[n] = c.cache.layout.Load(n)
	}
	c.mu.Unlock()

	// The writes run under the term, not the caller: a client giving up
	// must not leave the table half written.
	wctx, cancel := t.writeCtx()
	defer cancel()
	tb := Table{
		Name: req.Name, PartitionCount: req.PartitionCount, ReplicaCount: req.ReplicaCount,
		Status: TableCreating, Envs: maps.Clone(req.Envs), CreateTime: c.clock.Now(),
	}
	if tb, err = t.store.CreateTable(wctx, tb); err != nil {
		return Table{}, c.storeErr(t, err)
	}
	configs := placeTable(tb.AppID, tb.PartitionCount, tb.ReplicaCount, alive, func(n string) decide.NodeLoad { return loads[n] })
	revs, err := t.store.CreatePartitions(wctx, configs)
	if err == nil {
		tb.Status = TableAvailable
		err = t.store.UpdateTable(wctx, tb)
	}
	if err != nil {
		// The record says CREATING; the next leader completes the table.
		// Until then this one lists it as such and refuses its name.
		c.mu.Lock()
		if c.term == t {
			tb.Status = TableCreating
			c.cache.tables[tb.AppID] = tb
			c.cache.byName[tb.Name] = tb.AppID
		}
		c.mu.Unlock()
		c.log.Error("table left in creation", "table", tb.Name, "app_id", tb.AppID, "err", err)
		return Table{}, c.storeErr(t, err)
	}
	c.mu.Lock()
	if c.term != t {
		c.mu.Unlock()
		return Table{}, fmt.Errorf("%w: during create_app %s", ErrLostLeadership, tb.Name)
	}
	err = c.cache.addTable(tb, configs, revs)
	c.mu.Unlock()
	if err != nil {
		return Table{}, err
	}
	c.log.Info("table created", "table", tb.Name, "app_id", tb.AppID, "partitions", tb.PartitionCount, "replicas", tb.ReplicaCount)

	acked := c.pushNow(ctx, configs, tb)
	return tb, c.waitPrimaries(ctx, tb, acked)
}

// storeErr ends the term on a fence failure and passes err on.
func (c *Controller) storeErr(t *term, err error) error {
	if errors.Is(err, ErrLostLeadership) {
		t.cancel()
	}
	return err
}

// pushNow sends configs to their members at once, one call per node in
// parallel, and returns the nodes that accepted.
func (c *Controller) pushNow(ctx context.Context, configs []decide.PartitionConfig, tb Table) map[string]bool {
	byNode := make(map[string][]*pb.PartitionConfiguration)
	for _, cfg := range configs {
		p := configToPB(cfg)
		for _, n := range members(cfg) {
			byNode[n] = append(byNode[n], p)
		}
	}
	var (
		mu    sync.Mutex
		acked = make(map[string]bool, len(byNode))
		wg    sync.WaitGroup
		info  = tableToPB(tb)
	)
	for node, cfgs := range byNode {
		wg.Go(func() {
			for start := 0; start < len(cfgs); start += maxPushConfigs {
				pctx, cancel := context.WithTimeout(ctx, c.cfg.PushTimeout)
				err := c.admin.UpdateConfig(pctx, node, &pb.ConfigUpdateRequest{
					Configs: cfgs[start:min(start+maxPushConfigs, len(cfgs))], Tables: []*pb.TableInfo{info}})
				cancel()
				if err != nil {
					c.log.Debug("config push failed", "node", node, "table", tb.Name, "err", err)
					return
				}
			}
			mu.Lock()
			acked[node] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	return acked
}

// waitPrimaries waits until every partition of tb has a primary that
// serves it: the primary accepted the configuration naming it (acked, at
// ballot 1), or reports itself primary at the current ballot in a beacon.
func (c *Controller) waitPrimaries(ctx context.Context, tb Table, acked map[string]bool) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.CreateTableTimeout)
		defer cancel()
	}
	pending := make(map[int32]bool, tb.PartitionCount)
	for i := int32(0); i < tb.PartitionCount; i++ {
		pending[i] = true
	}
	tick := time.NewTicker(createPollInterval)
	defer tick.Stop()
	for {
		c.mu.Lock()
		if _, err := c.termLocked(); err != nil {
			c.mu.Unlock()
			return err
		}
		for i := range pending {
			cfg, ok := c.cache.layout.Config(decide.Gpid{AppID: tb.AppID, Index: i})
			if !ok {
				continue
			}
			if cfg.Primary == "" {
				continue
			}
			r, reported := c.fd.Report(cfg.Primary, cfg.Gpid)
			if (cfg.Ballot == 1 && acked[cfg.Primary]) ||
				(reported && r.Status == decide.StatusPrimary && r.Ballot >= cfg.Ballot) {
				delete(pending, i)
			}
		}
		c.mu.Unlock()
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s: %d of %d partitions: %w", ErrCreateTimeout, tb.Name, len(pending), tb.PartitionCount, ctx.Err())
		case <-tick.C:
		}
	}
}

// DropTable drops a table (Pegasus drop_app): one store transaction marks
// it dropped, frees its name and deletes its partitions. The former members
// get the table's record with status DROPPED at once, and `remove` for its
// replicas in every later beacon answer.
func (c *Controller) DropTable(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.adminMu.Lock()
	defer c.adminMu.Unlock()
	c.mu.Lock()
	t, err := c.termLocked()
	if err != nil {
		c.mu.Unlock()
		return err
	}
	if level := c.planner.Knobs().Level; !level.AllowsDDL() {
		c.mu.Unlock()
		return fmt.Errorf("%w: drop_app at %s", ErrLevelForbids, level)
	}
	id, ok := c.cache.byName[name]
	if !ok {
		c.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrTableNotFound, name)
	}
	tb := c.cache.tables[id].Clone()
	nodes := make(map[string]bool)
	for _, cfg := range c.cache.tableConfigs(tb) {
		for _, n := range members(cfg) {
			nodes[n] = true
		}
	}
	c.mu.Unlock()

	tb.Status, tb.DropTime = TableDropped, c.clock.Now()
	wctx, cancel := t.writeCtx()
	defer cancel()
	if err := t.store.DropTable(wctx, tb); err != nil {
		return c.storeErr(t, err)
	}
	c.mu.Lock()
	if c.term == t {
		c.cache.dropTable(tb)
		for n := range nodes {
			c.pushes.enqueue(n, nil, []Table{tb})
		}
	}
	c.mu.Unlock()
	c.log.Info("table dropped", "table", tb.Name, "app_id", tb.AppID)
	return nil
}

// finishCreating completes the tables a previous leader left in status
// CREATING: the missing partitions are written without members (ballot 0)
// and the guardian assigns them like any partition without primary, once
// the failure detector has settled; then the table becomes AVAILABLE.
func (c *Controller) finishCreating(ctx context.Context, t *term, snap *Snapshot) error {
	for _, tb := range snap.Tables {
		if tb.Status != TableCreating {
			continue
		}
		c.adminMu.Lock()
		err := c.finishTable(ctx, t, tb)
		c.adminMu.Unlock()
		if err != nil {
			return fmt.Errorf("table %s: %w", tb.Name, err)
		}
	}
	return nil
}

func (c *Controller) finishTable(ctx context.Context, t *term, tb Table) error {
	c.mu.Lock()
	var missing []decide.PartitionConfig
	for i := int32(0); i < tb.PartitionCount; i++ {
		g := decide.Gpid{AppID: tb.AppID, Index: i}
		if _, _, ok := c.cache.config(g); !ok {
			missing = append(missing, decide.PartitionConfig{Gpid: g, MaxReplicaCount: tb.ReplicaCount})
		}
	}
	c.mu.Unlock()
	revs, err := t.store.CreatePartitions(ctx, missing)
	if err != nil {
		return c.storeErr(t, err)
	}
	tb.Status = TableAvailable
	if err := t.store.UpdateTable(ctx, tb); err != nil {
		return c.storeErr(t, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.term != t {
		return ErrLostLeadership
	}
	c.log.Info("completed table left in creation", "table", tb.Name, "app_id", tb.AppID, "written", len(missing))
	return c.cache.addTable(tb, missing, revs)
}
