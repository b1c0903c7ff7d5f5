package replica

import (
	"fmt"
	"slices"

	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Partition configurations from the meta server (beacon answers, pushes
// through ReplicaAdmin.UpdateConfig, answers to proposals) reach the cores
// here. A configuration for a partition this server does not hold opens the
// replica first, empty, only where an empty copy is right: for a learner,
// which will copy everything from its primary, or for a member of a brand
// new partition (ballot 1). A configuration naming this server primary or
// secondary of a partition with history that it does not hold means its
// copy was lost (a deleted data directory, a removal that raced a push):
// an empty copy there would be counted as holding what the lost one held,
// so none is made; the primary has the member removed and the meta server
// brings it back as a learner.
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
		if t.GetAppId() > 0 && t.GetPartitionCount() > 0 {
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
	u := &configUpdate{config: pacifica.Configuration{
		Ballot:  pacifica.Ballot(pc.GetBallot()),
		Primary: pacifica.NodeID(pc.GetPrimary()),
	}}
	for _, n := range pc.GetSecondaries() {
		u.config.Secondaries = append(u.config.Secondaries, pacifica.NodeID(n))
	}
	for _, n := range pc.GetLearners() {
		u.learners = append(u.learners, pacifica.NodeID(n))
	}
	for _, nb := range pc.GetPrimaryBounds() {
		u.config.PrimaryBounds = append(u.config.PrimaryBounds,
			pacifica.HoldRef{Primary: pacifica.NodeID(nb.GetNode()), Ballot: pacifica.Ballot(nb.GetBallot())})
	}

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
	member := pc.GetPrimary() == string(s.node) || slices.Contains(pc.GetSecondaries(), string(s.node))
	learner := slices.Contains(pc.GetLearners(), string(s.node))
	if (!member && !learner) || s.closed {
		s.mu.Unlock()
		return
	}
	if !learner && pc.GetBallot() > 1 {
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
	go s.openAndRegister(info, true, op)
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
	if s.partitions[g] != nil || s.opening[g] != nil || s.closed {
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
	s.openSlots <- struct{}{}
	p, err := s.openPartition(info, create)
	<-s.openSlots
	g := info.gpid()
	s.mu.Lock()
	delete(s.opening, g)
	if err != nil {
		s.mu.Unlock()
		s.log.Error("opening a partition replica failed", "gpid", g.String(), "err", err)
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
	switch st := p.core.Status(); {
	case req.ballot < 0: // the table is gone
	case st == pacifica.StatusPrimary || st == pacifica.StatusSecondary || st == pacifica.StatusPotentialSecondary:
		req.done <- removeResult{refused: "it is " + st.String()}
		return
	case req.ballot > 0 && (int64(p.core.Ballot()) > req.ballot || p.metaBallot > req.ballot):
		req.done <- removeResult{refused: fmt.Sprintf("it has seen ballot %d since", max(int64(p.core.Ballot()), p.metaBallot))}
		return
	}
	closed := &closeRequest{done: make(chan closeResult, 1)}
	p.shutdown(closed)
	req.done <- removeResult{closeErr: (<-closed.done).err}
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
