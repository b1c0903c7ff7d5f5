package replica

import (
	"context"
	"time"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/version"
)

// Beacons and the lease.
//
// Every fd_beacon_interval_seconds the server sends the meta leader a beacon
// with its identity, versions, addresses and a report of every replica. An
// accepted beacon grants a lease: the server may serve until the time it
// SENT the beacon plus the granted lease (capped at fd_lease_seconds).
// Measuring from the send time rather than the answer's arrival is the
// conservative choice: the meta server starts its grace period no earlier
// than it received the beacon, so the lease ends before the grace does
// whatever the network delay.
//
// Without a valid lease every replica of the server is treated as inactive
// (Pegasus behaviour): reads and writes are refused with ERR_INACTIVE_STATE,
// because the meta server may already have declared the server dead and
// handed its primaries to others. Serving resumes with the next accepted
// beacon. The answer's configurations are applied like pushed ones.

func (s *Server) runBeacons(ctx context.Context) {
	interval := s.cfg.BeaconInterval()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.beacon(ctx, interval)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// beacon sends one beacon and acts on the answer.
func (s *Server) beacon(ctx context.Context, timeout time.Duration) {
	req := &pb.BeaconRequest{
		Node:            string(s.node),
		ProtocolVersion: version.Current().String(),
		BinaryVersion:   version.Release(),
		StartTimeMs:     s.started.UnixMilli(),
		Replicas:        s.reports(),
		HttpAddress:     s.httpAddr,
		PegasusAddress:  s.cfg.PegasusListen,
		ClusterId:       s.clusterID(),
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sent := s.clock.now()
	var resp *pb.BeaconResponse
	err := s.meta.call(ctx, func(ctx context.Context, c pb.MetaClient) (*pb.Error, error) {
		r, err := c.Beacon(ctx, req)
		resp = r
		return r.GetError(), err
	})
	if isForeign(err) {
		// Every meta server reachable belongs to another cluster (or
		// refused to adopt this server's data): no lease, nothing applied.
		s.refuse("beacon", err)
		return
	}
	if err != nil {
		s.log.Warn("beacon failed", "err", err, "lease_valid", s.leaseValid(s.clock.now()))
		return
	}
	s.observeBeaconRTT(sent)
	if s.clusterID() == "" && resp.GetClusterId() != "" && !s.join(resp) {
		return
	}
	if s.checkMeta("beacon", resp.GetClusterId()) != nil {
		return
	}
	if leader := resp.GetLeader(); leader != "" {
		s.meta.setLeader(leader)
	}
	if resp.GetAllowed() {
		lease := s.cfg.Lease()
		if ms := resp.GetLeaseMs(); ms > 0 {
			lease = min(lease, time.Duration(ms)*time.Millisecond)
		}
		s.extendLease(sent.Add(lease))
	} else {
		s.log.Warn("meta server refuses this server's beacons; not serving")
	}
	s.applyMetaState(resp.GetTables(), resp.GetConfigs(), resp.GetRemove())
}

// extendLease moves the lease end to until if that is later.
func (s *Server) extendLease(until time.Time) {
	n := until.UnixNano()
	for {
		cur := s.lease.Load()
		if n <= cur || s.lease.CompareAndSwap(cur, n) {
			return
		}
	}
}

// leaseValid reports whether the server may serve at now.
func (s *Server) leaseValid(now time.Time) bool { return now.UnixNano() < s.lease.Load() }

// reports describes every open replica.
func (s *Server) reports() []*pb.ReplicaReport {
	ps := s.partitionList()
	out := make([]*pb.ReplicaReport, len(ps))
	for i, p := range ps {
		out[i] = p.report()
	}
	return out
}
