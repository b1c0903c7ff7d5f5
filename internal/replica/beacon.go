package replica

import (
	"context"
	"sync/atomic"
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
		EnvsRevisions:   s.envsRevisions(),
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
	s.noteMaxBallot(resp.GetMaxBallot())
	if leader := resp.GetLeader(); leader != "" {
		s.meta.setLeader(leader)
	}
	if resp.GetAllowed() {
		s.lease.Extend(sent, GrantedLease(s.cfg.Lease(), resp.GetLeaseMs()))
	} else {
		s.log.Warn("meta server refuses this server's beacons; not serving")
	}
	s.applyMetaState(resp.GetTables(), resp.GetConfigs(), removalsFromPB(resp.GetRemovals(), resp.GetRemove()))
}

// Lease is a replica server's lease from the meta server, on the server's
// monotonic clock, extended by every accepted beacon. It is safe for
// concurrent use. The replica server and the whole-system simulation
// (internal/sim) keep their leases with it, so the simulation tests these
// rules, including which clock they read.
type Lease struct {
	// until is the end of the lease (a pacifica.Time; zero: none).
	until atomic.Int64
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
func (l *Lease) Extend(sent pacifica.Time, granted time.Duration) {
	n := int64(sent.Add(granted))
	for {
		cur := l.until.Load()
		if n <= cur || l.until.CompareAndSwap(cur, n) {
			return
		}
	}
}

// Until returns the end of the lease (zero: none), for ReadState.Check.
func (l *Lease) Until() pacifica.Time { return pacifica.Time(l.until.Load()) }

// Valid reports whether the lease holds at now.
func (l *Lease) Valid(now pacifica.Time) bool { return now < l.Until() }

// metaLeaseUntil is the end of the lease from the meta server on the
// monotonic clock (zero: none), for ReadState.Check.
func (s *Server) metaLeaseUntil() pacifica.Time { return s.lease.Until() }

// leaseValid reports whether the lease from the meta server holds now.
func (s *Server) leaseValid() bool { return s.lease.Valid(s.mono()) }

// reports describes every open replica.
func (s *Server) reports() []*pb.ReplicaReport {
	ps := s.partitionList()
	out := make([]*pb.ReplicaReport, len(ps))
	for i, p := range ps {
		out[i] = p.report()
	}
	return out
}
