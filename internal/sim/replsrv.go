package sim

import (
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/meta"
	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/replica"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/version"
)

// replicaServer is a replica server: the rules of internal/replica's Server
// around the real cores, with its goroutines turned into events. Each rule
// that internal/replica exports is called, not copied: recovery
// (RecoverCore), the lease (Lease, GrantedLease), configurations
// (ApplyConfig, ConfigNames), the core's tuning (CoreConfig), the log format
// (LogRecords, DecodeLogEntry) and the wire errors (WireError). What remains
// here is the plumbing the server does with goroutines and gRPC.
type replicaServer struct {
	w    *World
	p    *proc
	id   pacifica.NodeID
	disk *disk
	cfg  config.Replica
	// tune adjusts the cores' tuning after CoreConfig (the server's
	// Options.CoreConfig), so that runs exercise small caches.
	tune func(*pacifica.Config)
	log  *slog.Logger

	// State of one life.
	lease   *replica.Lease
	started time.Time
	leader  string
	parts   map[decide.Gpid]*partition
	opening map[decide.Gpid]*opening
	tables  map[int32]meta.Table
	props   []meta.ReplicaProposal
	// nextBeacon is when the next beacon leaves (true time), for scripts.
	nextBeacon time.Duration
	// proposing is set while a ProposeConfig call is in flight; the server
	// sends one at a time.
	proposing bool
}

// opening is a replica being opened; the newest configuration that arrived
// meanwhile waits in pending.
type opening struct{ pending *configUpdate }

// configUpdate is a configuration in the core's terms.
type configUpdate struct {
	cfg      pacifica.Configuration
	learners []pacifica.NodeID
}

// toUpdate reads a configuration as the server does: through the wire
// type (meta.ConfigToPB, replica.ConfigFromPB).
func toUpdate(c decide.PartitionConfig) configUpdate {
	var u configUpdate
	u.cfg, u.learners = replica.ConfigFromPB(meta.ConfigToPB(c))
	return u
}

func (s *replicaServer) logf(format string, args ...any) {
	if s.w.opts.Verbose {
		s.w.trace.note(format, args...)
	}
}

// dedupRetention is write_dedup_retention_seconds: how long request
// records are found and kept (replica's Server.dedupRetention).
func (s *replicaServer) dedupRetention() uint32 {
	return uint32(max(1, s.cfg.WriteDedupRetentionSeconds))
}

func (s *replicaServer) coreConfig(maxReplicas int32, incarnation uint64) pacifica.Config {
	c := replica.CoreConfig(s.cfg, replica.DefaultTickInterval, s.id, maxReplicas, incarnation)
	if s.tune != nil {
		s.tune(&c)
	}
	return c
}

// start begins a new life: the server opens every replica on its disk
// (skipping those that fail to open), then ticks, beacons and flushes.
func (s *replicaServer) start() {
	w := s.w
	w.start(s.p)
	s.lease = &replica.Lease{}
	s.started = time.UnixMilli(s.p.clock.wall().UnixMilli())
	s.leader = ""
	s.parts = make(map[decide.Gpid]*partition)
	s.opening = make(map[decide.Gpid]*opening)
	s.tables = make(map[int32]meta.Table)
	s.props, s.proposing = nil, false
	for _, g := range sortedGpids(s.disk.replicas) {
		d := s.disk.replicas[g]
		p, err := s.openPartition(d)
		if err != nil {
			w.trace.note("%s %s: cannot open: %v", s.id, g, err)
			continue
		}
		s.parts[g] = p
	}
	w.trace.note("%s started (%d replicas)", s.id, len(s.parts))
	s.tick()
	s.beaconLoop()
	s.flushLoop()
}

// crash ends the life at once: memory is lost, the disk keeps what it
// synced and a torn tail.
func (s *replicaServer) crash() {
	w := s.w
	w.kill(s.p)
	for _, g := range sortedGpids(s.disk.replicas) {
		s.disk.replicas[g].crash(w)
		w.check.diskChanged(g)
	}
	s.parts = nil
	w.trace.note("%s crashed", s.id)
}

// stop shuts down gracefully: every replica flushes its store first, so the
// restart replays nothing (the server's Close).
func (s *replicaServer) stop() {
	for _, g := range sortedGpids(s.parts) {
		s.parts[g].close(true)
	}
	s.w.kill(s.p)
	s.parts = nil
	s.w.trace.note("%s stopped", s.id)
}

func (s *replicaServer) tick() {
	for _, g := range sortedGpids(s.parts) {
		s.parts[g].tick()
	}
	s.w.after(s.p, replica.DefaultTickInterval, s.tick)
}

func (s *replicaServer) flushLoop() {
	s.w.after(s.p, time.Duration(s.cfg.CheckpointIntervalSeconds)*time.Second, func() {
		for _, g := range sortedGpids(s.parts) {
			p := s.parts[g]
			if p.failure == nil {
				// The sweeper collects expired request records
				// (replica's sweepRequests) between flushes.
				p.reqs.sweep(s.dedupRetention())
				p.d.flush(p.kv, p.reqs, p.applied)
				s.w.check.diskChanged(g)
			}
		}
		s.flushLoop()
	})
}

// killPartitions is replica.kill_partition: flush and close every replica;
// the meta server's next configuration reopens those it still places here.
func (s *replicaServer) killPartitions() {
	for _, g := range sortedGpids(s.parts) {
		s.parts[g].close(true)
		delete(s.parts, g)
	}
	s.w.trace.note("%s: kill_partition", s.id)
}

// beaconLoop beacons now and every fd_beacon_interval_seconds.
func (s *replicaServer) beaconLoop() {
	s.beacon()
	s.nextBeacon = s.w.now + s.p.clock.trueDuration(s.cfg.BeaconInterval())
	s.w.after(s.p, s.cfg.BeaconInterval(), s.beaconLoop)
}

// beacon sends one beacon and acts on the answer (the server's beacon).
func (s *replicaServer) beacon() {
	b := meta.Beacon{
		Node:      string(s.id),
		Protocol:  version.Current().String(),
		StartTime: s.started,
		Replicas:  s.reports(),
		ClusterID: s.disk.clusterID,
	}
	sent := s.mono()
	var reply meta.BeaconReply
	var metaID string
	s.metaCall(s.cfg.BeaconInterval(), func(m *metaServer, budget time.Duration, done func(metaAnswer, bool)) {
		call(s.w.net, s.p, m.p, budget, true, b, m.handleBeacon, func(a beaconAnswer, ok, _ bool) {
			if ok {
				reply, metaID = a.reply, a.clusterID
			}
			done(a.metaAnswer, ok)
		})
	}, func(ok bool) {
		if !ok {
			return
		}
		if s.disk.clusterID == "" && metaID != "" && !s.join(metaID, reply) {
			return
		}
		if err := replica.CheckMetaClusterID("beacon", s.disk.clusterID, metaID); err != nil {
			s.logf("%s: beacon answer refused: %v", s.id, err)
			return
		}
		if reply.Leader != "" {
			s.leader = reply.Leader
		}
		if reply.Allowed {
			s.lease.Extend(sent, replica.GrantedLease(s.cfg.Lease(), reply.Lease.Milliseconds()))
		}
		s.applyMetaState(reply.Tables, reply.Configs, removals(reply))
	})
}

// join makes the server a member of cluster id on an accepted beacon's
// answer, if it may (the server's join).
func (s *replicaServer) join(id string, reply meta.BeaconReply) bool {
	unknown := make([]string, len(reply.Unknown))
	for i, g := range reply.Unknown {
		unknown[i] = g.String()
	}
	ok, err := replica.JoinCheck(id, unknown, reply.Allowed)
	if !ok {
		if err != nil {
			s.logf("%s: not joining: %v", s.id, err)
		}
		return false
	}
	s.disk.clusterID = id
	s.w.trace.note("%s joined %s", s.id, id)
	return true
}

// pushed takes configurations a meta server of cluster id pushed (the
// server's UpdateConfig).
func (s *replicaServer) pushed(id string, tables []meta.Table, configs []decide.PartitionConfig) {
	if err := replica.CheckMetaClusterID("update_config", s.disk.clusterID, id); err != nil {
		s.logf("%s: push refused: %v", s.id, err)
		return
	}
	s.applyMetaState(tables, configs, nil)
}

func (s *replicaServer) reports() []decide.ReplicaReport {
	out := make([]decide.ReplicaReport, 0, len(s.parts))
	for _, g := range sortedGpids(s.parts) {
		out = append(out, s.parts[g].report())
	}
	return out
}

// mono is the server's monotonic clock, which leases and promises read
// (the server's mono; see adaptLeaseClock).
func (s *replicaServer) mono() pacifica.Time { return adaptLeaseClock(s.p.clock) }

// removal is the meta server's decision to remove a replica, made on its
// configuration of ballot (-1: the table is gone).
type removal struct {
	g      decide.Gpid
	ballot int64
}

func removals(r meta.BeaconReply) []removal {
	out := make([]removal, len(r.Remove))
	for i, g := range r.Remove {
		out[i] = removal{g: g, ballot: r.RemoveBallots[i]}
	}
	return out
}

// metaCall runs one call against the meta servers as the server's
// metaClient does: the leader as far as known first, then the others; an
// ERR_FORWARD_TO_OTHERS answer sends it to the leader it names, a transport
// failure or ERR_CLUSTER_ID_MISMATCH (a meta server of another cluster,
// never followed) to the next server; all within timeout. finish learns
// whether a server answered ERR_OK.
func (s *replicaServer) metaCall(timeout time.Duration,
	attempt func(m *metaServer, budget time.Duration, done func(metaAnswer, bool)), finish func(ok bool)) {
	deadline := s.p.clock.mono() + timeout
	var queue []string
	if s.leader != "" {
		queue = append(queue, s.leader)
	}
	for _, m := range s.w.metas {
		if m.name != s.leader {
			queue = append(queue, m.name)
		}
	}
	tried := make(map[string]bool)
	var next func()
	next = func() {
		for len(queue) > 0 {
			addr := queue[0]
			queue = queue[1:]
			if tried[addr] {
				continue
			}
			tried[addr] = true
			budget := deadline - s.p.clock.mono()
			if budget <= 0 {
				break
			}
			attempt(s.w.meta(addr), budget, func(a metaAnswer, ok bool) {
				switch {
				case !ok, a.code == pb.ErrorCode_ERR_CLUSTER_ID_MISMATCH:
				case a.code == pb.ErrorCode_ERR_FORWARD_TO_OTHERS:
					if a.leader != "" && !tried[a.leader] {
						queue = append([]string{a.leader}, queue...)
					}
				default:
					s.leader = addr
					finish(a.code == pb.ErrorCode_ERR_OK)
					return
				}
				next()
			})
			return
		}
		finish(false)
	}
	next()
}

// applyMetaState records table shapes, applies configurations and removes
// the replicas the meta server no longer places here (the server's
// applyMetaState). Removals run later, as the server's goroutines do.
func (s *replicaServer) applyMetaState(tables []meta.Table, configs []decide.PartitionConfig, remove []removal) {
	for _, t := range tables {
		if t.AppID > 0 && t.PartitionCount > 0 {
			s.tables[t.AppID] = t
		}
	}
	for _, c := range configs {
		s.applyConfig(c)
	}
	for _, r := range remove {
		s.w.schedule(s.p, s.w.between(0, 2*time.Millisecond), func() { s.removeReplica(r) })
	}
}

// applyConfig delivers a configuration to its replica, or opens the replica
// if the configuration names this server (the server's applyConfig).
func (s *replicaServer) applyConfig(c decide.PartitionConfig) {
	if c.Ballot <= 0 {
		return
	}
	u := toUpdate(c)
	if p := s.parts[c.Gpid]; p != nil {
		p.applyConfig(u)
		return
	}
	if op := s.opening[c.Gpid]; op != nil {
		if op.pending == nil || op.pending.cfg.Ballot <= u.cfg.Ballot {
			op.pending = &u
		}
		return
	}
	if !replica.ConfigNames(s.id, u.cfg, u.learners) {
		return
	}
	onDisk := s.disk.replicas[c.Gpid] != nil
	if !replica.ConfigOpens(s.id, u.cfg, u.learners, onDisk) {
		s.logf("%s %s: named a member of b%d without a copy here; not creating one", s.id, c.Gpid, c.Ballot)
		return
	}
	maxReplicas, ok := s.replicaShape(c.Gpid, c.MaxReplicaCount)
	if !ok {
		return
	}
	op := &opening{pending: &u}
	s.opening[c.Gpid] = op
	s.w.schedule(s.p, s.w.between(time.Millisecond, 10*time.Millisecond), func() {
		s.openAndRegister(c.Gpid, maxReplicas, !onDisk, op)
	})
}

// replicaShape returns the replica count of a replica to create, if the
// table's shape is known (the server's newReplicaInfoLocked).
func (s *replicaServer) replicaShape(g decide.Gpid, maxReplicas int32) (int32, bool) {
	t, ok := s.tables[g.AppID]
	if !ok || g.Index >= t.PartitionCount {
		return 0, false
	}
	if maxReplicas <= 0 {
		maxReplicas = max(t.ReplicaCount, 1)
	}
	return maxReplicas, true
}

// openForLearning opens a replica a primary asked this server to learn
// before the meta server's configuration arrived.
func (s *replicaServer) openForLearning(g decide.Gpid) {
	if s.parts[g] != nil || s.opening[g] != nil {
		return
	}
	maxReplicas, ok := s.replicaShape(g, 0)
	if !ok {
		return
	}
	op := &opening{}
	s.opening[g] = op
	s.w.schedule(s.p, s.w.between(time.Millisecond, 10*time.Millisecond), func() { s.openAndRegister(g, maxReplicas, true, op) })
}

// openAndRegister opens a replica, creating it if it has no directory and
// create is set, and hands it the configuration that arrived meanwhile.
func (s *replicaServer) openAndRegister(g decide.Gpid, maxReplicas int32, create bool, op *opening) {
	delete(s.opening, g)
	d := s.disk.replicas[g]
	if d == nil && !create {
		s.w.trace.note("%s %s: open failed: its directory is gone", s.id, g)
		return
	}
	if d == nil {
		d = &replicaDisk{g: g, incarnation: s.w.newIncarnation(), maxReplicas: maxReplicas,
			segment: s.w.opts.logSegment, store: kvState{}, reqs: newRequests()}
		s.disk.replicas[g] = d
		s.w.check.diskChanged(g)
	}
	p, err := s.openPartition(d)
	if err != nil {
		s.w.trace.note("%s %s: open failed: %v", s.id, g, err)
		return
	}
	s.parts[g] = p
	if op.pending != nil {
		p.applyConfig(*op.pending)
	}
}

// removeReplica closes a replica and deletes its directory, unless the
// replica's state says it must stay (replica.RemovalRefused).
func (s *replicaServer) removeReplica(r removal) {
	g := r.g
	p := s.parts[g]
	if p == nil {
		return
	}
	if why := replica.RemovalRefused(p.core, p.metaBallot, r.ballot); why != "" {
		s.logf("%s %s: removal (b%d) not carried out: %s", s.id, g, r.ballot, why)
		return
	}
	delete(s.parts, g)
	p.close(false)
	delete(s.disk.replicas, g)
	s.w.check.diskChanged(g)
	s.w.trace.note("%s %s: replica removed (was %s b%d)", s.id, g, p.core.Status(), p.core.Ballot())
}

// sendPeer sends a replication message to another replica server.
func (s *replicaServer) sendPeer(g decide.Gpid, m pacifica.Message) {
	to := s.w.node(string(m.To))
	if to == nil {
		return
	}
	s.w.net.send(s.p, to.p, func() { to.deliverPeer(g, m) })
}

// deliverPeer hands a peer message to its replica; a LearnStart for a
// replica this server lacks opens it (the server's deliver).
func (s *replicaServer) deliverPeer(g decide.Gpid, m pacifica.Message) {
	if m.To != s.id {
		return
	}
	if p := s.parts[g]; p != nil {
		p.step(m)
		return
	}
	if m.Type == pacifica.MsgLearnStart {
		s.openForLearning(g)
	}
}

// queueProposal queues a core's configuration proposal for the meta leader
// (the server's proposalQueue).
func (s *replicaServer) queueProposal(g decide.Gpid, cp pacifica.ConfigProposal, _ pacifica.Decree) {
	var typ decide.ConfigType
	switch cp.Type {
	case pacifica.ConfigDowngradeToInactive:
		typ = decide.DowngradeToInactive
	case pacifica.ConfigUpgradeToSecondary:
		typ = decide.UpgradeToSecondary
	case pacifica.ConfigForceUpdateBallot:
		typ = meta.ForceUpdateBallot
	default:
		return
	}
	s.props = append(s.props, meta.ReplicaProposal{Gpid: g, Type: typ, Node: string(cp.Node), Ballot: int64(cp.Ballot),
		Incarnation: cp.Incarnation})
	s.sendProposals()
}

// sendProposals sends what is queued in one call, one call at a time. The
// answer's configurations are applied whatever the outcome: a proposer on a
// stale ballot catches up at once.
func (s *replicaServer) sendProposals() {
	if s.proposing || len(s.props) == 0 {
		return
	}
	batch := s.props
	s.props = nil
	s.proposing = true
	var last []decide.PartitionConfig
	answered, lastID := false, ""
	req := proposeReq{node: string(s.id), props: batch, clusterID: s.disk.clusterID}
	s.metaCall(s.cfg.BeaconInterval(), func(m *metaServer, budget time.Duration, done func(metaAnswer, bool)) {
		call(s.w.net, s.p, m.p, budget, true, req, m.handlePropose,
			func(a proposeAnswer, ok, _ bool) {
				if ok {
					last, lastID, answered = a.configs, a.clusterID, true
				}
				done(a.metaAnswer, ok)
			})
	}, func(bool) {
		s.proposing = false
		if answered && replica.CheckMetaClusterID("propose", s.disk.clusterID, lastID) == nil {
			s.applyMetaState(nil, last, nil)
		}
		s.sendProposals()
	})
}

// fetchCheckpoint copies a checkpoint of the primary's store for a learner
// and hands it to the replica, retrying a failed copy a few times (the
// server's fetchCheckpoint).
func (s *replicaServer) fetchCheckpoint(p *partition, cr pacifica.CheckpointRequest) {
	const attempts = 5
	var try func(n int)
	try = func(n int) {
		src := s.w.node(string(cr.From))
		if src == nil || p.closed {
			return
		}
		call(s.w.net, s.p, src.p, 10*time.Second, false, p.g, src.serveCheckpoint, func(c *checkpoint, ok, _ bool) {
			if p.closed {
				return
			}
			if ok && c != nil {
				c.req = cr
				p.installs = append(p.installs, c)
				p.drive()
				return
			}
			if n < attempts {
				s.w.after(s.p, time.Duration(n)*500*time.Millisecond, func() { try(n + 1) })
			}
		})
	}
	try(1)
}

// serveCheckpoint takes a checkpoint of a replica's store: it flushes the
// store (storage.Checkpoint makes it durable) and copies it.
func (s *replicaServer) serveCheckpoint(g decide.Gpid, respond func(*checkpoint)) {
	p := s.parts[g]
	if p == nil || p.closed || p.failure != nil {
		respond(nil)
		return
	}
	p.d.store, p.d.reqs, p.d.durable = p.kv.clone(), p.reqs.clone(), p.applied
	c := &checkpoint{kv: p.kv.clone(), reqs: p.reqs.clone(), decree: p.applied}
	// Copying takes a while.
	s.w.schedule(s.p, s.w.between(time.Millisecond, 200*time.Millisecond), func() { respond(c) })
}

func sortedGpids[V any](m map[decide.Gpid]V) []decide.Gpid {
	out := make([]decide.Gpid, 0, len(m))
	for g := range m {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b decide.Gpid) int { return a.Compare(b) })
	return out
}

func (w *World) node(name string) *replicaServer {
	for _, n := range w.nodes {
		if string(n.id) == name {
			return n
		}
	}
	return nil
}

func (w *World) meta(name string) *metaServer {
	for _, m := range w.metas {
		if m.name == name {
			return m
		}
	}
	panic(fmt.Sprintf("sim: no meta server %q", name))
}
