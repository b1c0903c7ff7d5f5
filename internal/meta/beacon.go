package meta

import (
	"fmt"
	"slices"
	"time"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/version"
)

// Beacon is a replica server's heartbeat, decoded from the wire.
type Beacon struct {
	Node string
	// Protocol is the protocol version as sent ("1.0"); one that does not
	// parse is refused like an incompatible one.
	Protocol       string
	BinaryVersion  string
	StartTime      time.Time
	Replicas       []decide.ReplicaReport
	HTTPAddress    string
	PegasusAddress string
	// ClusterID is the cluster the node joined; empty before it joined
	// one (a new server, or one speaking protocol 1.0). The service has
	// already refused another cluster's id.
	ClusterID string
	// Zone is the failure domain the node's configuration names.
	Zone string
	// EnvsRevisions is the envs revision of each table (app id) whose
	// description the node holds; nil from servers that report none.
	EnvsRevisions map[int32]int64
}

// BeaconReply is the answer to a beacon. See doc.go for how a replica
// server reads it.
type BeaconReply struct {
	// Allowed is false when the node may not serve in this cluster at all
	// (protocol version, unstable restarts, a beacon of an older process).
	Allowed bool
	// Err says why the node was refused, why it got no lease (fenced), or,
	// on a follower, who leads (*NotLeaderError).
	Err error
	// Lease is granted when positive: the node may serve until its send
	// time plus Lease.
	Lease  time.Duration
	Leader string
	// Configs are the authoritative configurations of partitions the node
	// reports at an older ballot, reports in a state its role contradicts,
	// or does not report although it holds a role in them.
	Configs []decide.PartitionConfig
	// Remove lists partitions the node reports but holds no role in and
	// is no recovery candidate for (not in last_drops), or whose table is
	// gone: the node may discard them. RemoveBallots gives, for each, the
	// ballot of the configuration the decision was made on (tableGone when
	// the table is gone): the node removes the replica only if it has seen
	// no newer ballot for it since, and holds no role in it.
	Remove        []decide.Gpid
	RemoveBallots []int64
	// Tables describes the tables of Configs, and the tables of the node's
	// replicas whose envs revision it reports stale or not at all.
	Tables []Table
	// Unknown lists reported partitions of tables this cluster never had,
	// when the node has joined no cluster: the beacon is then refused (see
	// refuseUnknownLocked).
	Unknown []decide.Gpid
}

// tableGone is the removal ballot of a replica whose table no longer
// exists: the replica server removes it whatever role it holds.
const tableGone = -1

// Beacon handles one beacon: the failure detector records it, and the
// leader answers with a lease and whatever configurations the node lacks.
// Followers record beacons too (a follower that becomes leader knows the
// nodes' start times) but answer with the leader's address and no lease.
func (c *Controller) Beacon(b Beacon) BeaconReply {
	now := c.clock.Now()
	proto, perr := version.ParseProtocol(b.Protocol)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.refuseUnadmittedLocked(b.Node, now); err != nil {
		return BeaconReply{Leader: c.leaderHint, Err: err}
	}
	if reply, refused := c.refuseUnknownLocked(b); refused {
		return reply
	}
	info := c.senders[b.Node]
	if info == nil {
		info = &senderInfo{}
		c.senders[b.Node] = info
	}
	c.noteBeaconLocked(info, now)
	info.binaryVersion, info.httpAddress, info.pegasusAddress, info.zone = b.BinaryVersion, b.HTTPAddress, b.PegasusAddress, b.Zone
	reply := BeaconReply{Leader: c.leaderHint}
	if perr != nil {
		reply.Err = fmt.Errorf("%w: node %s: %w", decide.ErrProtocolIncompatible, b.Node, perr)
		c.logRefusalLocked(b.Node, info, reply.Err)
		return reply
	}
	ack := c.fd.Beacon(now, decide.Beacon{Node: b.Node, Protocol: proto, StartTime: b.StartTime, Replicas: b.Replicas})
	if ack.Restarted && c.term != nil {
		c.wakeRound()
	}
	if !ack.Allowed {
		reply.Err = ack.Reason
		c.logRefusalLocked(b.Node, info, reply.Err)
		return reply
	}
	info.refusal = ""
	reply.Allowed = true
	if _, err := c.termLocked(); err != nil {
		reply.Err = err
		return reply
	}
	if ack.LeaseExpiry.IsZero() {
		// Fenced: the node's previous life held roles that are being
		// taken away. No lease, and no configuration that could make the
		// new process act on them.
		reply.Err = ack.Reason
		return reply
	}
	reply.Lease = c.cfg.FD.Lease
	c.syncNodeLocked(b.Node, b.Replicas, &reply)
	c.syncEnvsLocked(b, &reply)
	return reply
}

// refuseUnknownLocked refuses, before the failure detector counts it, a
// beacon from a node that has joined no cluster but holds replicas of
// tables this cluster never had (no table record, not even a dropped one).
// That node's data belongs elsewhere: a meta server with an empty etcd
// namespace, or one of another cluster whose replica servers predate
// cluster ids, must neither adopt it nor tell it to discard anything.
// Only the leader has the table records; a follower answers "not the
// leader" anyway.
func (c *Controller) refuseUnknownLocked(b Beacon) (BeaconReply, bool) {
	if b.ClusterID != "" || c.clusterID == "" || c.cache == nil {
		return BeaconReply{}, false
	}
	var unknown []decide.Gpid
	for _, r := range b.Replicas {
		if _, ok := c.cache.tables[r.Gpid.AppID]; !ok {
			unknown = append(unknown, r.Gpid)
		}
	}
	if len(unknown) == 0 {
		return BeaconReply{}, false
	}
	err := fmt.Errorf("%w: node %s has joined no cluster and holds %d replicas of tables this cluster never had (first %s): "+
		"not adopting it; if its data is to be discarded, move its data_dir away", ErrClusterIDMismatch, b.Node, len(unknown), unknown[0])
	c.cfg.Metrics.ClusterRefusals.WithLabelValues("beacon").Inc()
	info := c.senders[b.Node]
	if info == nil || info.refusal != err.Error() {
		c.log.Error("beacon refused", "node", b.Node, "err", err)
	}
	if info != nil {
		info.refusal = err.Error()
	}
	return BeaconReply{Leader: c.leaderHint, Err: err, Unknown: unknown}, true
}

func (c *Controller) logRefusalLocked(node string, info *senderInfo, err error) {
	if msg := err.Error(); msg != info.refusal {
		info.refusal = msg
		c.log.Warn("beacon refused", "node", node, "err", err)
	}
}

// syncNodeLocked fills reply with the configurations node must learn and
// the replicas it may discard, comparing its reports with the cache.
func (c *Controller) syncNodeLocked(node string, reports []decide.ReplicaReport, reply *BeaconReply) {
	ca := c.cache
	send := func(cfg decide.PartitionConfig) { reply.Configs = append(reply.Configs, cfg) }
	held := 0
	for i := range reports {
		r := &reports[i]
		cfg, ok := ca.layout.Config(r.Gpid)
		if !ok {
			t, known := ca.tables[r.Gpid.AppID]
			if known && t.Status == TableCreating && r.Gpid.Index < t.PartitionCount {
				continue // being written right now
			}
			reply.Remove = append(reply.Remove, r.Gpid)
			reply.RemoveBallots = append(reply.RemoveBallots, tableGone)
			continue
		}
		role := cfg.RoleOf(node)
		if role != decide.RoleNone {
			held++
		}
		switch {
		case r.Ballot > cfg.Ballot:
			// Ballots come from this meta server; a higher one means a
			// configuration it never issued (forged, or the store lost
			// writes). Touch nothing the node holds; report it (ballots.go).
			c.noteBallotAboveRecordLocked(node, r.Gpid, r.Ballot, cfg.Ballot)
		case role == decide.RoleNone && !slices.Contains(cfg.LastDrops, node):
			if r.Ballot < cfg.Ballot {
				send(cfg)
			}
			reply.Remove = append(reply.Remove, r.Gpid)
			reply.RemoveBallots = append(reply.RemoveBallots, cfg.Ballot)
		case role == decide.RoleNone:
			// A dropped node, kept as a recovery candidate. It never
			// takes the ballot of a configuration it is no member of, so
			// its ballot says nothing: it needs the configuration only
			// when it still acts for an older one.
			if r.Ballot < cfg.Ballot && (r.Status == decide.StatusPrimary || r.Status == decide.StatusSecondary) {
				send(cfg)
			}
		case r.Ballot < cfg.Ballot:
			send(cfg)
		case role == decide.RolePrimary && r.Status != decide.StatusPrimary,
			role == decide.RoleSecondary && r.Status != decide.StatusSecondary:
			// Same ballot, but the replica went inactive (lease lost, or
			// reopened): the configuration brings it back.
			send(cfg)
		}
	}
	if held < ca.layout.Load(node).Roles() {
		// Some role the node does not report: it must open that replica.
		reported := make(map[decide.Gpid]struct{}, len(reports))
		for i := range reports {
			reported[reports[i].Gpid] = struct{}{}
		}
		for _, pos := range ca.layout.PartitionsOf(node) {
			cfg := ca.layout.At(pos)
			if _, ok := reported[cfg.Gpid]; !ok && cfg.Ballot > 0 {
				send(cfg)
			}
		}
	}
	seen := make(map[int32]bool)
	for _, cfg := range reply.Configs {
		if !seen[cfg.Gpid.AppID] {
			seen[cfg.Gpid.AppID] = true
			reply.Tables = append(reply.Tables, ca.tables[cfg.Gpid.AppID])
		}
	}
}

// syncEnvsLocked adds to reply the tables of b's replicas whose envs
// revision the node reports older than the record's, or not at all: a
// node that missed the push of update_app_env (down, partitioned) or
// restarted since learns the table's envs within a beacon.
func (c *Controller) syncEnvsLocked(b Beacon, reply *BeaconReply) {
	sent := make(map[int32]bool, len(reply.Tables))
	for _, t := range reply.Tables {
		sent[t.AppID] = true
	}
	for i := range b.Replicas {
		id := b.Replicas[i].Gpid.AppID
		if sent[id] {
			continue
		}
		sent[id] = true
		t, ok := c.cache.tables[id]
		if !ok || t.Status != TableAvailable {
			continue
		}
		if rev, ok := b.EnvsRevisions[id]; !ok || rev != t.EnvsRevision {
			reply.Tables = append(reply.Tables, t)
		}
	}
}
