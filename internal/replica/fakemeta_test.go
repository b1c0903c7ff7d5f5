package replica

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/rpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// fakeMeta plays the meta server for one table: it holds the partition
// configurations, answers beacons (granting leases and handing out the
// configurations), applies the primaries' proposals with ballot+1 and pushes
// every new configuration to the nodes concerned. Like Pegasus' guardian in
// its restart window, it brings a dropped node back as a learner as soon as
// that node beacons again.
type fakeMeta struct {
	t       testing.TB
	addr    string
	srv     *grpc.Server
	leaseMs int64
	// refuse makes beacons unanswered, as if the meta server were cut off.
	refuse atomic.Bool

	mu      sync.Mutex
	table   *pb.TableInfo
	configs []*pb.PartitionConfiguration
	// started is each node's last reported start time; a node that comes
	// back with a new one was restarted.
	started map[string]int64
	conns   map[string]*grpc.ClientConn
	log     []string // applied changes, for failure messages
	// clusterID is the meta's cluster id; empty plays a meta server of
	// protocol 1.0. Like the real one, the fake refuses another id, and a
	// beacon without one that reports tables it does not have.
	clusterID string
	// removes are sent in every beacon answer's remove and removals lists
	// (removalsLocked).
	removes []*pb.Gpid
}

func (m *fakeMeta) setClusterID(id string) {
	m.mu.Lock()
	m.clusterID = id
	m.mu.Unlock()
}

// setRemoves makes every beacon answer list gpids for removal.
func (m *fakeMeta) setRemoves(gpids ...*pb.Gpid) {
	m.mu.Lock()
	m.removes = gpids
	m.mu.Unlock()
}

// removalsLocked is removes as protocol 1.1 sends them: decided at ballot
// -1 (the table is gone) once the table was dropped, else at the
// partition's current ballot.
func (m *fakeMeta) removalsLocked() []*pb.ReplicaRemoval {
	var out []*pb.ReplicaRemoval
	for _, g := range m.removes {
		ballot := int64(-1)
		if m.table != nil && int(g.GetPartitionIndex()) < len(m.configs) {
			ballot = m.configs[g.GetPartitionIndex()].GetBallot()
		}
		out = append(out, &pb.ReplicaRemoval{Gpid: g, Ballot: ballot})
	}
	return out
}

// dropTable forgets the table (no configuration is handed out any more).
func (m *fakeMeta) dropTable() {
	m.mu.Lock()
	m.table, m.configs = nil, nil
	m.mu.Unlock()
}

type fakeMetaService struct {
	pb.UnimplementedMetaServer
	m *fakeMeta
}

func newFakeMeta(t testing.TB, leaseMs int64) *fakeMeta {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &fakeMeta{t: t, addr: lis.Addr().String(), leaseMs: leaseMs,
		started: make(map[string]int64), conns: make(map[string]*grpc.ClientConn)}
	m.srv = grpc.NewServer(rpc.ServerOptions()...)
	pb.RegisterMetaServer(m.srv, fakeMetaService{m: m})
	go func() { _ = m.srv.Serve(lis) }()
	t.Cleanup(m.close)
	return m
}

func (m *fakeMeta) close() {
	m.srv.Stop()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, cc := range m.conns {
		_ = cc.Close()
	}
	clear(m.conns)
}

// createTable installs a table whose partition i has primary layout[i][0]
// and secondaries layout[i][1:], at ballot 1, and pushes it.
func (m *fakeMeta) createTable(name string, appID int32, layout [][]string) {
	m.mu.Lock()
	m.table = &pb.TableInfo{Name: name, AppId: appID, PartitionCount: int32(len(layout)),
		ReplicaCount: int32(len(layout[0])), Status: pb.TableStatus_AS_AVAILABLE}
	m.configs = nil
	for i, nodes := range layout {
		m.configs = append(m.configs, &pb.PartitionConfiguration{
			Gpid: &pb.Gpid{AppId: appID, PartitionIndex: int32(i)}, Ballot: 1,
			MaxReplicaCount: int32(len(nodes)), Primary: nodes[0], Secondaries: slices.Clone(nodes[1:]),
		})
	}
	pushes := m.pushesLocked(nil, m.configs...)
	m.mu.Unlock()
	m.send(pushes)
}

// config returns a copy of partition pidx's configuration.
func (m *fakeMeta) config(pidx int) *pb.PartitionConfiguration {
	m.mu.Lock()
	defer m.mu.Unlock()
	return proto.Clone(m.configs[pidx]).(*pb.PartitionConfiguration)
}

func (m *fakeMeta) history() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.log)
}

// push is one UpdateConfig to send.
type push struct {
	node string
	req  *pb.ConfigUpdateRequest
}

// pushesLocked lists the pushes announcing configs to their members,
// learners and the nodes in also.
func (m *fakeMeta) pushesLocked(also []string, configs ...*pb.PartitionConfiguration) []push {
	byNode := make(map[string][]*pb.PartitionConfiguration)
	for _, c := range configs {
		nodes := append([]string{c.GetPrimary()}, c.GetSecondaries()...)
		nodes = append(nodes, c.GetLearners()...)
		nodes = append(nodes, also...)
		for _, n := range nodes {
			if n != "" && !slices.ContainsFunc(byNode[n], func(x *pb.PartitionConfiguration) bool { return x == c }) {
				byNode[n] = append(byNode[n], proto.Clone(c).(*pb.PartitionConfiguration))
			}
		}
	}
	var out []push
	for n, cs := range byNode {
		out = append(out, push{node: n, req: &pb.ConfigUpdateRequest{Configs: cs, Tables: []*pb.TableInfo{m.tableLocked()}, ClusterId: m.clusterID}})
	}
	return out
}

func (m *fakeMeta) tableLocked() *pb.TableInfo { return proto.Clone(m.table).(*pb.TableInfo) }

// send delivers pushes in the background; a node that is down misses them
// and catches up through its beacons.
func (m *fakeMeta) send(pushes []push) {
	for _, p := range pushes {
		m.mu.Lock()
		cc := m.conns[p.node]
		if cc == nil {
			var err error
			if cc, err = (dial.Options{}).NewClient(p.node); err != nil {
				m.mu.Unlock()
				continue
			}
			m.conns[p.node] = cc
		}
		m.mu.Unlock()
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, _ = pb.NewReplicaAdminClient(cc).UpdateConfig(ctx, p.req)
		}()
	}
}

// change applies fn to partition pidx's configuration as a new ballot and
// pushes the result to the old and new members.
func (m *fakeMeta) change(pidx int, what string, fn func(c *pb.PartitionConfiguration)) {
	m.mu.Lock()
	pushes := m.changeLocked(pidx, what, fn)
	m.mu.Unlock()
	m.send(pushes)
}

func (m *fakeMeta) changeLocked(pidx int, what string, fn func(c *pb.PartitionConfiguration)) []push {
	old := m.configs[pidx]
	next := proto.Clone(old).(*pb.PartitionConfiguration)
	fn(next)
	next.Ballot = old.Ballot + 1
	m.configs[pidx] = next
	m.log = append(m.log, fmt.Sprintf("%d.%d b%d %s: primary=%s secondaries=%v learners=%v",
		next.Gpid.AppId, pidx, next.Ballot, what, next.Primary, next.Secondaries, next.Learners))
	members := append([]string{old.GetPrimary()}, old.GetSecondaries()...)
	return m.pushesLocked(append(members, old.GetLearners()...), next)
}

func remove(list []string, n string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(x string) bool { return x == n })
}

func (s fakeMetaService) Beacon(_ context.Context, req *pb.BeaconRequest) (*pb.BeaconResponse, error) {
	m := s.m
	if m.refuse.Load() {
		return nil, status.Error(codes.Unavailable, "meta server unreachable")
	}
	m.mu.Lock()
	node := req.GetNode()
	if id := req.GetClusterId(); id != "" && m.clusterID != "" && id != m.clusterID {
		m.mu.Unlock()
		return &pb.BeaconResponse{ClusterId: m.clusterID, Error: &pb.Error{Code: pb.ErrorCode_ERR_CLUSTER_ID_MISMATCH, Message: "fake meta: another cluster"}}, nil
	}
	if req.GetClusterId() == "" && m.clusterID != "" {
		var unknown []*pb.Gpid
		for _, r := range req.GetReplicas() {
			if m.table == nil || r.GetGpid().GetAppId() != m.table.AppId {
				unknown = append(unknown, r.GetGpid())
			}
		}
		if len(unknown) > 0 {
			m.mu.Unlock()
			return &pb.BeaconResponse{ClusterId: m.clusterID, Unknown: unknown,
				Error: &pb.Error{Code: pb.ErrorCode_ERR_CLUSTER_ID_MISMATCH, Message: "fake meta: unknown tables"}}, nil
		}
	}
	var pushes []push
	if m.table != nil {
		for i, c := range m.configs {
			// The restart window: a dropped node that is back learns again.
			if slices.Contains(c.LastDrops, node) && c.Primary != "" && c.Primary != node &&
				!slices.Contains(c.Secondaries, node) && !slices.Contains(c.Learners, node) {
				pushes = append(pushes, m.changeLocked(i, "add learner "+node, func(c *pb.PartitionConfiguration) {
					c.Learners = append(c.Learners, node)
					c.LastDrops = remove(c.LastDrops, node)
				})...)
			}
		}
	}
	m.started[node] = req.GetStartTimeMs()
	resp := &pb.BeaconResponse{Allowed: true, LeaseMs: m.leaseMs, ClusterId: m.clusterID, Remove: m.removes, Removals: m.removalsLocked()}
	if m.table != nil {
		resp.Tables = []*pb.TableInfo{m.tableLocked()}
		for _, c := range m.configs {
			resp.Configs = append(resp.Configs, proto.Clone(c).(*pb.PartitionConfiguration))
		}
	}
	m.mu.Unlock()
	m.send(pushes)
	return resp, nil
}

func (s fakeMetaService) ProposeConfig(_ context.Context, req *pb.ProposeConfigRequest) (*pb.ProposeConfigResponse, error) {
	m := s.m
	m.mu.Lock()
	resp := &pb.ProposeConfigResponse{ClusterId: m.clusterID}
	var pushes []push
	for _, p := range req.GetProposals() {
		pidx := int(p.GetGpid().GetPartitionIndex())
		if m.table == nil || p.GetGpid().GetAppId() != m.table.AppId || pidx >= len(m.configs) {
			resp.Error = &pb.Error{Code: pb.ErrorCode_ERR_OBJECT_NOT_FOUND}
			continue
		}
		c := m.configs[pidx]
		node := p.GetNode()
		switch {
		case p.GetBallot() != c.Ballot || req.GetNode() != c.Primary:
			// Stale or not from the primary: answer with the current state.
		case p.GetType() == pb.ConfigType_CT_DOWNGRADE_TO_INACTIVE && slices.Contains(c.Secondaries, node):
			pushes = append(pushes, m.changeLocked(pidx, "downgrade "+node, func(c *pb.PartitionConfiguration) {
				c.Secondaries = remove(c.Secondaries, node)
				c.LastDrops = append(remove(c.LastDrops, node), node)
			})...)
		case p.GetType() == pb.ConfigType_CT_UPGRADE_TO_SECONDARY && slices.Contains(c.Learners, node):
			pushes = append(pushes, m.changeLocked(pidx, "upgrade "+node, func(c *pb.PartitionConfiguration) {
				c.Learners = remove(c.Learners, node)
				c.Secondaries = append(c.Secondaries, node)
			})...)
		case p.GetType() == pb.ConfigType_CT_PRIMARY_FORCE_UPDATE_BALLOT && node == c.Primary:
			pushes = append(pushes, m.changeLocked(pidx, "force ballot", func(*pb.PartitionConfiguration) {})...)
		}
		resp.Configs = append(resp.Configs, proto.Clone(m.configs[pidx]).(*pb.PartitionConfiguration))
	}
	m.mu.Unlock()
	m.send(pushes)
	return resp, nil
}

func (s fakeMetaService) QueryConfig(_ context.Context, req *pb.QueryConfigRequest) (*pb.QueryConfigResponse, error) {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.table == nil || req.GetTable() != m.table.Name {
		return &pb.QueryConfigResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_APP_NOT_EXIST}}, nil
	}
	resp := &pb.QueryConfigResponse{Table: m.tableLocked()}
	for _, c := range m.configs {
		resp.Partitions = append(resp.Partitions, proto.Clone(c).(*pb.PartitionConfiguration))
	}
	return resp, nil
}
