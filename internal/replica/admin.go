package replica

import (
	"context"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/version"
)

// UpdateConfig takes configurations the meta server pushes, without waiting
// for the next beacon's answer. Configurations whose ballot is out of the
// meta's reach are refused (guard.go); the next beacon answer brings any
// the meta really issued.
func (a adminService) UpdateConfig(_ context.Context, req *pb.ConfigUpdateRequest) (*pb.ConfigUpdateResponse, error) {
	if err := a.s.checkMeta("update_config", req.GetClusterId()); err != nil {
		return &pb.ConfigUpdateResponse{Error: wireError(err)}, nil
	}
	configs, refused := a.s.boundPushedBallots(req.GetConfigs())
	a.s.applyMetaState(req.GetTables(), configs, nil)
	if len(refused) == 0 {
		return &pb.ConfigUpdateResponse{}, nil
	}
	err := errorf(ErrBallotOutOfReach, "%d configuration(s), e.g. %s at ballot %d, above the meta's highest ballot %d by more than %d",
		len(refused), refused[0].GetGpid(), refused[0].GetBallot(), a.s.metaMaxBallot.Load(), pushBallotSlack)
	a.s.guardLog.log(a.s, "push", err)
	return &pb.ConfigUpdateResponse{Error: wireError(err)}, nil
}

// Status reports the server's replicas and lease.
func (a adminService) Status(context.Context, *pb.ReplicaServerStatusRequest) (*pb.ReplicaServerStatusResponse, error) {
	return a.s.status(), nil
}

// RemoteCommand runs one of the Pegasus remote commands (commands.go).
func (a adminService) RemoteCommand(ctx context.Context, req *pb.RemoteCommandRequest) (*pb.RemoteCommandResponse, error) {
	if err := a.s.checkCaller("remote_command", req.GetClusterId()); err != nil {
		return &pb.RemoteCommandResponse{Error: wireError(err)}, nil
	}
	out, err := a.s.runCommand(ctx, req.GetCommand(), req.GetArgs())
	return &pb.RemoteCommandResponse{Output: out, Error: wireError(err)}, nil
}

func (s *Server) status() *pb.ReplicaServerStatusResponse {
	reports := s.reports()
	s.mu.Lock()
	opening, closing := len(s.opening), s.closingCount
	s.mu.Unlock()
	return &pb.ReplicaServerStatusResponse{
		Node:            string(s.node),
		TotalReplicas:   int32(len(reports)),
		OpeningReplicas: int32(opening),
		ClosingReplicas: int32(closing),
		Replicas:        reports,
		LeaseValid:      s.leaseValid(),
		ProtocolVersion: version.Current().String(),
		ClusterId:       s.clusterID(),
	}
}

// replicaProgress is one replica in /status and replica.query-progress.
type replicaProgress struct {
	Gpid          string `json:"gpid"`
	Status        string `json:"status"`
	Ballot        int64  `json:"ballot"`
	Primary       string `json:"primary,omitempty"`
	Committed     int64  `json:"last_committed_decree"`
	Prepared      int64  `json:"last_prepared_decree"`
	Applied       int64  `json:"last_applied_decree"`
	Durable       int64  `json:"last_durable_decree"`
	Replayed      int    `json:"replayed_on_open"`
	OpenMs        int64  `json:"open_ms"`
	LogServed     int64  `json:"log_entries_served"`
	CkptServed    int64  `json:"checkpoints_served"`
	CkptInstalled int64  `json:"checkpoints_installed"`
}

func (p *partition) progress() replicaProgress {
	v := p.view.Load()
	return replicaProgress{
		Gpid:          p.g.String(),
		Status:        statusName(v),
		Ballot:        int64(v.ballot),
		Primary:       string(v.primary),
		Committed:     int64(v.committed),
		Prepared:      int64(v.prepared),
		Applied:       int64(v.applied),
		Durable:       p.store.Load().DurableDecree(),
		Replayed:      p.stats.replayedEntries,
		OpenMs:        p.stats.openDuration.Milliseconds(),
		LogServed:     p.stats.logEntriesServed.Load(),
		CkptServed:    p.stats.ckptServed.Load(),
		CkptInstalled: p.stats.ckptInstalled.Load(),
	}
}
