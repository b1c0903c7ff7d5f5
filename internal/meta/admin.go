package meta

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/version"
)

// TableState is a table with the health of its partitions (`ls -d`), and
// why those without a primary have none.
type TableState struct {
	Table  Table
	Health decide.TableHealth
	Waits  []PartitionWait
	// BallotAboveRecord counts the table's partitions where a replica
	// reports a ballot above the record (ballots.go).
	BallotAboveRecord int
}

// ListTables returns every table that is not dropped, by app id.
func (c *Controller) ListTables() ([]TableState, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.termLocked(); err != nil {
		return nil, err
	}
	out := make([]TableState, 0, len(c.cache.byName))
	for _, id := range c.cache.byName {
		tb := c.cache.tables[id]
		h := decide.TableHealth{AppID: tb.AppID}
		cfgs := c.cache.tableConfigs(tb)
		if hs := decide.TableHealths(cfgs); len(hs) == 1 {
			h = hs[0]
		}
		out = append(out, TableState{Table: tb, Health: h, Waits: c.waitsLocked(cfgs), BallotAboveRecord: c.validClaimsLocked(&tb.AppID)})
	}
	slices.SortFunc(out, func(a, b TableState) int { return cmp.Compare(a.Table.AppID, b.Table.AppID) })
	return out, nil
}

// QueryConfig returns a table and the configurations of the partitions
// asked for (every partition when indices is empty), in the order asked,
// with why those without a primary have none.
func (c *Controller) QueryConfig(name string, indices []int32) (Table, []decide.PartitionConfig, []PartitionWait, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.termLocked(); err != nil {
		return Table{}, nil, nil, err
	}
	id, ok := c.cache.byName[name]
	if !ok {
		return Table{}, nil, nil, fmt.Errorf("%w: %s", ErrTableNotFound, name)
	}
	tb := c.cache.tables[id]
	if len(indices) == 0 {
		cfgs := c.cache.tableConfigs(tb)
		return tb, cfgs, c.waitsLocked(cfgs), nil
	}
	out := make([]decide.PartitionConfig, 0, len(indices))
	for _, i := range indices {
		cfg, ok := c.cache.layout.Config(decide.Gpid{AppID: id, Index: i})
		if !ok {
			return Table{}, nil, nil, fmt.Errorf("%w: %s has no partition %d", ErrInvalidArgument, name, i)
		}
		out = append(out, cfg)
	}
	return tb, out, c.waitsLocked(out), nil
}

// NodeInfo is one replica server as the leader sees it (`nodes -d`).
type NodeInfo struct {
	Address string
	Alive   bool
	// Fenced: the node died or restarted while holding roles and waits for
	// them to be removed.
	Fenced bool
	// Primaries and Secondaries count roles; learners are not replicas yet.
	Primaries   int
	Secondaries int
	Learners    int
	// Protocol is the version its beacons carry; empty if never heard.
	Protocol       string
	BinaryVersion  string
	HTTPAddress    string
	PegasusAddress string
	Zone           string
	LastBeacon     time.Time
}

// Replicas is primary_count + secondary_count.
func (n NodeInfo) Replicas() int { return n.Primaries + n.Secondaries }

// ListNodes returns every replica server known from beacons or named in
// a configuration, by address; a drained node shows zero counts.
func (c *Controller) ListNodes() ([]NodeInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.termLocked(); err != nil {
		return nil, err
	}
	byAddr := make(map[string]*NodeInfo)
	row := func(addr string) *NodeInfo {
		n := byAddr[addr]
		if n == nil {
			n = &NodeInfo{Address: addr}
			if s := c.senders[addr]; s != nil {
				n.BinaryVersion, n.HTTPAddress, n.PegasusAddress, n.Zone = s.binaryVersion, s.httpAddress, s.pegasusAddress, s.zone
			}
			byAddr[addr] = n
		}
		return n
	}
	for _, st := range c.fd.Nodes() {
		n := row(st.Address)
		n.Alive, n.Fenced, n.LastBeacon = st.Alive, st.Fenced, st.LastBeacon
		if st.Protocol != (version.Protocol{}) {
			n.Protocol = st.Protocol.String()
		}
	}
	for _, addr := range c.cache.layout.Nodes() {
		n := row(addr)
		l := c.cache.layout.Load(addr)
		n.Primaries, n.Secondaries, n.Learners = l.Primary, l.Secondary, l.Learner
	}
	out := make([]NodeInfo, 0, len(byAddr))
	for _, n := range byAddr {
		out = append(out, *n)
	}
	slices.SortFunc(out, func(a, b NodeInfo) int { return cmp.Compare(a.Address, b.Address) })
	return out, nil
}

// ClusterStatus is the leader's summary, the body of cluster_info.
type ClusterStatus struct {
	Leader string
	// Level is the configured meta function level; EffectiveLevel what the
	// last round acted on, lower while frozen (Freeze says why).
	Level          decide.Level
	EffectiveLevel decide.Level
	Freeze         string
	// BalanceOperations counts balancer moves in progress.
	BalanceOperations int
	// WaitingPartitions counts partitions the guardian left unrepaired on
	// purpose in the last round (restart window, flow control, ...).
	WaitingPartitions int
	// PrimaryStddev and TotalStddev are the standard deviations of the
	// primary and replica counts over alive nodes (Pegasus'
	// primary_replica_count_stddev, total_replica_count_stddev).
	PrimaryStddev float64
	TotalStddev   float64
	AliveNodes    int
	TotalNodes    int
	Tables        int
	Partitions    int
}

// Status summarizes the cluster.
func (c *Controller) Status() (ClusterStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.termLocked(); err != nil {
		return ClusterStatus{}, err
	}
	alive, total := c.fd.Counts()
	st := ClusterStatus{
		Leader:            c.cfg.Self,
		Level:             c.planner.Knobs().Level,
		EffectiveLevel:    c.lastPlan.level,
		Freeze:            c.lastPlan.freeze,
		BalanceOperations: c.lastPlan.balanceOps,
		WaitingPartitions: c.lastPlan.waiting,
		AliveNodes:        alive,
		TotalNodes:        total,
		Tables:            len(c.cache.byName),
		Partitions:        c.cache.layout.Len(),
	}
	var prim, repl []float64
	for _, n := range c.fd.AliveNodes() {
		l := c.cache.layout.Load(n)
		prim = append(prim, float64(l.Primary))
		repl = append(repl, float64(l.Replicas()))
	}
	st.PrimaryStddev, st.TotalStddev = stddev(prim), stddev(repl)
	return st, nil
}

func stddev(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var sum, sq float64
	for _, x := range xs {
		sum += x
	}
	mean := sum / float64(len(xs))
	for _, x := range xs {
		sq += (x - mean) * (x - mean)
	}
	return math.Sqrt(sq / float64(len(xs)))
}

// BeaconSenders counts the replica servers whose beacons this meta server
// received since it started, leader or not.
func (c *Controller) BeaconSenders() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.senders)
}

// MetaLevel queries the meta function level (level empty) or sets it,
// returning the previous and the current level. The level is stored with
// the other knobs, so a new leader keeps it.
//
// DEFAULT puts back the configuration file's level and deletes the
// override; lease is as for RemoteCommand.
func (c *Controller) MetaLevel(ctx context.Context, level string, lease KnobLease) (old, cur decide.Level, err error) {
	c.mu.Lock()
	if _, err := c.termLocked(); err != nil {
		c.mu.Unlock()
		return 0, 0, err
	}
	old = c.planner.Knobs().Level
	c.mu.Unlock()
	if level == "" {
		return old, old, nil
	}
	value := strings.TrimSpace(level)
	if value != "DEFAULT" {
		l, err := decide.ParseLevel(level)
		if err != nil {
			return 0, 0, err
		}
		value = l.Name()
	}
	if old, err = c.setKnobAs(ctx, decide.KnobFunctionLevel, value, lease, nil); err != nil {
		return 0, 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.planner == nil {
		return old, old, ErrLostLeadership
	}
	return old, c.planner.Knobs().Level, nil
}

// DrainOptions narrow a drain: DryRun only computes the proposals
// (migrate_node -t test), Table restricts it to one table (-a).
type DrainOptions struct {
	DryRun bool
	Table  string
}

// MigrateNode hands every primary role of node to a secondary (Pegasus
// migrate_node) as one configuration change per partition, written and
// pushed at once. It returns the changes made (or, dry, that would be
// made) as `propose` lines; a *decide.DrainError lists partitions it
// refused.
func (c *Controller) MigrateNode(ctx context.Context, node string, o DrainOptions) ([]string, error) {
	return c.drain(ctx, "migrate_node", node, o, decide.MigrateNode)
}

// DowngradeNode takes node out of every partition where it is a secondary
// or learner (Pegasus downgrade_node). Results as MigrateNode's.
func (c *Controller) DowngradeNode(ctx context.Context, node string, o DrainOptions) ([]string, error) {
	return c.drain(ctx, "downgrade_node", node, o, decide.DowngradeNode)
}

// MovePrimary hands the primary of g from `from` to `to`, a secondary
// (Pegasus balance -p move_pri), with the same checks and the same
// graceful handover as migrate_node. No lines and no error when `to`
// leads already.
func (c *Controller) MovePrimary(ctx context.Context, g decide.Gpid, from, to string) ([]string, error) {
	return c.drain(ctx, "balance move_pri", from, DrainOptions{},
		func(l *decide.Layout, nodes decide.NodeView, _ string) ([]decide.Proposal, error) {
			p, err := decide.MovePrimary(l, nodes, g, from, to)
			if p == nil {
				return nil, err
			}
			return []decide.Proposal{*p}, err
		})
}

// drain runs a drain operation. It needs a level that allows cure and a
// settled failure detector: right after a leader change a handover could
// pick a secondary that is presumed alive but dead.
func (c *Controller) drain(ctx context.Context, op, node string, o DrainOptions,
	propose func(*decide.Layout, decide.NodeView, string) ([]decide.Proposal, error)) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	t, err := c.termLocked()
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	if level, why := c.effectiveLevelLocked(c.clock.Now(), true); !level.AllowsCure() && !o.DryRun {
		c.mu.Unlock()
		return nil, fmt.Errorf("%w: %s at %s (%s)", ErrLevelForbids, op, level, why)
	}
	appID := int32(-1)
	if o.Table != "" {
		id, ok := c.cache.byName[o.Table]
		if !ok {
			c.mu.Unlock()
			return nil, fmt.Errorf("%w: %s", ErrTableNotFound, o.Table)
		}
		appID = id
	}
	props, drainErr := propose(c.cache.layout, c.fd, node)
	if appID >= 0 {
		props = slices.DeleteFunc(props, func(p decide.Proposal) bool { return p.Gpid.AppID != appID })
		var de *decide.DrainError
		if errors.As(drainErr, &de) {
			de.Refused = slices.DeleteFunc(de.Refused, func(r decide.PartitionRefusal) bool { return r.Gpid.AppID != appID })
			if len(de.Refused) == 0 {
				drainErr = nil
			}
		}
	}
	if o.DryRun {
		c.mu.Unlock()
		var lines []string
		for _, p := range props {
			lines = append(lines, p.Lines()...)
		}
		return lines, drainErr
	}
	changes, failed := c.prepareLocked(props)
	c.mu.Unlock()

	var lines []string
	errs := []error{drainErr}
	for _, f := range failed {
		errs = append(errs, fmt.Errorf("%s: %w", f.proposal.Gpid, f.Err))
	}
	for _, r := range c.commit(t, changes) {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.proposal.Gpid, r.Err))
			continue
		}
		lines = append(lines, r.proposal.Lines()...)
	}
	c.log.Info(op, "node", node, "changes", len(lines), "err", errors.Join(errs...))
	return lines, errors.Join(errs...)
}
