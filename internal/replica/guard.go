package replica

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/security"
)

// Who may tell a replica server what (issue 16, findings 1 and 5). The
// replication core trusts the messages the driver hands it; the driver
// filters them here, from what it knows without the core: the identity
// the caller's certificate proves (with mutual TLS), the configurations
// the meta server gave it, and the highest ballot the meta server said it
// had issued.

// policy is the replica server's rule book: internal/security's default
// (pushes from meta certificates, replication from replica certificates,
// admin calls from admins), plus the leader check of pushes.
func (s *Server) policy() security.Policy {
	return security.DefaultPolicy().
		With(pb.ReplicaAdmin_UpdateConfig_FullMethodName, func(_ context.Context, id *security.Identity, _ any) error {
			if id == nil {
				return nil
			}
			// Only the meta leader pushes; a follower or a deposed leader
			// has nothing to say. Right after a leader change the new
			// leader's pushes are refused until a beacon answer names it
			// (within a beacon interval), and that answer carries the
			// configurations anyway.
			if leader := s.meta.leader(); leader != "" && !id.Speaks(leader) {
				return fmt.Errorf("%w: configuration push from %s (%v), the meta leader is %s", ErrForeignPeer, id, id.Nodes, leader)
			}
			return nil
		})
}

// pushBallotSlack bounds how far above the meta server's MaxBallot (as
// last heard in the answer to one of this server's beacons) a pushed
// configuration's ballot may be.
//
// Why this bound is sound: a push is only a shortcut, the answer to the
// next beacon carries every configuration this server lacks, so refusing
// a push delays a configuration by at most one beacon interval and loses
// nothing. The anchor cannot be raised by a forger: it is the meta's own
// record, read in answers to requests this server made, and replicas'
// claims never enter it. And 1000 is far above the configuration changes
// the meta can commit for one partition between two beacons (each is an
// etcd write after a planning round or a proposal), yet far below what
// made the forged push of finding 1 fatal: a partition at ballot 2^40 was
// out of the meta's reach for good, while one pushed at most 1000 ahead is
// overtaken by meta.repair_ballot (or by 1000 ordinary changes).
const pushBallotSlack = 1000

// noteMaxBallot records the meta's MaxBallot from a beacon answer.
func (s *Server) noteMaxBallot(b int64) {
	for {
		cur := s.metaMaxBallot.Load()
		if b <= cur || s.metaMaxBallot.CompareAndSwap(cur, b) {
			return
		}
	}
}

// ballotLimit is the highest ballot a pushed configuration or a peer
// message may carry: the meta's record as last heard, plus pushBallotSlack.
func (s *Server) ballotLimit() int64 { return s.metaMaxBallot.Load() + pushBallotSlack }

// boundPushedBallots splits pushed configurations into those within
// reach of the meta's record and those far above it.
func (s *Server) boundPushedBallots(configs []*pb.PartitionConfiguration) (ok, refused []*pb.PartitionConfiguration) {
	limit := s.ballotLimit()
	for _, pc := range configs {
		if pc.GetBallot() > limit {
			refused = append(refused, pc)
			continue
		}
		ok = append(ok, pc)
	}
	return ok, refused
}

// peerSet is the membership of a partition's configuration as the meta
// server last gave it: primary, secondaries and learners at ballot.
type peerSet struct {
	ballot pacifica.Ballot
	nodes  map[pacifica.NodeID]bool
}

// notePeers records the configuration a partition just took.
func (p *partition) notePeers(u *configUpdate) {
	ps := &peerSet{ballot: u.config.Ballot, nodes: make(map[pacifica.NodeID]bool, 3+len(u.learners))}
	ps.nodes[u.config.Primary] = true
	for _, n := range u.config.Secondaries {
		ps.nodes[n] = true
	}
	for _, n := range u.learners {
		ps.nodes[n] = true
	}
	p.peers.Store(ps)
}

// peerMayDeliver decides whether a replication message goes to its
// partition. With a certificate, its sender must be the node the
// certificate speaks for. A message at the ballot of the configuration
// this replica holds must come from a member (or learner) of that
// configuration. A message at a higher ballot comes from a configuration
// not seen here yet (the meta's push may still be on its way): it is let
// through, its sender being a replica server of the cluster as far as the
// certificate proves; dropping it would stall every handover by a
// retransmission. Older ballots are the core's business (it refuses them
// and tells the sender).
func (s *Server) peerMayDeliver(g gpid, m pacifica.Message, id *security.Identity) error {
	if id != nil && !id.Speaks(string(m.From)) {
		return fmt.Errorf("%w: message from %q over a connection of %s (%v)", ErrForeignPeer, m.From, id, id.Nodes)
	}
	// No member works at a ballot the meta server has not issued. The bound
	// is the pushes' (pushBallotSlack): a message it drops is retransmitted
	// once this server heard of the ballot in a beacon answer, while one
	// far above would move the partition out of the meta's reach for good.
	if limit := s.ballotLimit(); int64(m.Ballot) > limit {
		return fmt.Errorf("%w: message from %s at ballot %d, more than %d above the meta's highest ballot %d",
			ErrForeignPeer, m.From, m.Ballot, pushBallotSlack, limit-pushBallotSlack)
	}
	p := s.partition(g)
	if p == nil {
		return nil
	}
	ps := p.peers.Load()
	if ps == nil || m.Ballot != ps.ballot || ps.nodes[m.From] {
		return nil
	}
	return fmt.Errorf("%w: %s is not in the configuration of %s at ballot %d", ErrForeignPeer, m.From, g, ps.ballot)
}

// checkpointMayGo decides whether a checkpoint of g may be sent to
// learner: it must be named by the partition's configuration (a checkpoint
// is a copy of the whole store), and with a certificate be the node the
// certificate speaks for.
func (s *Server) checkpointMayGo(p *partition, learner string, id *security.Identity) error {
	if id != nil && !id.Speaks(learner) {
		return fmt.Errorf("%w: checkpoint for %q asked by %s (%v)", ErrForeignPeer, learner, id, id.Nodes)
	}
	ps := p.peers.Load()
	if ps == nil || !ps.nodes[pacifica.NodeID(learner)] {
		return fmt.Errorf("%w: %q is not in the configuration of %s", ErrForeignPeer, learner, p.g)
	}
	return nil
}

// refusals logs refused peer traffic at most once per second per kind, so
// that a flood of forged messages cannot flood the log.
type refusals struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (r *refusals) log(s *Server, kind string, err error) {
	r.mu.Lock()
	now := time.Now()
	if r.last == nil {
		r.last = make(map[string]time.Time)
	}
	if now.Sub(r.last[kind]) < time.Second {
		r.mu.Unlock()
		return
	}
	r.last[kind] = now
	r.mu.Unlock()
	s.log.Warn("peer traffic refused", "kind", kind, "err", err)
}
