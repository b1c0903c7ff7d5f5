package replica

import (
	"context"
	"time"

	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/version"
)

// Beacons and the lease from the meta server.
//
// Every fd_beacon_interval_seconds the server sends the meta leader a beacon
// with its identity, versions, addresses and a report of every replica. An
// accepted beacon grants a lease: the server may count on it until the time
// it SENT the beacon plus the granted lease (capped at fd_lease_seconds), on
// its monotonic clock. Measuring from the send time rather than the
// answer's arrival is the conservative choice: the meta server starts its
// grace period no earlier than it received the beacon, so the lease ends
// before the grace does whatever the network delay; and a monotonic clock
// cannot be stepped, so neither can the lease.
//
// Only a lone primary (a partition with no other member) serves reads on
// this lease. A primary with members holds its read lease from them
// (internal/pacifica, lease.go), so data traffic needs neither the meta
// server nor its metadata store while no configuration has to change; and
// writes need no lease at all, since they commit only with every member's
// acknowledgement at the primary's ballot. The answer's configurations are
// applied like pushed ones.

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
		Zone:            s.cfg.Zone,
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sent := s.mono()
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
		s.log.Warn("beacon failed", "err", err, "lease_valid", s.leaseValid())
		return
	}
	s.observeBeaconRTT(s.mono().Sub(sent))
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
	s.applyMetaState(resp.GetTables(), resp.GetConfigs(), removalsFromPB(resp.GetRemovals(), resp.GetRemove()))
}

// extendLease moves the end of the lease from the meta server to until if
// that is later.
func (s *Server) extendLease(until pacifica.Time) {
	n := int64(until)
	for {
		cur := s.lease.Load()
		if n <= cur || s.lease.CompareAndSwap(cur, n) {
			return
		}
	}
}

// metaLeaseUntil is the end of the lease from the meta server on the
// monotonic clock (zero: none), for ReadState.Check.
func (s *Server) metaLeaseUntil() pacifica.Time { return pacifica.Time(s.lease.Load()) }

// leaseValid reports whether the lease from the meta server holds now.
func (s *Server) leaseValid() bool { return s.mono() < s.metaLeaseUntil() }

// reports describes every open replica.
func (s *Server) reports() []*pb.ReplicaReport {
	ps := s.partitionList()
	out := make([]*pb.ReplicaReport, len(ps))
	for i, p := range ps {
		out[i] = p.report()
	}
	return out
}
