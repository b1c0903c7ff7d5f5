package decide

import (
	"fmt"
	"slices"
	"time"

	"github.com/pegasus-go/pegasus/internal/version"
)

// FDConfig configures the failure detector. Names follow Pegasus'
// [replication] section.
type FDConfig struct {
	// BeaconInterval is fd_beacon_interval_seconds: how often replica
	// servers send beacons.
	BeaconInterval time.Duration
	// Lease is fd_lease_seconds: how long a replica server may serve after
	// it SENT a beacon that was acknowledged.
	Lease time.Duration
	// Grace is fd_grace_seconds: a node is dead once the meta server has
	// RECEIVED no beacon from it for longer than this.
	Grace time.Duration
	// Protocol is this meta server's protocol version.
	Protocol version.Protocol
	// StableRunning is stable_rs_min_running_seconds: a restart less than
	// this long after the previous start counts as unstable.
	StableRunning time.Duration
	// MaxUnstableRestarts is max_succssive_unstable_restart: after that many
	// unstable restarts in a row the node's beacons are refused until it has
	// run for StableRunning. 0 disables the guard.
	MaxUnstableRestarts int
}

// DefaultFDConfig returns beacon 3 s, lease 9 s, grace 10 s (the figures of
// the Pegasus operations guide; Pegasus' code ships 20/22 s), and Pegasus'
// unstable-restart guard of 5 restarts within 600 s.
func DefaultFDConfig() FDConfig {
	return FDConfig{
		BeaconInterval:      3 * time.Second,
		Lease:               9 * time.Second,
		Grace:               10 * time.Second,
		Protocol:            version.Current(),
		StableRunning:       600 * time.Second,
		MaxUnstableRestarts: 5,
	}
}

// Validate checks beacon < lease < grace.
//
// Why lease < grace: the replica server measures its lease from the moment
// it sent a beacon, the meta server measures grace from the moment it
// received one, which is later. So the replica stops serving at the latest
// at send+lease < receive+grace, before the meta server may declare it dead
// and hand its primaries to others: two primaries never serve at once.
func (c FDConfig) Validate() error {
	if c.BeaconInterval <= 0 || c.Lease <= 0 || c.Grace <= 0 || c.StableRunning < 0 || c.MaxUnstableRestarts < 0 {
		return fmt.Errorf("%w: fd_beacon_interval=%v fd_lease=%v fd_grace=%v stable_running=%v max_unstable_restarts=%d",
			ErrInvalidFDConfig, c.BeaconInterval, c.Lease, c.Grace, c.StableRunning, c.MaxUnstableRestarts)
	}
	if c.Lease >= c.Grace {
		return fmt.Errorf("%w: fd_lease_seconds=%v, fd_grace_seconds=%v", ErrLeaseNotBelowGrace, c.Lease, c.Grace)
	}
	if c.BeaconInterval >= c.Lease {
		return fmt.Errorf("%w: fd_beacon_interval_seconds=%v, fd_lease_seconds=%v", ErrBeaconNotBelowLease, c.BeaconInterval, c.Lease)
	}
	return nil
}

// Beacon is one replica server heartbeat.
type Beacon struct {
	Node      string
	Protocol  version.Protocol
	StartTime time.Time
	// Replicas is the node's report of every replica it holds. The failure
	// detector keeps the slice (no copy); the caller must not reuse it.
	Replicas []ReplicaReport
}

// BeaconAck is the answer to a beacon.
type BeaconAck struct {
	// Allowed is false when the node may not join the cluster (protocol,
	// unstable restarts, stale incarnation); Reason says why.
	Allowed bool
	// Reason explains a refusal, or why no lease was granted.
	Reason error
	// IsLeader reports whether this meta server is the leader; if not,
	// Leader names it and the replica server should beacon there.
	IsLeader bool
	Leader   string
	// LeaseExpiry is the end of the lease granted, by the meta server's
	// clock; zero when none is granted. The replica server computes its own
	// lease from its send time, which ends earlier.
	LeaseExpiry time.Time
	// Restarted reports that the beacon came from a new process of a known
	// node: the old process is gone, so the roles it held can move now,
	// without waiting for its lease or the grace. The leader should plan
	// at once rather than at its next round.
	Restarted bool
}

// NodeEventKind is what happened to a node.
type NodeEventKind uint8

const (
	// NodeDead: the node is no longer alive; its roles must go.
	NodeDead NodeEventKind = iota + 1
	// NodeAlive: the node is alive (again) and may receive roles.
	NodeAlive
	// NodeRestarted: the node restarted while holding no role; it stayed
	// alive throughout, as far as decisions are concerned.
	NodeRestarted
)

func (k NodeEventKind) String() string {
	switch k {
	case NodeDead:
		return "dead"
	case NodeAlive:
		return "alive"
	case NodeRestarted:
		return "restarted"
	}
	return fmt.Sprintf("NodeEventKind(%d)", uint8(k))
}

// DeathCause says why a node was declared dead.
type DeathCause uint8

const (
	CauseNone DeathCause = iota
	// CauseTimeout: no beacon for longer than the grace period.
	CauseTimeout
	// CauseRestart: a beacon with a new start time: the process that held
	// the roles is gone, even if the new one beacons on time.
	CauseRestart
)

func (c DeathCause) String() string {
	switch c {
	case CauseTimeout:
		return "beacon timeout"
	case CauseRestart:
		return "restart"
	}
	return ""
}

// NodeEvent is a change of a node's state found by Check.
type NodeEvent struct {
	Node       string
	Kind       NodeEventKind
	Cause      DeathCause
	LastBeacon time.Time
}

func (e NodeEvent) String() string {
	if e.Kind == NodeDead {
		return fmt.Sprintf("%s %s (%s)", e.Node, e.Kind, e.Cause)
	}
	return fmt.Sprintf("%s %s", e.Node, e.Kind)
}

// NodeState is the failure detector's view of one replica server.
type NodeState struct {
	Address string
	// Alive as of the last Check.
	Alive bool
	// Fenced: declared dead (or restarted) while holding roles, and kept
	// from serving and from new roles until the meta server has removed
	// them (Unfence).
	Fenced           bool
	LastBeacon       time.Time
	Protocol         version.Protocol
	StartTime        time.Time
	UnstableRestarts int
	Replicas         []ReplicaReport
}

type nodeRecord struct {
	NodeState
	fenceCause DeathCause
	// followerRestartAt is when a restart was observed while following,
	// zero if this server led then; see SetLeader.
	followerRestartAt time.Time
	// restartSeen: a restart was observed since the last Check.
	restartSeen bool
	// reportIdx maps a partition to its position in Replicas; built on the
	// first lookup after a beacon, since most beacons are never looked into.
	reportIdx map[Gpid]int32
}

// FailureDetector tracks replica servers from their beacons and decides
// which are alive. It is a pure state machine: time comes in as arguments,
// and the driver calls Beacon for every beacon and Check on a ticker.
//
// Liveness changes only in Check, so that every decision round sees one
// consistent set of alive nodes. A node is dead exactly when now -
// lastBeacon > Grace. A node that dies, or restarts, is fenced: it gets no
// lease and no new role until the meta server has taken away the roles its
// previous life held (Unfence). Without the fence, a primary that restarts
// within the grace period would stay primary in the configuration while
// its new process is an empty INACTIVE replica, and the partition would
// never recover; and a node back from a network partition could get a
// lease for a primary role that is about to be reassigned.
type FailureDetector struct {
	cfg   FDConfig
	nodes map[string]*nodeRecord
	// names lists nodes in ascending order, for deterministic Check output.
	names []string
	// alive caches AliveNodes; rebuilt whenever liveness changes.
	alive []string

	isLeader    bool
	leader      string
	leaderSince time.Time
}

// NewFailureDetector validates cfg and returns an empty detector, not
// leader.
func NewFailureDetector(cfg FDConfig) (*FailureDetector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &FailureDetector{cfg: cfg, nodes: make(map[string]*nodeRecord)}, nil
}

// Config returns the detector's configuration.
func (fd *FailureDetector) Config() FDConfig { return fd.cfg }

// SetLeader records whether this meta server leads, and who does.
//
// On becoming leader every known node, and every node in members (the
// nodes holding roles in the stored configurations), is presumed alive for
// a fresh grace period from now. The new leader has seen few or no beacons;
// declaring nodes dead on stale information could take roles from a node
// that holds a valid lease from the previous leader. That lease ends before
// now+Grace, so waiting one grace period is safe. Until then Settled is
// false and the planner does not cure: a node presumed alive may in truth
// be dead, and must not receive new roles.
func (fd *FailureDetector) SetLeader(now time.Time, isLeader bool, leader string, members []string) {
	wasLeader := fd.isLeader
	fd.isLeader, fd.leader = isLeader, leader
	if !isLeader || wasLeader {
		return
	}
	fd.leaderSince = now
	for _, n := range members {
		if fd.nodes[n] == nil {
			fd.insert(&nodeRecord{NodeState: NodeState{Address: n}})
		}
	}
	for _, rec := range fd.nodes {
		if rec.LastBeacon.Before(now) {
			rec.LastBeacon = now
		}
		// A fence from a missed grace period was this node's view as a
		// follower, which may have seen no beacons at all. A fence from a
		// restart observed while leading stays: that process really is
		// gone. A restart observed while following stays fenced only if
		// it is recent. The restarted node's beacon went on to the leader
		// the follower named, which fenced it and took its roles at its
		// next round; a follower runs no rounds, so its own fence was
		// never lifted, and by now the configurations may name the new
		// process (given its roles back by that leader, and healthy).
		// Fencing it again would strip a healthy node of its roles and
		// make every partition it serves look one member short. Only a
		// restart less than a grace before the takeover may have been
		// missed by a dying leader; one missed because no meta server led
		// for longer than that is the between-leaders case (doc.go).
		if rec.Fenced && (rec.fenceCause == CauseTimeout ||
			!rec.followerRestartAt.IsZero() && now.Sub(rec.followerRestartAt) > fd.cfg.Grace) {
			rec.Fenced, rec.fenceCause = false, CauseNone
		}
		// Restarts seen while following were never checked; they are
		// either still fenced (no event due) or handled by another leader.
		rec.followerRestartAt, rec.restartSeen = time.Time{}, false
		rec.Alive = !rec.Fenced
	}
	fd.rebuildAlive()
}

// IsLeader reports whether SetLeader last said this meta server leads.
func (fd *FailureDetector) IsLeader() bool { return fd.isLeader }

// Settled reports whether one grace period has passed since this meta
// server became leader, so that liveness reflects beacons it received.
func (fd *FailureDetector) Settled(now time.Time) bool {
	return fd.isLeader && now.Sub(fd.leaderSince) > fd.cfg.Grace
}

// Beacon records a beacon received at now and returns the answer.
func (fd *FailureDetector) Beacon(now time.Time, b Beacon) BeaconAck {
	ack := BeaconAck{IsLeader: fd.isLeader, Leader: fd.leader}
	if !fd.cfg.Protocol.CompatibleWith(b.Protocol) { // the rule the rolling planner checks too
		ack.Reason = fmt.Errorf("%w: node %s speaks %s, meta server %s (same major and minor at most one apart required)",
			ErrProtocolIncompatible, b.Node, b.Protocol, fd.cfg.Protocol)
		return ack
	}
	rec := fd.nodes[b.Node]
	if rec == nil {
		rec = &nodeRecord{NodeState: NodeState{Address: b.Node}}
		fd.insert(rec)
	}
	if !rec.StartTime.IsZero() && !b.StartTime.Equal(rec.StartTime) {
		if b.StartTime.Before(rec.StartTime) {
			// A beacon of a previous process, delayed in the network.
			ack.Reason = fmt.Errorf("%w: node %s: beacon from an older process (started %v, current %v)",
				ErrStaleIncarnation, b.Node, b.StartTime, rec.StartTime)
			return ack
		}
		if b.StartTime.Sub(rec.StartTime) < fd.cfg.StableRunning {
			rec.UnstableRestarts++
		} else {
			rec.UnstableRestarts = 0
		}
		rec.restartSeen = true
		ack.Restarted = true
		// Fence even if the node turns out to hold no roles: the planner
		// lifts the fence before its Check in that case, so no death is
		// ever reported for a node that had nothing to lose.
		rec.Fenced, rec.fenceCause = true, CauseRestart
		rec.followerRestartAt = time.Time{}
		if !fd.isLeader {
			rec.followerRestartAt = now
		}
	} else if rec.UnstableRestarts > 0 && now.Sub(b.StartTime) >= fd.cfg.StableRunning {
		// The same process has now run long enough to count as stable.
		// This compares the node's clock (start time) with the meta
		// server's; skew matters little against a ten-minute threshold.
		rec.UnstableRestarts = 0
	}
	rec.StartTime = b.StartTime
	if fd.cfg.MaxUnstableRestarts > 0 && rec.UnstableRestarts >= fd.cfg.MaxUnstableRestarts {
		ack.Reason = fmt.Errorf("%w: node %s restarted %d times in a row, each within %v of the previous start; refused until it runs %v",
			ErrUnstableNode, b.Node, rec.UnstableRestarts, fd.cfg.StableRunning, fd.cfg.StableRunning)
		return ack
	}
	rec.LastBeacon = now
	rec.Protocol = b.Protocol
	rec.Replicas = b.Replicas
	rec.reportIdx = nil
	ack.Allowed = true
	switch {
	case !fd.isLeader:
		ack.Reason = ErrNotLeader
	case rec.Fenced:
		ack.Reason = fmt.Errorf("%w: node %s (%s)", ErrNodeFenced, b.Node, rec.fenceCause)
	default:
		ack.LeaseExpiry = now.Add(fd.cfg.Lease)
	}
	return ack
}

// Check declares dead every node silent for longer than the grace period or
// fenced, and alive every node that beaconed in time and is not fenced. It
// returns the changes in node order.
func (fd *FailureDetector) Check(now time.Time) []NodeEvent {
	var events []NodeEvent
	for _, name := range fd.names {
		rec := fd.nodes[name]
		timedOut := now.Sub(rec.LastBeacon) > fd.cfg.Grace
		alive := !timedOut && !rec.Fenced
		switch {
		case rec.Alive && !alive:
			cause := CauseTimeout
			if rec.Fenced {
				cause = rec.fenceCause
			} else {
				rec.Fenced, rec.fenceCause = true, CauseTimeout
			}
			events = append(events, NodeEvent{Node: name, Kind: NodeDead, Cause: cause, LastBeacon: rec.LastBeacon})
		case !rec.Alive && alive:
			events = append(events, NodeEvent{Node: name, Kind: NodeAlive, LastBeacon: rec.LastBeacon})
		case alive && rec.restartSeen:
			events = append(events, NodeEvent{Node: name, Kind: NodeRestarted, LastBeacon: rec.LastBeacon})
		}
		rec.Alive = alive
		rec.restartSeen = false
	}
	if len(events) > 0 {
		fd.rebuildAlive()
	}
	return events
}

// Unfence lifts node's fence; the planner calls it once the node holds no
// role in any configuration. Liveness follows at the next Check.
func (fd *FailureDetector) Unfence(node string) {
	if rec := fd.nodes[node]; rec != nil {
		rec.Fenced, rec.fenceCause, rec.followerRestartAt = false, CauseNone, time.Time{}
	}
}

// Fenced lists the fenced nodes in ascending order.
func (fd *FailureDetector) Fenced() []string {
	var out []string
	for _, name := range fd.names {
		if fd.nodes[name].Fenced {
			out = append(out, name)
		}
	}
	return out
}

// Forget removes a dead node (a decommissioned server) so that it no longer
// counts towards the live percentage. It reports whether the node was
// removed; alive nodes are kept.
func (fd *FailureDetector) Forget(node string) bool {
	rec := fd.nodes[node]
	if rec == nil || rec.Alive {
		return false
	}
	delete(fd.nodes, node)
	i, _ := slices.BinarySearch(fd.names, node)
	fd.names = slices.Delete(fd.names, i, i+1)
	return true
}

// Alive implements NodeView.
func (fd *FailureDetector) Alive(node string) bool {
	rec := fd.nodes[node]
	return rec != nil && rec.Alive
}

// AliveNodes implements NodeView. The slice is shared: read only.
func (fd *FailureDetector) AliveNodes() []string { return fd.alive }

// Report implements NodeView.
func (fd *FailureDetector) Report(node string, g Gpid) (ReplicaReport, bool) {
	rec := fd.nodes[node]
	if rec == nil {
		return ReplicaReport{}, false
	}
	if rec.reportIdx == nil {
		rec.reportIdx = make(map[Gpid]int32, len(rec.Replicas))
		for i, r := range rec.Replicas {
			rec.reportIdx[r.Gpid] = int32(i)
		}
	}
	i, ok := rec.reportIdx[g]
	if !ok {
		return ReplicaReport{}, false
	}
	return rec.Replicas[i], true
}

// Counts returns the number of alive nodes and of known nodes.
func (fd *FailureDetector) Counts() (alive, total int) { return len(fd.alive), len(fd.nodes) }

// Node returns the state of one node.
func (fd *FailureDetector) Node(node string) (NodeState, bool) {
	rec := fd.nodes[node]
	if rec == nil {
		return NodeState{}, false
	}
	return rec.NodeState, true
}

// Nodes returns every node's state in ascending address order.
func (fd *FailureDetector) Nodes() []NodeState {
	out := make([]NodeState, len(fd.names))
	for i, name := range fd.names {
		out[i] = fd.nodes[name].NodeState
	}
	return out
}

func (fd *FailureDetector) insert(rec *nodeRecord) {
	fd.nodes[rec.Address] = rec
	i, _ := slices.BinarySearch(fd.names, rec.Address)
	fd.names = slices.Insert(fd.names, i, rec.Address)
}

func (fd *FailureDetector) rebuildAlive() {
	alive := make([]string, 0, len(fd.names))
	for _, name := range fd.names {
		if fd.nodes[name].Alive {
			alive = append(alive, name)
		}
	}
	fd.alive = alive
}
