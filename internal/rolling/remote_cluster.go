package rolling

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/rolling/plan"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// RemoteCluster is Cluster over gRPC: admin calls go to the meta leader
// (found and followed through ERR_FORWARD_TO_OTHERS), per-server queries
// straight to the server.
type RemoteCluster struct {
	conns *dial.Conns

	mu sync.Mutex
	// metas are the meta servers to ask for their own status: those given,
	// then those cluster_info listed.
	metas []string
}

// DialCluster returns a RemoteCluster for the meta servers metas, reached
// with creds (an admin credential: the roll drains and restarts nodes). It
// connects lazily.
func DialCluster(metas []string, creds dial.Credentials) *RemoteCluster {
	return &RemoteCluster{conns: dial.New(metas, dial.Options{Credentials: creds}), metas: slices.Clone(metas)}
}

// Close closes the connections.
func (c *RemoteCluster) Close() error { return c.conns.Close() }

// serverError turns a response's error code into an error wrapping
// ErrServer, or nil for ERR_OK.
func serverError(op string, e *pb.Error) error {
	if e == nil || e.GetCode() == pb.ErrorCode_ERR_OK {
		return nil
	}
	if e.GetMessage() != "" {
		return fmt.Errorf("%w: %s: %s: %s", ErrServer, op, e.GetCode(), e.GetMessage())
	}
	return fmt.Errorf("%w: %s: %s", ErrServer, op, e.GetCode())
}

// Info implements Cluster.
func (c *RemoteCluster) Info(ctx context.Context) (ClusterInfo, error) {
	ci, err := dial.CallMeta(ctx, c.conns, func(ctx context.Context, m pb.MetaClient) (*pb.ClusterInfoResponse, error) {
		return m.ClusterInfo(ctx, &pb.ClusterInfoRequest{})
	})
	if err != nil {
		return ClusterInfo{}, err
	}
	if err := serverError("cluster_info", ci.GetError()); err != nil {
		return ClusterInfo{}, err
	}
	// A follower answers cluster_info from what it knows; the meta level
	// and the meta list are the leader's to tell.
	if leader := ci.GetLeader(); leader != "" && leader != c.conns.Leader() {
		resp, err := dial.CallServer(ctx, c.conns, leader, (*dial.Conns).Meta,
			func(ctx context.Context, m pb.MetaClient) (*pb.ClusterInfoResponse, error) {
				return m.ClusterInfo(ctx, &pb.ClusterInfoRequest{})
			})
		if err == nil && resp.GetError().GetCode() == pb.ErrorCode_ERR_OK {
			ci = resp
		}
	}
	nodes, err := c.listNodes(ctx)
	if err != nil {
		return ClusterInfo{}, err
	}
	info := ClusterInfo{Name: ci.GetClusterName(), Leader: ci.GetLeader(), MetaLevel: ci.GetMetaFunctionLevel(),
		Overrides: make(map[string]KnobOverride)}
	for _, o := range ci.GetKnobOverrides() {
		ko := KnobOverride{Value: o.GetValue(), Owner: o.GetOwner()}
		if ms := o.GetExpiresMs(); ms > 0 {
			ko.Expires = time.UnixMilli(ms)
		}
		info.Overrides[o.GetKnob()] = ko
	}
	for _, e := range strings.Split(ci.GetEtcdEndpoints(), ",") {
		if e = strings.TrimSpace(e); e != "" {
			info.EtcdEndpoints = append(info.EtcdEndpoints, e)
		}
	}
	for _, m := range ci.GetMetas() {
		leader := m.GetLeader() || m.GetAddress() == ci.GetLeader()
		info.Metas = append(info.Metas, MetaInfo{Node: m.GetAddress(), Leader: leader, Protocol: m.GetProtocolVersion()})
		c.learnMeta(m.GetAddress())
	}
	for _, n := range nodes {
		info.Replicas = append(info.Replicas, ReplicaInfo{Node: n.GetAddress(), Protocol: n.GetProtocolVersion()})
	}
	return info, nil
}

// AddMetas adds meta servers to ask for their own status, e.g. those of a
// stored plan: a meta server that was down when cluster_info was read is
// missing from its list, yet the roll must see it come back.
func (c *RemoteCluster) AddMetas(addrs ...string) {
	for _, a := range addrs {
		c.learnMeta(a)
	}
}

func (c *RemoteCluster) learnMeta(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if addr != "" && !slices.Contains(c.metas, addr) {
		c.metas = append(c.metas, addr)
	}
}

func (c *RemoteCluster) listNodes(ctx context.Context) ([]*pb.NodeInfo, error) {
	resp, err := dial.CallMeta(ctx, c.conns, func(ctx context.Context, m pb.MetaClient) (*pb.ListNodesResponse, error) {
		return m.ListNodes(ctx, &pb.ListNodesRequest{})
	})
	if err != nil {
		return nil, err
	}
	if err := serverError("nodes -d", resp.GetError()); err != nil {
		return nil, err
	}
	return resp.GetNodes(), nil
}

// View implements Cluster.
func (c *RemoteCluster) View(ctx context.Context) (*plan.ClusterView, error) {
	nodes, err := c.listNodes(ctx)
	if err != nil {
		return nil, err
	}
	tables, err := dial.CallMeta(ctx, c.conns, func(ctx context.Context, m pb.MetaClient) (*pb.ListTablesResponse, error) {
		return m.ListTables(ctx, &pb.ListTablesRequest{})
	})
	if err != nil {
		return nil, err
	}
	if err := serverError("ls -d", tables.GetError()); err != nil {
		return nil, err
	}
	v := &plan.ClusterView{}
	for _, n := range nodes {
		v.Nodes = append(v.Nodes, plan.NodeStatus{Node: n.GetAddress(), Alive: n.GetAlive(),
			Primaries: int(n.GetPrimaryCount()), Secondaries: int(n.GetSecondaryCount()), Zone: n.GetZone()})
	}
	for _, t := range tables.GetTables() {
		info := t.GetTable()
		if s := info.GetStatus(); s != pb.TableStatus_AS_AVAILABLE && s != pb.TableStatus_AS_INVALID {
			continue // a table being created or dropped has no health to wait for
		}
		v.Tables = append(v.Tables, plan.TableHealth{AppID: info.GetAppId(), Name: info.GetName(),
			PartitionCount: int(info.GetPartitionCount()), FullyHealthy: int(t.GetFullyHealthy()),
			Unhealthy: int(t.GetUnhealthy()), WriteUnhealthy: int(t.GetWriteUnhealthy()),
			ReadUnhealthy: int(t.GetReadUnhealthy())})
	}
	return v, nil
}

// Metas implements Cluster: every meta server is asked for cluster_info
// itself, in parallel. Its own row says whether it leads and how many
// replica servers it has heard from since it started; its answer names
// the cluster its configuration serves. It is registered when the leader
// lists it: the leader's list is the meta servers holding a session in the
// cluster's etcd, so a meta server that answers but cannot reach etcd (or
// registered in another cluster's namespace) is not.
func (c *RemoteCluster) Metas(ctx context.Context) ([]plan.MetaStatus, error) {
	c.mu.Lock()
	metas := slices.Clone(c.metas)
	c.mu.Unlock()
	out := make([]plan.MetaStatus, len(metas))
	listed := make([][]string, len(metas))
	var wg sync.WaitGroup
	for i, addr := range metas {
		wg.Go(func() {
			out[i] = plan.MetaStatus{Node: addr}
			resp, err := dial.CallServer(ctx, c.conns, addr, (*dial.Conns).Meta,
				func(ctx context.Context, m pb.MetaClient) (*pb.ClusterInfoResponse, error) {
					return m.ClusterInfo(ctx, &pb.ClusterInfoRequest{})
				})
			if err != nil {
				return // not answering: not alive
			}
			// Any answer, a forward to the leader included, means it is up.
			out[i].Alive = true
			out[i].Cluster = resp.GetClusterName()
			out[i].Leader = resp.GetLeader() == addr && resp.GetError().GetCode() == pb.ErrorCode_ERR_OK
			for _, m := range resp.GetMetas() {
				if m.GetAddress() == addr {
					out[i].Leader = out[i].Leader || m.GetLeader()
					out[i].BeaconsFrom = int(m.GetBeaconsReceivedFrom())
					out[i].EmbeddedEtcd = m.GetEmbeddedEtcd()
				}
				listed[i] = append(listed[i], m.GetAddress())
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// Only the one leader's list counts: with two leaders (one of them in
	// another namespace) nobody is known to be registered.
	leader := -1
	for i, m := range out {
		if m.Alive && m.Leader {
			if leader >= 0 {
				leader = -2
				break
			}
			leader = i
		}
	}
	if leader >= 0 {
		for i := range out {
			out[i].Registered = out[i].Alive && slices.Contains(listed[leader], out[i].Node)
		}
		// A meta server that registered since is asked from the next call
		// on.
		for _, a := range listed[leader] {
			c.learnMeta(a)
		}
	}
	return out, nil
}

// ReplicaStatus implements Cluster.
func (c *RemoteCluster) ReplicaStatus(ctx context.Context, node string) (plan.ReplicaStatus, error) {
	resp, err := dial.CallServer(ctx, c.conns, node, (*dial.Conns).ReplicaAdmin,
		func(ctx context.Context, r pb.ReplicaAdminClient) (*pb.ReplicaServerStatusResponse, error) {
			return r.Status(ctx, &pb.ReplicaServerStatusRequest{})
		})
	if err != nil {
		return plan.ReplicaStatus{}, err
	}
	st := plan.ReplicaStatus{Node: node, Total: int(resp.GetTotalReplicas()),
		Opening: int(resp.GetOpeningReplicas()), Closing: int(resp.GetClosingReplicas())}
	for _, r := range resp.GetReplicas() {
		if r.GetStatus() == pb.PartitionStatus_PS_PRIMARY {
			st.Primaries++
		}
	}
	return st, nil
}

// SetMetaLevel implements Cluster.
func (c *RemoteCluster) SetMetaLevel(ctx context.Context, level string, lease KnobLease) error {
	resp, err := dial.CallMeta(ctx, c.conns, func(ctx context.Context, m pb.MetaClient) (*pb.MetaLevelResponse, error) {
		return m.MetaLevel(ctx, &pb.MetaLevelRequest{Level: level, Owner: lease.Owner, LeaseMs: lease.TTL.Milliseconds()})
	})
	if err != nil {
		return err
	}
	return serverError("set_meta_level "+level, resp.GetError())
}

// Knob implements Cluster: the remote command without a value prints the
// knob's current value.
func (c *RemoteCluster) Knob(ctx context.Context, knob string) (string, error) {
	out, err := c.metaCommand(ctx, KnobLease{}, knob)
	if err != nil {
		return "", err
	}
	return knobValue(knob, out)
}

// SetKnob implements Cluster.
func (c *RemoteCluster) SetKnob(ctx context.Context, knob, value string, lease KnobLease) error {
	_, err := c.metaCommand(ctx, lease, knob, value)
	return err
}

func (c *RemoteCluster) metaCommand(ctx context.Context, lease KnobLease, command string, args ...string) (string, error) {
	resp, err := dial.CallMeta(ctx, c.conns, func(ctx context.Context, m pb.MetaClient) (*pb.RemoteCommandResponse, error) {
		return m.RemoteCommand(ctx, &pb.RemoteCommandRequest{Command: command, Args: args,
			Owner: lease.Owner, LeaseMs: lease.TTL.Milliseconds()})
	})
	if err != nil {
		return "", err
	}
	op := strings.TrimSpace("remote_command -t meta-server " + command + " " + strings.Join(args, " "))
	if err := serverError(op, resp.GetError()); err != nil {
		return "", err
	}
	return resp.GetOutput(), nil
}

// knobValue extracts the value from a knob command's answer: one JSON
// object {"error":"ok","<knob>":"<value>"}, as current Pegasus answers, or
// the bare value, as older versions did.
func knobValue(knob, out string) (string, error) {
	out = strings.TrimSpace(out)
	if !strings.HasPrefix(out, "{") {
		return out, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		return "", fmt.Errorf("%w: %s answered %q", ErrServer, knob, out)
	}
	if e, ok := m["error"].(string); ok && e != "ok" {
		return "", fmt.Errorf("%w: %s: %s", ErrServer, knob, e)
	}
	switch v := m[knob].(type) {
	case string:
		return v, nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	}
	return "", fmt.Errorf("%w: %s answered %q", ErrServer, knob, out)
}

// MigrateNode implements Cluster.
func (c *RemoteCluster) MigrateNode(ctx context.Context, node string) error {
	return c.drain(ctx, "migrate_node", node, pb.MetaClient.MigrateNode)
}

// DowngradeNode implements Cluster.
func (c *RemoteCluster) DowngradeNode(ctx context.Context, node string) error {
	return c.drain(ctx, "downgrade_node", node, pb.MetaClient.DowngradeNode)
}

type drainCall func(pb.MetaClient, context.Context, *pb.DrainNodeRequest, ...grpc.CallOption) (*pb.DrainNodeResponse, error)

func (c *RemoteCluster) drain(ctx context.Context, op, node string, call drainCall) error {
	resp, err := dial.CallMeta(ctx, c.conns, func(ctx context.Context, m pb.MetaClient) (*pb.DrainNodeResponse, error) {
		return call(m, ctx, &pb.DrainNodeRequest{Node: node})
	})
	if err != nil {
		return err
	}
	return serverError(op+" -n "+node, resp.GetError())
}

// KillPartitions implements Cluster.
func (c *RemoteCluster) KillPartitions(ctx context.Context, node string) error {
	resp, err := dial.CallServer(ctx, c.conns, node, (*dial.Conns).ReplicaAdmin,
		func(ctx context.Context, r pb.ReplicaAdminClient) (*pb.RemoteCommandResponse, error) {
			return r.RemoteCommand(ctx, &pb.RemoteCommandRequest{Command: "replica.kill_partition"})
		})
	if err != nil {
		return err
	}
	return serverError("remote_command -l "+node+" replica.kill_partition", resp.GetError())
}

// Partitions implements Cluster: QueryConfig of every available table.
func (c *RemoteCluster) Partitions(ctx context.Context) ([]plan.PartitionView, error) {
	tables, err := dial.CallMeta(ctx, c.conns, func(ctx context.Context, m pb.MetaClient) (*pb.ListTablesResponse, error) {
		return m.ListTables(ctx, &pb.ListTablesRequest{})
	})
	if err != nil {
		return nil, err
	}
	if err := serverError("ls", tables.GetError()); err != nil {
		return nil, err
	}
	var out []plan.PartitionView
	for _, t := range tables.GetTables() {
		info := t.GetTable()
		if info.GetStatus() != pb.TableStatus_AS_AVAILABLE {
			continue
		}
		resp, err := dial.CallMeta(ctx, c.conns, func(ctx context.Context, m pb.MetaClient) (*pb.QueryConfigResponse, error) {
			return m.QueryConfig(ctx, &pb.QueryConfigRequest{Table: info.GetName()})
		})
		if err != nil {
			return nil, err
		}
		if err := serverError("app "+info.GetName()+" -d", resp.GetError()); err != nil {
			return nil, err
		}
		for _, pc := range resp.GetPartitions() {
			out = append(out, plan.PartitionView{
				Gpid:        fmt.Sprintf("%d.%d", pc.GetGpid().GetAppId(), pc.GetGpid().GetPartitionIndex()),
				Table:       info.GetName(),
				Primary:     pc.GetPrimary(),
				Secondaries: pc.GetSecondaries(),
				MaxReplicas: int(pc.GetMaxReplicaCount()),
			})
		}
	}
	return out, nil
}

// MovePrimary implements Cluster.
func (c *RemoteCluster) MovePrimary(ctx context.Context, mv plan.PrimaryMove) error {
	app, idx, ok := strings.Cut(mv.Gpid, ".")
	a, err1 := strconv.Atoi(app)
	i, err2 := strconv.Atoi(idx)
	if !ok || err1 != nil || err2 != nil {
		return fmt.Errorf("%w: gpid %q", ErrServer, mv.Gpid)
	}
	resp, err := dial.CallMeta(ctx, c.conns, func(ctx context.Context, m pb.MetaClient) (*pb.BalanceResponse, error) {
		return m.Balance(ctx, &pb.BalanceRequest{Gpid: &pb.Gpid{AppId: int32(a), PartitionIndex: int32(i)},
			Type: "move_pri", From: mv.From, To: mv.To})
	})
	if err != nil {
		return err
	}
	return serverError(mv.String(), resp.GetError())
}
