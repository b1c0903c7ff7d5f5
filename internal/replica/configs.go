package replica

import (
	"fmt"
	"slices"

	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Partition configurations from the meta server (beacon answers, pushes
// through ReplicaAdmin.UpdateConfig, answers to proposals) reach the cores
// here. A configuration for a partition this server does not hold, but which
// names it (primary, secondary or learner), opens the replica first; the
// configuration is applied once the replica is open.

// opening is a replica being opened. Configurations arriving meanwhile wait
// in pending (the newest ballot wins).
type opening struct {
	pending *configUpdate
}

// applyMetaState records table shapes, applies configurations and closes
// the replicas the meta server no longer places here.
func (s *Server) applyMetaState(tables []*pb.TableInfo, configs []*pb.PartitionConfiguration, remove []*pb.Gpid) {
	s.mu.Lock()
	for _, t := range tables {
		if t.GetAppId() > 0 && t.GetPartitionCount() > 0 {
			s.tables[t.GetAppId()] = t
		}
	}
	s.mu.Unlock()
	for _, pc := range configs {
		s.applyConfig(pc)
	}
	for _, r := range remove {
		if g, err := gpidFromPB(r); err == nil {
			go s.removeReplica(g)
		}
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
	named := pc.GetPrimary() == string(s.node) || slices.Contains(pc.GetSecondaries(), string(s.node)) ||
		slices.Contains(pc.GetLearners(), string(s.node))
	if !named || s.closed {
		s.mu.Unlock()
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
// server and moves its directory aside (garbage.go): nothing is deleted on
// one message.
func (s *Server) removeReplica(g gpid) {
	s.mu.Lock()
	p := s.partitions[g]
	if p == nil {
		s.mu.Unlock()
		return
	}
	delete(s.partitions, g)
	s.closingCount++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.closingCount--
		s.mu.Unlock()
	}()
	res := p.close(false)
	if err := s.moveAside(g, p.dir); err != nil {
		s.log.Error("moving a removed replica aside failed", "gpid", g.String(), "err", err)
		return
	}
	s.log.Info("replica removed", "gpid", g.String(), "close_err", res.err)
}

// report describes one replica for beacons and status answers.
func (p *partition) report() *pb.ReplicaReport {
	v := p.view.Load()
	return &pb.ReplicaReport{
		Gpid:                p.g.pb(),
		Status:              wireStatus(v),
		Ballot:              int64(v.ballot),
		LastCommittedDecree: int64(v.committed),
		LastPreparedDecree:  int64(v.prepared),
		LastDurableDecree:   p.store.Load().DurableDecree(),
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
