package meta

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// metaService is the gRPC Meta service: wire conversion around the
// Controller. Every error reaches the caller as Error in the response
// (wireError); gRPC status errors are left to transport failures.
type metaService struct {
	pb.UnimplementedMetaServer
	srv *Server
}

func (s *metaService) ctl() *Controller { return s.srv.ctl }

// Beacon answers replica servers. A follower answers too: allowed, no
// lease, leader set and ERR_FORWARD_TO_OTHERS, so the replica server
// re-targets without treating the answer as a refusal.
func (s *metaService) Beacon(ctx context.Context, req *pb.BeaconRequest) (*pb.BeaconResponse, error) {
	if req.GetNode() == "" {
		return &pb.BeaconResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_INVALID_PARAMETERS, Message: "meta: beacon without node"}}, nil
	}
	if err := checkStartTime(req.GetStartTimeMs(), s.ctl().clock.Now()); err != nil {
		s.ctl().logBeaconFromFuture(req.GetNode(), err)
		return &pb.BeaconResponse{Error: wireError(err), Leader: s.ctl().Leader()}, nil
	}
	b := Beacon{
		Node:           req.GetNode(),
		Protocol:       req.GetProtocolVersion(),
		BinaryVersion:  req.GetBinaryVersion(),
		StartTime:      time.UnixMilli(req.GetStartTimeMs()),
		Replicas:       make([]decide.ReplicaReport, len(req.GetReplicas())),
		HTTPAddress:    req.GetHttpAddress(),
		PegasusAddress: req.GetPegasusAddress(),
		Zone:           req.GetZone(),
		ClusterID:      req.GetClusterId(),
		EnvsRevisions:  req.GetEnvsRevisions(),
	}
	if err := s.srv.clusterIDUnknown(); err != nil {
		return &pb.BeaconResponse{Error: wireError(err), Leader: s.ctl().Leader()}, nil
	}
	if err := s.srv.checkClusterID("beacon", b.Node, b.ClusterID); err != nil {
		// Not recorded at all: a node of another cluster is no node of
		// this one, not even a dead one.
		return &pb.BeaconResponse{Error: wireError(err), ClusterId: s.srv.clusterID()}, nil
	}
	for i, r := range req.GetReplicas() {
		b.Replicas[i] = reportFromPB(r)
	}
	r := s.ctl().Beacon(b)
	resp := &pb.BeaconResponse{
		Error:     wireError(r.Err),
		Allowed:   r.Allowed,
		LeaseMs:   r.Lease.Milliseconds(),
		Leader:    r.Leader,
		MaxBallot: s.ctl().MaxBallot(),
		ClusterId: s.srv.clusterID(),
	}
	for _, g := range r.Unknown {
		resp.Unknown = append(resp.Unknown, gpidToPB(g))
	}
	for _, c := range r.Configs {
		resp.Configs = append(resp.Configs, configToPB(c))
	}
	for i, g := range r.Remove {
		resp.Removals = append(resp.Removals, &pb.ReplicaRemoval{Gpid: gpidToPB(g), Ballot: r.RemoveBallots[i]})
		resp.Remove = append(resp.Remove, gpidToPB(g))
	}
	for _, t := range r.Tables {
		resp.Tables = append(resp.Tables, tableToPB(t))
	}
	return resp, nil
}

func (s *metaService) ProposeConfig(ctx context.Context, req *pb.ProposeConfigRequest) (*pb.ProposeConfigResponse, error) {
	if err := s.srv.clusterIDUnknown(); err != nil {
		return &pb.ProposeConfigResponse{Error: wireError(err)}, nil
	}
	if err := s.srv.checkClusterID("propose", req.GetNode(), req.GetClusterId()); err != nil {
		return &pb.ProposeConfigResponse{Error: wireError(err), ClusterId: s.srv.clusterID()}, nil
	}
	props := make([]ReplicaProposal, len(req.GetProposals()))
	for i, p := range req.GetProposals() {
		props[i] = ReplicaProposal{
			Gpid:                gpidFromPB(p.GetGpid()),
			Type:                decide.ConfigType(p.GetType()),
			Node:                p.GetNode(),
			Ballot:              p.GetBallot(),
			LastCommittedDecree: p.GetLastCommittedDecree(),
			Incarnation:         p.GetIncarnation(),
		}
	}
	results, err := s.ctl().Propose(ctx, req.GetNode(), props)
	if err != nil {
		return &pb.ProposeConfigResponse{Error: wireError(err), ClusterId: s.srv.clusterID()}, nil
	}
	resp := &pb.ProposeConfigResponse{ClusterId: s.srv.clusterID()}
	for i, r := range results {
		cfg := configToPB(r.Config)
		if r.Config.Gpid == (decide.Gpid{}) {
			cfg = &pb.PartitionConfiguration{Gpid: gpidToPB(props[i].Gpid)}
		}
		resp.Configs = append(resp.Configs, cfg)
		if r.Err != nil && resp.Error == nil {
			resp.Error = wireError(r.Err)
		}
	}
	return resp, nil
}

func (s *metaService) QueryConfig(ctx context.Context, req *pb.QueryConfigRequest) (*pb.QueryConfigResponse, error) {
	if err := s.srv.clusterIDUnknown(); err != nil {
		return &pb.QueryConfigResponse{Error: wireError(err)}, nil
	}
	if err := s.srv.checkClusterID("query_config", "a client", req.GetClusterId()); err != nil {
		return &pb.QueryConfigResponse{Error: wireError(err)}, nil
	}
	tb, cfgs, waits, err := s.ctl().QueryConfig(req.GetTable(), req.GetPartitionIndices())
	if err != nil {
		return &pb.QueryConfigResponse{Error: wireError(err)}, nil
	}
	resp := &pb.QueryConfigResponse{Table: tableToPB(tb), Waits: waitsToPB(waits)}
	for _, c := range cfgs {
		resp.Partitions = append(resp.Partitions, configToPB(c))
	}
	return resp, nil
}

func waitsToPB(ws []PartitionWait) []*pb.PartitionWait {
	out := make([]*pb.PartitionWait, len(ws))
	for i, w := range ws {
		out[i] = &pb.PartitionWait{PartitionIndex: w.Index, Reason: w.Reason}
	}
	return out
}

func (s *metaService) DDDDiagnose(ctx context.Context, req *pb.DDDDiagnoseRequest) (*pb.DDDDiagnoseResponse, error) {
	app, index := req.GetAppId(), req.GetPartitionIndex()
	resp := &pb.DDDDiagnoseResponse{}
	if node := req.GetAssignPrimary(); node != "" {
		if app <= 0 || index < 0 {
			resp.Error = wireError(fmt.Errorf("%w: assign_primary needs one partition (app_id.partition_index)", ErrInvalidArgument))
			return resp, nil
		}
		p, err := s.ctl().ForcePrimary(ctx, decide.Gpid{AppID: app, Index: index}, node, req.GetAllowEmpty(), req.GetOperator())
		if err != nil {
			resp.Error = wireError(err)
			return resp, nil
		}
		resp.Proposed = strings.Join(p.Lines(), "\n")
	}
	parts, err := s.ctl().DDDDiagnose(app, index)
	if err != nil {
		resp.Error = wireError(err)
		return resp, nil
	}
	for _, p := range parts {
		info := &pb.DDDPartitionInfo{Config: configToPB(p.Config), Reason: p.Reason, Recommended: p.Recommended}
		for _, d := range p.Dropped {
			n := &pb.DDDNodeInfo{Node: d.Node, Alive: d.Alive, Collected: d.Collected,
				DropMemberBallot: d.Detail.MemberBallot, DropIncarnation: d.Detail.Incarnation}
			if d.Collected {
				n.Report = reportToPB(d.Report)
			}
			info.Dropped = append(info.Dropped, n)
		}
		resp.Partitions = append(resp.Partitions, info)
	}
	return resp, nil
}

func (s *metaService) CreateTable(ctx context.Context, req *pb.CreateTableRequest) (*pb.CreateTableResponse, error) {
	tb, err := s.ctl().CreateTable(ctx, CreateTableRequest{
		Name: req.GetName(), PartitionCount: req.GetPartitionCount(), ReplicaCount: req.GetReplicaCount(), Envs: req.GetEnvs(),
	})
	resp := &pb.CreateTableResponse{Error: wireError(err)}
	if tb.AppID != 0 {
		resp.Table = tableToPB(tb)
	}
	return resp, nil
}

func (s *metaService) DropTable(ctx context.Context, req *pb.DropTableRequest) (*pb.DropTableResponse, error) {
	return &pb.DropTableResponse{Error: wireError(s.ctl().DropTable(ctx, req.GetName()))}, nil
}

func (s *metaService) UpdateAppEnv(ctx context.Context, req *pb.UpdateAppEnvRequest) (*pb.UpdateAppEnvResponse, error) {
	tb, hint, err := s.ctl().UpdateAppEnv(ctx, AppEnvUpdate{
		Table: req.GetAppName(), Op: AppEnvOp(req.GetOp()), Keys: req.GetKeys(), Values: req.GetValues(), ClearPrefix: req.GetClearPrefix(),
	})
	resp := &pb.UpdateAppEnvResponse{Error: wireError(err), HintMessage: hint}
	if tb.AppID != 0 {
		resp.Table = tableToPB(tb)
	}
	return resp, nil
}

func (s *metaService) ListTables(ctx context.Context, req *pb.ListTablesRequest) (*pb.ListTablesResponse, error) {
	tables, err := s.ctl().ListTables()
	if err != nil {
		return &pb.ListTablesResponse{Error: wireError(err)}, nil
	}
	resp := &pb.ListTablesResponse{}
	for _, t := range tables {
		resp.Tables = append(resp.Tables, &pb.TableHealth{
			Table:          tableToPB(t.Table),
			FullyHealthy:   int32(t.Health.FullyHealthy),
			Unhealthy:      int32(t.Health.Unhealthy),
			WriteUnhealthy: int32(t.Health.WriteUnhealthy),
			ReadUnhealthy:  int32(t.Health.ReadUnhealthy),
			Waits:          waitsToPB(t.Waits),

			BallotAboveRecord: int32(t.BallotAboveRecord),
		})
	}
	return resp, nil
}

func (s *metaService) ListNodes(ctx context.Context, req *pb.ListNodesRequest) (*pb.ListNodesResponse, error) {
	nodes, err := s.ctl().ListNodes()
	if err != nil {
		return &pb.ListNodesResponse{Error: wireError(err)}, nil
	}
	resp := &pb.ListNodesResponse{}
	for _, n := range nodes {
		info := &pb.NodeInfo{
			Address:         n.Address,
			Alive:           n.Alive,
			PrimaryCount:    int32(n.Primaries),
			SecondaryCount:  int32(n.Secondaries),
			ReplicaCount:    int32(n.Replicas()),
			ProtocolVersion: n.Protocol,
			BinaryVersion:   n.BinaryVersion,
			HttpAddress:     n.HTTPAddress,
			PegasusAddress:  n.PegasusAddress,
			Zone:            n.Zone,
		}
		if !n.LastBeacon.IsZero() {
			info.LastBeaconMs = n.LastBeacon.UnixMilli()
		}
		resp.Nodes = append(resp.Nodes, info)
	}
	return resp, nil
}

// ClusterInfo answers on followers too, with ERR_FORWARD_TO_OTHERS and the
// meta servers' list (each one's own account of itself is what a rolling
// update checks before restarting it). The etcd endpoints go to admin
// callers only: etcd holds every configuration, and anyone who reaches it
// unauthenticated could rewrite them.
func (s *metaService) ClusterInfo(ctx context.Context, req *pb.ClusterInfoRequest) (*pb.ClusterInfoResponse, error) {
	resp := &pb.ClusterInfoResponse{ClusterName: s.srv.cfg.ClusterName, ClusterId: s.srv.clusterID()}
	if s.srv.auth.IsAdmin(ctx) {
		resp.EtcdEndpoints = strings.Join(s.srv.etcdEndpoints, ",")
	}
	st, err := s.ctl().Status()
	resp.Error = wireError(err)
	if err == nil {
		resp.Leader = st.Leader
		resp.MetaFunctionLevel = st.Level.Name()
		resp.BalanceOperationCount = int32(st.BalanceOperations)
		resp.PrimaryReplicaCountStddev = st.PrimaryStddev
		resp.TotalReplicaCountStddev = st.TotalStddev
		if overrides, err := s.ctl().Overrides(); err == nil {
			for _, o := range overrides {
				ko := &pb.KnobOverride{Knob: o.Knob, Value: o.Value, Owner: o.Owner}
				if !o.Expires.IsZero() {
					ko.ExpiresMs = o.Expires.UnixMilli()
				}
				resp.KnobOverrides = append(resp.KnobOverrides, ko)
			}
		}
	} else {
		resp.Leader = s.ctl().Leader()
	}
	for _, m := range s.srv.metaServers(ctx) {
		info := &pb.MetaServerInfo{
			Address:         m.Address,
			Leader:          m.Address == resp.Leader,
			HttpAddress:     m.HTTPAddress,
			PegasusAddress:  m.PegasusAddress,
			ProtocolVersion: m.ProtocolVersion,
		}
		if m.Address == s.srv.addr {
			info.BeaconsReceivedFrom = int32(s.ctl().BeaconSenders())
			info.EmbeddedEtcd = s.srv.etcd != nil
		}
		resp.Metas = append(resp.Metas, info)
	}
	return resp, nil
}

func (s *metaService) MetaLevel(ctx context.Context, req *pb.MetaLevelRequest) (*pb.MetaLevelResponse, error) {
	old, cur, err := s.ctl().MetaLevel(ctx, req.GetLevel(), leaseOf(req.GetOwner(), req.GetLeaseMs()))
	if err != nil {
		return &pb.MetaLevelResponse{Error: wireError(err)}, nil
	}
	return &pb.MetaLevelResponse{OldLevel: old.String(), Level: cur.String()}, nil
}

func (s *metaService) MigrateNode(ctx context.Context, req *pb.DrainNodeRequest) (*pb.DrainNodeResponse, error) {
	lines, err := s.ctl().MigrateNode(ctx, req.GetNode(), DrainOptions{DryRun: req.GetDryRun(), Table: req.GetTable()})
	return &pb.DrainNodeResponse{Error: wireError(err), Proposals: lines}, nil
}

func (s *metaService) DowngradeNode(ctx context.Context, req *pb.DrainNodeRequest) (*pb.DrainNodeResponse, error) {
	lines, err := s.ctl().DowngradeNode(ctx, req.GetNode(), DrainOptions{DryRun: req.GetDryRun(), Table: req.GetTable()})
	return &pb.DrainNodeResponse{Error: wireError(err), Proposals: lines}, nil
}

// Balance supports move_pri, the graceful handover of one partition's
// primary, and copy_sec, the copy of a secondary to another node before it
// is removed from its old one (Pegasus `balance -g <gpid> -p
// move_pri|copy_sec -f <from> -t <to>`).
func (s *metaService) Balance(ctx context.Context, req *pb.BalanceRequest) (*pb.BalanceResponse, error) {
	g := gpidFromPB(req.GetGpid())
	var lines []string
	var err error
	switch req.GetType() {
	case "move_pri":
		lines, err = s.ctl().MovePrimary(ctx, g, req.GetFrom(), req.GetTo())
	case "copy_sec":
		lines, err = s.ctl().CopySecondary(ctx, g, req.GetFrom(), req.GetTo())
	default:
		err = fmt.Errorf("%w: balance type %q (move_pri or copy_sec)", ErrInvalidArgument, req.GetType())
	}
	return &pb.BalanceResponse{Error: wireError(err), Proposals: lines}, nil
}

func (s *metaService) RemoteCommand(ctx context.Context, req *pb.RemoteCommandRequest) (*pb.RemoteCommandResponse, error) {
	if out, ok, err := s.srv.localCommand(req.GetCommand()); ok {
		return &pb.RemoteCommandResponse{Error: wireError(err), Output: out}, nil
	}
	out, err := s.ctl().RemoteCommand(ctx, req.GetCommand(), req.GetArgs(), leaseOf(req.GetOwner(), req.GetLeaseMs()))
	return &pb.RemoteCommandResponse{Error: wireError(err), Output: out}, nil
}

func leaseOf(owner string, ms int64) KnobLease {
	return KnobLease{Owner: owner, TTL: time.Duration(ms) * time.Millisecond}
}
