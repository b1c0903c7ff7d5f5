package replica

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Partition configurations from the meta server (beacon answers, pushes
// through ReplicaAdmin.UpdateConfig, answers to proposals) reach the cores
// here. A configuration naming this server for a partition it has no open
// replica of opens the replica first: the copy on its disk if there is one
// (closed by replica.kill_partition, say), else an empty one, but only where
// an empty copy is right: for a learner, which will copy everything from its
// primary, or for a member of a brand new partition (ballot 1). A
// configuration naming this server primary or secondary of a partition with
// history that it holds no copy of means its copy was lost (a deleted data
// directory, a removal that raced a push): an empty copy there would be
// counted as holding what the lost one held, so none is made; the primary
// has the member removed and the meta server brings it back as a learner.
//
// Removals are decided by the meta server on a report that may be stale by
// the time they arrive. The replica's own goroutine checks each against its
// state, in order with the configurations it received: it is removed only
// if it holds no role (not primary, secondary or learner) and has seen no
// configuration newer than the one the meta server decided on.

// opening is a replica being opened. Configurations arriving meanwhile wait
// in pending (the newest ballot wins).
type opening struct {
	pending *configUpdate
}

// removal is the meta server's decision to take a replica off this server,
// made on its configuration of ballot: -1 when the table is gone, 0 when a
// 1.0 meta server sent no ballot.
type removal struct {
	g      gpid
	ballot int64
}

// removalsFromPB reads a beacon answer's removals: the ballot-carrying
// list of a 1.1 meta server, else the bare list of a 1.0 one (checked
// against the replica's role only).
func removalsFromPB(rs []*pb.ReplicaRemoval, legacy []*pb.Gpid) []removal {
	var out []removal
	if len(rs) > 0 {
		for _, r := range rs {
			if g, err := gpidFromPB(r.GetGpid()); err == nil {
				out = append(out, removal{g: g, ballot: r.GetBallot()})
			}
		}
		return out
	}
	for _, r := range legacy {
		if g, err := gpidFromPB(r); err == nil {
			out = append(out, removal{g: g})
		}
	}
	return out
}

// applyMetaState records table shapes, applies configurations and closes
// the replicas the meta server no longer places here (see removeReplica).
func (s *Server) applyMetaState(tables []*pb.TableInfo, configs []*pb.PartitionConfiguration, remove []removal) {
	s.mu.Lock()
	for _, t := range tables {
		if t.GetAppId() > 0 && t.GetPartitionCount() > 0 && s.setTableEnvLocked(t) {
			s.tables[t.GetAppId()] = t
			s.tableNames.Store(t.GetAppId(), t.GetName())
		}
	}
	s.mu.Unlock()
	for _, pc := range configs {
		s.applyConfig(pc)
	}
	for _, r := range remove {
		go s.removeReplica(r)
	}
}

func (s *Server) applyConfig(pc *pb.PartitionConfiguration) {
	g, err := gpidFromPB(pc.GetGpid())
	if err != nil || pc.GetBallot() <= 0 {
		return
	}
	u := &configUpdate{}
	u.config, u.learners = ConfigFromPB(pc)

	s.mu.Lock()
	if p := s.partitions[g]; p != nil {
		s.mu.Unlock()
		if err := p.post(event{kind: evConfig, config: u}); err != nil {
			p.log.Debug("configuration not delivered", "err", err)
		}
		return
	}
	if op := s.opening[g]; op != nil {
		if op.pending == nil || op.pending.config.Ballot <= u.config.Ballot {
			op.pending = u
		}
		s.mu.Unlock()
		return
	}
	if !ConfigNames(s.node, u.config, u.learners) || s.closed || s.openBackedOffLocked(g, time.Now()) {
		s.mu.Unlock()
		return
	}
	_, err = s.fs.Stat(s.fs.PathJoin(s.replicaDir(g), infoFileName))
	onDisk := err == nil
	if !ConfigOpens(s.node, u.config, u.learners, onDisk) {
		s.mu.Unlock()
		s.log.Warn("configuration names this server a member of a partition whose copy it does not hold; "+
			"not creating an empty one (the primary has the member removed, and it comes back as a learner)",
			"gpid", g.String(), "ballot", pc.GetBallot(), "primary", pc.GetPrimary())
		return
	}
	info, ok := s.newReplicaInfoLocked(g, pc.GetMaxReplicaCount())
	if !ok {
		s.mu.Unlock()
		s.log.Warn("configuration for a table of unknown shape ignored", "gpid", g.String())
		return
	}
	op := &opening{pending: u}
	s.opening[g] = op
	s.mu.Unlock()
	// A copy on disk is opened as it is: should it vanish meanwhile (a
	// removal), the open fails rather than create an empty one.
	go s.openAndRegister(info, !onDisk, op)
}

// ConfigFromPB reads a configuration from the meta server in the core's
// terms: the configuration and its learners. The replica server and the
// whole-system simulation (internal/sim) both read configurations with it.
func ConfigFromPB(pc *pb.PartitionConfiguration) (pacifica.Configuration, []pacifica.NodeID) {
	cfg := pacifica.Configuration{
		Ballot:  pacifica.Ballot(pc.GetBallot()),
		Primary: pacifica.NodeID(pc.GetPrimary()),
	}
	for _, n := range pc.GetSecondaries() {
		cfg.Secondaries = append(cfg.Secondaries, pacifica.NodeID(n))
	}
	var learners []pacifica.NodeID
	for _, n := range pc.GetLearners() {
		learners = append(learners, pacifica.NodeID(n))
	}
	for _, nb := range pc.GetPrimaryBounds() {
		cfg.PrimaryBounds = append(cfg.PrimaryBounds,
			pacifica.HoldRef{Primary: pacifica.NodeID(nb.GetNode()), Ballot: pacifica.Ballot(nb.GetBallot())})
	}
	return cfg, learners
}

// ConfigNames reports whether a configuration gives node a role: primary,
// secondary or learner.
func ConfigNames(node pacifica.NodeID, cfg pacifica.Configuration, learners []pacifica.NodeID) bool {
	return cfg.HasMember(node) || slices.Contains(learners, node)
}

// ConfigOpens reports whether a configuration of a partition that node has
// no open replica of makes it open one (see the top of this file): the copy
// on its disk (onDisk) whenever the configuration names it; an empty one
// only for a learner, or for a member of a brand-new partition (ballot 1).
// The replica server and the whole-system simulation (internal/sim) both
// decide with it.
func ConfigOpens(node pacifica.NodeID, cfg pacifica.Configuration, learners []pacifica.NodeID, onDisk bool) bool {
	switch {
	case !ConfigNames(node, cfg, learners):
		return false
	case onDisk:
		return true
	}
	return slices.Contains(learners, node) || cfg.Ballot <= 1
}

// ApplyConfig hands a configuration of the meta server to a replica's core
// and, when the core is then the primary of that ballot, brings the core's
// learners in line with the configuration's: AddLearner for each one not in
// teaching (the learners handed to AddLearner since the replica last became
// primary, so that a repeated configuration does not restart learning), and
// RemoveLearner for each one the configuration dropped (given up on, or
// removed by the meta server), so that a later add starts afresh. teaching
// is updated in place. A configuration of an older ballot is ignored; any
// other refusal is logged and returned. The partition driver and the
// whole-system simulation (internal/sim) both apply configurations through
// it.
func ApplyConfig(core *pacifica.Replica, teaching map[pacifica.NodeID]bool, cfg pacifica.Configuration,
	learners []pacifica.NodeID, log *slog.Logger) error {
	err := core.UpdateConfig(cfg)
	switch {
	case err == nil:
	case errors.Is(err, pacifica.ErrStaleBallot):
		return nil
	default:
		log.Warn("configuration refused", "ballot", cfg.Ballot, "primary", cfg.Primary, "err", err)
		return err
	}
	if core.Status() != pacifica.StatusPrimary || core.Ballot() != cfg.Ballot {
		clear(teaching)
		return nil
	}
	named := make(map[pacifica.NodeID]bool, len(learners))
	for _, l := range learners {
		named[l] = true
		if teaching[l] {
			continue
		}
		err := core.AddLearner(l, cfg.Ballot)
		if err != nil && !errors.Is(err, pacifica.ErrAlreadyMember) {
			log.Warn("add learner refused", "learner", l, "err", err)
			continue
		}
		teaching[l] = true
		log.Info("learner added", "learner", l, "ballot", cfg.Ballot)
	}
	for l := range teaching {
		if !named[l] {
			core.RemoveLearner(l)
			delete(teaching, l)
		}
	}
	return nil
}

// newReplicaInfoLocked describes a replica to create from the table's shape.
// s.mu must be held.
func (s *Server) newReplicaInfoLocked(g gpid, maxReplicas int32) (replicaInfo, bool) {
	t := s.tables[g.app]
	if t == nil || g.index >= t.GetPartitionCount() {
		return replicaInfo{}, false
	}
	if maxReplicas <= 0 {
		maxReplicas = max(t.GetReplicaCount(), 1)
	}
	return replicaInfo{
		AppID:           g.app,
		PartitionIndex:  g.index,
		PartitionCount:  t.GetPartitionCount(),
		MaxReplicaCount: maxReplicas,
	}, true
}

// openForLearning opens a replica a primary asked this server to learn
// before the meta server's configuration arrived.
func (s *Server) openForLearning(g gpid) {
	s.mu.Lock()
	if s.partitions[g] != nil || s.opening[g] != nil || s.closed || s.openBackedOffLocked(g, time.Now()) {
		s.mu.Unlock()
		return
	}
	info, ok := s.newReplicaInfoLocked(g, 0)
	if !ok {
		s.mu.Unlock()
		return
	}
	op := &opening{}
	s.opening[g] = op
	s.mu.Unlock()
	go s.openAndRegister(info, true, op)
}

// openAndRegister opens a replica (bounded by openSlots), registers it and
// hands it the configuration that arrived meanwhile.
func (s *Server) openAndRegister(info replicaInfo, create bool, op *opening) {
	g := info.gpid()
	s.openSlots <- struct{}{}
	p, err := s.openPartition(info, create)
	if err != nil && s.openFailed(g, s.replicaDir(g), err) && create {
		// The corrupt copy is aside: a learner starts from an empty one.
		if p, err = s.openPartition(info, true); err != nil {
			s.openFailed(g, s.replicaDir(g), err)
		}
	}
	<-s.openSlots
	if err == nil {
		s.openSucceeded(g)
	}
	s.mu.Lock()
	delete(s.opening, g)
	if err != nil {
		s.mu.Unlock()
		return
	}
	if s.closed {
		s.mu.Unlock()
		p.close(true)
		return
	}
	s.partitions[g] = p
	pending := op.pending
	s.mu.Unlock()
	if pending != nil {
		_ = p.post(event{kind: evConfig, config: pending})
	}
}

// removeReplica closes a replica the meta server no longer places on this
// server and moves its directory aside (garbage.go), if the replica's
// goroutine agrees (see the top of this file): nothing is deleted on one
// message.
func (s *Server) removeReplica(r removal) {
	p := s.partition(r.g)
	if p == nil {
		return
	}
	req := &removeRequest{ballot: r.ballot, done: make(chan removeResult, 1)}
	if err := p.post(event{kind: evRemove, remove: req}); err != nil {
		return
	}
	res := <-req.done
	if res.refused != "" {
		p.log.Info("removal not carried out", "reason", res.refused, "meta_ballot", r.ballot)
		return
	}
	<-p.done
	s.mu.Lock()
	if s.partitions[r.g] == p {
		delete(s.partitions, r.g)
	}
	s.closingCount++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.closingCount--
		s.mu.Unlock()
	}()
	if err := s.moveAside(r.g, p.dir); err != nil {
		s.log.Error("moving a removed replica aside failed", "gpid", r.g.String(), "err", err)
		return
	}
	s.log.Info("replica removed", "gpid", r.g.String(), "meta_ballot", r.ballot, "close_err", res.closeErr)
}

// removeRequest asks a replica's goroutine to close it for removal.
type removeRequest struct {
	ballot int64
	done   chan removeResult
}

type removeResult struct {
	refused  string // why the replica stays, "" if it closed
	closeErr error
}

// tryRemove closes the replica for removal unless it holds a role or has
// seen a configuration newer than the one the removal was decided on.
func (p *partition) tryRemove(req *removeRequest) {
	if why := RemovalRefused(p.core, p.metaBallot, req.ballot); why != "" {
		req.done <- removeResult{refused: why}
		return
	}
	closed := &closeRequest{done: make(chan closeResult, 1)}
	p.shutdown(closed)
	req.done <- removeResult{closeErr: (<-closed.done).err}
}

// RemovalRefused says why a replica must stay despite the meta server's
// removal decided on its configuration of ballot removal (see the top of
// this file; -1: the table is gone, 0: no ballot), given the newest ballot
// metaBallot of a configuration the meta server sent for it; "" if it may
// go. The replica server and the whole-system simulation (internal/sim)
// both decide with it.
func RemovalRefused(core *pacifica.Replica, metaBallot, removal int64) string {
	switch st := core.Status(); {
	case removal < 0: // the table is gone
	case st == pacifica.StatusPrimary || st == pacifica.StatusSecondary || st == pacifica.StatusPotentialSecondary:
		return "it is " + st.String()
	case removal > 0 && (int64(core.Ballot()) > removal || metaBallot > removal):
		return fmt.Sprintf("it has seen ballot %d since", max(int64(core.Ballot()), metaBallot))
	}
	return ""
}

// report describes one replica for beacons and status answers.
func (p *partition) report() *pb.ReplicaReport {
	v := p.view.Load()
	return &pb.ReplicaReport{
		Gpid:                p.g.pb(),
		Status:              wireStatus(v),
		Ballot:              int64(v.ballot),
		MemberBallot:        int64(v.memberBallot),
		LastCommittedDecree: int64(v.committed),
		LastPreparedDecree:  int64(v.prepared),
		LastDurableDecree:   p.store.Load().DurableDecree(),
		Incarnation:         p.incarnation,
		MinPrimaryBallot:    int64(p.minPrimaryBallot),
	}
}

func wireStatus(v *replicaView) pb.PartitionStatus {
	if v.failed {
		return pb.PartitionStatus_PS_ERROR
	}
	switch v.status {
	case pacifica.StatusPrimary:
		return pb.PartitionStatus_PS_PRIMARY
	case pacifica.StatusSecondary:
		return pb.PartitionStatus_PS_SECONDARY
	case pacifica.StatusPotentialSecondary:
		return pb.PartitionStatus_PS_POTENTIAL_SECONDARY
	case pacifica.StatusError:
		return pb.PartitionStatus_PS_ERROR
	default:
		return pb.PartitionStatus_PS_INACTIVE
	}
}

// statusName is the partition status as Pegasus prints it.
func statusName(v *replicaView) string {
	return fmt.Sprint(wireStatus(v))
}
