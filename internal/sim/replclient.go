package sim

import (
	"time"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/replica"
)

// clientReq is one client request to a replica server.
type clientReq struct {
	g    decide.Gpid
	hash uint64
	m    mutation // the operation; m.kind == opGet for reads
	rid  pacifica.RequestID
	// attempt numbers the client's sends of the request from 1: the
	// server looks a retry (any but the first) up in its request records.
	attempt int
	// timeout is the time left of the operation: the server works on a
	// write until then (a retry joins it).
	timeout time.Duration
}

// handleClient serves a client request as the server's data path does:
// the partition must be hosted, the hash must route to it and the server's
// lease must be valid; a write is proposed to the core and answered when
// it commits, a read runs a moment later (on a goroutine of its own in the
// server) against the store if the core allows reads.
func (s *replicaServer) handleClient(req clientReq, respond func(answer)) {
	p := s.parts[req.g]
	switch {
	case p == nil:
		respond(errorAnswer(replica.ErrNotHosted))
		return
	case req.hash%uint64(s.w.table.partitions) != uint64(req.g.Index):
		respond(errorAnswer(replica.ErrWrongPartition))
		return
	}
	deadline := s.p.clock.mono() + req.timeout
	if req.m.kind != opGet {
		p.propose(&pendingWrite{rid: req.rid, kind: req.m.kind, deadline: deadline, reply: respond}, encodeMutation(req.m))
		return
	}
	s.w.schedule(s.p, s.w.between(0, time.Millisecond), func() {
		switch {
		case s.p.clock.mono() > deadline:
			respond(errorAnswer(replica.ErrTimeout))
		case p.closed:
			respond(errorAnswer(replica.ErrClosed))
		case p.failure != nil:
			respond(errorAnswer(replica.ErrPartitionFailed))
		default:
			// The lease is checked with the time of the read itself.
			if err := p.core.ReadState().Check(s.mono(), s.lease.Until()); err != nil {
				respond(errorAnswer(err))
				return
			}
			v, found := p.kv[req.m.key]
			s.w.check.readServed(p.g, s.id, p.core.Ballot())
			respond(answer{found: found, value: v})
		}
	})
}
