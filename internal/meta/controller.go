package meta

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/metrics"
)

// ControllerConfig configures a Controller.
type ControllerConfig struct {
	// Self is this meta server's gRPC address as other servers reach it.
	Self string
	// FD is the failure detector's timing and protocol.
	FD decide.FDConfig
	// Knobs are the configuration file's values. Knobs stored in etcd
	// override them; DEFAULT restores them.
	Knobs decide.Knobs
	// PushTimeout bounds one UpdateConfig call to a replica server.
	// Default: the beacon interval.
	PushTimeout time.Duration
	// CreateTableTimeout bounds CreateTable's wait for primaries when the
	// caller's context has no deadline. Default 60 s.
	CreateTableTimeout time.Duration
	// WriteParallelism bounds concurrent store writes. Default 32.
	WriteParallelism int
	// Metrics holds the series the controller updates (metrics.go).
	// Default: a registry of its own.
	Metrics *metrics.Meta
	// ClusterID is the cluster's id (clusterid.go), carried in pushes and
	// checked against beacons (see refuseUnknownLocked). The meta server
	// sets it with SetClusterID once it read it from etcd, before it
	// campaigns. Empty only in tests that drive a controller alone: then
	// beacons are not checked.
	ClusterID string
	// PushSink, when set, takes the place of the background push queue:
	// every configuration push is handed to it at once, on the calling
	// goroutine and under the controller's lock, in the order the changes
	// were applied; admin is then not used for them. The whole-system
	// simulation (internal/sim) delivers pushes through its simulated
	// network this way, deterministically. It must not call back into the
	// controller.
	PushSink func(node string, configs []decide.PartitionConfig, tables []Table)
	// Admission is the replica server white list of the configuration
	// file (admission.go); one stored in etcd overrides it.
	Admission AdmissionConfig
}

func (cfg *ControllerConfig) setDefaults() error {
	if cfg.Self == "" {
		return fmt.Errorf("%w: empty meta server address", ErrInvalidOptions)
	}
	if err := cfg.FD.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	if cfg.PushTimeout <= 0 {
		cfg.PushTimeout = cfg.FD.BeaconInterval
	}
	if cfg.CreateTableTimeout <= 0 {
		cfg.CreateTableTimeout = 60 * time.Second
	}
	if cfg.WriteParallelism <= 0 {
		cfg.WriteParallelism = 32
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.NewMeta()
	}
	return nil
}

// Controller is the meta server's driver around the decision core: it feeds
// beacons to the failure detector, runs planning rounds, validates replica
// proposals and operator requests, writes every change to the Store as a
// compare-and-swap on the partition's ballot, keeps the leader's cache and
// pushes new configurations to replica servers. It owns no goroutine of its
// own (the Server calls Round on a ticker) and reads time from a Clock, so
// tests drive it step by step.
//
// Locking: mu guards everything below it. Store writes and pushes happen
// with mu released; their results are applied under mu afterwards, keyed by
// store revision, so a slow write never blocks beacons and two writers of
// one partition settle on what the store holds.
type Controller struct {
	cfg    ControllerConfig
	clock  Clock
	log    *slog.Logger
	admin  ReplicaAdmin
	pushes *pushQueue

	// adminMu serializes DDL and knob changes, which are rare and simplest
	// reasoned about one at a time.
	adminMu sync.Mutex

	mu sync.Mutex
	fd *decide.FailureDetector
	// term is the current leadership term; nil on a follower.
	term       *term
	termSeq    uint64
	leaderHint string
	// senders remembers what beacons say beyond the failure detector's
	// business, for ListNodes; it also counts who beaconed this server.
	senders map[string]*senderInfo
	cache   *cache
	// planner, lastPlan and overrides exist while leading.
	planner  *decide.Planner
	lastPlan planSummary
	// overrides are the knobs set at run time, by name (see Override).
	overrides map[string]Override
	// wake asks the leader's loop for a round now (see Wake).
	wake chan struct{}
	// guard holds ballot claims and admission (ballots.go, admission.go).
	guard guardState
	// clusterID is ControllerConfig.ClusterID, or what SetClusterID set.
	clusterID string
}

type term struct {
	id     uint64
	store  Store
	ctx    context.Context
	cancel context.CancelFunc
}

// storeWriteTimeout bounds one batch of store writes.
const storeWriteTimeout = 30 * time.Second

// writeCtx is the context of the term's store writes: they end with the
// term or after storeWriteTimeout, whatever the caller of the request that
// caused them does.
func (t *term) writeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.ctx, storeWriteTimeout)
}

type senderInfo struct {
	binaryVersion  string
	httpAddress    string
	pegasusAddress string
	zone           string
	// refusal is the last refusal logged, to log each one once.
	refusal string
	// lastBeacon is when the previous beacon arrived, for the beacon gap.
	lastBeacon time.Time
}

// planSummary is what the last round found, for ClusterInfo and for the
// reasons `ls -d` and `app -d` give.
type planSummary struct {
	level      decide.Level
	freeze     string
	balanceOps int
	// balanced: the balancer ran and found the layout even (no move in
	// progress or started); blocked: why it started nothing, if it ran.
	balanced bool
	blocked  string
	waiting  int
	waits    map[decide.Gpid]decide.Waiting
}

// NewController returns a follower controller. admin delivers pushed
// configurations; log may be nil.
func NewController(cfg ControllerConfig, clock Clock, admin ReplicaAdmin, log *slog.Logger) (*Controller, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	fd, err := decide.NewFailureDetector(cfg.FD)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidOptions, err)
	}
	if clock == nil {
		clock = systemClock{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Controller{
		cfg:     cfg,
		clock:   clock,
		log:     log,
		admin:   admin,
		pushes:  newPushQueue(admin, cfg.PushTimeout, cfg.ClusterID, log, cfg.PushSink),
		fd:      fd,
		senders: make(map[string]*senderInfo),
		wake:    make(chan struct{}, 1),

		clusterID: cfg.ClusterID,
	}
	c.guard.admission.set(cfg.Admission)
	return c, nil
}

// Wake delivers a value when something happened that the next planning
// round should not wait for: a beacon from a restarted node, whose old
// roles can move at once. The leader's loop runs a Round on it.
func (c *Controller) Wake() <-chan struct{} { return c.wake }

func (c *Controller) wakeRound() {
	select {
	case c.wake <- struct{}{}:
	default: // a round is already asked for
	}
}

// SetClusterID sets the cluster's id, for a controller made before the
// meta server read it from etcd. It must be called before the controller
// leads: a leader without it would neither stamp its pushes nor refuse a
// node holding tables this cluster never had.
func (c *Controller) SetClusterID(id string) {
	c.mu.Lock()
	c.clusterID = id
	c.mu.Unlock()
	c.pushes.setClusterID(id)
}

// Self returns this meta server's address.
func (c *Controller) Self() string { return c.cfg.Self }

// BecomeLeader loads the metadata from store, which must be fenced by the
// new term, and starts leading. The returned context ends with the term:
// on StepDown, when a write finds the fence gone, or when parent ends.
//
// Every node the configurations name, and every node heard from, is
// presumed alive for one grace period from now (decide's SetLeader): the
// previous leader may have granted them leases, and beacons that went to
// it are unknown here. So a leader change alone changes no configuration.
func (c *Controller) BecomeLeader(parent context.Context, store Store) (context.Context, error) {
	snap, err := store.Load(parent)
	if err != nil {
		return nil, err
	}
	ca, err := newCache(snap)
	if err != nil {
		return nil, err
	}
	knobs, overrides := c.loadOverrides(snap.Knobs)
	ctx, cancel := context.WithCancel(parent)
	c.mu.Lock()
	if c.term != nil {
		c.term.cancel()
	}
	c.termSeq++
	t := &term{id: c.termSeq, store: store, ctx: ctx, cancel: cancel}
	c.term = t
	c.cache = ca
	c.planner = decide.NewPlanner(knobs)
	c.overrides = overrides
	c.refreshOverrideGaugeLocked()
	c.lastPlan = planSummary{level: decide.LevelFreezed, freeze: "no round yet"}
	c.leaderHint = c.cfg.Self
	c.fd.SetLeader(c.clock.Now(), true, c.cfg.Self, ca.layout.Nodes())
	c.mu.Unlock()
	c.log.Info("leading", "term", t.id, "tables", len(ca.tables), "partitions", ca.layout.Len(),
		"level", knobs.Level.String(), "settle", c.cfg.FD.Grace)
	if err := c.finishCreating(ctx, t, snap); err != nil {
		c.log.Warn("completing tables left in creation", "err", err)
	}
	return ctx, nil
}

// StepDown ends the current term, if any, and records leader as the
// leader (empty when unknown). The term's context is canceled first, so
// nothing of the term decides anything after this returns.
func (c *Controller) StepDown(leader string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.term != nil {
		c.term.cancel()
		c.log.Info("stepped down", "term", c.term.id, "leader", leader)
		c.term = nil
		// Followers keep no cache: a new term loads afresh.
		c.cache = nil
		c.planner = nil
		c.overrides = nil
	}
	c.leaderHint = leader
	c.fd.SetLeader(c.clock.Now(), false, leader, nil)
	c.noteSteppedDown()
}

// SetLeaderHint records who leads, for followers' answers.
func (c *Controller) SetLeaderHint(leader string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.term == nil {
		c.leaderHint = leader
		c.fd.SetLeader(c.clock.Now(), false, leader, nil)
	}
}

// Leading reports whether this controller leads.
func (c *Controller) Leading() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := c.termLocked()
	return err == nil
}

// Leader returns the leader's address as far as known.
func (c *Controller) Leader() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leaderHint
}

// termLocked returns the current term, or a *NotLeaderError. A term whose
// context ended is over even before StepDown runs.
func (c *Controller) termLocked() (*term, error) {
	if c.term == nil || c.term.ctx.Err() != nil {
		leader := c.leaderHint
		if leader == c.cfg.Self {
			leader = ""
		}
		return nil, &NotLeaderError{Leader: leader}
	}
	return c.term, nil
}

// effectiveLevelLocked is the level the controller acts on: the configured
// one, frozen when too few nodes are alive (decide.EffectiveLevel) and,
// with settle, while the failure detector settles after a leader change.
func (c *Controller) effectiveLevelLocked(now time.Time, settle bool) (decide.Level, string) {
	k := c.planner.Knobs()
	alive, total := c.fd.Counts()
	l, f := decide.EffectiveLevel(k.Level, alive, total, k)
	if settle && l > decide.LevelFreezed && !c.fd.Settled(now) {
		return decide.LevelFreezed, "failure detector settling after leader change"
	}
	return l, f.Reason
}

// WaitPushes blocks until every queued configuration push has been
// delivered or has failed.
func (c *Controller) WaitPushes(ctx context.Context) error { return c.pushes.wait(ctx) }

// Close stops background pushes.
func (c *Controller) Close() { c.pushes.close() }

// members lists the nodes holding any role in c.
func members(c decide.PartitionConfig) []string {
	out := make([]string, 0, 1+len(c.Secondaries)+len(c.Learners))
	if c.Primary != "" {
		out = append(out, c.Primary)
	}
	out = append(out, c.Secondaries...)
	return append(out, c.Learners...)
}

// pushChangeLocked queues next for every node of the old or the new
// configuration: the new members to act on it, the removed ones to stop.
func (c *Controller) pushChangeLocked(old, next decide.PartitionConfig) {
	tb := c.cache.tables[next.Gpid.AppID]
	nodes := members(next)
	for _, n := range members(old) {
		if !slices.Contains(nodes, n) {
			nodes = append(nodes, n)
		}
	}
	for _, n := range nodes {
		c.pushes.enqueue(n, []decide.PartitionConfig{next}, []Table{tb})
	}
}
