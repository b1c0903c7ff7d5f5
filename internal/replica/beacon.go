package replica

import (
	"context"
	"sync/atomic"
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
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	sent := time.Now()
	var resp *pb.BeaconResponse
	err := s.meta.call(ctx, func(ctx context.Context, c pb.MetaClient) (*pb.Error, error) {
		r, err := c.Beacon(ctx, req)
		resp = r
		return r.GetError(), err
	})
	if err != nil {
		s.log.Warn("beacon failed", "err", err, "lease_valid", s.leaseValid(time.Now()))
		return
	}
	s.observeBeaconRTT(sent)
	if leader := resp.GetLeader(); leader != "" {
		s.meta.setLeader(leader)
	}
	if resp.GetAllowed() {
		s.lease.Extend(sent, GrantedLease(s.cfg.Lease(), resp.GetLeaseMs()))
	} else {
		s.log.Warn("meta server refuses this server's beacons; not serving")
	}
	s.applyMetaState(resp.GetTables(), resp.GetConfigs(), resp.GetRemove())
}

// Lease is a replica server's permission to serve clients, extended by
// every accepted beacon. It is safe for concurrent use. The replica server
// and the whole-system simulation (internal/sim) keep their leases with it,
// so the simulation tests these rules, including which clock they read.
type Lease struct {
	// end is the end of the lease in Unix nanoseconds.
	end atomic.Int64
}

// GrantedLease is the lease one accepted beacon grants: the configured
// fd_lease_seconds, capped by what the meta server granted (grantedMs, 0 if
// it said nothing).
func GrantedLease(configured time.Duration, grantedMs int64) time.Duration {
	if grantedMs > 0 {
		return min(configured, time.Duration(grantedMs)*time.Millisecond)
	}
	return configured
}

// Extend moves the lease end to sent+granted if that is later. sent is when
// the accepted beacon was sent (see the top of this file).
func (l *Lease) Extend(sent time.Time, granted time.Duration) {
	n := sent.Add(granted).UnixNano()
	for {
		cur := l.end.Load()
		if n <= cur || l.end.CompareAndSwap(cur, n) {
			return
		}
	}
}

// Valid reports whether the lease holds at now.
func (l *Lease) Valid(now time.Time) bool { return now.UnixNano() < l.end.Load() }

// End returns when the lease ends, for display; false if it was never
// granted.
func (l *Lease) End() (time.Time, bool) {
	n := l.end.Load()
	return time.Unix(0, n), n > 0
}

// leaseValid reports whether the server may serve at now.
func (s *Server) leaseValid(now time.Time) bool { return s.lease.Valid(now) }

// reports describes every open replica.
func (s *Server) reports() []*pb.ReplicaReport {
	ps := s.partitionList()
	out := make([]*pb.ReplicaReport, len(ps))
	for i, p := range ps {
		out[i] = p.report()
	}
	return out
}
